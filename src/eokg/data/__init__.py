"""EO sample data and format loaders.

``generate`` writes realistic, seeded sample data in the formats users really
have (STAC item JSON, the Statoil/C-CORE iceberg JSON layout, GeoJSON and
GeoParquet); ``loaders`` read those formats, from the generator or from anywhere
else, as streams of records or Arrow batches.  May import ``eokg.ontologies``.
"""
