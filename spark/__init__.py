"""Mapping engine and Spark jobs: EO data to RDF, and topological interlinking.

Owns RML mapping parsing, their compilation into Spark DataFrame expressions,
geometry work per Arrow batch (shapely in ``mapInArrow``, or Apache Sedona
SQL when the session has its jars), and the JedAI-style link discovery.
May import ``eokg.ontologies``, ``eokg.data``, ``eokg.config`` and
``eokg.errors``; never ``kg``, ``catalog``, ``api`` or ``ml``.
PySpark is imported inside the functions that need it, never here.
"""
