"""Metadata catalogue: index backends for STAC items, collections, datasets, models.

One ``MetadataIndex`` interface with an embedded backend (SQLite FTS5 + R*Tree,
no server) and an Elasticsearch backend (official client), chosen by config.
May import ``eokg.ontologies``, ``eokg.spark``, ``eokg.data``, ``eokg.config``
and ``eokg.errors``; never ``kg``, ``api`` or ``ml``.
"""
