"""Federation engine: one SPARQL/GeoSPARQL query over the local store and remote endpoints.

Modules, in the order a query meets them:

* ``algebra``  - rdflib's algebra of the query: triple patterns (sequence paths
  expanded), FILTER conjuncts written back as text when possible, the box a
  spatial filter confines a geometry to;
* ``sources``  - the members (the local GeoStore, remote SPARQL endpoints over
  ``httpx.AsyncClient``), their VoID descriptions and per-query counters;
* ``planner``  - source selection (VoID, cached ASK), spatial pruning, exclusive
  groups, filter push-down and join order for one basic graph pattern;
* ``engine``   - ``FederationEngine``: bind joins with VALUES, parallel requests,
  residual filters with the eokg function library, partial answers, ``explain``;
* ``commands`` - ``eokg federate``;
* ``testbed``  - Oxigraph servers, counting/delaying proxies and sample data on
  loopback, for the tests and ``bench.federation_bench``.
"""
