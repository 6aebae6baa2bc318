"""Validate RDF against the eokg SHACL shapes, with the ontology as background.

The ontology and concept schemes are passed to pyshacl as the *ont_graph* with
RDFS inference, so an ``eo:Sentinel1GRD`` is checked as an ``eo:Product`` too
and concept values can be checked for membership of their scheme.  SHACL
cannot parse WKT, so geometry literals get a second check here: the WKT must
parse, its CRS prefix must name a known CRS and the geometry must be valid.

Validation is in memory (pyshacl's limit): large jobs validate batch by batch.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import pyshacl
import rdflib
import shapely
from pyproj import CRS
from pyproj.exceptions import CRSError as ProjCRSError

from eokg.errors import RDFParseError, ShapeViolation
from eokg.ontologies.namespaces import GEO, SH
from eokg.ontologies.paths import SHAPES_FILE, all_schema_files

_SH = rdflib.Namespace(SH)
_AS_WKT = rdflib.URIRef(f"{GEO}asWKT")
_CRS_PREFIX = re.compile(r"^\s*<([^>]*)>\s*(.*)$", re.DOTALL)
_OGC_CRS = re.compile(r"^https?://www\.opengis\.net/def/crs/(EPSG|OGC)/[^/]+/([^/]+)$")
_SUFFIX_FORMATS = {
    ".ttl": "turtle",
    ".nt": "nt",
    ".nq": "nquads",
    ".trig": "trig",
    ".jsonld": "json-ld",
    ".rdf": "xml",
    ".owl": "xml",
    ".n3": "n3",
}


@dataclass(frozen=True)
class Violation:
    """One failed constraint: which node, along which property, and why."""

    focus: str
    path: str | None
    message: str
    severity: str = "Violation"
    value: str | None = None
    shape: str | None = None

    def __str__(self) -> str:
        where = f"<{self.focus}>" + (f" {self.path}" if self.path else "")
        shown = f" (value {self.value[:80]})" if self.value else ""
        return f"{self.severity}: {where}: {self.message}{shown}"


@dataclass
class ValidationReport:
    """All violations of one validation; ``where`` names what was validated."""

    violations: list[Violation] = field(default_factory=list)
    where: str | None = None

    @property
    def conforms(self) -> bool:
        return not any(v.severity == "Violation" for v in self.violations)

    def for_focus(self, focus: str) -> list[Violation]:
        return [v for v in self.violations if v.focus == focus]

    def text(self) -> str:
        head = f"{self.where}: " if self.where else ""
        if not self.violations:
            return f"{head}conforms"
        lines = [f"{head}{len(self.violations)} violation(s)"]
        lines += [f"  {v}" for v in self.violations]
        return "\n".join(lines)

    def raise_if_invalid(self) -> None:
        """Raise :class:`~eokg.errors.ShapeViolation` naming the first violations."""
        if self.conforms:
            return
        first = "; ".join(str(v) for v in self.violations[:3])
        more = len(self.violations) - 3
        raise ShapeViolation(
            first + (f"; and {more} more" if more > 0 else ""),
            where=self.where,
            violations=[str(v) for v in self.violations],
        )


@lru_cache(maxsize=1)
def _shapes() -> rdflib.Graph:
    return rdflib.Graph().parse(SHAPES_FILE, format="turtle")


@lru_cache(maxsize=1)
def _schema() -> rdflib.Graph:
    graph = rdflib.Graph()
    for path in all_schema_files():
        graph.parse(path, format="turtle")
    return graph


def parse_rdf(path: Path, graph: rdflib.Graph | None = None) -> rdflib.Graph:
    """Parse ``path`` (format from its suffix) into ``graph``; errors name file and line."""
    graph = rdflib.Graph() if graph is None else graph
    path = Path(path)
    if not path.is_file():
        raise RDFParseError("file not found", where=str(path))
    fmt = _SUFFIX_FORMATS.get(path.suffix.lower(), "turtle")
    try:
        graph.parse(path, format=fmt)
    except Exception as exc:  # rdflib raises many unrelated types on bad syntax
        line = getattr(exc, "lines", None)
        where = f"{path}:{line + 1}" if isinstance(line, int) else str(path)
        raise RDFParseError(f"not valid {fmt}: {exc}".splitlines()[0], where=where) from exc
    return graph


def _short(graph: rdflib.Graph, term: rdflib.term.Node | None) -> str | None:
    if term is None:
        return None
    if isinstance(term, rdflib.URIRef):
        try:
            return graph.namespace_manager.normalizeUri(term)
        except Exception:
            return str(term)
    return str(term)


def _shacl_violations(data: rdflib.Graph) -> list[Violation]:
    # pyshacl's ont_graph mixes in class axioms but not the concept schemes'
    # triples (skos:inScheme), so the schema is merged into a working copy instead.
    work = rdflib.Graph()
    work += _schema()
    work += data
    _, results, _ = pyshacl.validate(
        work,
        shacl_graph=_shapes(),
        inference="rdfs",
        inplace=True,
        abort_on_first=False,
        allow_warnings=True,
    )
    if not isinstance(results, rdflib.Graph):  # pyshacl reports a broken shapes graph so
        raise ShapeViolation(
            f"the SHACL shapes cannot be applied: {results}", where=str(SHAPES_FILE)
        )
    violations = []
    # Only top-level results: nested ones (sh:detail) repeat them from inside sh:node.
    for report in results.subjects(rdflib.RDF.type, _SH.ValidationReport):
        for result in results.objects(report, _SH.result):
            violations.append(_violation(results, data, result))
    return violations


def _violation(results: rdflib.Graph, data: rdflib.Graph, result: rdflib.term.Node) -> Violation:
    message = results.value(result, _SH.resultMessage)
    component = results.value(result, _SH.sourceConstraintComponent)
    severity = results.value(result, _SH.resultSeverity)
    return Violation(
        focus=str(results.value(result, _SH.focusNode)),
        path=_short(data, results.value(result, _SH.resultPath)),
        message=str(message) if message is not None else f"fails {_short(data, component)}",
        severity=str(severity).rsplit("#", 1)[-1] if severity is not None else "Violation",
        value=_short(data, results.value(result, _SH.value)),
        shape=_short(data, results.value(result, _SH.sourceShape)),
    )


def _wkt_problem(text: str) -> str | None:
    """Why a geo:wktLiteral is unusable, or None."""
    match = _CRS_PREFIX.match(text)
    if match:
        iri, text = match.groups()
        ogc = _OGC_CRS.match(iri)
        if not ogc:
            return f"unsupported CRS IRI <{iri}>"
        try:
            CRS.from_user_input(f"{ogc.group(1)}:{ogc.group(2)}")
        except ProjCRSError:
            return f"unknown CRS {ogc.group(1)}:{ogc.group(2)}"
    try:
        geom = shapely.from_wkt(text)
    except shapely.errors.GEOSException as exc:
        return f"malformed WKT: {exc}"
    if geom is not None and not geom.is_valid:
        return f"invalid geometry: {shapely.is_valid_reason(geom)}"
    return None


def _geometry_violations(data: rdflib.Graph) -> list[Violation]:
    violations = []
    for node, literal in data.subject_objects(_AS_WKT):
        problem = _wkt_problem(str(literal))
        if problem:
            violations.append(
                Violation(focus=str(node), path="geo:asWKT", message=problem, value=str(literal))
            )
    return violations


def validate_graph(
    data: rdflib.Graph | str | Path,
    *,
    where: str | None = None,
    data_format: str = "turtle",
) -> ValidationReport:
    """Validate ``data`` (a graph, RDF text or a file) against the eokg shapes.

    Returns a report; call :meth:`ValidationReport.raise_if_invalid` to turn
    violations into a :class:`~eokg.errors.ShapeViolation`.
    """
    if isinstance(data, Path):
        where = where or str(data)
        graph = parse_rdf(data)
    elif isinstance(data, str):
        graph = rdflib.Graph()
        try:
            graph.parse(data=data, format=data_format)
        except Exception as exc:
            raise RDFParseError(
                f"not valid {data_format}: {exc}".splitlines()[0], where=where
            ) from exc
    else:
        graph = data
    violations = _shacl_violations(graph) + _geometry_violations(graph)
    violations.sort(key=lambda v: (v.focus, v.path or "", v.message))
    return ValidationReport(violations=violations, where=where)


def validate_files(paths: Iterable[Path]) -> ValidationReport:
    """Validate files together (references may cross files); errors name the bad file."""
    paths = [Path(p) for p in paths]
    graph = rdflib.Graph()
    for path in paths:
        parse_rdf(path, graph)
    return validate_graph(graph, where=", ".join(str(p) for p in paths))
