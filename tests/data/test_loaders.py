"""Loaders read the generator's output in every format, real-format files, and name bad records."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import pyarrow as pa
import pytest
import shapely

from eokg.data import loaders
from eokg.data.generate import SampleManifest
from eokg.errors import EokgError, InputError, ItemValidationError


def _collect(iterator) -> tuple[list, list[EokgError]]:  # type: ignore[no-untyped-def]
    errors: list[EokgError] = []
    records = list(iterator(on_error=errors.append))
    return records, errors


# ------------------------------------------------------------------ STAC


def test_stac_ndjson_and_batches(sample: SampleManifest) -> None:
    items = list(loaders.iter_stac_items(sample.path("stac_s1")))
    assert len(items) == sample.counts["stac_s1"]
    batches = list(loaders.stac_item_batches(sample.path("stac_s1"), batch_size=4))
    assert [b.num_rows for b in batches] == [4, 2]
    table = pa.Table.from_batches(batches)
    assert table.column("id").to_pylist() == [i["id"] for i in items]
    assert table.schema.field("datetime").type == pa.timestamp("s", tz="UTC")
    geom = shapely.from_wkb(table.column("geometry")[0].as_py())
    assert geom.equals(shapely.geometry.shape(items[0]["geometry"]))
    wkt = next(loaders.stac_item_batches(sample.path("stac_s2"), geometry="wkt"))
    assert wkt.column("geometry")[0].as_py().startswith("POLYGON")


@pytest.mark.parametrize("layout", ["item", "itemcollection", "array"])
def test_stac_json_layouts(sample: SampleManifest, tmp_path: Path, layout: str) -> None:
    items = list(loaders.iter_stac_items(sample.path("stac_s2")))
    path = tmp_path / "items.json"
    if layout == "item":
        doc: object = items[0]
        items = items[:1]
    elif layout == "itemcollection":
        doc = {"type": "FeatureCollection", "features": items, "links": []}
    else:
        doc = items
    path.write_text(json.dumps(doc, indent=1))
    assert [i["id"] for i in loaders.iter_stac_items(path)] == [i["id"] for i in items]


def test_bad_stac_records_are_named(sample: SampleManifest) -> None:
    path = sample.path("bad_stac")
    items, errors = _collect(lambda **kw: loaders.iter_stac_items(path, **kw))
    assert items == []
    messages = [str(e) for e in errors]
    assert len(messages) == 4
    assert all(str(path) in m for m in messages)
    assert "line 1 (id 'bad-missing-geometry')" in messages[0] and "geometry" in messages[0]
    assert "line 2 (id 'bad-datetime')" in messages[1] and "datetime" in messages[1]
    assert "line 3" in messages[2] and "invalid JSON" in messages[2]
    assert "line 4 (id 'bad-polarisation')" in messages[3] and "'XX'" in messages[3]


def test_first_bad_item_raises_without_handler(sample: SampleManifest) -> None:
    with pytest.raises(ItemValidationError, match="line 1"):
        list(loaders.iter_stac_items(sample.path("bad_stac")))


# --------------------------------------------------------------- Statoil

REAL_LAYOUT = [  # as in the challenge's train.json: no lon, lat, product_id or datetime
    {
        "id": "dfd5f913",
        "band_1": [-27.878361] * 5625,
        "band_2": [-27.154118] * 5625,
        "inc_angle": 43.9239,
        "is_iceberg": 0,
    },
    {
        "id": "e25388fd",
        "band_1": [-12.242375] * 5625,
        "band_2": [-14.920305] * 5625,
        "inc_angle": "na",
        "is_iceberg": 1,
    },
]


def test_real_statoil_file_without_extra_keys(tmp_path: Path) -> None:
    path = tmp_path / "train.json"
    path.write_text(json.dumps(REAL_LAYOUT))
    patches = list(loaders.iter_statoil_patches(path))
    assert [p.id for p in patches] == ["dfd5f913", "e25388fd"]
    assert patches[0].bands.shape == (2, 75, 75)
    assert patches[1].inc_angle is None and patches[1].lon is None
    batch = next(loaders.statoil_batches(path))
    assert batch.column("inc_angle").to_pylist() == [43.9239, None]
    assert batch.column("product_id").null_count == 2


def test_test_set_without_labels(tmp_path: Path) -> None:
    path = tmp_path / "test.json"
    path.write_text(
        json.dumps([{k: v for k, v in r.items() if k != "is_iceberg"} for r in REAL_LAYOUT])
    )
    assert [p.is_iceberg for p in loaders.iter_statoil_patches(path)] == [None, None]


def test_generated_patches_in_batches(sample: SampleManifest) -> None:
    batches = list(loaders.statoil_batches(sample.path("patches"), batch_size=128))
    assert [b.num_rows for b in batches] == [128, 128, 44]
    first = batches[0]
    assert first.schema.field("band_1").type == pa.list_(pa.float32(), 5625)
    assert first.column("lon").null_count == 0


def test_bad_patches_are_named(sample: SampleManifest) -> None:
    path = sample.path("bad_patches")
    records, errors = _collect(lambda **kw: loaders.iter_statoil_records(path, **kw))
    assert records == []
    messages = [str(e) for e in errors]
    assert "record 0 (id 'badlen01')" in messages[0] and "5624" in messages[0]
    assert "record 1 (id 'badnum02')" in messages[1] and "'abc'" in messages[1]
    assert "record 2 (id 'badinc03')" in messages[2] and "inc_angle" in messages[2]


def test_truncated_json_array_names_the_record(tmp_path: Path) -> None:
    path = tmp_path / "cut.json"
    path.write_text(json.dumps(REAL_LAYOUT)[:-5000])
    with pytest.raises(InputError, match=r"cut.json: record 1"):
        list(loaders.iter_statoil_records(path))


# --------------------------------------------------------------- vectors


@pytest.mark.parametrize("key", ["icechart_geojson", "icechart_parquet"])
def test_icechart_formats(sample: SampleManifest, key: str) -> None:
    records = list(loaders.iter_icechart_records(sample.path(key)))
    assert len(records) == sample.counts["icechart"]
    assert records[0]["chart_date"] == "2025-03-14"
    assert isinstance(records[0]["geometry"], shapely.Polygon)


def test_vector_batches_agree_across_formats(sample: SampleManifest, tmp_path: Path) -> None:
    frame = gpd.read_parquet(sample.path("parcels_parquet"))
    frame.to_file(tmp_path / "parcels.gpkg", driver="GPKG")
    frame.to_file(tmp_path / "parcels.shp")
    reference = pa.Table.from_batches(
        loaders.vector_batches(sample.path("parcels_parquet"), geometry="wkt")
    )
    for path in (
        sample.path("parcels_geojson"),
        tmp_path / "parcels.gpkg",
        tmp_path / "parcels.shp",
    ):
        batches = list(loaders.vector_batches(path, batch_size=50, geometry="wkt"))
        assert [b.num_rows for b in batches] == [50, 50, 30], path
        table = pa.Table.from_batches(batches)
        assert table.column("id").to_pylist() == reference.column("id").to_pylist()
        assert table.column("crop").to_pylist() == reference.column("crop").to_pylist()
        got = shapely.from_wkt(table.column("geometry").to_pylist())
        want = shapely.from_wkt(reference.column("geometry").to_pylist())
        # Shapefiles store rings clockwise: compare normalised geometries.
        assert all(shapely.equals_exact(shapely.normalize(got), shapely.normalize(want), 1e-9))


def test_parcel_records(sample: SampleManifest) -> None:
    records = list(loaders.iter_parcel_records(sample.path("parcels_geojson")))
    assert len(records) == sample.counts["parcels"]
    assert {"id", "crop", "area_ha", "season", "geometry"} <= set(records[0])


def test_bad_icechart_records_are_named(sample: SampleManifest) -> None:
    path = sample.path("bad_icechart")
    records, errors = _collect(lambda **kw: loaders.iter_icechart_records(path, **kw))
    assert records == []
    messages = [str(e) for e in errors]
    assert all(str(path) in m for m in messages)
    assert "(id 'bad-ct')" in messages[0] and "130" in messages[0]
    assert "(id 'bad-self-intersection')" in messages[1] and "Self-intersection" in messages[1]
    assert "(id 'bad-stage')" in messages[2] and "pancake-slush" in messages[2]
    assert "(id 'bad-date')" in messages[3] and "2025-13-45" in messages[3]


def test_bad_parcels_csv_records_are_named(sample: SampleManifest) -> None:
    path = sample.path("bad_parcels")
    records, errors = _collect(lambda **kw: loaders.iter_parcel_records(path, **kw))
    assert records == []
    messages = [str(e) for e in errors]
    assert "line 2 (id 'bad-wkt')" in messages[0] and "malformed WKT" in messages[0]
    assert "line 3 (id 'bad-crs')" in messages[1] and "EPSG:999999" in messages[1]
    assert "line 4 (id 'bad-crop')" in messages[2] and "tulips" in messages[2]
    assert type(errors[1]).__name__ == "CRSError"


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="file not found"):
        list(loaders.vector_batches(tmp_path / "nope.geojson"))
    with pytest.raises(InputError, match=r"nope\.json"):
        list(loaders.iter_statoil_records(tmp_path / "nope.json"))


def test_predictions_batches(sample: SampleManifest) -> None:
    rows = sum(b.num_rows for b in loaders.iter_predictions(sample.path("predictions")))
    assert rows == sample.counts["predictions"]
