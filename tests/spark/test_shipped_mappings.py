"""The shipped mappings on generated sample data: SHACL-valid output, bad records rejected."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import rdflib
from spark_rdfcheck import graph_of, quads_of, shacl_report

from eokg.ontologies.paths import MAPPINGS_DIR
from eokg.spark.local import map_lines, run_local
from eokg.spark.rml import load_mapping

SHIPPED = {
    "sentinel1": ("sentinel-1", "Sentinel1GRD"),
    "sentinel2": ("sentinel-2", "Sentinel2L2A"),
    "patches": ("patches", "ImagePatch"),
    "icechart": ("icecharts", "IceChartPolygon"),
    "parcels": ("parcels", "FieldParcel"),
    "predictions": ("predictions", "Prediction"),
}
EO = "https://w3id.org/eokg/ontology#"
EOD = "https://w3id.org/eokg/data/"


def _model_stub(graph: rdflib.Graph) -> None:
    """Predictions name their model; its description comes from the ML layer, not the
    predictions file, so SHACL runs here with the minimal one that layer writes."""
    for model in set(graph.objects(None, rdflib.URIRef(EO + "model"))):
        graph.add((model, rdflib.RDF.type, rdflib.URIRef(EO + "MLModel")))
        graph.add((model, rdflib.URIRef(EO + "architecture"), rdflib.Literal("cnn")))


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_shipped_mapping_output_passes_shacl(sample_dir: Path, name: str):
    graph_name, cls = SHIPPED[name]
    plan = load_mapping(MAPPINGS_DIR / f"{name}.rml.ttl", base_dir=sample_dir)
    lines, rejects = map_lines(plan)
    assert rejects == [], rejects[:3]
    quads = quads_of(lines)
    assert {str(g) for *_, g in quads} == {f"{EOD}graph/{graph_name}"}
    graph = graph_of(lines)
    assert set(graph.subjects(rdflib.RDF.type, rdflib.URIRef(EO + cls)))
    if name == "predictions":
        _model_stub(graph)
    if name == "patches":
        # eo:cutFrom has range eo:Product: patches are validated with their products,
        # as they sit together in the store.
        s1 = load_mapping(MAPPINGS_DIR / "sentinel1.rml.ttl", base_dir=sample_dir)
        graph += graph_of(map_lines(s1)[0])
    conforms, text = shacl_report(graph)
    assert conforms, text[:3000]


def test_geojson_twin_maps_like_geoparquet(sample_dir: Path):
    plan = load_mapping(MAPPINGS_DIR / "icechart.rml.ttl", base_dir=sample_dir)
    twin = load_mapping(
        MAPPINGS_DIR / "icechart.rml.ttl",
        base_dir=sample_dir,
        inputs={"icechart": sample_dir / "icecharts" / "icechart.geojson"},
    )
    assert graph_of(map_lines(plan)[0]) == graph_of(map_lines(twin)[0]) or len(
        graph_of(map_lines(plan)[0])
    ) == len(graph_of(map_lines(twin)[0]))


BAD = [
    ("sentinel1", "sentinel-1-grd.ndjson", "stac.ndjson"),
    ("patches", "patches.json", "patches.json"),
    ("icechart", "icechart.parquet", "icechart.geojson"),
    ("parcels-csv", "parcels.csv", "parcels.csv"),
]


@pytest.mark.parametrize(("mapping", "source", "bad_file"), BAD)
def test_bad_sample_records_go_to_rejects_with_reasons(
    sample_dir: Path, tmp_path: Path, mapping: str, source: str, bad_file: str
):
    expected = json.loads((sample_dir / "bad" / "expected.json").read_text())[bad_file]
    plan = load_mapping(
        MAPPINGS_DIR / f"{mapping}.rml.ttl",
        base_dir=sample_dir,
        inputs={source: sample_dir / "bad" / bad_file},
    )
    summary = run_local(plan, tmp_path / "out")
    rejects = [
        json.loads(line)
        for f in sorted((tmp_path / "out" / "_rejects").glob("*.jsonl"))
        for line in f.read_text().splitlines()
    ]
    assert summary.reject_count == len(rejects) == len(expected)
    for bad_id in expected:
        found = [r for r in rejects if bad_id in json.dumps(r)]
        assert found and found[0]["reason"], bad_id
    summary_file = json.loads((tmp_path / "out" / "_summary.json").read_text())
    assert summary_file["reject_count"] == len(expected)


def test_good_records_are_kept_beside_bad_ones(sample_dir: Path, tmp_path: Path):
    mixed = tmp_path / "mixed.ndjson"
    good = (sample_dir / "stac" / "sentinel-1-grd.ndjson").read_text().splitlines()
    bad = (sample_dir / "bad" / "stac.ndjson").read_text().splitlines()
    mixed.write_text("\n".join([good[0], *bad, *good[1:]]) + "\n")
    plan = load_mapping(
        MAPPINGS_DIR / "sentinel1.rml.ttl", base_dir=sample_dir, inputs={"sentinel-1-grd": mixed}
    )
    lines, rejects = map_lines(plan, batch_rows=3)
    products = set(graph_of(lines).subjects(rdflib.RDF.type, rdflib.URIRef(EO + "Sentinel1GRD")))
    assert len(products) == len(good)
    assert len(rejects) == 4
    assert not any("bad-" in line for line in lines)
