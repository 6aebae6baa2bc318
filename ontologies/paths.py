"""Where the ontology files are, whether installed or run from a checkout."""

from __future__ import annotations

from pathlib import Path

ONTOLOGY_DIR = Path(__file__).resolve().parent
ONTOLOGY_FILE = ONTOLOGY_DIR / "eokg.ttl"
CONCEPTS_DIR = ONTOLOGY_DIR / "concepts"
SHAPES_FILE = ONTOLOGY_DIR / "shapes.ttl"
MAPPINGS_DIR = ONTOLOGY_DIR / "mappings"


def all_schema_files() -> list[Path]:
    """The ontology and every concept scheme: what a store loads as the TBox."""
    return [ONTOLOGY_FILE, *sorted(CONCEPTS_DIR.glob("*.ttl"))]
