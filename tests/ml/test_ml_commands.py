"""``eokg train`` and ``eokg predict`` command modules, end to end on an on-disk store."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

pytestmark = [pytest.mark.ml, pytest.mark.slow]


@pytest.fixture(scope="module")
def disk_store(ml_rdf, tmp_path_factory) -> Path:
    """An on-disk store folder holding the patches (released, so commands can open it)."""
    from eokg.kg.store import GeoStore

    store_dir = tmp_path_factory.mktemp("mlstore") / "store"
    store = GeoStore(store_dir)
    store.load(ml_rdf)
    store.close()
    del store
    return store_dir


def _run(module, argv: list[str], settings) -> int:
    parser = argparse.ArgumentParser()
    module.configure(parser)
    return module.run(parser.parse_args(argv), settings)


def test_train_then_predict_commands(disk_store, subset_spec, tmp_path: Path, capsys) -> None:
    from eokg.config import load_settings
    from eokg.kg.store import GeoStore
    from eokg.ml import commands_predict, commands_train

    store_dir = disk_store
    spec_file = tmp_path / "spec.json"
    spec_file.write_text(json.dumps(subset_spec.to_dict()), encoding="utf-8")
    settings = load_settings(data_dir=tmp_path / "data")

    code = _run(commands_train, ["--spec", str(spec_file), "--workers", "1", "--epochs", "1",
                                 "--store", str(store_dir), "--out", str(tmp_path / "model")],
                settings)
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["workers"] == 1 and Path(summary["model_path"]).is_file()
    assert summary["registration"]["triples"] > 0
    assert (tmp_path / "data" / "datasets").is_dir()

    code = _run(commands_predict, ["--model", str(tmp_path / "model"), "--store", str(store_dir),
                                   "--run-id", "cli-run"], settings)
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert result["predictions"] == 1600 and result["run_id"] == "cli-run"

    store = GeoStore(store_dir)
    rows = list(store.query(
        "PREFIX eo: <https://w3id.org/eokg/ontology#> SELECT (COUNT(?p) AS ?n) WHERE { GRAPH ?g "
        "{ ?p eo:model ?m ; eo:predictionFor ?patch } }"))
    assert int(rows[0]["n"].value) == 1600
    models = list(store.query(
        "PREFIX eo: <https://w3id.org/eokg/ontology#> SELECT ?m WHERE { GRAPH ?g "
        "{ ?m a eo:MLModel } }"))
    assert len(models) == 1


def test_predict_command_rejects_a_non_model_folder(tmp_path: Path) -> None:
    from eokg.config import load_settings
    from eokg.errors import InputError
    from eokg.ml import commands_predict

    with pytest.raises(InputError, match="not a trained model folder"):
        _run(commands_predict, ["--model", str(tmp_path)], load_settings(data_dir=tmp_path))


def test_dataset_command_builds_then_reuses(disk_store, subset_spec, tmp_path: Path,
                                            capsys) -> None:
    from eokg.config import load_settings
    from eokg.ml import commands_dataset

    store_dir = disk_store
    spec_file = tmp_path / "spec.json"
    spec_file.write_text(json.dumps(subset_spec.to_dict()), encoding="utf-8")
    settings = load_settings(data_dir=tmp_path / "data")
    argv = ["--spec", str(spec_file), "--store", str(store_dir)]
    assert _run(commands_dataset, argv, settings) == 0
    first = json.loads(capsys.readouterr().out)
    assert not first["reused"] and first["counts"]["train"] > 0
    assert _run(commands_dataset, argv, settings) == 0
    second = json.loads(capsys.readouterr().out)
    assert second["reused"] and second["directory"] == first["directory"]
