"""The development kit: a whole federation on one machine, with data to search.

Layer 7 (see README "Layout"), beside the authoring tools: it may import the
node, the broker and the client; nothing below imports it.

Modules:

- :mod:`fieldgate.devkit.errors`: the kit's (empty) error tree.
- :mod:`fieldgate.devkit.local_federation`: nodes and a broker on loopback in one process.
- :mod:`fieldgate.devkit.dev_trust`: a development trust setup: keys, a court, credentials.
- :mod:`fieldgate.devkit.planted`: the demo agencies and the planted people searched for.
- :mod:`fieldgate.devkit.synthetic`: deterministic synthetic records around the planted ones.
- :mod:`fieldgate.devkit.synthetic_names`: the word lists behind the synthetic records.
- :mod:`fieldgate.devkit.sample`: write a runnable sample federation to a directory.
- :mod:`fieldgate.devkit.demo`: ``fieldgate demo``: one search, three requesters, side by side.
- :mod:`fieldgate.devkit.demo_checks`: what the demo checks before it calls itself a success.
- :mod:`fieldgate.devkit.demo_broker`: what the demo shows of the broker: it holds no name or
  field, and a forged answer is caught.
"""
