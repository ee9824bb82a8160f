"""The decision path: what a contract lets leave, used by the node and by the authoring tools.

Layer 5 (see README "Layout"): imports :mod:`fieldgate.matching` and below;
never the node, so the authoring tools decide exactly as a node does without
depending on the server.

Modules:

- :mod:`fieldgate.policy.errors`: the decision path's error tree.
- :mod:`fieldgate.policy.catalog`: the field catalog: every field, its type and sensitivity class.
- :mod:`fieldgate.policy.catalog_review`: what a catalog change would release through a contract.
- :mod:`fieldgate.policy.records`: the record model and its checks.
- :mod:`fieldgate.policy.record_decoder`: the same checks in compiled code (msgspec), per catalog.
- :mod:`fieldgate.policy.authority`: which of the requester's legal instruments apply to a record.
- :mod:`fieldgate.policy.engine`: the policy engine seam (regorus): load a contract, ask it.
- :mod:`fieldgate.policy.engine_opa`: the OPA server back end of the same seam.
- :mod:`fieldgate.policy.config`: ``[node.policy]``: which engine decides, and loading it.
- :mod:`fieldgate.policy.evaluate`: one record's policy input and verdict, the single path.
- :mod:`fieldgate.policy.verdict`: from a contract's raw decision to what leaves the node.
- :mod:`fieldgate.policy.masking`: the standard masks a contract may ask for.
- :mod:`fieldgate.policy.decision_cache`: one engine evaluation per distinct input.
- :mod:`fieldgate.policy.field_locality`: field-local contracts, evaluated per kind, not record.
- :mod:`fieldgate.policy.decision_log`: decision logs in Open Policy Agent's shape.
- :mod:`fieldgate.policy.contract_bundle`: signed contract bundles: format, verification, reload.
- :mod:`fieldgate.policy.contract_bundle_state`: the bundle rollback high-water mark.
- :mod:`fieldgate.policy.rego_tests`: Rego unit tests through regorus (and cross-checked).
- :mod:`fieldgate.policy.regopy_harness`: the second engine, regopy, in a child process.
- :mod:`fieldgate.policy.sample_inputs`: sample requesters, warrants and records for contracts.
- :mod:`fieldgate.policy.outbound`: the requesting agency's outbound policy, evaluated at
  issuance.
- :mod:`fieldgate.policy.shipped`: the Rego shipped as package data, found with importlib.resources.

The field catalogs (``catalogs/*.toml``) ship beside the modules.
"""
