"""The sample generator: reproducible, exact counts, realistic and self-consistent."""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pystac
import pytest
import shapely
from jsonschema import Draft7Validator
from referencing import Registry, Resource

from eokg.data.concepts import concept_keys
from eokg.data.generate import FILES, SampleManifest, generate_sample, scaled_counts
from eokg.data.geodesy import geodesic_area_ha
from eokg.data.icecharts import CHART_AREA, iter_icechart
from eokg.errors import InputError

TINY = {"n_products": 4, "n_patches": 6, "n_icecharts": 20, "n_parcels": 10, "n_predictions": 5}


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _digests(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != "manifest.json"
    }


def test_same_seed_gives_identical_bytes(tmp_path: Path) -> None:
    generate_sample(tmp_path / "a", seed=7, **TINY)
    generate_sample(tmp_path / "b", seed=7, **TINY)
    generate_sample(tmp_path / "c", seed=8, **TINY)
    a, b, c = (_digests(tmp_path / x) for x in "abc")
    assert a == b
    assert set(a) == set(FILES.values())
    assert a["patches/patches.json"] != c["patches/patches.json"]
    assert a["stac/sentinel-1-grd.ndjson"] != c["stac/sentinel-1-grd.ndjson"]


def test_counts_match_files(sample: SampleManifest) -> None:
    counts = sample.counts
    assert (counts["stac_s1"], counts["stac_s2"]) == (6, 6)
    assert len(_lines(sample.path("stac_s1"))) == 6
    assert len(_lines(sample.path("stac_s2"))) == 6
    assert len(json.loads(sample.path("patches").read_text())) == 300
    assert pq.read_metadata(sample.path("icechart_parquet")).num_rows == 150
    assert pq.read_metadata(sample.path("parcels_parquet")).num_rows == 130
    assert pq.read_metadata(sample.path("predictions")).num_rows == 40
    assert SampleManifest.read(sample.out_dir).counts == counts


def test_scale_multiplies_defaults() -> None:
    assert scaled_counts(2.0)["n_patches"] == 3200
    with pytest.raises(InputError):
        scaled_counts(0)


def test_parquet_is_written_in_bounded_row_groups(sample: SampleManifest) -> None:
    meta = pq.read_metadata(sample.path("icechart_parquet"))
    assert meta.num_row_groups == 3  # 150 rows in batches of 64
    geo = json.loads(pq.read_schema(sample.path("icechart_parquet")).metadata[b"geo"])
    assert geo["primary_column"] == "geometry"
    assert geo["columns"]["geometry"]["encoding"] == "WKB"


def test_icechart_generation_memory_does_not_grow_with_size() -> None:
    def peak(n: int) -> int:
        tracemalloc.start()
        for _ in iter_icechart(1, n):
            pass
        _, top = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return top

    assert peak(1500) < 2 * peak(150) + 200_000


# ------------------------------------------------------------------ STAC


def _core_item_validator() -> Draft7Validator:
    from pystac.validation.local_validator import get_local_schema_cache

    cache = get_local_schema_cache()
    registry = Registry().with_resources(
        (uri, Resource.from_contents(schema)) for uri, schema in cache.items()
    )
    uri = next(u for u in cache if u.endswith("item-spec/json-schema/item.json"))
    return Draft7Validator(cache[uri], registry=registry)


def test_stac_items_round_trip_and_pass_core_schema(sample: SampleManifest) -> None:
    validator = _core_item_validator()
    for key in ("stac_s1", "stac_s2"):
        for item in _lines(sample.path(key)):
            errors = [e.message for e in validator.iter_errors(item)]
            assert not errors, (item["id"], errors[:3])
            again = pystac.Item.from_dict(item).to_dict(
                include_self_link=False, transform_hrefs=False
            )
            for field in ("id", "collection", "geometry", "bbox", "properties", "assets"):
                assert json.loads(json.dumps(again[field])) == item[field], field


def test_s1_items_are_realistic_swaths(sample: SampleManifest) -> None:
    for item in _lines(sample.path("stac_s1")):
        props = item["properties"]
        geom = shapely.geometry.shape(item["geometry"])
        assert geom.is_valid and shapely.is_ccw(geom.exterior)
        w, s, e, n = geom.bounds
        assert w > -40 and e < 60 and s > 65 and n < 88
        area_km2 = geodesic_area_ha(geom) / 100
        assert (3.5e4 if props["sar:instrument_mode"] == "IW" else 1.5e5) < area_km2 < 2.3e5
        assert props["platform"] in {"sentinel-1a", "sentinel-1c"}
        assert props["sar:polarizations"] in (["HH", "HV"], ["VV", "VH"])
        assert props["sat:orbit_state"] in {"ascending", "descending"}
        assert item["id"].startswith(("S1A_", "S1C_")) and len(item["id"]) == 67
        assert props["eokg:concepts"] == ["https://w3id.org/eokg/concept/product/s1-grd"]
        assert props["start_datetime"] <= props["end_datetime"]


def test_collections_cover_their_items(sample: SampleManifest) -> None:
    for item_key, col_key in (("stac_s1", "collection_s1"), ("stac_s2", "collection_s2")):
        collection = pystac.Collection.from_dict(json.loads(sample.path(col_key).read_text()))
        box = shapely.box(*collection.extent.spatial.bboxes[0])
        for item in _lines(sample.path(item_key)):
            assert box.covers(shapely.geometry.shape(item["geometry"]))
            assert item["collection"] == collection.id


# ---------------------------------------------------------------- patches


