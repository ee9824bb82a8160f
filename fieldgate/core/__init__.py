"""The base every other package shares: errors, vocabulary, names, query, claims, config, TLS, logs.

Layer 1 of the package (see README "Layout"): imports only :mod:`fieldgate.v2`.

Modules:

- :mod:`fieldgate.core.errors`: ``FieldgateError``, the root of every error, and the core's tree.
- :mod:`fieldgate.core.vocabulary`: the fixed vocabularies requesters and contracts share.
- :mod:`fieldgate.core.names`: normalisation of person names and identifiers.
- :mod:`fieldgate.core.query`: validation of person queries, and ``query_digest``.
- :mod:`fieldgate.core.claims`: validation of the requester's claims.
- :mod:`fieldgate.core.config`: TOML configuration with environment overrides.
- :mod:`fieldgate.core.tls`: mutual TLS for every hop: a development CA, certificates, credentials.
- :mod:`fieldgate.core.certs`: certificates for a real deployment: given names, a bound role.
- :mod:`fieldgate.core.logs`: server log output, human text or JSON lines, with request ids.
- :mod:`fieldgate.core.answer_caps`: The protocol's caps on answers: what one node may send, and so
  what a broker ans.
- :mod:`fieldgate.core.inert_text`: Text from outside is inert: shown, never obeyed, by terminals
  and spreadsheets.
- :mod:`fieldgate.core.request_shape`: Cheap checks first: a search's size, counts and shape, before
  any costly work.
  - :mod:`fieldgate.core.digests`: Keyed digests of persons: what logs hold instead of names,
    irreversible without .
  - :mod:`fieldgate.core.identifiers`: Request ids: a short, plain token, so no id can forge a log
    line or collide by d.
"""
