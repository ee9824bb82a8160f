"""The investigator's side: sending searches to a broker and reading the results.

Layer 6 (see README "Layout"), beside the node and the broker, which it never
imports: it speaks to them only over the wire.

Modules:

- :mod:`fieldgate.client.errors`: the client's error tree.
- :mod:`fieldgate.client.broker_client`: build a search, send it to a broker, read the result.
- :mod:`fieldgate.client.audience`: whom a signed search is addressed to: the credential's reach.
- :mod:`fieldgate.client.results`: search results as tools see them, and their JSON form.
- :mod:`fieldgate.client.stream`: a streamed search: events, progress, JSON lines.
- :mod:`fieldgate.client.render`: rich tables for people reading results.
- :mod:`fieldgate.client.login`: exchange the agency login (an OIDC ID token) for a credential.
- :mod:`fieldgate.client.answer_check`: the check of every answer the broker relays.
- :mod:`fieldgate.client.scale`: at federation scale: paged node lists, large searches streamed.
"""
