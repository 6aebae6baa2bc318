"""Namespace IRIs used across eokg, as plain strings.

Plain strings (not rdflib objects) so that every layer, including Spark
expressions and SPARQL text, can use them without importing an RDF library.
"""

from __future__ import annotations

EO = "https://w3id.org/eokg/ontology#"  # classes and properties
EOC = "https://w3id.org/eokg/concept/"  # SKOS concepts (sea-ice classes, crops, products)
EOD = "https://w3id.org/eokg/data/"  # instance data minted by the mappings

GEO = "http://www.opengis.net/ont/geosparql#"
GEOF = "http://www.opengis.net/def/function/geosparql/"
SF = "http://www.opengis.net/ont/sf#"
SOSA = "http://www.w3.org/ns/sosa/"
SSN = "http://www.w3.org/ns/ssn/"
PROV = "http://www.w3.org/ns/prov#"
DCAT = "http://www.w3.org/ns/dcat#"
DCTERMS = "http://purl.org/dc/terms/"
TIME = "http://www.w3.org/2006/time#"
SKOS = "http://www.w3.org/2004/02/skos/core#"
SH = "http://www.w3.org/ns/shacl#"
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
OWL = "http://www.w3.org/2002/07/owl#"
XSD = "http://www.w3.org/2001/XMLSchema#"
UOM = "http://www.opengis.net/def/uom/OGC/1.0/"
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"

#: Prefixes for SPARQL text and Turtle output.
PREFIXES: dict[str, str] = {
    "eo": EO,
    "eoc": EOC,
    "eod": EOD,
    "geo": GEO,
    "geof": GEOF,
    "sf": SF,
    "sosa": SOSA,
    "ssn": SSN,
    "prov": PROV,
    "dcat": DCAT,
    "dct": DCTERMS,
    "time": TIME,
    "skos": SKOS,
    "sh": SH,
    "rdf": RDF,
    "rdfs": RDFS,
    "owl": OWL,
    "xsd": XSD,
    "uom": UOM,
}


def sparql_prefixes() -> str:
    """The PREFIX header for SPARQL queries written against eokg data."""
    return "".join(f"PREFIX {p}: <{iri}>\n" for p, iri in PREFIXES.items())
