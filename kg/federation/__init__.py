"""Federation engine: one SPARQL/GeoSPARQL query over the local store and remote endpoints."""
