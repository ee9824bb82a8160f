"""The development kit: a whole federation on loopback, the demo, samples, synthetic data.

======================  ================================================================
``local_federation``    nodes and a broker started in one process on 127.0.0.1 (real gRPC)
``demo``                ``fieldgate demo``: three agencies, three requesters, side by side
``demo_checks``         what the demo checks before it calls itself a success
``sample``              ``fieldgate sample DIR``: a runnable federation's files
``dev_trust``           a development trust bundle, issuers, credentials and warrants
``synthetic``           deterministic synthetic agency records
``synthetic_names``     the name pools the synthetic records draw from
======================  ================================================================
"""
