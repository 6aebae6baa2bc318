"""The item sink: STAC items reach the caller from the same read that maps them.

Both engines hand every STAC item (the parsed JSON of each line) to the sink
exactly once, as the input documents, without changing triples or rejects.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import write
from spark_rdfcheck import PREFIXES

from eokg.ontologies.paths import MAPPINGS_DIR
from eokg.spark.local import run_local
from eokg.spark.rml import load_mapping, parse_mapping_text

MAPPINGS = ["sentinel1", "sentinel2", "patches"]  # two STAC sources and a plain JSON one


def _lines(directory: Path) -> list[str]:
    return sorted(line for f in directory.glob("part-*") for line in f.read_text().splitlines())


def _rejects(directory: Path) -> list[dict]:
    return sorted(
        (
            json.loads(line)
            for f in (directory / "_rejects").glob("*.jsonl")
            for line in f.read_text().splitlines()
        ),
        key=lambda r: json.dumps(r, sort_keys=True),
    )


def _documents(*files: Path) -> list[Any]:
    """Every line of ``files`` that parses as JSON, parsed."""
    docs = []
    for path in files:
        for line in path.read_text().splitlines():
            try:
                docs.append(json.loads(line))
            except ValueError:
                continue
    return docs


def _multiset(docs: list[Any]) -> Counter[str]:
    return Counter(json.dumps(d, sort_keys=True) for d in docs)


class Collecting:
    """A sink that pulls everything and remembers what it got."""

    def __init__(self) -> None:
        self.calls = 0
        self.items: list[Any] = []

    def __call__(self, docs: Iterator[dict[str, Any]]) -> None:
        assert not isinstance(docs, (list, tuple))  # streamed, not a materialised list
        self.calls += 1
        self.items.extend(docs)


def _stac_files(sample_dir: Path) -> list[Path]:
    return [sample_dir / "stac" / f for f in ("sentinel-1-grd.ndjson", "sentinel-2-l2a.ndjson")]


def _mixed(sample_dir: Path, tmp_path: Path) -> Path:
    mixed = tmp_path / "mixed.ndjson"
    good = (sample_dir / "stac" / "sentinel-1-grd.ndjson").read_text().splitlines()
    bad = (sample_dir / "bad" / "stac.ndjson").read_text().splitlines()
    mixed.write_text("\n".join([*good[:2], *bad, *good[2:]]) + "\n")
    return mixed


# ------------------------------------------------------------------- local


def test_local_sink_gets_every_item_once_and_output_is_unchanged(sample_dir: Path, tmp_path: Path):
    plan = load_mapping([MAPPINGS_DIR / f"{n}.rml.ttl" for n in MAPPINGS], base_dir=sample_dir)
    sink = Collecting()
    with_sink = run_local(plan, tmp_path / "sink", batch_rows=5, item_sink=sink)
    without = run_local(plan, tmp_path / "plain", batch_rows=5)
    expected = _documents(*_stac_files(sample_dir))
    assert sink.calls == 1
    assert len(sink.items) == len(expected) > 10
    assert sink.items == expected  # local engine: input order, identical documents
    assert _lines(tmp_path / "sink") == _lines(tmp_path / "plain")
    assert with_sink.triples == without.triples > 0
    assert with_sink.records == without.records
    assert with_sink.triples_per_map == without.triples_per_map


def test_local_sink_is_fed_while_mapping(sample_dir: Path, tmp_path: Path, monkeypatch):
    """The first item arrives after its batch is mapped and before the next is read."""
    from eokg.spark import arrow_exec

    plan = load_mapping(MAPPINGS_DIR / "sentinel1.rml.ttl", base_dir=sample_dir)
    calls = {"run": 0}
    original = arrow_exec.Executor.run

    def counting(self, *args, **kwargs):
        calls["run"] += 1
        return original(self, *args, **kwargs)

    monkeypatch.setattr(arrow_exec.Executor, "run", counting)
    seen_at: list[int] = []

    def sink(docs: Iterator[dict[str, Any]]) -> None:
        for _ in docs:
            seen_at.append(calls["run"])

    run_local(plan, tmp_path / "out", batch_rows=4, item_sink=sink)
    total = len(_documents(_stac_files(sample_dir)[0]))
    assert len(seen_at) == total
    assert seen_at[:4] == [1, 1, 1, 1] and seen_at[4] == 2  # batch by batch, not at the end
    assert calls["run"] == -(-total // 4)  # each batch mapped once: one read


def test_local_rejects_unaffected_and_bad_json_not_passed(sample_dir: Path, tmp_path: Path):
    mixed = _mixed(sample_dir, tmp_path)
    plan = load_mapping(
        MAPPINGS_DIR / "sentinel1.rml.ttl", base_dir=sample_dir, inputs={"sentinel-1-grd": mixed}
    )
    sink = Collecting()
    with_sink = run_local(plan, tmp_path / "sink", item_sink=sink)
    without = run_local(plan, tmp_path / "plain")
    assert with_sink.reject_count == without.reject_count == 4
    assert _rejects(tmp_path / "sink") == _rejects(tmp_path / "plain")
    assert _lines(tmp_path / "sink") == _lines(tmp_path / "plain")
    # Items the mapping rejects (bad geometry, datetime...) still reach the sink; the line
    # that is not JSON does not (it is a reject of the source).
    assert sink.items == _documents(mixed)
    assert len(sink.items) == len(mixed.read_text().splitlines()) - 1


def test_local_sink_that_stops_early_still_maps_everything(sample_dir: Path, tmp_path: Path):
    plan = load_mapping(MAPPINGS_DIR / "sentinel1.rml.ttl", base_dir=sample_dir)
    got: list[Any] = []

    def first_only(docs: Iterator[dict[str, Any]]) -> None:
        got.append(next(docs))

    summary = run_local(plan, tmp_path / "sink", batch_rows=3, item_sink=first_only)
    plain = run_local(plan, tmp_path / "plain", batch_rows=3)
    assert len(got) == 1
    assert summary.triples == plain.triples > 0
    assert _lines(tmp_path / "sink") == _lines(tmp_path / "plain")


def test_local_sink_error_propagates_and_closes_files(sample_dir: Path, tmp_path: Path):
    plan = load_mapping(MAPPINGS_DIR / "sentinel1.rml.ttl", base_dir=sample_dir)

    def failing(docs: Iterator[dict[str, Any]]) -> None:
        next(docs)
        raise RuntimeError("catalogue down")

    with pytest.raises(RuntimeError, match="catalogue down"):
        run_local(plan, tmp_path / "out", item_sink=failing)
    assert not (tmp_path / "out" / "_summary.json").exists()


def test_only_stac_sources_feed_the_sink_and_one_file_feeds_it_once(tmp_path: Path):
    items = [{"type": "Feature", "id": f"i{n}", "properties": {"n": n}} for n in range(5)]
    write(tmp_path, "items.ndjson", "".join(json.dumps(i) + "\n" for i in items))
    write(tmp_path, "other.ndjson", '{"id": "x"}\n')
    plan = parse_mapping_text(
        PREFIXES
        + """
    <#A> rml:logicalSource [ rml:source "items.ndjson" ; rml:referenceFormulation eoql:STAC ] ;
      rr:subjectMap [ rr:template "http://example.org/a/{id}" ; rr:class ex:Item ] .
    <#B> rml:logicalSource [ rml:source "items.ndjson" ; rml:referenceFormulation eoql:STAC ;
                             rml:iterator "$" ] ;
      rr:subjectMap [ rr:template "http://example.org/b/{id}" ; rr:class ex:Item ] .
    <#C> rml:logicalSource [ rml:source "other.ndjson" ; rml:referenceFormulation ql:JSONPath ] ;
      rr:subjectMap [ rr:template "http://example.org/c/{id}" ; rr:class ex:Item ] .
    """,
        name=str(tmp_path / "m.ttl"),
        base_dir=tmp_path,
    )
    assert len(plan.sources()) == 3
    sink = Collecting()
    summary = run_local(plan, tmp_path / "out", item_sink=sink)
    assert sink.items == items
    assert summary.triples == 11


# ------------------------------------------------------------------- spark


@pytest.mark.spark
@pytest.mark.slow
def test_spark_sink_gets_every_item_once_and_output_is_unchanged(
    spark, sample_dir: Path, tmp_path: Path
):
    from eokg.spark.job import run_spark

    plan = load_mapping([MAPPINGS_DIR / f"{n}.rml.ttl" for n in MAPPINGS], base_dir=sample_dir)
    sink = Collecting()
    with_sink = run_spark(plan, tmp_path / "sink", spark, item_sink=sink)
    local = run_local(plan, tmp_path / "local")
    expected = _documents(*_stac_files(sample_dir))
    assert sink.calls == 1
    assert len(sink.items) == len(expected) > 10
    assert _multiset(sink.items) == _multiset(expected)  # each once, identical documents
    assert _lines(tmp_path / "sink") == _lines(tmp_path / "local")
    assert with_sink.triples == local.triples and with_sink.records == local.records
    # The items travelled through the job's staging folder, which is gone.
    names = {p.name for p in (tmp_path / "sink").iterdir()}
    assert "_staging" not in names
    assert all(n.startswith(("part-", "_summary.json", "_rejects")) for n in names)


@pytest.mark.spark
@pytest.mark.slow
def test_spark_rejects_unaffected_with_sink(spark, sample_dir: Path, tmp_path: Path):
    from eokg.spark.job import run_spark

    mixed = _mixed(sample_dir, tmp_path)
    plan = load_mapping(
        MAPPINGS_DIR / "sentinel1.rml.ttl", base_dir=sample_dir, inputs={"sentinel-1-grd": mixed}
    )
    sink = Collecting()
    with_sink = run_spark(plan, tmp_path / "sink", spark, item_sink=sink)
    without = run_spark(plan, tmp_path / "plain", spark)
    assert with_sink.reject_count == without.reject_count == 4
    assert _rejects(tmp_path / "sink") == _rejects(tmp_path / "plain")
    assert _lines(tmp_path / "sink") == _lines(tmp_path / "plain")
    assert _multiset(sink.items) == _multiset(_documents(mixed))


@pytest.mark.spark
@pytest.mark.slow
def test_spark_sink_with_distinct_and_json_document_source(spark, tmp_path: Path):
    """A STAC FeatureCollection file is read on the driver: its items come from that read."""
    from eokg.spark.job import run_spark

    items = [{"type": "Feature", "id": f"i{n}", "properties": {"n": n}} for n in range(4)]
    write(tmp_path, "fc.json", json.dumps({"type": "FeatureCollection", "features": items, "x": 1}))
    write(tmp_path, "lines.ndjson", "".join(json.dumps(i) + "\n" for i in items[:2]))
    plan = parse_mapping_text(
        PREFIXES
        + """
    <#A> rml:logicalSource [ rml:source "fc.json" ; rml:referenceFormulation eoql:STAC ;
                             rml:iterator "$.features[*]" ] ;
      rr:subjectMap [ rr:template "http://example.org/a/{id}" ; rr:class ex:Item ] .
    <#B> rml:logicalSource [ rml:source "lines.ndjson" ; rml:referenceFormulation eoql:STAC ] ;
      rr:subjectMap [ rr:template "http://example.org/a/{id}" ; rr:class ex:Item ] .
    """,
        name=str(tmp_path / "m.ttl"),
        base_dir=tmp_path,
    )
    sink = Collecting()
    summary = run_spark(plan, tmp_path / "out", spark, distinct=True, item_sink=sink)
    local_sink = Collecting()
    local = run_local(plan, tmp_path / "local", distinct=True, item_sink=local_sink)
    assert _multiset(sink.items) == _multiset(local_sink.items) == _multiset(items + items[:2])
    assert summary.triples == local.triples == 4
