"""The ``fieldgate`` command; each module is named after the command it holds.

========================  ==============================================================
``main``                  the root group, ``-v``, ``--version`` and error handling
``search``                ``fieldgate search``
``node``                  ``fieldgate node serve|import|keygen|purge|bundle-state``
``node_audit_init``       ``fieldgate node audit-init``
``node_backup``           ``fieldgate node backup``
``node_apply``            ``fieldgate node apply``
``node_sync``             ``fieldgate node sync``
``node_reindex``          ``fieldgate node reindex``
``broker``                ``fieldgate broker serve``
``serving``               what the two ``serve`` commands share (signals, log format)
``audit``                 ``fieldgate audit verify|export-checkpoints|report ...``
``audit_proofs``          ``fieldgate audit prove inclusion|consistency``, ``audit verify-proof``
``witness_verify``        the ``--witnessed``/``--witness`` options of ``audit verify``
``witness``               ``fieldgate witness keygen|describe-log|serve``
``contract/``             ``fieldgate contract ...``: one module per subcommand, ``options``
``demo``                  ``fieldgate demo`` and ``fieldgate sample``
``keygen``                ``fieldgate keygen``
``credential``            ``fieldgate credential issue|show|login``
``issuer``                ``fieldgate issuer serve``: the agency's OIDC credential service
``warrant``               ``fieldgate warrant issue``
``trust``                 ``fieldgate trust sign|add-node|add-issuer|add-court|revoke``
``pki``                   ``fieldgate pki init``
``files``                 what the signing commands share (file arguments, token output)
``progress``              the progress bar of the long ``node`` commands
========================  ==============================================================
"""
