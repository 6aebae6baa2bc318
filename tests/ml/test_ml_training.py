"""Training (one process and two real worker processes), registration and predictions."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eokg.ml.spec import DatasetSpec

pytestmark = [pytest.mark.ml, pytest.mark.slow]

EO = "https://w3id.org/eokg/ontology#"


def test_single_process_reaches_85_percent(trained) -> None:
    assert trained.workers == 1
    assert trained.val_accuracy >= 0.85, trained.metrics
    assert [m["epoch"] for m in trained.metrics] == list(range(1, 7))
    assert all("val_accuracy" in m and "loss" in m for m in trained.metrics)
    saved = json.loads((trained.model_path.parent / "metrics.json").read_text())
    assert saved["val_accuracy"] == trained.val_accuracy
    assert trained.train_samples + trained.val_samples == 1600


def test_two_worker_processes(ml_store, subset_spec, tmp_path: Path) -> None:
    from eokg.ml.train import train

    result = train(subset_spec, source=ml_store, workers=2, epochs=2, batch_size=32,
                   out_dir=tmp_path / "run", cache_dir=tmp_path / "cache", page_size=500,
                   timeout_s=150)
    assert result.workers == 2
    assert result.model_path.is_file()
    assert [m["epoch"] for m in result.metrics] == [1, 2]
    assert all(m["workers"] == 2 for m in result.metrics)
    logs = sorted((tmp_path / "run" / "logs").glob("worker-*.log"))
    assert [p.name for p in logs] == ["worker-0.log", "worker-1.log"]
    # both processes really joined the collective
    for log in logs:
        assert "epoch 2:" in log.read_text(errors="replace")
    assert not list((tmp_path / "run").glob(".worker-*"))
    assert 0.0 <= result.val_accuracy <= 1.0


def test_worker_failure_names_the_worker(tmp_path: Path) -> None:
    from eokg.errors import EokgError
    from eokg.ml.launcher import launch_workers

    with pytest.raises(EokgError, match=r"worker \d.*no dataset manifest"):
        launch_workers(tmp_path / "missing", tmp_path, workers=2, epochs=1, batch_size=32,
                       seed=1, model="lenet", timeout_s=120)


def test_model_rdf_passes_shacl_and_is_queryable(trained, ml_manifest, make_store) -> None:
    from eokg.catalog.index import open_index
    from eokg.config import CatalogSettings
    from eokg.ml.registry import model_graph, register_model
    from eokg.ontologies.validate import validate_graph

    spec = ml_manifest.spec
    graph = model_graph(spec, trained, ml_manifest, "m1")
    assert validate_graph(graph).conforms
    store = make_store()
    index = open_index(CatalogSettings())
    reg = register_model(spec, trained, ml_manifest, store=store, index=index)
    rows = list(store.query(f"""
        PREFIX eo: <{EO}> PREFIX prov: <http://www.w3.org/ns/prov#>
        SELECT ?acc ?n ?q ?start ?end WHERE {{ GRAPH ?g {{
          <{reg.model_iri}> a eo:MLModel ; eo:architecture "lenet" ; eo:task "classification" ;
             eo:validationAccuracy ?acc ; eo:trainedOn ?d ; prov:wasGeneratedBy ?run .
          ?d a eo:TrainingDataset ; eo:sampleCount ?n ; eo:selectionQuery ?q ;
             eo:featureSpec ?f .
          ?run a eo:TrainingRun ; prov:startedAtTime ?start ; prov:endedAtTime ?end . }} }}"""))
    assert len(rows) == 1
    assert int(rows[0]["n"].value) == 1600
    assert abs(float(rows[0]["acc"].value) - trained.val_accuracy) < 1e-5
    assert "eo:ImagePatch" in rows[0]["q"].value
    item = index.get_item("models", reg.model_id)
    props = item["properties"]
    assert props["mlm:tasks"] == ["classification"] and props["mlm:framework"] == "tensorflow"
    assert props["mlm:input"][0]["input"]["shape"] == [-1, 75, 75, 2]
    names = [c["name"] for c in props["mlm:output"][0]["classification:classes"]]
    assert names == ["iceberg", "ship"]
    dataset = index.get_item("training-datasets", reg.dataset_iri.rsplit("/", 1)[-1])
    assert dataset["properties"]["label:tasks"] == ["classification"]

    # a model description that breaks the shapes never reaches the store
    from rdflib import Literal, URIRef

    from eokg.errors import ShapeViolation

    bad = model_graph(spec, trained, ml_manifest, "m2")
    bad.set((URIRef(reg.model_iri.replace(reg.model_id, "m2")),
             URIRef(EO + "validationAccuracy"), Literal(1.5)))
    with pytest.raises(ShapeViolation, match="validationAccuracy"):
        validate_graph(bad).raise_if_invalid()


def test_predictions_are_loaded_and_geosparql_queryable(trained, make_store,
                                                        tmp_path: Path) -> None:
    import pyarrow.parquet as pq
    import shapely
    from pyproj import Geod

    from eokg.ml.predict import predict

    store = make_store()
    result = predict(trained.model_path.parent, store=store, out_dir=tmp_path / "pred",
                     run_id="run-test", page_size=700)
    assert result.predictions == 1600 and result.triples > 0
    table = pq.read_table(result.parquet)
    assert table.column_names == ["patch_id", "class", "confidence", "model_id", "run_id",
                                  "predicted_at", "wkt"]
    rows = table.to_pylist()
    sure = [r for r in rows if r["class"] == "iceberg" and r["confidence"] > 0.9]
    assert sure, "the model should be confident about some icebergs"
    centre = shapely.from_wkt(sure[0]["wkt"]).centroid
    point = f"POINT({centre.x} {centre.y})"
    found = {r["p"].value.rsplit("/", 1)[-1] for r in store.query(f"""
        PREFIX eo: <{EO}>
        PREFIX geo: <http://www.opengis.net/ont/geosparql#>
        PREFIX geof: <http://www.opengis.net/def/function/geosparql/>
        PREFIX uom: <http://www.opengis.net/def/uom/OGC/1.0/>
        SELECT ?p WHERE {{
          GRAPH ?g {{ ?p a eo:Prediction ;
               eo:predictedClass <https://w3id.org/eokg/concept/seaice/iceberg> ;
               eo:confidence ?c ; geo:hasGeometry/geo:asWKT ?w . }}
          FILTER(?c > 0.9)
          FILTER(geof:distance(?w, "{point}"^^geo:wktLiteral, uom:metre) < 10000)
        }}""")}
    assert sure[0]["patch_id"] in found
    geod = Geod(ellps="WGS84")

    def metres(row: dict) -> float:
        c = shapely.from_wkt(row["wkt"]).centroid
        return geod.inv(centre.x, centre.y, c.x, c.y)[2]

    # every sure iceberg clearly inside 10 km is found, nothing clearly outside is
    by_id = {r["patch_id"]: r for r in sure}
    assert found <= set(by_id)
    assert {i for i, r in by_id.items() if metres(r) < 7_500} <= found
    assert all(metres(by_id[i]) < 12_500 for i in found)
    # lineage of the predictions
    run = list(store.query(f"""PREFIX eo: <{EO}> PREFIX prov: <http://www.w3.org/ns/prov#>
        SELECT ?m WHERE {{ GRAPH ?g {{ <https://w3id.org/eokg/data/run/run-test>
          a eo:PredictionRun ; prov:used ?m }} }}"""))
    assert run[0]["m"].value.endswith("/model/" + result.model_id)


def test_predict_from_a_patches_file(trained, make_store, tmp_path: Path) -> None:
    from eokg.data.generate import generate_sample
    from eokg.kg.store import GeoStore
    from eokg.ml.predict import predict

    generate_sample(tmp_path / "s", n_products=6, n_patches=10, n_icecharts=0, n_parcels=0,
                    n_predictions=0, seed=5)
    store = GeoStore()
    result = predict(trained.model_path.parent, store=store, out_dir=tmp_path / "pred",
                     patches_file=tmp_path / "s" / "patches" / "patches.json")
    assert result.predictions == 10
    count = list(store.query(f"PREFIX eo: <{EO}> SELECT (COUNT(?p) AS ?n) "
                             "WHERE { GRAPH ?g { ?p a eo:Prediction } }"))
    assert int(count[0]["n"].value) == 10


def test_unknown_model_name_is_an_input_error() -> None:
    from eokg.errors import InputError
    from eokg.ml.models import build_model

    with pytest.raises(InputError, match="unknown model 'resnet'"):
        build_model("resnet", DatasetSpec().features, {})


def test_interrupted_training_resumes(ml_store, subset_spec, tmp_path: Path) -> None:
    from eokg.ml.shards import materialise
    from eokg.ml.tfcompat import keras
    from eokg.ml.train import fit_on_manifest, read_epochs

    manifest = materialise(ml_store, subset_spec, tmp_path / "cache", page_size=1000)

    class Crash(keras().callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                raise RuntimeError("simulated crash")

    options = dict(index=0, workers=1, epochs=3, batch_size=64, seed=3, model="lenet")
    with pytest.raises(RuntimeError, match="simulated crash"):
        fit_on_manifest(manifest.directory, tmp_path / "run", extra_callbacks=[Crash()],
                        **options)
    assert [m["epoch"] for m in read_epochs(tmp_path / "run")] == [1, 2]
    assert any((tmp_path / "run" / "backup").rglob("*"))
    fit_on_manifest(manifest.directory, tmp_path / "run", **options)
    lines = (tmp_path / "run" / "epochs.jsonl").read_text().splitlines()
    # the second run trained only the missing epoch
    assert [json.loads(line)["epoch"] for line in lines] == [1, 2, 3]
    assert (tmp_path / "run" / "model.keras").is_file()
