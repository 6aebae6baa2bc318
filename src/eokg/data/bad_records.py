"""Deliberately broken records, one per failure mode, with the reason each is bad.

Loaders, mappings and SHACL shapes are tested against these: every record in
``bad/`` is bad for exactly one stated reason, and ``bad/expected.json`` maps
file name -> record id -> that reason.  The files are small and fixed (they do
not depend on the seed or the scale).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from eokg.data.stac_items import S1_COLLECTION, S1_CONCEPT, STAC_VERSION
from eokg.data.writers import dumps

_SQUARE = {
    "type": "Polygon",
    "coordinates": [[[10.0, 75.0], [12.0, 75.0], [12.0, 76.0], [10.0, 76.0], [10.0, 75.0]]],
}
_BOWTIE = {
    "type": "Polygon",
    "coordinates": [[[20.0, 75.0], [22.0, 76.0], [22.0, 75.0], [20.0, 76.0], [20.0, 75.0]]],
}


def _s1(item_id: str, **props: Any) -> dict[str, Any]:
    properties = {
        "datetime": "2025-03-14T07:35:12Z",
        "platform": "sentinel-1a",
        "constellation": "sentinel-1",
        "instruments": ["c-sar"],
        "sar:instrument_mode": "EW",
        "sar:polarizations": ["HH", "HV"],
        "sar:product_type": "GRD",
        "eokg:concepts": [S1_CONCEPT],
    }
    properties.update(props)
    return {
        "type": "Feature",
        "stac_version": STAC_VERSION,
        "id": item_id,
        "collection": S1_COLLECTION,
        "geometry": _SQUARE,
        "bbox": [10.0, 75.0, 12.0, 76.0],
        "properties": properties,
        "links": [],
        "assets": {"hh": {"href": f"s3://eokg-sample/bad/{item_id}/hh.tiff"}},
    }


def _band(n: int = 5625) -> list[float]:
    return [-20.0 + (i % 7) * 0.5 for i in range(n)]


def write_bad_records(bad_dir: Path) -> dict[str, dict[str, str]]:
    """Write the bad set into ``bad_dir``; returns (and writes) the expected reasons."""
    bad_dir.mkdir(parents=True, exist_ok=True)
    expected: dict[str, dict[str, str]] = {}

    no_geometry = _s1("bad-missing-geometry")
    del no_geometry["geometry"], no_geometry["bbox"]
    bad_time = _s1("bad-datetime", datetime="2025-02-30T25:61:00Z")
    bad_pol = _s1("bad-polarisation", **{"sar:polarizations": ["HH", "XX"]})
    lines = [
        dumps(no_geometry),
        dumps(bad_time),
        '{"type": "Feature", "stac_version": "1.1.0", "id": "bad-json", "geometry": {',
        dumps(bad_pol),
    ]
    (bad_dir / "stac.ndjson").write_text("\n".join(lines) + "\n", encoding="utf-8")
    expected["stac.ndjson"] = {
        "bad-missing-geometry": "missing geometry",
        "bad-datetime": "invalid datetime",
        "bad-json": "invalid JSON (line 3)",
        "bad-polarisation": "unknown polarisation",
    }

    patches = [
        {
            "id": "badlen01",
            "band_1": _band(5624),
            "band_2": _band(),
            "inc_angle": 38.5,
            "is_iceberg": 0,
        },
        {
            "id": "badnum02",
            "band_1": [*_band(100), "abc", *_band(5524)],
            "band_2": _band(),
            "inc_angle": 38.5,
            "is_iceberg": 1,
        },
        {
            "id": "badinc03",
            "band_1": _band(),
            "band_2": _band(),
            "inc_angle": 123.0,
            "is_iceberg": 1,
        },
    ]
    with (bad_dir / "patches.json").open("w", encoding="utf-8") as fh:
        json.dump(patches, fh, separators=(",", ":"))
    expected["patches.json"] = {
        "badlen01": "band_1 has 5624 values, not 5625",
        "badnum02": "non-numeric value in band_1",
        "badinc03": "inc_angle 123 outside [0, 90]",
    }

    def feature(fid: str, geometry: dict[str, Any], **props: Any) -> dict[str, Any]:
        properties = {
            "id": fid,
            "chart_date": "2025-03-14",
            "ct": 80,
            "sa": "first-year-ice",
            "ice_service": "METNO",
        }
        properties.update(props)
        return {"type": "Feature", "properties": properties, "geometry": geometry}

    chart = {
        "type": "FeatureCollection",
        "name": "bad-icechart",
        "features": [
            feature("bad-ct", _SQUARE, ct=130),
            feature("bad-self-intersection", _BOWTIE),
            feature("bad-stage", _SQUARE, sa="pancake-slush"),
            feature("bad-date", _SQUARE, chart_date="2025-13-45"),
        ],
    }
    (bad_dir / "icechart.geojson").write_text(dumps(chart) + "\n", encoding="utf-8")
    expected["icechart.geojson"] = {
        "bad-ct": "ct 130 outside [0, 100]",
        "bad-self-intersection": "self-intersecting polygon",
        "bad-stage": "unknown stage of development 'pancake-slush'",
        "bad-date": "invalid chart_date",
    }

    with (bad_dir / "parcels.csv").open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["id", "crop", "season", "wkt"])
        writer.writerow(["bad-wkt", "maize", 2025, "POLYGON((0 0, 1 1"])
        writer.writerow(
            ["bad-crs", "maize", 2025, "<http://www.opengis.net/def/crs/EPSG/0/999999> POINT(1 2)"]
        )
        writer.writerow(
            [
                "bad-crop",
                "tulips",
                2025,
                "POLYGON((1.5 48.1, 1.51 48.1, 1.51 48.11, 1.5 48.11, 1.5 48.1))",
            ]
        )
    expected["parcels.csv"] = {
        "bad-wkt": "malformed WKT",
        "bad-crs": "unknown CRS EPSG:999999",
        "bad-crop": "unknown crop 'tulips'",
    }

    (bad_dir / "expected.json").write_text(
        json.dumps(expected, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    return expected
