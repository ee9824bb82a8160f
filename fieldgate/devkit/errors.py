"""Errors of the development kit (local federation, demo, sample, synthetic data).

::

    FieldgateError                          (fieldgate.core.errors)
    └── DemoFailed (demo_checks)            the demo disclosed nothing or a node could not answer

Apart from DemoFailed the kit raises the errors of the packages it
drives (node, broker, policy) and standard ``ValueError`` / ``LookupError`` for
a programming mistake by its caller (a negative record count, a node started
without an audit store). A new error raised here goes into this tree.
"""
