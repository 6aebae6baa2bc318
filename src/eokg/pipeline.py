"""``eokg demo``: the main job, end to end, on embedded defaults.

sample data -> RML mapping (Spark) with catalogue indexing in the same pass ->
SHACL check -> atomic store load -> catalogue check -> GeoSPARQL checks ->
dataset from a GeoSPARQL query ->
distributed training -> predictions back into the graph -> interlinking ->
report.  Every stage is the same code the CLI subcommands run, called with the
settings built once here; nothing needs a server.  Stages write under
``--data-dir`` so that ``eokg serve`` afterwards serves what the demo built.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eokg.config import Settings
from eokg.ontologies.namespaces import sparql_prefixes

#: Shipped mappings the demo runs over the sample data (predictions come later).
INGEST_MAPPINGS = ("sentinel1", "sentinel2", "patches", "icechart", "parcels")

#: The area the demo's queries look at: the Barents Sea east of Svalbard.
AREA_WKT = "POLYGON((15 74, 40 74, 40 81, 15 81, 15 74))"


@dataclass
class Run:
    """What the stages share: settings, folders and the growing report."""

    settings: Settings
    data_dir: Path
    engine: str
    scale: float
    workers: int
    epochs: int
    report: dict[str, Any] = field(default_factory=dict)
    objects: dict[str, Any] = field(default_factory=dict)

    @property
    def sample_dir(self) -> Path:
        return self.data_dir / "sample"

    @property
    def rdf_dir(self) -> Path:
        return self.data_dir / "rdf"

    @property
    def store_dir(self) -> Path:
        return self.data_dir / "store"

    @property
    def catalog_file(self) -> Path:
        return self.data_dir / "catalog.sqlite"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data-dir", type=Path, help="where everything is written")
    parser.add_argument(
        "--engine",
        choices=("spark", "local"),
        default="spark",
        help="mapping engine (default: Spark local mode)",
    )
    parser.add_argument("--scale", type=float, default=1.0, help="sample size factor")
    parser.add_argument("--workers", type=int, help="training worker processes")
    parser.add_argument("--epochs", type=int, help="training epochs")
    parser.add_argument(
        "--skip-train", action="store_true", help="stop after ingest, indexing and queries"
    )


def run(args: argparse.Namespace, settings: Settings) -> int:
    data_dir = args.data_dir or settings.data_dir
    state = Run(
        settings=settings,
        data_dir=data_dir,
        engine=args.engine,
        scale=args.scale,
        workers=args.workers or settings.ml.workers,
        epochs=args.epochs or settings.ml.epochs,
    )
    stages = STAGES if not args.skip_train else [s for s in STAGES if s[0] not in ML_STAGES]
    run_stages(state, stages)
    print_report(state)
    return 0


def run_stages(state: Run, stages: list[tuple[str, Callable[[Run], dict[str, Any]]]]) -> None:
    for name, stage in stages:
        print(f"[eokg demo] {name} ...", flush=True)
        start = time.perf_counter()
        result = stage(state)
        result["seconds"] = round(time.perf_counter() - start, 2)
        state.report[name] = result
        print(f"[eokg demo] {name}: {_one_line(result)}", flush=True)


# ------------------------------------------------------------------- stages


def stage_sample(state: Run) -> dict[str, Any]:
    from eokg.data.generate import DEFAULT_COUNTS, generate_sample

    if state.data_dir.exists():
        # A rerun starts clean: the store and catalogue would otherwise hold
        # the previous run's triples twice.
        for child in ("sample", "new", "rdf", "rdf-new", "store", "links", "ml", "catalog.sqlite"):
            target = state.data_dir / child
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
    counts = {k: max(1, int(v * state.scale)) for k, v in DEFAULT_COUNTS.items()}
    manifest = generate_sample(state.sample_dir, seed=state.settings.seed, **counts)
    return {"folder": str(state.sample_dir), **_manifest_counts(manifest)}


def stage_map(state: Run) -> dict[str, Any]:
    """Map the sample to RDF and index its STAC items in the catalogue, in one pass.

    The mapping engine hands every STAC item it reads to the catalogue
    (``item_sink``), so the NDJSON files are read once; collections and any
    STAC file no mapping reads are indexed from the files directly.
    """
    from eokg.catalog.index import open_index
    from eokg.catalog.ingest import IngestReport, index_documents
    from eokg.spark.commands import resolve_mapping
    from eokg.spark.rml import load_mapping
    from eokg.spark.sources import item_sources

    mappings = [resolve_mapping(Path(name)) for name in INGEST_MAPPINGS]
    plan = load_mapping(mappings, base_dir=state.sample_dir)
    mapped_stac = item_sources(plan)
    index = open_index(_catalog_settings(state))
    ingest = IngestReport()
    try:
        _index_unmapped(index, state.sample_dir / "stac", mapped_stac, ingest)

        def sink(docs: Iterator[dict[str, Any]]) -> None:
            ingest.merge(index_documents(index, docs, where="mapped STAC"))

        summary = _run_plan(state, plan, state.rdf_dir, item_sink=sink)
    finally:
        index.close()
    _add_unparsed_items(ingest, summary, mapped_stac)
    state.objects["ingest"] = ingest
    return {
        "engine": summary.engine,
        "triples": summary.triples,
        "rejects": summary.reject_count,
        "indexed_items": ingest.indexed,
        "output": str(state.rdf_dir),
    }


def stage_validate(state: Run) -> dict[str, Any]:
    from eokg.ontologies.validate import validate_files

    report = validate_files(_rdf_files(state.rdf_dir))
    if not report.conforms:
        report.raise_if_invalid()
    return {"conforms": report.conforms, "violations": len(report.violations)}


def stage_load(state: Run) -> dict[str, Any]:
    from eokg.kg.store import GeoStore
    from eokg.ontologies.paths import all_schema_files

    store = GeoStore(state.store_dir)
    state.objects["store"] = store
    schema = store.load(all_schema_files(), graph="https://w3id.org/eokg/graph/ontology")
    data = store.load(_rdf_files(state.rdf_dir))
    return {
        "triples": schema.triples + data.triples,
        "graphs": len(store.graphs()),
        "geometries_indexed": store.geometry_count(),
    }


def stage_index(state: Run) -> dict[str, Any]:
    """Check the catalogue the map stage filled (or index the STAC files if it did not)."""
    from eokg.catalog.index import SearchRequest, open_index
    from eokg.catalog.ingest import index_paths

    catalog = _catalog_settings(state)
    index = open_index(catalog)
    try:
        report = state.objects.get("ingest")
        if report is None:  # run without the map stage: index the files themselves
            report = index_paths(index, [state.sample_dir / "stac"])
        minx, miny, maxx, maxy = 15.0, 74.0, 40.0, 81.0
        page = index.search(
            SearchRequest(
                bbox=[minx, miny, maxx, maxy],
                datetime="2025-01-01T00:00:00Z/..",
                limit=1,
                collections=["sentinel-1-grd"],
            )
        )
    finally:
        index.close()
    return {
        "backend": catalog.backend,
        "items": report.indexed,
        "collections": report.collections,
        "failures": report.failed,
        "s1_items_in_area": page.matched,
    }


def stage_query(state: Run) -> dict[str, Any]:
    store = state.objects["store"]
    selection = (
        sparql_prefixes()
        + f"""
        SELECT (COUNT(DISTINCT ?p) AS ?n) WHERE {{
          ?p a eo:Sentinel1GRD ; geo:hasGeometry/geo:asWKT ?w .
          FILTER(geof:sfIntersects(?w, "{AREA_WKT}"^^geo:wktLiteral))
        }}"""
    )
    join = (
        sparql_prefixes()
        + """
        SELECT (COUNT(*) AS ?n) WHERE {
          ?cell a eo:IceChartPolygon ; eo:stageOfDevelopment ?stage ;
                geo:hasGeometry/geo:asWKT ?cw .
          ?stage skos:broader* <https://w3id.org/eokg/concept/seaice/old-ice> .
          ?p a eo:Sentinel1GRD ; geo:hasGeometry/geo:asWKT ?pw .
          FILTER(geof:sfIntersects(?cw, ?pw))
        }"""
    )
    icebergs = (
        sparql_prefixes()
        + """
        SELECT (COUNT(?patch) AS ?n) WHERE {
          ?patch a eo:ImagePatch ; eo:hasLabel/eo:labelClass ?c .
          ?c skos:broader* <https://w3id.org/eokg/concept/seaice/ice> .
        }"""
    )
    return {
        "s1_products_in_area": _count(store, selection),
        "old_ice_cells_x_s1_footprints": _count(store, join),
        "patches_labelled_ice": _count(store, icebergs),
    }


def stage_train(state: Run) -> dict[str, Any]:
    from eokg.catalog.index import open_index
    from eokg.ml.registry import register_model
    from eokg.ml.shards import Manifest
    from eokg.ml.spec import DatasetSpec
    from eokg.ml.train import train

    spec = DatasetSpec()  # patches labelled with a narrower concept of ice or vessel
    store = state.objects["store"]
    ml = state.settings.ml
    result = train(
        spec,
        source=store,
        workers=state.workers,
        epochs=state.epochs,
        batch_size=ml.batch_size,
        out_dir=state.data_dir / "ml" / "model",
        cache_dir=state.data_dir / "ml" / "datasets",
        page_size=state.settings.store.page_size,
        seed=ml.seed,
    )
    index = open_index(_catalog_settings(state))
    try:
        registration = register_model(
            spec, result, Manifest.load(result.dataset_dir), store=store, index=index
        )
    finally:
        index.close()
    state.objects["model_dir"] = result.model_path.parent
    return {
        "workers": result.workers,
        "epochs": result.epochs,
        "train_samples": result.train_samples,
        "val_samples": result.val_samples,
        "val_accuracy": round(result.val_accuracy, 4),
        "model": registration.model_iri,
    }


def stage_predict(state: Run) -> dict[str, Any]:
    """Classify patches the model never saw, and check the graph against their labels."""
    from eokg.data.generate import generate_sample
    from eokg.ml.predict import predict
    from eokg.spark.commands import resolve_mapping
    from eokg.spark.rml import load_mapping

    store = state.objects["store"]
    new_dir = state.data_dir / "new"
    generate_sample(
        new_dir,
        n_products=2,
        n_patches=max(20, int(400 * state.scale)),
        n_icecharts=1,
        n_parcels=1,
        n_predictions=1,
        seed=state.settings.seed + 1,
    )
    plan = load_mapping([resolve_mapping(Path("patches"))], base_dir=new_dir)
    _run_plan(state, plan, state.data_dir / "rdf-new")
    store.load(_rdf_files(state.data_dir / "rdf-new"))
    result = predict(
        state.objects["model_dir"],
        store=store,
        out_dir=state.data_dir / "ml" / "predictions",
        patches_file=new_dir / "patches" / "patches.json",
    )
    state.objects["predictions"] = result.parquet
    agree = (
        sparql_prefixes()
        + """
        SELECT (COUNT(?pred) AS ?n) WHERE {
          ?pred a eo:Prediction ; eo:predictedClass ?c ; eo:predictionFor ?patch .
          ?patch eo:hasLabel/eo:labelClass ?c .
        }"""
    )
    confident = (
        sparql_prefixes()
        + f"""
        SELECT (COUNT(?pred) AS ?n) WHERE {{
          ?pred a eo:Prediction ; eo:confidence ?conf ;
                eo:predictedClass <https://w3id.org/eokg/concept/seaice/iceberg> ;
                geo:hasGeometry/geo:asWKT ?w .
          FILTER(?conf > 0.9 && geof:sfIntersects(?w, "{AREA_WKT}"^^geo:wktLiteral))
        }}"""
    )
    correct = _count(store, agree)
    return {
        "predictions": result.predictions,
        "triples": result.triples,
        "accuracy_on_new_patches": round(correct / result.predictions, 4)
        if result.predictions
        else 0.0,
        "confident_icebergs_in_area": _count(store, confident),
    }


def stage_link(state: Run) -> dict[str, Any]:
    """Which Sentinel-1 footprints intersect, contain or lie within which ice-chart cells."""
    import pyarrow.parquet as pq

    from eokg.data.loaders import stac_item_batches
    from eokg.spark.link import link_local, link_spark

    links_dir = state.data_dir / "links"
    footprints = links_dir / "s1-footprints.parquet"
    links_dir.mkdir(parents=True, exist_ok=True)
    writer = None
    for batch in stac_item_batches(state.sample_dir / "stac" / "sentinel-1-grd.ndjson"):
        slim = batch.select(["id", "geometry"])
        writer = writer or pq.ParquetWriter(footprints, slim.schema)
        writer.write_batch(slim)
    if writer is not None:
        writer.close()
    relations = ["sfIntersects", "sfContains", "sfWithin", "sfOverlaps"]
    arguments: dict[str, Any] = {
        "source_template": "https://w3id.org/eokg/data/product/{id}",
        "target_template": "https://w3id.org/eokg/data/icechart/{chart_date}/{id}",
    }
    source = footprints
    target = state.sample_dir / "icecharts" / "icechart.parquet"
    output = links_dir / "s1-x-icechart"
    if state.engine == "local":
        summary = link_local(source, target, relations, output, **arguments)
    else:
        summary = link_spark(_spark(state), source, target, relations, output, **arguments)
    store = state.objects["store"]
    loaded = store.load(sorted(output.glob("*.nt")), graph="https://w3id.org/eokg/data/graph/links")
    return {"candidates": summary.candidates, "triples": loaded.triples, **summary.links}


# -------------------------------------------------------------------- helpers


def _catalog_settings(state: Run) -> Any:
    catalog = state.settings.catalog
    if catalog.backend == "embedded":
        catalog = catalog.model_copy(update={"path": state.catalog_file})
    return catalog


def _run_plan(state: Run, plan: Any, output: Path, item_sink: Any = None) -> Any:
    batch_rows = state.settings.spark.arrow_batch_rows
    if state.engine == "local":
        from eokg.spark.local import run_local

        return run_local(plan, output, batch_rows=batch_rows, item_sink=item_sink)
    from eokg.spark.job import run_spark

    return run_spark(plan, output, _spark(state), batch_rows=batch_rows, item_sink=item_sink)


def _index_unmapped(index: Any, stac_dir: Path, mapped: list[Any], ingest: Any) -> None:
    """Index what the mapping does not read: collection documents, unmapped STAC files."""
    from eokg.catalog.ingest import index_paths
    from eokg.catalog.readers import NDJSON_SUFFIXES

    if not stac_dir.is_dir():
        return
    seen = {source.path.resolve() for source in mapped}
    suffixes = NDJSON_SUFFIXES | {".json", ".geojson"}
    others = [
        path
        for path in sorted(stac_dir.rglob("*"))
        if path.is_file() and path.suffix in suffixes and path.resolve() not in seen
    ]
    ingest.merge(index_paths(index, others))


def _add_unparsed_items(ingest: Any, summary: Any, mapped: list[Any]) -> None:
    """Lines of mapped STAC files that are not JSON: map rejects, and index failures too."""
    from eokg.catalog.index import ItemFailure

    for source in mapped:
        for _ in range(summary.rejects.get(str(source.path), 0)):
            ingest.bulk.failures.append(
                ItemFailure(None, "not JSON (see the mapping's _rejects)", None, str(source.path))
            )


def _spark(state: Run) -> Any:
    if "spark" not in state.objects:
        from eokg.spark.session import build_session

        state.objects["spark"] = build_session(state.settings.spark)
    return state.objects["spark"]


def _rdf_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix in (".nt", ".nq"))


def _count(store: Any, sparql: str) -> int:
    rows = list(store.query(sparql))
    return int(rows[0]["n"].value) if rows else 0


def _manifest_counts(manifest: Any) -> dict[str, Any]:
    counts = getattr(manifest, "counts", None)
    return dict(counts) if isinstance(counts, dict) else {}


def _one_line(result: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in result.items() if not isinstance(v, (dict, list)))


def print_report(state: Run) -> None:
    report_file = state.data_dir / "report.json"
    report_file.write_text(json.dumps(state.report, indent=2, default=str))
    print("\n=== eokg demo report ===")
    for stage, result in state.report.items():
        print(f"{stage:>10}: {_one_line(result)}")
    print(f"\nreport: {report_file}")
    print(
        f"serve it: EOKG_STORE__PATH={state.store_dir} "
        f"EOKG_CATALOG__PATH={state.catalog_file} eokg serve"
    )
    print("then open http://127.0.0.1:8000/sparql (GeoSPARQL) and /stac (STAC API)")


ML_STAGES = ("train", "predict")

STAGES: list[tuple[str, Callable[[Run], dict[str, Any]]]] = [
    ("sample", stage_sample),
    ("map", stage_map),
    ("validate", stage_validate),
    ("load", stage_load),
    ("index", stage_index),
    ("query", stage_query),
    ("link", stage_link),
    ("train", stage_train),
    ("predict", stage_predict),
]
