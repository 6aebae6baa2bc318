"""Query results as plain data that can leave the thread or process that made them.

pyoxigraph result objects must die in the thread that created them, and cannot
cross a process boundary at all. A query run under limits (timeout, row cap) is
therefore read to the end where it ran (``materialise``: SPARQL JSON terms,
N-Triples text), handed over, and turned back into pyoxigraph results by the
caller (``rebuild``), which the API then serialises like any other result.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

from eokg.errors import ResultTooLarge, StoreError

#: ("boolean", bool, None) | ("solutions", [var], [[term json | None]]) | ("triples", None, text)
Payload = tuple[str, Any, Any]
_XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"


def materialise(result: Any, cap: int | None, cancel: threading.Event | None = None) -> Payload:
    """Read ``result`` to its end as plain data; ``("cancelled", None, None)`` if told to stop.

    More than ``cap`` rows is a ``ResultTooLarge``.
    """
    import pyoxigraph

    try:
        if isinstance(result, pyoxigraph.QueryBoolean):
            return "boolean", bool(result), None
        if isinstance(result, pyoxigraph.QuerySolutions):
            variables = [v.value for v in result.variables]
            rows = []
            for solution in result:
                if cancel is not None and cancel.is_set():
                    return "cancelled", None, None
                rows.append([term_json(solution[v]) for v in variables])
                if cap is not None and len(rows) > cap:
                    raise ResultTooLarge(f"more than {cap} results", where="query", max_results=cap)
            return "solutions", variables, rows
        lines = []
        for triple in result:
            if cancel is not None and cancel.is_set():
                return "cancelled", None, None
            lines.append(f"{triple} .\n")
            if cap is not None and len(lines) > cap:
                raise ResultTooLarge(f"more than {cap} triples", where="query", max_results=cap)
        return "triples", None, "".join(lines)
    finally:
        del result


def rebuild(payload: Payload) -> Any:
    """pyoxigraph result objects again, in the caller's thread."""
    import pyoxigraph

    kind, head, body = payload
    fmt = pyoxigraph.QueryResultsFormat.JSON
    if kind == "boolean":
        return pyoxigraph.parse_query_results(json.dumps({"head": {}, "boolean": head}), fmt)
    if kind == "solutions":
        bindings = [
            {var: term for var, term in zip(head, row, strict=True) if term is not None}
            for row in body
        ]
        document = {"head": {"vars": head}, "results": {"bindings": bindings}}
        return pyoxigraph.parse_query_results(json.dumps(document), fmt)
    triples = list(pyoxigraph.parse(body.encode(), pyoxigraph.RdfFormat.N_TRIPLES))
    return MaterialisedTriples(triples)


def term_json(term: Any) -> dict[str, Any] | None:
    """A result term as SPARQL 1.1 JSON (RDF-star triples as the 1.2 drafts write them)."""
    import pyoxigraph

    if term is None:
        return None
    if isinstance(term, pyoxigraph.NamedNode):
        return {"type": "uri", "value": term.value}
    if isinstance(term, pyoxigraph.BlankNode):
        return {"type": "bnode", "value": term.value}
    if isinstance(term, pyoxigraph.Literal):
        out: dict[str, Any] = {"type": "literal", "value": term.value}
        if term.language:
            out["xml:lang"] = term.language
        elif term.datatype.value != _XSD_STRING:
            out["datatype"] = term.datatype.value
        return out
    if isinstance(term, pyoxigraph.Triple):
        return {
            "type": "triple",
            "value": {
                "subject": term_json(term.subject),
                "predicate": term_json(term.predicate),
                "object": term_json(term.object),
            },
        }
    raise StoreError(f"unexpected term {term!r}", where="query")


class MaterialisedTriples:
    """CONSTRUCT/DESCRIBE results read under limits; iterates and serialises like QueryTriples."""

    def __init__(self, triples: list[Any]) -> None:
        self._triples = triples

    def __iter__(self) -> Iterator[Any]:
        return iter(self._triples)

    def __len__(self) -> int:
        return len(self._triples)

    def serialize(self, output: Any = None, format: Any = None) -> bytes | None:
        import pyoxigraph

        return pyoxigraph.serialize(self._triples, output, format or pyoxigraph.RdfFormat.N_TRIPLES)
