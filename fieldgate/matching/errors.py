"""Errors of person matching: none of its own.

::

    FieldgateError                          (fieldgate.core.errors)

Matching works on queries and records that were validated before they reach
it (:class:`fieldgate.core.errors.InvalidRequestError` for a query,
:class:`fieldgate.policy.errors.RecordError` for a record), so it has nothing
to refuse. A new error raised here goes into this tree.
"""
