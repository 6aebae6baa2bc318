"""The seam between eokg and whatever answers SPARQL.

A ``SparqlSource`` is either the local GeoSPARQL store (Oxigraph plus eokg's
spatial index and function library) or a remote SPARQL 1.1 endpoint (GraphDB,
Jena, Virtuoso, another eokg).  The HTTP endpoint, the federation engine and
the ML dataset builder talk only to this protocol, so any of them works against
either.

Results are pyoxigraph's own result objects (``QuerySolutions``,
``QueryBoolean``, ``QueryTriples``) or anything iterable the same way: they
stream, and they serialise to every SPARQL results format with no extra code.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable


@dataclass(frozen=True)
class LoadReport:
    """What a load added, for the CLI and the pipeline report."""

    files: tuple[str, ...]
    triples: int
    graphs: tuple[str, ...] = ()
    geometries_indexed: int = 0
    seconds: float = 0.0


@dataclass
class QueryOptions:
    """Per-request limits; the API fills them from settings."""

    timeout_s: float | None = None
    max_results: int | None = None
    # Empty: the default graph is the union of all graphs.
    default_graph_uris: list[str] = field(default_factory=list)
    named_graph_uris: list[str] = field(default_factory=list)
    # Evaluate without the spatial index (for benchmarks and cross-checks).
    use_index: bool = True
    # GeoSPARQL RDFS entailment (class/property hierarchy); on by default.
    entailment: bool = True
    # A query naming no graph sees every graph (Jena's unionDefaultGraph).  False:
    # the default graph is the store's own default graph, as plain SPARQL 1.1
    # stores and the W3C test suites have it.
    union_default_graph: bool = True
    # The base IRI relative IRIs of an update resolve against (the service's own: the
    # endpoint URL, which the Protocol says it MAY be); None: relative IRIs are errors.
    base_iri: str | None = None


def graph_nodes(uris: Iterable[str], where: str) -> list[Any]:
    """pyoxigraph nodes of a request's graph IRIs; a malformed one is the client's
    ``QueryError`` naming ``where`` (the parameter that gave it)."""
    import pyoxigraph

    from eokg.errors import QueryError

    try:
        return [pyoxigraph.NamedNode(uri) for uri in uris]
    except ValueError as exc:
        raise QueryError(f"not an IRI: {exc}", where=where) from None


@runtime_checkable
class SparqlSource(Protocol):
    """Anything that answers SPARQL 1.1 queries and updates."""

    name: str

    def query(self, sparql: str, options: QueryOptions | None = None) -> Any:
        """Evaluate a query; raise ``QueryError`` naming the parse error position."""

    def update(self, sparql: str, options: QueryOptions | None = None) -> None:
        """Apply a SPARQL UPDATE atomically (all or nothing)."""

    def load(
        self,
        paths: Iterable[Path],
        *,
        graph: str | None = None,
        format: str | None = None,
        base_iri: str | None = None,
    ) -> LoadReport:
        """Load RDF files atomically: a parse error leaves the store unchanged.

        ``base_iri`` resolves relative IRIs; without one they are a parse error."""

    def graphs(self) -> list[str]:
        """Named graphs held, for the service description."""
