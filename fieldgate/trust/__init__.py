"""Who may ask, and proof of it: credentials, signed searches, warrants, trust bundles.

::

    agency issuer key ──signs──▶ credential (JWT: subject, agency, type, roles,
                                  purposes, hours of validity, holder's public key,
                                  reach: the nodes its outbound policy allows)
    investigator key  ──signs──▶ proof (JWS over purpose, case, audience, time,
                                  nonce and the commitment to the sealed query)
    node enc keys     ◀──seal─── the query's content key (HPKE, one QueryKey per node);
                                  query and warrants sealed once under it (the body)
    court key         ──signs──▶ warrant attestation (JWS: person, covers, expiry)

Every node checks the whole chain itself against its own trust bundle
(:mod:`fieldgate.trust.verify`); the broker checks the credential and proof
too, to refuse junk early, but forwards the signed search untouched, so it can
neither forge nor alter it — and cannot read the query, the warrants or any
answer, which are sealed (protocol v2, docs/protocol.md).

Layer 2 (see README "Layout"): imports only :mod:`fieldgate.core` and the wire code.

Modules:

- :mod:`fieldgate.trust.errors`: the trust layer's error tree.
- :mod:`fieldgate.trust.keys`: Ed25519 keys: make, save (owner-only), load, public JWK form.
- :mod:`fieldgate.trust.tokens`: the three signed documents and how they are made.
- :mod:`fieldgate.trust.trust_bundle`: the trust bundle and revocation list, reloaded live.
- :mod:`fieldgate.trust.nonce_cache`: the proofs already seen, so none is used twice.
- :mod:`fieldgate.trust.verify`: checking a signed search end to end.
- :mod:`fieldgate.trust.config`: the ``trust`` table of a config, and the verifier it makes.
- :mod:`fieldgate.trust.answers`: Signed, sealed answers: each node signs its answer and seals it
  to the requester; the client opens and checks every one.
- :mod:`fieldgate.trust.sealing`: HPKE envelopes (pyhpke), the query body (ChaCha20-Poly1305)
  and the padding buckets that hide sizes.
- :mod:`fieldgate.trust.sealed_search`: The v2 signed search: a proof the broker can read, a
  query sealed once under a content key wrapped to each addressed node.
- :mod:`fieldgate.trust.audience`: a proof's ``aud`` and a credential's ``reach`` in the list or
  the compact ``{"dir", "except"}`` form, and the one membership rule every party evaluates.
- :mod:`fieldgate.trust.reach`: the federation directory, and where a credential's ``reach``
  lets its searches go.
- :mod:`fieldgate.trust.oidc`: the credential issuer's checks: an OIDC ID token verified against
  the IdP's discovery and JWKS (joserfc), claims mapped to roles and purposes.
- :mod:`fieldgate.trust.issuer_service`: ``fieldgate issuer serve``: the HTTP exchange of an ID
  token for a credential.
- :mod:`fieldgate.trust.bundle_signing`: A trust bundle signed by the federation authority, and how
  every party opens it.
- :mod:`fieldgate.trust.refresh`: fetch, verify, then replace the trust files (or keep the last
  good ones).
"""
