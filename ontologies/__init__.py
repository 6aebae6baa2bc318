"""The eokg ontology, concept schemes, SHACL shapes and RML mappings, as files.

Owns: ``eokg.ttl`` (OWL ontology reusing GeoSPARQL 1.1, SOSA/SSN, PROV-O,
DCAT, OWL-Time), ``concepts/*.ttl`` (SKOS schemes: sea-ice classes after the WMO
nomenclature, crop types, product types), ``shapes.ttl`` (SHACL) and
``mappings/*.ttl`` (RML).  Python code here only names namespaces and paths and
reads those files; it may import nothing from eokg but ``eokg.errors``.
"""

from eokg.ontologies.namespaces import (
    DCAT,
    DCTERMS,
    EO,
    EOC,
    EOD,
    GEO,
    GEOF,
    PROV,
    RDF,
    RDFS,
    SH,
    SKOS,
    SOSA,
    SSN,
    TIME,
    XSD,
)
from eokg.ontologies.paths import (
    CONCEPTS_DIR,
    MAPPINGS_DIR,
    ONTOLOGY_DIR,
    ONTOLOGY_FILE,
    SHAPES_FILE,
    all_schema_files,
)

__all__ = [
    "CONCEPTS_DIR",
    "DCAT",
    "DCTERMS",
    "EO",
    "EOC",
    "EOD",
    "GEO",
    "GEOF",
    "MAPPINGS_DIR",
    "ONTOLOGY_DIR",
    "ONTOLOGY_FILE",
    "PROV",
    "RDF",
    "RDFS",
    "SH",
    "SHAPES_FILE",
    "SKOS",
    "SOSA",
    "SSN",
    "TIME",
    "XSD",
    "all_schema_files",
]
