"""Who may ask, and proof of it: credentials, signed searches, warrants, trust bundles.

::

    agency issuer key ──signs──▶ credential (JWT: subject, agency, type, roles,
                                  purposes, hours of validity, holder's public key)
    investigator key  ──signs──▶ proof (JWS over this very query, purpose, case,
                                  warrant digests, time, nonce)
    court key         ──signs──▶ warrant attestation (JWS: person, covers, expiry)

Every node checks the whole chain itself against its own trust bundle
(:mod:`fieldgate.trust.verify`); the broker checks too, to refuse junk early,
but forwards the signed search untouched, so it can neither forge nor alter it.
"""
