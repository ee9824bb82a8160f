"""Fieldgate: federated person search under per-field data-sharing contracts.

One import name, in one-way layers (lowest first; a module imports its own
layer and those below, never a sibling on its layer; checked by
``pytest tests/architecture``)::

    fieldgate.v2                      generated wire code (from proto/)
    fieldgate.core                    errors, vocabulary, names, query, claims, config, tls, logs
    fieldgate.trust                   keys, signed documents, trust bundles, verification
    fieldgate.ops                     listening, metrics, health and reflection endpoints
    fieldgate.matching                candidate lookup and person matching
    fieldgate.policy                  the decision path: catalog, records, engines, verdicts
    fieldgate.node | .broker | .client
                                      the agency's node, the broker, the investigator's client
    fieldgate.authoring | .devkit     contract tools; local federation, demo, sample data
    fieldgate.cli                     the ``fieldgate`` command

``fieldgate.node`` and ``fieldgate.broker`` are the top-level ``node/`` and
``broker/`` directories, linked in; the shipped Rego (``rego/``) is package
data, found through :mod:`fieldgate.policy.shipped`. Each package's
``__init__`` maps its modules and its ``errors.py`` draws its error tree.
"""

__version__ = "0.1.0"
