"""Machine learning: datasets from GeoSPARQL queries, distributed TensorFlow, predictions.

TensorFlow is imported inside the functions that need it.  May import ``kg``,
``catalog`` and everything below them; never ``api``.
"""
