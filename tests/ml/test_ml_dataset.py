"""Datasets from queries: paging, streaming vs shards, splits, cache."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from eokg.errors import InputError
from eokg.ml.dataset import grid_cell, iter_samples, paged_query, split_of
from eokg.ml.spec import DatasetSpec, SplitSpec, load_spec

pytestmark = pytest.mark.ml


def test_spec_from_toml_and_json(tmp_path: Path) -> None:
    toml = tmp_path / "spec.toml"
    toml.write_text(
        'name = "bergs"\nmodel = "lenet"\n'
        '[features]\ntensors = ["band1", "band2"]\nscalars = { inc_angle = 35.0 }\n'
        '[split]\nkind = "spatial"\ncell_deg = 0.5\nval_fraction = 0.25\n',
        encoding="utf-8",
    )
    spec = load_spec(toml)
    assert spec.name == "bergs"
    assert spec.features.scalars == {"inc_angle": 35.0}
    assert spec.features.input_shape == (75, 75, 2)
    assert spec.split == SplitSpec(kind="spatial", val_fraction=0.25, cell_deg=0.5)
    assert spec.features.class_keys == ("iceberg", "ship")
    # the dataset content hash ignores the model name but not the split
    assert spec.digest() == replace(spec, model="other").digest()
    assert spec.digest() != replace(spec, split=SplitSpec()).digest()

    bad = tmp_path / "bad.json"
    bad.write_text('{"features": {"tensors": ["nope"]}}', encoding="utf-8")
    with pytest.raises(InputError, match=r"\?nope does not occur"):
        load_spec(bad)
    with pytest.raises(InputError, match="LIMIT/OFFSET"):
        DatasetSpec(query=DatasetSpec().query + " LIMIT 5")


def test_paged_query_orders_by_subject() -> None:
    spec = DatasetSpec()
    text = paged_query(spec, spec.query, 100, 200)
    assert text.endswith("ORDER BY ?patch\nLIMIT 100 OFFSET 200")


def test_paging_is_deterministic(ml_store, subset_spec) -> None:
    spec = subset_spec
    small = [(s.id, s.split, s.label) for s in iter_samples(ml_store, spec, page_size=37)]
    large = [(s.id, s.split, s.label) for s in iter_samples(ml_store, spec, page_size=5000)]
    assert small == large
    assert 300 < len(small) < 500
    assert all(i[33] in "0123" for i, _, _ in small)
    assert [i for i, _, _ in small] == sorted(i for i, _, _ in small)
    assert {label for _, _, label in small} == {0, 1}
    val = sum(1 for _, split, _ in small if split == "val")
    assert 0.12 < val / len(small) < 0.28  # val_fraction 0.2


def test_split_depends_only_on_the_subject() -> None:
    split = SplitSpec(val_fraction=0.3, seed=7)
    iris = [f"https://w3id.org/eokg/data/patch/{i:08x}" for i in range(500)]
    first = [split_of(split, iri, None) for iri in iris]
    assert first == [split_of(split, iri, None) for iri in reversed(iris)][::-1]
    assert 100 < first.count("val") < 200
    # another seed gives another split
    assert first != [split_of(replace(split, seed=8), iri, None) for iri in iris]


def test_spatial_split_never_straddles_a_cell(ml_store) -> None:
    spec = replace(DatasetSpec(), split=SplitSpec(kind="spatial", cell_deg=0.5))
    cells: dict[tuple[int, int], set[str]] = {}
    angles = []
    for s in iter_samples(ml_store, spec, page_size=1000):
        cells.setdefault(grid_cell(s.wkt, 0.5, where=s.id), set()).add(s.split)
        angles.append(s.scalars[0])
    assert all(len(splits) == 1 for splits in cells.values())
    assert any(splits == {"val"} for splits in cells.values())
    assert any(splits == {"train"} for splits in cells.values())
    # neighbouring patches share cells: the split is really spatial, not per patch
    assert len(cells) < 1600


def test_streaming_equals_materialised_shards(ml_store, ml_manifest) -> None:
    from eokg.ml.dataset import stream_dataset
    from eokg.ml.shards import read_shards

    spec = ml_manifest.spec
    streamed = list(iter_samples(ml_store, spec, page_size=300, split="val"))
    ids, images, scalars, labels = [], [], [], []
    for features, label, id_ in read_shards(ml_manifest, "val", batch_size=64, with_ids=True):
        ids += [i.decode() for i in id_.numpy()]
        images.append(features["image"].numpy())
        scalars.append(features["scalars"].numpy())
        labels.append(label.numpy())
    assert ids == [s.id for s in streamed]
    assert np.array_equal(np.concatenate(images), np.stack([s.x for s in streamed]))
    assert np.array_equal(np.concatenate(scalars), np.stack([s.scalars for s in streamed]))
    assert np.array_equal(np.concatenate(labels), [s.label for s in streamed])
    # the tf.data generator path yields the same batches
    tf_labels = np.concatenate([y.numpy() for _, y in stream_dataset(
        ml_store, spec, "val", page_size=300, batch_size=64)])
    assert np.array_equal(tf_labels, np.concatenate(labels))
    assert ml_manifest.counts["val"] == len(streamed)
    assert ml_manifest.sample_count == 1600
    # stats are per channel, from the train split only
    assert len(ml_manifest.stats["mean"]) == 2 and all(s > 0 for s in ml_manifest.stats["std"])


def test_cache_reused_then_invalidated_by_a_store_change(
    make_store, subset_spec, tmp_path: Path
) -> None:
    from eokg.ml.shards import MANIFEST, materialise

    store = make_store()
    spec = subset_spec
    first = materialise(store, spec, tmp_path, page_size=1000)
    assert not first.reused
    manifest_text = (first.directory / MANIFEST).read_text()
    assert "ORDER BY" not in manifest_text and "eo:ImagePatch" in manifest_text
    again = materialise(store, spec, tmp_path, page_size=1000)
    assert again.reused and again.directory == first.directory
    assert again.ids_sha256 == first.ids_sha256

    store.update(
        "PREFIX eo: <https://w3id.org/eokg/ontology#> INSERT DATA { GRAPH "
        "<https://w3id.org/eokg/data/graph/patches> { <https://w3id.org/eokg/data/patch/x> "
        "eo:patchHeight 75 } }"
    )
    changed = materialise(store, spec, tmp_path, page_size=1000)
    assert not changed.reused
    assert changed.key != first.key and changed.directory != first.directory
    # a different spec on the same store is another dataset too
    other = materialise(store, replace(spec, split=SplitSpec(val_fraction=0.3)), tmp_path,
                        page_size=1000)
    assert other.key != changed.key and other.counts["val"] > changed.counts["val"]


def test_bad_tensor_names_the_row_and_variable(make_store) -> None:
    store = make_store()
    store.update(
        "PREFIX eo: <https://w3id.org/eokg/ontology#> "
        "DELETE { GRAPH ?g { ?p eo:band2 ?b } } INSERT { GRAPH ?g { ?p eo:band2 \"[1,2,3]\" } } "
        "WHERE { GRAPH ?g { ?p eo:band2 ?b } FILTER(STRENDS(STR(?p), \"/"
        + _first_id(store) + "\")) }"
    )
    with pytest.raises(InputError, match=r"row 0 \?band2 .*3 values, expected 5625"):
        next(iter_samples(store, DatasetSpec(), page_size=10))


def _first_id(store) -> str:
    return next(iter_samples(store, DatasetSpec(), page_size=1)).id.rsplit("/", 1)[-1]


def test_fixture_matches_the_rml_mapping(tmp_path: Path) -> None:
    """The fast fixture writer and the real mapping give the same samples."""
    from ml_fixtures import write_patch_quads

    from eokg.data.generate import generate_sample
    from eokg.kg.store import GeoStore
    from eokg.ontologies.paths import MAPPINGS_DIR
    from eokg.spark.local import run_local
    from eokg.spark.rml import load_mapping

    generate_sample(tmp_path / "sample", n_products=40, n_patches=12, n_icecharts=0,
                    n_parcels=0, n_predictions=0, seed=42)
    plan = load_mapping(MAPPINGS_DIR / "patches.rml.ttl", base_dir=tmp_path / "sample")
    run_local(plan, tmp_path / "rdf")
    mapped, written = GeoStore(), GeoStore()
    mapped.load(sorted((tmp_path / "rdf").glob("part-*")))
    written.load([write_patch_quads(tmp_path / "fixture.nq", 12)])
    assert len(mapped) == len(written)
    spec = DatasetSpec()
    a = list(iter_samples(mapped, spec, page_size=5))
    b = list(iter_samples(written, spec, page_size=5))
    assert [s.id for s in a] == [s.id for s in b] and len(a) == 12
    for x, y in zip(a, b, strict=True):
        assert np.array_equal(x.x, y.x) and np.array_equal(x.scalars, y.scalars)
        assert (x.label, x.wkt, x.split) == (y.label, y.wkt, y.split)
