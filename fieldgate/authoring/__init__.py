"""Tools for policy authors: check, explain, diff, render and cross-check data-sharing contracts.

Every tool decides through :func:`fieldgate.policy.evaluate.evaluate_record`,
the path the node itself takes for every matching record, so what a tool says
a requester would see is what a node running the same contract and catalog
releases. Layer 7 (see README "Layout"), beside the development kit.

Modules:

- :mod:`fieldgate.authoring.errors`: the tools' error tree.
- :mod:`fieldgate.authoring.inputs`: persona, record and warrant files.
- :mod:`fieldgate.authoring.session`: a contract loaded with its catalog, deciding.
- :mod:`fieldgate.authoring.matrix`: every requester kind x purpose x warrant x record kind.
- :mod:`fieldgate.authoring.source`: string literals and clause comments of Rego source.
- :mod:`fieldgate.authoring.check`: fields no rule releases, names the catalog lacks.
- :mod:`fieldgate.authoring.explain`: per field, what leaves and why.
- :mod:`fieldgate.authoring.explain_audit`: a past audit entry explained, record by record.
- :mod:`fieldgate.authoring.diff`: what a new contract widens or narrows, per persona.
- :mod:`fieldgate.authoring.impact_replay`: a node's audited searches replayed on two contracts.
- :mod:`fieldgate.authoring.render`: a plain-language summary and its hash.
- :mod:`fieldgate.authoring.bundle_build`: a contract and its library packed into a signed bundle.
- :mod:`fieldgate.authoring.conformance`: regorus and regopy must agree.
"""
