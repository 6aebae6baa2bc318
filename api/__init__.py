"""HTTP: the FastAPI app with the SPARQL 1.1 endpoints, STAC discovery API and search.

Thin: routes translate HTTP to calls into ``eokg.kg`` and ``eokg.catalog`` and
``eokg.errors`` to RFC 9457 problems.  Never imported by them.
"""
