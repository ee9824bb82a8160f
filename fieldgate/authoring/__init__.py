"""Tools for policy authors: check, explain, diff, render and cross-check data-sharing contracts.

Every tool decides through :func:`node.policy.evaluate_record`, the path the
node itself takes for every matching record, so what a tool says a requester
would see is what a node running the same contract and catalog releases.

Modules:

- :mod:`fieldgate.contracts.inputs`: persona, record and warrant files.
- :mod:`fieldgate.contracts.session`: a contract loaded with its catalog, deciding.
- :mod:`fieldgate.contracts.matrix`: every requester kind x purpose x warrant x record kind.
- :mod:`fieldgate.contracts.source`: string literals and clause comments of Rego source.
- :mod:`fieldgate.contracts.check`: fields no rule releases, names the catalog lacks.
- :mod:`fieldgate.contracts.explain`: per field, what leaves and why.
- :mod:`fieldgate.contracts.diff`: what a new contract widens or narrows, per persona.
- :mod:`fieldgate.contracts.render`: a plain-language summary and its hash.
- :mod:`fieldgate.contracts.conformance`: regorus and regopy must agree.
"""
