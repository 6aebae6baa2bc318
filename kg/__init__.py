"""The knowledge graph: GeoSPARQL store, spatial index and federation engine.

Owns the Oxigraph-backed store (or a remote SPARQL endpoint behind the same
interface), the GeoSPARQL function library, the R-tree spatial index that
selections and joins use, and the federation engine.  May import
``eokg.ontologies``, ``eokg.spark``, ``eokg.data``, ``eokg.config`` and
``eokg.errors``; never ``api`` or ``ml``.
"""