def test_statoil_layout_is_exact(sample: SampleManifest) -> None:
    records = json.loads(sample.path("patches").read_text())
    ids = [r["id"] for r in records]
    assert len(set(ids)) == len(ids)
    products = {i["id"] for i in _lines(sample.path("stac_s1"))}
    for r in records[:50]:
        assert list(r)[:5] == ["id", "band_1", "band_2", "inc_angle", "is_iceberg"]
        assert len(r["id"]) == 8 and int(r["id"], 16) >= 0
        assert len(r["band_1"]) == len(r["band_2"]) == 5625
        assert r["inc_angle"] == "na" or 15 < r["inc_angle"] < 50
        assert r["is_iceberg"] in (0, 1)
        assert r["product_id"] in products
    band_1 = np.array([r["band_1"] for r in records])
    assert -25 < band_1.mean() < -15
    assert band_1.min() > -50 and band_1.max() < 40
    assert any(r["inc_angle"] == "na" for r in records)


def _features(band_1: np.ndarray, band_2: np.ndarray) -> list[float]:
    bright = band_1 > np.median(band_1) + 10
    peak = band_1.max()
    return [peak, band_2.max(), float(bright.sum()), peak - np.percentile(band_1, 99)]


def test_ships_and_icebergs_are_separable_but_not_trivially(sample: SampleManifest) -> None:
    records = json.loads(sample.path("patches").read_text())
    x = np.array([_features(np.array(r["band_1"]), np.array(r["band_2"])) for r in records])
    y = np.array([r["is_iceberg"] for r in records], dtype=float)
    x = (x - x.mean(0)) / x.std(0)
    x = np.c_[x, np.ones(len(x))]
    train, test = slice(0, 200), slice(200, None)
    w = np.zeros(x.shape[1])
    for _ in range(2000):  # plain logistic regression by gradient descent
        p = 1 / (1 + np.exp(-x[train] @ w))
        w -= 0.5 * x[train].T @ (p - y[train]) / len(p)
    accuracy = float(((x[test] @ w > 0) == y[test]).mean())
    assert 0.8 < accuracy < 0.99
    assert 0.35 < y.mean() < 0.6


# ---------------------------------------------------------------- vectors


@pytest.mark.parametrize("family", ["icechart", "parcels"])
def test_geojson_and_geoparquet_hold_the_same_records(sample: SampleManifest, family: str) -> None:
    geojson = json.loads(sample.path(f"{family}_geojson").read_text())
    table = pq.read_table(sample.path(f"{family}_parquet")).to_pylist()
    assert len(geojson["features"]) == len(table)
    for feature, row in zip(geojson["features"], table, strict=True):
        wkb = row.pop("geometry")
        assert feature["properties"] == row
        assert shapely.geometry.shape(feature["geometry"]).equals_exact(shapely.from_wkb(wkb), 0.0)


def test_icechart_is_a_valid_partition(sample: SampleManifest) -> None:
    table = pq.read_table(sample.path("icechart_parquet")).to_pydict()
    polygons = shapely.from_wkb(table["geometry"])
    assert all(shapely.is_valid(polygons))
    assert set(shapely.get_type_id(polygons)) == {3}
    area = shapely.box(*CHART_AREA).area
    assert sum(shapely.area(polygons)) == pytest.approx(area, rel=1e-9)
    assert shapely.union_all(polygons).area == pytest.approx(area, rel=1e-9)
    assert len(set(table["id"])) == len(table["id"])
    assert set(table["sa"]) <= concept_keys("seaice")
    assert all(0 <= ct <= 100 for ct in table["ct"])
    assert set(table["ice_service"]) <= {"METNO", "DMI"}


def test_parcels_are_valid_disjoint_and_measured(sample: SampleManifest) -> None:
    table = pq.read_table(sample.path("parcels_parquet")).to_pydict()
    polygons = shapely.from_wkb(table["geometry"])
    assert all(shapely.is_valid(polygons))
    assert shapely.union_all(polygons).area == pytest.approx(sum(shapely.area(polygons)))
    for polygon, area in zip(polygons, table["area_ha"], strict=True):
        assert area == pytest.approx(geodesic_area_ha(polygon), abs=1e-3)
        assert 0.5 < area < 20
        w, s, e, n = polygon.bounds
        assert w > -5 and e < 3 and s > 47 and n < 49.5
    assert set(table["crop"]) <= concept_keys("crop")
    assert set(table["season"]) == {2025}


def test_predictions_refer_to_patches(sample: SampleManifest) -> None:
    rows = pq.read_table(sample.path("predictions")).to_pylist()
    patches = {r["id"]: r for r in json.loads(sample.path("patches").read_text())}
    assert list(rows[0]) == [
        "patch_id",
        "class",
        "confidence",
        "model_id",
        "run_id",
        "predicted_at",
        "wkt",
    ]
    right = 0
    for row in rows:
        patch = patches[row["patch_id"]]
        assert row["class"] in {"iceberg", "ship"} <= concept_keys("seaice")
        assert 0.5 <= row["confidence"] <= 1
        footprint = shapely.from_wkt(row["wkt"])
        assert footprint.is_valid
        assert footprint.contains(shapely.Point(patch["lon"], patch["lat"]))
        right += row["class"] == ("iceberg" if patch["is_iceberg"] else "ship")
    assert right > 0.7 * len(rows)


def test_bad_set_lists_every_record(sample: SampleManifest) -> None:
    expected = json.loads(sample.path("bad_expected").read_text())
    assert set(expected) == {"stac.ndjson", "patches.json", "icechart.geojson", "parcels.csv"}
    assert len(expected["stac.ndjson"]) == 4
    assert len(json.loads(sample.path("bad_patches").read_text())) == 3
    icechart = json.loads(sample.path("bad_icechart").read_text())
    assert {f["properties"]["id"] for f in icechart["features"]} == set(
        expected["icechart.geojson"]
    )
