"""Metadata catalogue: index backends for STAC items, collections, datasets, models.

One ``MetadataIndex`` interface with an embedded backend (SQLite FTS5 + R*Tree,
no server) and an Elasticsearch backend (official client), chosen by config.
May import ``eokg.ontologies``, ``eokg.spark``, ``eokg.data``, ``eokg.config``
and ``eokg.errors``; never ``kg``, ``api`` or ``ml``.

Modules:

- ``index``: the interface, ``SearchRequest``/``SearchPage``/``BulkReport``, ``open_index``.
- ``items``: schema-free STAC item checks and the fields every backend indexes.
- ``concepts``: SKOS schemes (narrower expansion, multilingual label matching).
- ``cql2_parse``: CQL2 text/JSON -> validated JSON tree (errors with line:column).
- ``search_common``: request -> CQL2, page tokens, Fields extension, hit explanations.
- ``sqlite_schema``, ``sql_fragments``, ``cql2_sql``, ``sqlite_fastpath``, ``sqlite_index``:
  embedded backend (every value and JSON path a bound parameter).
- ``es_query`` (pure DSL translation), ``es_index``: Elasticsearch backend.
- ``queryables``: the Filter extension's queryables schema.
- ``readers``, ``commands``: ``eokg index PATH...``.
- ``samples``: seeded Sentinel-1-like items for tests, demos and the benchmark.
"""
