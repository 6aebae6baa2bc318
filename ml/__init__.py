"""Machine learning: datasets from GeoSPARQL queries, distributed TensorFlow, predictions.

TensorFlow is imported inside the functions that need it.  May import ``kg``,
``catalog`` and everything below them; never ``api``.

``spec`` (a query + feature spec, from TOML/JSON) -> ``dataset`` (paged
streaming from any SparqlSource, deterministic hash/spatial splits) ->
``shards`` (TFRecord cache with a manifest keyed on spec and store state) ->
``train`` / ``launcher`` / ``worker`` (one process, or N worker processes under
MultiWorkerMirroredStrategy with tf-keras) -> ``registry`` (model RDF + STAC
MLM items) and ``predict`` (predictions back into the graph via the RML
prediction mapping).  ``tfcompat`` is the one place TensorFlow is imported.
"""
