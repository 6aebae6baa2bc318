"""Reading the W3C SPARQL test manifests and comparing results as the suite says.

The suites (SPARQL 1.0 ``dawg-data-r2`` and SPARQL 1.1) are unpacked into
``.vendor/`` at install time by ``scripts/vendor_testsuites.sh``.  A test case
here is plain data (paths and graph names), so pytest can parametrise over it;
``run_query``/``run_update`` evaluate one against any store that has pyoxigraph's
``query``/``update`` surface, and the ``same_*`` functions compare results up to
blank-node renaming, as the suite's own rules ask.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyoxigraph
import rdflib
from rdflib.compare import isomorphic

ROOT = Path(__file__).resolve().parents[2]
SUITES = ROOT / ".vendor" / "w3c-sparql-7.1.4"
INSTALL_HINT = "the W3C suites are missing: run scripts/vendor_testsuites.sh (install.sh does)"

MF = rdflib.Namespace("http://www.w3.org/2001/sw/DataAccess/tests/test-manifest#")
QT = rdflib.Namespace("http://www.w3.org/2001/sw/DataAccess/tests/test-query#")
UT = rdflib.Namespace("http://www.w3.org/2009/sparql/tests/test-update#")
DAWGT = rdflib.Namespace("http://www.w3.org/2001/sw/DataAccess/tests/test-dawg#")

# Entry manifests, and sub-manifests that are not about query or update
# evaluation: HTTP protocol and service-description tests need a server of their
# own (tests/api covers the protocol), SERVICE tests need the remote endpoints
# they name, and entailment regimes other than simple are not offered.
ENTRY_MANIFESTS = ("sparql11/manifest-all.ttl", "dawg-data-r2/manifest-evaluation.ttl",
                   "dawg-data-r2/manifest-syntax.ttl")
SKIPPED_FOLDERS = ("protocol", "service-description", "http-rdf-update", "service",
                   "entailment")

QUERY_EVAL = {MF.QueryEvaluationTest, MF.CSVResultFormatTest}
UPDATE_EVAL = {MF.UpdateEvaluationTest}
SYNTAX = {
    MF.PositiveSyntaxTest: True, MF.PositiveSyntaxTest11: True,
    MF.NegativeSyntaxTest: False, MF.NegativeSyntaxTest11: False,
    MF.PositiveUpdateSyntaxTest11: True, MF.NegativeUpdateSyntaxTest11: False,
}


@dataclass(frozen=True)
class Graph:
    """A data file and the graph it goes into (None: the default graph)."""

    path: Path
    name: str | None = None


@dataclass(frozen=True)
class Case:
    """One test of the suite."""

    id: str
    kind: str  # "query", "update", "syntax-query", "syntax-update"
    request: Path
    data: tuple[Graph, ...] = ()
    result: Path | None = None
    result_data: tuple[Graph, ...] = ()
    positive: bool = True
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)


def cases() -> list[Case]:
    """Every approved (or not yet classified) test of the entry manifests."""
    found: dict[str, Case] = {}
    for entry in ENTRY_MANIFESTS:
        for case in _manifest(SUITES / entry):
            found.setdefault(case.id, case)
    return list(found.values())


def _manifest(path: Path) -> Iterator[Case]:
    graph = rdflib.Graph()
    graph.parse(path, format="turtle", publicID=path.as_uri())
    this = rdflib.URIRef(path.as_uri())
    for included in _list(graph, graph.value(this, MF.include)):
        sub = Path(str(included).removeprefix("file://"))
        if sub.parent.name not in SKIPPED_FOLDERS:
            yield from _manifest(sub)
    for entry in _list(graph, graph.value(this, MF.entries)):
        if graph.value(entry, DAWGT.approval) in (DAWGT.Withdrawn, DAWGT.Rejected):
            continue
        case = _case(graph, entry, path.parent)
        if case is not None:
            yield case


def _case(graph: rdflib.Graph, entry: Any, folder: Path) -> Case | None:
    kinds = set(graph.objects(entry, rdflib.RDF.type))
    test_id = f"{folder.parent.name}/{folder.name}/{str(entry).rsplit('#', 1)[-1]}"
    action = graph.value(entry, MF.action)
    if kinds & QUERY_EVAL:
        data = [Graph(_path(d)) for d in graph.objects(action, QT.data)]
        data += [Graph(_path(g), str(g)) for g in graph.objects(action, QT.graphData)]
        return Case(test_id, "query", _path(graph.value(action, QT.query)), tuple(data),
                    _path(graph.value(entry, MF.result)))
    if kinds & UPDATE_EVAL:
        result = graph.value(entry, MF.result)
        return Case(test_id, "update", _path(graph.value(action, UT.request)),
                    _update_graphs(graph, action), None, _update_graphs(graph, result))
    for kind, positive in SYNTAX.items():
        if kind in kinds:
            update = "Update" in str(kind)
            return Case(test_id, "syntax-update" if update else "syntax-query",
                        _path(action), positive=positive)
    return None


def _update_graphs(graph: rdflib.Graph, node: Any) -> tuple[Graph, ...]:
    graphs = [Graph(_path(d)) for d in graph.objects(node, UT.data)]
    for named in graph.objects(node, UT.graphData):
        graphs.append(Graph(_path(graph.value(named, UT.graph)),
                            str(graph.value(named, rdflib.RDFS.label))))
    return tuple(graphs)


def _list(graph: rdflib.Graph, head: Any) -> list[Any]:
    return list(rdflib.collection.Collection(graph, head)) if head is not None else []


def _path(node: Any) -> Path:
    return Path(str(node).removeprefix("file://"))


# --- running ---------------------------------------------------------------------


def rdf_format(path: Path) -> pyoxigraph.RdfFormat:
    return {".rdf": pyoxigraph.RdfFormat.RDF_XML, ".nt": pyoxigraph.RdfFormat.N_TRIPLES,
            ".nq": pyoxigraph.RdfFormat.N_QUADS, ".trig": pyoxigraph.RdfFormat.TRIG,
            }.get(path.suffix, pyoxigraph.RdfFormat.TURTLE)


def request_text(path: Path) -> str:
    """The request with its file as base IRI, as a client sending it would set it."""
    return f"BASE <{path.as_uri()}>\n" + path.read_text(encoding="utf-8")


def load_plain(store: pyoxigraph.Store, graphs: tuple[Graph, ...]) -> None:
    for graph in graphs:
        to_graph = pyoxigraph.NamedNode(graph.name) if graph.name else pyoxigraph.DefaultGraph()
        store.load(path=str(graph.path), format=rdf_format(graph.path),
                   base_iri=graph.path.as_uri(), to_graph=to_graph)


# --- comparing -------------------------------------------------------------------

Row = tuple[tuple[str, str], ...]


def expected_results(case: Case) -> Any:
    """Expected results: a boolean, ``("rows", vars, rows)`` or ``("graph", rdflib.Graph)``."""
    assert case.result is not None
    suffix = case.result.suffix
    if suffix in (".srx", ".srj", ".tsv"):
        fmt = {".srx": pyoxigraph.QueryResultsFormat.XML,
               ".srj": pyoxigraph.QueryResultsFormat.JSON,
               ".tsv": pyoxigraph.QueryResultsFormat.TSV}[suffix]
        return from_oxigraph(pyoxigraph.parse_query_results(path=str(case.result), format=fmt))
    if suffix == ".csv":
        return ("csv", case.result.read_text(encoding="utf-8"))
    graph = rdflib.Graph()
    graph.parse(case.result, format="xml" if suffix == ".rdf" else "turtle",
                publicID=case.result.as_uri())
    return ("graph", graph)


def from_oxigraph(result: Any) -> Any:
    """Any pyoxigraph query result as comparable plain data."""
    if isinstance(result, pyoxigraph.QueryBoolean):
        return bool(result)
    if isinstance(result, pyoxigraph.QuerySolutions):
        names = [v.value for v in result.variables]
        rows = [tuple(sorted((n, str(s[n])) for n in names if s[n] is not None)) for s in result]
        return ("rows", names, rows)
    graph = rdflib.Graph()
    text = "".join(f"{t} .\n" for t in result)
    graph.parse(data=text, format="nt")
    return ("graph", graph)


def as_csv(result: Any, fmt: pyoxigraph.QueryResultsFormat) -> str:
    return result.serialize(format=fmt).decode("utf-8")


def same(expected: Any, actual: Any, *, ordered: bool = False) -> bool:
    """Equal as the suite compares: bnodes up to renaming, rows as a multiset."""
    if isinstance(expected, bool) or isinstance(actual, bool):
        return expected is actual
    if expected[0] != actual[0]:
        return False
    if expected[0] == "graph":
        return isomorphic(expected[1], actual[1])
    if expected[0] == "csv":
        return _same_csv(expected[1], actual[1])
    if ordered and [_blanked(r) for r in expected[2]] != [_blanked(r) for r in actual[2]]:
        return False
    return _same_rows(expected[2], actual[2])


_BNODE = re.compile(r"^_:")


def _blanked(row: Row) -> Row:
    return tuple((n, "_:" if _BNODE.match(v) else v) for n, v in row)


def _same_rows(expected: list[Row], actual: list[Row]) -> bool:
    if len(expected) != len(actual):
        return False
    if Counter(map(_blanked, expected)) != Counter(map(_blanked, actual)):
        return False
    if not any(_BNODE.match(v) for row in expected for _, v in row):
        return Counter(expected) == Counter(actual)
    return _match(list(expected), list(actual), {}, {})


def _match(left: list[Row], right: list[Row], there: dict[str, str], back: dict[str, str]) -> bool:
    """Backtracking bijection of blank nodes (the suite's results are small)."""
    if not left:
        return True
    row, rest = left[0], left[1:]
    for i, candidate in enumerate(right):
        if _blanked(candidate) != _blanked(row):
            continue
        trial, trial_back = dict(there), dict(back)
        if _bind(row, candidate, trial, trial_back) and _match(
            rest, right[:i] + right[i + 1:], trial, trial_back
        ):
            return True
    return False


def _bind(row: Row, other: Row, there: dict[str, str], back: dict[str, str]) -> bool:
    for (_, a), (_, b) in zip(row, other, strict=True):
        if _BNODE.match(a):
            if there.setdefault(a, b) != b or back.setdefault(b, a) != a:
                return False
        elif a != b:
            return False
    return True


def _same_csv(expected: str, actual: str) -> bool:
    def lines(text: str) -> Counter[str]:
        return Counter(re.sub(r"_:\w+", "_:", line) for line in text.replace("\r\n", "\n")
                       .strip("\n").split("\n"))

    return lines(expected) == lines(actual)


def dataset(store: Any) -> dict[str | None, rdflib.Graph]:
    """The store's graphs as rdflib graphs, for comparing the effect of an update."""
    lines: dict[str | None, list[str]] = {}
    for quad in store.quads_for_pattern(None, None, None, None):
        graph = quad.graph_name
        name = None if isinstance(graph, pyoxigraph.DefaultGraph) else graph.value
        lines.setdefault(name, []).append(f"{quad.subject} {quad.predicate} {quad.object} .\n")
    return {name: rdflib.Graph().parse(data="".join(text), format="nt")
            for name, text in lines.items()}


def expected_dataset(case: Case) -> dict[str | None, rdflib.Graph]:
    graphs: dict[str | None, rdflib.Graph] = {}
    for graph in case.result_data:
        parsed = graphs.setdefault(graph.name, rdflib.Graph())
        parsed.parse(graph.path, format="xml" if graph.path.suffix == ".rdf" else "turtle",
                     publicID=graph.path.as_uri())
    return graphs


def same_dataset(expected: dict[str | None, rdflib.Graph],
                 actual: dict[str | None, rdflib.Graph]) -> bool:
    names = {n for n, g in expected.items() if len(g)} | {n for n, g in actual.items() if len(g)}
    return all(isomorphic(expected.get(n, rdflib.Graph()), actual.get(n, rdflib.Graph()))
               for n in names)


def is_ordered(text: str) -> bool:
    return re.search(r"\border\s+by\b", text, re.IGNORECASE) is not None
