"""Seeded, realistic sample STAC items for tests, demos and the benchmark.

Sentinel-1 GRD-like scenes around Svalbard (lon 5..35, lat 74..81) in 2025,
tagged with sea-ice concepts, plus a label-extension training dataset and an
MLM-extension model, and a small SKOS scheme that matches the tags.  Kept in the
package (not in tests) so the benchmark and the API tests draw the same data.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

EOC = "https://w3id.org/eokg/concept/"
#: a small SKOS scheme (sea ice hierarchy, labels in several languages).
SKOS_TTL = f"""
@prefix skos: <http://www.w3.org/2004/02/skos/core#> .
@prefix eoc: <{EOC}> .
<{EOC}seaice/sea-ice> a skos:Concept ; skos:prefLabel "sea ice"@en, "Meereis"@de, "havis"@nb ;
    skos:narrower <{EOC}seaice/new-ice>, <{EOC}seaice/first-year-ice> .
<{EOC}seaice/new-ice> a skos:Concept ; skos:prefLabel "new ice"@en ; skos:altLabel "young ice"@en ;
    skos:broader <{EOC}seaice/sea-ice> .
<{EOC}seaice/nilas> a skos:Concept ; skos:prefLabel "nilas"@en, "Nilas"@de ;
    skos:broader <{EOC}seaice/new-ice> .
<{EOC}seaice/first-year-ice> a skos:Concept ; skos:prefLabel "first-year ice"@en ;
    skos:altLabel "FYI"@en ; skos:prefLabel "glace de première année"@fr .
<{EOC}seaice/open-water> a skos:Concept ; skos:prefLabel "open water"@en, "eau libre"@fr .
"""
CONCEPTS = [
    EOC + "seaice/nilas",
    EOC + "seaice/first-year-ice",
    EOC + "seaice/open-water",
    EOC + "seaice/new-ice",
]


def s1_item(i: int, rng: random.Random, collection: str = "sentinel-1-grd") -> dict[str, Any]:
    """A Sentinel-1 GRD-like item: a tilted quadrilateral footprint near Svalbard."""
    lon = rng.uniform(5, 33)
    lat = rng.uniform(74, 79.5)
    w, h, tilt = 2.0, 1.5, 0.3
    ring = [
        [lon, lat],
        [lon + w, lat + tilt],
        [lon + w - tilt, lat + h],
        [lon - tilt, lat + h - tilt],
        [lon, lat],
    ]
    when = datetime(2025, 1, 1, tzinfo=UTC) + timedelta(minutes=rng.randrange(0, 365 * 24 * 60))
    concept = CONCEPTS[i % len(CONCEPTS)]
    platform = "sentinel-1a" if i % 2 == 0 else "sentinel-1c"
    return {
        "type": "Feature",
        "stac_version": "1.1.0",
        "id": f"S1_{i:06d}",
        "collection": collection,
        "geometry": {"type": "Polygon", "coordinates": [ring]},
        "properties": {
            "datetime": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "platform": platform,
            "constellation": "sentinel-1",
            "instruments": ["c-sar"],
            "sar:polarizations": ["HH", "HV"] if i % 3 else ["VV", "VH"],
            "sar:instrument_mode": "EW" if i % 4 else "IW",
            "orbit": i % 175,
            "title": f"Sentinel-1 GRD scene {i} over Svalbard",
            "description": "Ice chart input" if i % 5 == 0 else "Ground range detected",
            "eokg:concepts": [concept],
        },
        "links": [],
        "assets": {"hh": {"href": f"s3://bucket/{i}/hh.tif", "type": "image/tiff"}},
    }


def make_items(n: int, seed: int = 7) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    return [s1_item(i, rng) for i in range(n)]


def extension_items() -> list[dict[str, Any]]:
    """A label (training dataset) item and an MLM (model) item."""
    geom = {"type": "Polygon", "coordinates": [[[10, 76], [20, 76], [20, 78], [10, 78], [10, 76]]]}
    label = {
        "type": "Feature",
        "stac_version": "1.1.0",
        "stac_extensions": ["https://stac-extensions.github.io/label/v1.0.1/schema.json"],
        "id": "ice-labels-2025",
        "collection": "training-data",
        "geometry": geom,
        "properties": {
            "datetime": "2025-03-01T00:00:00Z",
            "label:type": "vector",
            "label:tasks": ["segmentation"],
            "label:properties": ["class"],
            "label:classes": [{"name": "class", "classes": ["sea-ice", "open-water"]}],
            "title": "Sea ice training labels",
        },
        "links": [],
        "assets": {},
    }
    model = {
        "type": "Feature",
        "stac_version": "1.1.0",
        "id": "ice-unet-v1",
        "collection": "models",
        "geometry": geom,
        "properties": {
            "datetime": "2025-04-01T00:00:00Z",
            "mlm:name": "IceUNet",
            "mlm:architecture": "U-Net",
            "mlm:tasks": ["semantic-segmentation"],
            "mlm:framework": "tensorflow",
            "title": "Sea ice segmentation model",
        },
        "links": [],
        "assets": {},
    }
    return [label, model]
