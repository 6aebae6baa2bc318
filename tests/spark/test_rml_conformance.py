"""The W3C KG-Construct RML test cases (RML-Core, RML-FNML), one parametrised runner.

Each case is a folder of golden files: ``mapping.ttl``, the data, and
``output.nq`` (the expected dataset, compared as isomorphic) or no
``output.nq`` when the mapping must be refused.  The cases come from
Morph-KGC's source distribution (``scripts/vendor_testsuites.sh`` unpacks
them into ``.vendor/``); their mappings name sources relative to the suite's
root folder, which is therefore the working directory and the base of
relative sources.  RML-FNML cases name their data files by paths that do not
exist in the archive (Morph-KGC's own runners override them by file name), so
they are given the case folder's data files by name, as ``--input`` would.

Every case runs on the local (Arrow) engine; ``SPARK_CASES`` also run on
Spark, in the session-wide ``spark`` fixture.  Known gaps are in ``XFAIL``,
strict: a gap that closes fails the run until its line is removed.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import pytest
import rdflib
from rdflib.compare import isomorphic, to_isomorphic

from eokg.errors import EokgError
from eokg.spark.local import map_lines
from eokg.spark.rml import load_mapping

ROOT = Path(__file__).resolve().parents[2]
SUITE = ROOT / ".vendor" / "rml-testcases-2.10.0"
FOLDERS = ("rml-core/csv", "rml-core/json", "rml-core/xml", "rml-fnml")
_NOT_DATA = {"mapping.ttl", "mapping.yarrrml", "output.nq"}

_NATURAL = (
    "golden file predates RML-Core's natural mapping (kg-construct/rml-core#218, #240, #257): "
    "eokg types JSON numbers xsd:integer, the golden has plain strings"
)
_YARRRML = "YARRRML mapping: eokg reads RML in Turtle only"
_YARRRML_ASSERT = (
    "YARRRML mapping whose check is a Python assertion in Morph-KGC's runner, not a golden file"
)

#: Known gaps: case id -> why it does not pass.  Strict: a case that starts passing fails here.
XFAIL: dict[str, str] = {
    "rml-core/csv/RMLTC0002c": "Morph-KGC's golden is empty for an unknown reference; eokg "
    "refuses the mapping, naming the reference (the W3C case expects an error)",
    "rml-core/csv/RMLTC0004b": "Morph-KGC ignores rml:termType rml:Literal on a subject map; "
    "eokg refuses it (RML-Core: a subject map makes IRIs or blank nodes)",
    "rml-core/json/RMLTC0004b": "as csv/RMLTC0004b",
    "rml-core/xml/RMLTC0004b": "as csv/RMLTC0004b",
    "rml-core/xml/attributes": "Morph-KGC reads 'country@name' as 'country/@name' (ElementTree "
    "paths); it is no XPath 1.0 expression, so eokg refuses it, naming the reference",
    "rml-core/csv/null_filter": "Morph-KGC reads empty cells and 'nan' as null (pandas); "
    "eokg reads only the declared rml:null values as null (RML-IO)",
    "rml-core/json/complex": "Morph-KGC percent-encodes non-ASCII letters in templates; "
    "eokg keeps them (IRI-safe keeps iunreserved, which includes ucschar)",
    "rml-fnml/controls_functions/controls_if": "grel:bool_b is given as a Python expression "
    "(\"'1' == '0'\") that Morph-KGC eval()s; eokg takes a boolean and runs no user code",
    "rml-fnml/udf": "a Python user-defined function file; eokg runs no user code",
    "rml-fnml/uuid": "random UUIDs: the golden cannot match any run",
    **{
        f"rml-core/json/RMLTC00{n}": _NATURAL
        for n in ("02a", "07c", "07d", "07e", "07f", "08a", "08b", "11b", "12a")
    },
}

#: Cases also run on the Spark engine (one session for all of them).
SPARK_CASES = (
    "rml-core/csv/RMLTC0002a",
    "rml-core/csv/RMLTC0008a",
    "rml-core/csv/RMLTC0009a",
    "rml-core/json/RMLTC0002a",
    "rml-core/json/RMLTC0009a",
    "rml-core/json/RMLTC0020a",
    "rml-core/csv/RMLTC0007e",
    "rml-fnml/string_functions/RMLFNOTC0009-CSV_replace",
    "rml-core/xml/RMLTC0009a",
    "rml-core/xml/RMLTC0012a",
    "rml-core/xml/rml_spec_example_section_3",
)


def _cases() -> list[str]:
    """Every case folder (one holding a mapping) under the suite folders."""
    found: list[str] = []
    for folder in FOLDERS:
        base = SUITE / "test" / folder
        for mapping in sorted(base.rglob("mapping.*")):
            if mapping.name in ("mapping.ttl", "mapping.yarrrml"):
                found.append(str(mapping.parent.relative_to(SUITE / "test")))
    return sorted(set(found))


def _gap(case: str) -> str | None:
    """Why a case is a known gap (the table, or a YARRRML-only case), else None."""
    if case in XFAIL:
        return XFAIL[case]
    folder = SUITE / "test" / case
    if not (folder / "mapping.ttl").exists():
        return _YARRRML if (folder / "output.nq").exists() else _YARRRML_ASSERT
    return None


def _param(case: str) -> object:
    reason = _gap(case)
    marks = [pytest.mark.xfail(reason=reason, strict=True)] if reason else []
    return pytest.param(case, id=case, marks=marks)


def test_suite_is_vendored() -> None:
    """The suite must be present: a missing suite is a failure, never a skip."""
    assert (SUITE / "test" / "rml-core" / "csv").is_dir(), (
        f"RML test cases missing under {SUITE}; run scripts/vendor_testsuites.sh"
    )
    assert len(_cases()) > 100


def _dataset_graph(lines: list[str] | str) -> rdflib.Graph:
    """Quads as one graph (graph name folded into the predicate), for isomorphism."""
    text = lines if isinstance(lines, str) else "\n".join(lines) + "\n"
    ds = rdflib.Dataset()
    ds.parse(data=text, format="nquads")
    graph = rdflib.Graph()
    for s, p, o, g in ds.quads():
        default = g is None or str(g) == str(rdflib.graph.DATASET_DEFAULT_GRAPH_ID)
        folded = (
            str(p)
            if default
            else f"urn:eokg:graph:{quote(str(g), safe='')}:{quote(str(p), safe='')}"
        )
        graph.add((s, rdflib.URIRef(folded), o))
    return graph


def _assert_same(actual: rdflib.Graph, expected: rdflib.Graph) -> None:
    if not isomorphic(actual, expected):
        a, e = to_isomorphic(actual), to_isomorphic(expected)
        missing = sorted(str(t) for t in e - a)[:8]
        extra = sorted(str(t) for t in a - e)[:8]
        raise AssertionError(f"datasets differ\nmissing: {missing}\nextra: {extra}")


def _inputs(folder: Path, case: str) -> dict[str, Path]:
    """RML-FNML data files by name (their mappings name non-existent paths)."""
    if not case.startswith("rml-fnml/"):
        return {}
    return {p.name: p for p in folder.iterdir() if p.is_file() and p.name not in _NOT_DATA}


def _load(case: str):  # type: ignore[no-untyped-def]
    folder = SUITE / "test" / case
    if not (folder / "mapping.ttl").exists():
        pytest.fail(_YARRRML)
    return load_mapping(folder / "mapping.ttl", inputs=_inputs(folder, case), base_dir=SUITE)


def _check(case: str, produce) -> None:  # type: ignore[no-untyped-def]
    folder = SUITE / "test" / case
    expected = folder / "output.nq"
    if not expected.exists():
        with pytest.raises(EokgError):
            produce()
        return
    lines = produce()
    _assert_same(_dataset_graph(lines), _dataset_graph(expected.read_text(encoding="utf-8")))


@pytest.mark.parametrize("case", [_param(c) for c in _cases()])
def test_case_local(case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(SUITE)

    def produce() -> list[str]:
        lines, rejects = map_lines(_load(case))
        if rejects and not (SUITE / "test" / case / "output.nq").exists():
            raise EokgError(f"rejected: {rejects[0]['reason']}")
        return lines

    _check(case, produce)


@pytest.mark.spark
@pytest.mark.parametrize("case", [_param(c) for c in SPARK_CASES])
def test_case_spark(case: str, spark, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    from eokg.spark.job import run_spark

    monkeypatch.chdir(SUITE)

    def produce() -> list[str]:
        out = tmp_path / "out"
        run_spark(_load(case), out, spark)
        return [
            line
            for part in sorted(out.glob("part-*"))
            for line in part.read_text(encoding="utf-8").splitlines()
        ]

    _check(case, produce)
