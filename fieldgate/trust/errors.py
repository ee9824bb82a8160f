"""Errors of the trust layer (keys, trust bundles, verification).

::

    FieldgateError                          (fieldgate.core.errors)
    ├── AnswerVerificationError (answers)   a node's signed answer that does not verify
    ├── BundleSignatureError (bundle_signing)  a trust bundle not signed by the pinned authority
    ├── KeyFileError (keys)                 a key file that cannot be used
    ├── LoginRefused (oidc)                 an ID token or login the issuer will not exchange
    ├── OpenError (sealed_search)           a sealed query that does not open to this search
    ├── SealingError (sealing)              an HPKE envelope that cannot be made or opened
    ├── TrustRefreshError (refresh)         a fetched bundle or list refused; the last good kept
    ├── TrustUnavailable (trust_bundle)     the trust bundle or revocation list is unusable
    └── VerificationError (verify)          a signed search that does not verify (``reason``)

Each class lives beside the code that raises it; this drawing is the map.
``VerificationError.reason`` is one of a fixed set of stable codes that nodes
count and brokers report, so it is never reworded.
"""
