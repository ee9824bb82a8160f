"""The ``fieldgate`` command; each module is named after the command it holds.

========================  ==============================================================
``main``                  the root group, ``-v``, ``--version`` and error handling
``search``                ``fieldgate search``
``node``                  ``fieldgate node serve|import|keygen|purge|bundle-state``
``broker``                ``fieldgate broker serve``
``serving``               what the two ``serve`` commands share (signals, log format)
``audit``                 ``fieldgate audit verify|export-checkpoints|report ...``
``contract/``             ``fieldgate contract ...``: one module per subcommand, ``options``
``demo``                  ``fieldgate demo`` and ``fieldgate sample``
``keygen``                ``fieldgate keygen``
``credential``            ``fieldgate credential issue|show``
``warrant``               ``fieldgate warrant issue``
``trust``                 ``fieldgate trust add-issuer|add-court|revoke``
``pki``                   ``fieldgate pki init``
``files``                 what the signing commands share (file arguments, token output)
========================  ==============================================================
"""
