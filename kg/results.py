"""Writing SPARQL results in the W3C formats, one row at a time.

pyoxigraph can serialise a whole ``QuerySolutions`` object, but only all of it at
once and with no way to stop at a row limit or a deadline.  The HTTP endpoint and
``eokg query`` must do both while streaming, so SELECT rows are written here,
row by row; ASK answers and CONSTRUCT triples still go through pyoxigraph, which
accepts any iterable of triples.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator
from typing import IO, Any, Literal, Protocol, cast
from xml.sax.saxutils import escape, quoteattr

from eokg.errors import QueryError, QueryTimeout, ResultTooLarge

ResultKind = Literal["boolean", "solutions", "triples"]


class BinarySink(Protocol):
    """Where serialised bytes go: a binary file, or anything that writes and flushes."""

    def write(self, data: bytes, /) -> int: ...

    def flush(self) -> None: ...


XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"
RDF_LANG_STRING = "http://www.w3.org/1999/02/22-rdf-syntax-ns#langString"
RDF_DIR_LANG_STRING = "http://www.w3.org/1999/02/22-rdf-syntax-ns#dirLangString"

#: SELECT/ASK result media types, server preference first.
RESULTS_MEDIA_TYPES: tuple[str, ...] = (
    "application/sparql-results+json",
    "application/sparql-results+xml",
    "text/csv",
    "text/tab-separated-values",
    "application/json",
)
#: CONSTRUCT/DESCRIBE media types, server preference first.
RDF_MEDIA_TYPES: tuple[str, ...] = (
    "text/turtle",
    "application/n-triples",
    "application/ld+json",
    "application/rdf+xml",
)
#: Short names for ``--format`` and ``?format=``.
FORMAT_NAMES: dict[str, str] = {
    # A client's ``format=json`` or ``xml`` does not know whether the query is a
    # SELECT or a CONSTRUCT (SPARQLWrapper sends it for both): offer either form.
    "json": "application/sparql-results+json, application/ld+json;q=0.9",
    "xml": "application/sparql-results+xml, application/rdf+xml;q=0.9",
    "csv": "text/csv",
    "tsv": "text/tab-separated-values",
    "turtle": "text/turtle",
    "ttl": "text/turtle",
    "n3": "text/turtle",  # Turtle is N3's RDF subset: what N3 clients read
    "ntriples": "application/n-triples",
    "nt": "application/n-triples",
    "jsonld": "application/ld+json",
    "json-ld": "application/ld+json",
    "rdfxml": "application/rdf+xml",
    "rdf": "application/rdf+xml",
}


def media_type_for(fmt: str | None, offered: tuple[str, ...]) -> str | None:
    """The media type a ``--format``/``format=`` name means for this result form.

    None when the name means nothing that ``offered`` has (e.g. csv for CONSTRUCT).
    """
    if not fmt:
        return offered[0]
    accept = FORMAT_NAMES.get(fmt.lower(), fmt)
    for option in accept.split(","):
        media_type = option.split(";")[0].strip()
        if media_type in offered:
            return media_type
    return None


def result_kind(result: Any) -> ResultKind:
    """Tell the three query forms apart without caring which source made the result."""
    import pyoxigraph

    if isinstance(result, pyoxigraph.QueryBoolean | bool):
        return "boolean"
    if hasattr(result, "variables"):
        return "solutions"
    return "triples"


def guarded(
    rows: Iterable[Any],
    *,
    deadline: float | None = None,
    max_results: int | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> Iterator[Any]:
    """Yield ``rows`` until a limit is hit, then raise the matching eokg error.

    The deadline is a ``time.monotonic()`` value.  It is checked between rows, so
    a single row that takes long to compute (a big aggregate) is only caught
    afterwards; the store's own timeout covers that case.
    """
    for count, row in enumerate(rows, start=1):
        if deadline is not None and time.monotonic() > deadline:
            raise QueryTimeout("the query ran past its time limit", where="sparql")
        if cancelled is not None and cancelled():
            return
        if max_results is not None and count > max_results:
            raise ResultTooLarge(
                f"the query returned more than {max_results} results; "
                "add a LIMIT or narrow the query",
                where="sparql",
                max_results=max_results,
            )
        yield row


# --------------------------------------------------------------------------- terms


def _literal_parts(term: Any) -> tuple[str, str | None, str | None]:
    """(lexical form, language, datatype IRI or None for plain/lang strings)."""
    language = term.language
    datatype = term.datatype.value
    if language or datatype in (XSD_STRING, RDF_LANG_STRING, RDF_DIR_LANG_STRING):
        return term.value, language, None
    return term.value, None, datatype


def _term_kind(term: Any) -> str:
    return type(term).__name__  # NamedNode, BlankNode, Literal, Triple


def term_to_json(term: Any) -> dict[str, Any]:
    """A term as a SPARQL 1.1 JSON results binding object."""
    kind = _term_kind(term)
    if kind == "NamedNode":
        return {"type": "uri", "value": term.value}
    if kind == "BlankNode":
        return {"type": "bnode", "value": term.value}
    if kind == "Literal":
        value, language, datatype = _literal_parts(term)
        out: dict[str, Any] = {"type": "literal", "value": value}
        if language:
            out["xml:lang"] = language
        if datatype:
            out["datatype"] = datatype
        return out
    if kind == "Triple":
        return {
            "type": "triple",
            "value": {
                "subject": term_to_json(term.subject),
                "predicate": term_to_json(term.predicate),
                "object": term_to_json(term.object),
            },
        }
    raise QueryError(f"cannot write a term of type {kind}", where="results")


def term_to_xml(term: Any) -> str:
    kind = _term_kind(term)
    if kind == "NamedNode":
        return f"<uri>{escape(term.value)}</uri>"
    if kind == "BlankNode":
        return f"<bnode>{escape(term.value)}</bnode>"
    if kind == "Literal":
        value, language, datatype = _literal_parts(term)
        attrs = ""
        if language:
            attrs = f" xml:lang={quoteattr(language)}"
        elif datatype:
            attrs = f" datatype={quoteattr(datatype)}"
        return f"<literal{attrs}>{escape(value)}</literal>"
    if kind == "Triple":
        return (
            "<triple>"
            f"<subject>{term_to_xml(term.subject)}</subject>"
            f"<predicate>{term_to_xml(term.predicate)}</predicate>"
            f"<object>{term_to_xml(term.object)}</object>"
            "</triple>"
        )
    raise QueryError(f"cannot write a term of type {kind}", where="results")


def _csv_field(text: str) -> str:
    if any(c in text for c in ',"\n\r'):
        return '"' + text.replace('"', '""') + '"'
    return text


def term_to_csv(term: Any) -> str:
    """CSV loses types on purpose (the W3C CSV format is lossy): plain values only."""
    kind = _term_kind(term)
    if kind == "BlankNode":
        return f"_:{term.value}"
    if kind == "Triple":
        return _csv_field(str(term))
    return _csv_field(term.value)


def term_to_tsv(term: Any) -> str:
    # pyoxigraph prints terms in N-Triples syntax, which TSV results allow; TSV
    # additionally forbids raw tabs and newlines inside a field.
    return str(term).replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


# --------------------------------------------------------------------------- writers


def write_solutions(variables: list[str], rows: Iterable[Any], media_type: str) -> Iterator[bytes]:
    """Yield the encoded document for ``rows`` piece by piece (one piece per row)."""
    if media_type in ("application/sparql-results+json", "application/json"):
        yield json.dumps({"head": {"vars": variables}})[:-1].encode() + b',"results":{"bindings":['
        first = True
        for row in rows:
            binding = {v: term_to_json(row[v]) for v in variables if row[v] is not None}
            piece = json.dumps(binding, ensure_ascii=False, separators=(",", ":"))
            yield (piece if first else "," + piece).encode()
            first = False
        yield b"]}}"
    elif media_type == "application/sparql-results+xml":
        head = "".join(f"<variable name={quoteattr(v)}/>" for v in variables)
        yield (
            '<?xml version="1.0"?>'
            '<sparql xmlns="http://www.w3.org/2005/sparql-results#">'
            f"<head>{head}</head><results>"
        ).encode()
        for row in rows:
            bindings = "".join(
                f"<binding name={quoteattr(v)}>{term_to_xml(row[v])}</binding>"
                for v in variables
                if row[v] is not None
            )
            yield f"<result>{bindings}</result>".encode()
        yield b"</results></sparql>"
    elif media_type == "text/csv":
        yield (",".join(_csv_field(v) for v in variables) + "\r\n").encode()
        for row in rows:
            cells = (term_to_csv(row[v]) if row[v] is not None else "" for v in variables)
            yield (",".join(cells) + "\r\n").encode()
    elif media_type == "text/tab-separated-values":
        yield ("\t".join(f"?{v}" for v in variables) + "\n").encode()
        for row in rows:
            cells = (term_to_tsv(row[v]) if row[v] is not None else "" for v in variables)
            yield ("\t".join(cells) + "\n").encode()
    else:
        raise QueryError(f"unsupported results format {media_type!r}", where="results")


def write_boolean(value: bool, media_type: str) -> bytes:
    text = "true" if value else "false"
    if media_type in ("application/sparql-results+json", "application/json"):
        return b'{"head":{},"boolean":' + text.encode() + b"}"
    if media_type == "application/sparql-results+xml":
        return (
            '<?xml version="1.0"?>'
            '<sparql xmlns="http://www.w3.org/2005/sparql-results#">'
            f"<head/><boolean>{text}</boolean></sparql>"
        ).encode()
    if media_type in ("text/csv", "text/tab-separated-values"):
        # Not defined by the W3C note; the common practice is a bare value.
        return text.encode()
    raise QueryError(f"unsupported results format {media_type!r}", where="results")


def write_triples(
    triples: Iterable[Any],
    media_type: str,
    output: BinarySink,
    prefixes: dict[str, str] | None = None,
) -> None:
    """Serialise triples with pyoxigraph, which pulls them lazily from ``triples``."""
    import pyoxigraph

    rdf_format = pyoxigraph.RdfFormat.from_media_type(media_type)
    if rdf_format is None or media_type not in RDF_MEDIA_TYPES:
        raise QueryError(f"unsupported RDF format {media_type!r}", where="results")
    use_prefixes = prefixes if rdf_format.name in ("Turtle", "RDF/XML") else None
    # pyoxigraph only calls write() and flush(); its stub asks for a whole IO[bytes].
    sink = cast("IO[bytes]", output)
    pyoxigraph.serialize(triples, sink, rdf_format, prefixes=use_prefixes)


def variable_names(result: Any) -> list[str]:
    return [v.value for v in result.variables]
