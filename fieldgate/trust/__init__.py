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

Layer 2 (see README "Layout"): imports only :mod:`fieldgate.core` and the wire code.

Modules:

- :mod:`fieldgate.trust.errors`: the trust layer's error tree.
- :mod:`fieldgate.trust.keys`: Ed25519 keys: make, save (owner-only), load, public JWK form.
- :mod:`fieldgate.trust.tokens`: the three signed documents and how they are made.
- :mod:`fieldgate.trust.trust_bundle`: the trust bundle and revocation list, reloaded live.
- :mod:`fieldgate.trust.nonce_cache`: the proofs already seen, so none is used twice.
- :mod:`fieldgate.trust.verify`: checking a signed search end to end.
- :mod:`fieldgate.trust.config`: the ``trust`` table of a config, and the verifier it makes.
- :mod:`fieldgate.trust.answers`: Signed answers: each node signs what it released, the client
  checks every one.
- :mod:`fieldgate.trust.bundle_signing`: A trust bundle signed by the federation authority, and how
  every party opens it.
- :mod:`fieldgate.trust.refresh`: fetch, verify, then replace the trust files (or keep the last
  good ones).
"""
