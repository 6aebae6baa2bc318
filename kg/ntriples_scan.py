"""The geometry triples of an N-Triples file, read as text wherever that is exact.

Why: ``GeoStore.load`` lets Oxigraph bulk-load a file (it parses it, and the load
is atomic) and builds the spatial index from the same file on another core.  The
index needs only the geometry literals, but turning every line into pyoxigraph
terms in Python to find them costs a third of the bulk load itself.  Nearly every
geometry line is ``<s> <asWKT> "WKT"^^<wktLiteral> .`` with nothing escaped; for
such a line the literal's N-Triples text (the index's key, ``str(Literal)``) is a
slice of the line.

Exactness: a chunk of lines is read as text only when every occurrence of a
geometry datatype IRI in it sits on a line of that strict form (no backslash, no
character Oxigraph would escape when printing the literal, one triple, nothing
after the dot but a comment).  Any other chunk is parsed by Oxigraph, so the
entries are always those the parser gives.  Syntax errors are not looked for
here: the bulk load reports them, with the file's line and column.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eokg.kg.geometry import GEOMETRY_DATATYPES, GEOMETRY_PREDICATES

__all__ = ["ScannedGeometries", "scan_ntriples"]

_CHUNK_BYTES = 8 << 20
_GEO_DATATYPE = b'"^^<http://www.opengis.net/ont/geosparql#'
_DATATYPE_IRIS = tuple(f"<{datatype}>".encode() for datatype in GEOMETRY_DATATYPES)
_SUFFIXES = {f'"^^<{datatype}>'.encode(): datatype for datatype in GEOMETRY_DATATYPES}
# the usual ends of a geometry line, after the literal's closing quote
_TAILS = {
    f"^^<{datatype}>{end}".encode(): datatype
    for datatype in GEOMETRY_DATATYPES
    for end in (" .", " .\r", ".", ".\r")
}
_PREDICATES = frozenset(f"<{predicate}>".encode() for predicate in GEOMETRY_PREDICATES)
# characters ``str(Literal)`` prints escaped, so a raw one means the text is not the key
_ESCAPED = re.compile(rb"[\x00-\x1f\x7f]|\xef\xbf[\xbe\xbf]")
_CONTROLS = bytes([*range(0x20), 0x7F])
_NONCHARACTERS = (b"\xef\xbf\xbe", b"\xef\xbf\xbf")
# a line that holds no triple: blank, or only a comment
_NOT_A_TRIPLE = re.compile(rb"[ \t]*(?:#.*)?\r?")
# a line that may start with something else than its subject
_ODD_LINE = re.compile(rb"\n[\n\r# \t]")


@dataclass
class ScannedGeometries:
    """What ``scan_ntriples`` found: geometry literals and the number of triples.

    ``literals`` maps each literal's N-Triples text to its datatype IRI (read as
    text: the value is the text between the first and the last quote) or to the
    pyoxigraph ``Literal`` (parsed), with the graph keys it occurs in.  ``overflow`` says more
    than ``limit`` literals were seen, so ``literals`` was dropped.
    """

    triples: int = 0
    geometries: int = 0  # geometry triples (a literal in two graphs counts twice)
    literals: dict[str, tuple[Any, set[str]]] = field(default_factory=dict)
    graphs: set[str] = field(default_factory=set)  # named graphs the file writes to
    overflow: bool = False
    parsed_chunks: int = 0  # chunks Oxigraph had to parse (an escape or an odd line)

    def add(self, text: str, item: Any, graph: str) -> None:
        """Note the literal ``text`` (parsed from ``item``) in graph key ``graph``."""
        held = self.literals.get(text)
        if held is None:
            self.literals[text] = (item, {graph})
        else:
            held[1].add(graph)


def scan_ntriples(path: Path, graph: str, *, limit: int) -> ScannedGeometries:
    """Geometry literals (objects of a GeoSPARQL serialization property with a
    geometry datatype) of the N-Triples file at ``path``, all in graph key ``graph``.

    The file is read in chunks of whole lines, never whole; beyond ``limit``
    distinct literals only the triples are counted.  On a file that does not parse
    the result is unspecified (the bulk load that runs beside reports the error).
    """
    found = ScannedGeometries()
    graphs = {graph}  # one set for every literal: an N-Triples file has one graph
    for chunk in _chunks(path):
        markers = sum(chunk.count(iri) for iri in _DATATYPE_IRIS)
        rows = _read_as_text(chunk, markers) if markers else []
        if rows is None:
            found.parsed_chunks += 1
            found.triples += _parse_chunk(chunk, graph, found)
            continue
        found.triples += _count_triples(chunk)
        found.geometries += len(rows)
        if not found.overflow:
            found.literals.update((text, (datatype, graphs)) for text, datatype in rows)
        if len(found.literals) > limit:
            found.overflow = True
            found.literals.clear()
    return found


def _chunks(path: Path) -> Iterator[bytes]:
    """The file in pieces of whole lines (the last one given its newline)."""
    with path.open("rb") as handle:
        rest = b""
        while block := handle.read(_CHUNK_BYTES):
            block = rest + block
            cut = block.rfind(b"\n") + 1
            rest = block[cut:]
            if cut:
                yield block[:cut]
        if rest:
            yield rest + b"\n"


def _count_triples(chunk: bytes) -> int:
    """Lines holding a triple (a valid file has one triple per such line)."""
    if not chunk.startswith((b"\n", b"\r", b"#", b" ", b"\t")) and not _ODD_LINE.search(chunk):
        return chunk.count(b"\n")  # every line starts with its subject
    return sum(not _NOT_A_TRIPLE.fullmatch(line) for line in chunk.split(b"\n")[:-1])


def _read_as_text(chunk: bytes, markers: int) -> list[tuple[str, str]] | None:
    """``(text, datatype)`` of the geometry triples, or None when any datatype IRI
    occurrence is not on a plain geometry line (the chunk is parsed instead)."""
    lines = [line for line in chunk.split(b"\n") if _GEO_DATATYPE in line]
    if len(lines) != markers or (b"\\" in chunk and any(b"\\" in line for line in lines)):
        return None
    # a character the literal's printed form escapes: looked for in each value only
    # when the chunk has one (tabs may also separate terms)
    controls = len(chunk.translate(None, _CONTROLS)) + chunk.count(b"\n") != len(chunk) or any(
        character in chunk for character in _NONCHARACTERS
    )
    rows: list[tuple[str, str]] = []
    for line in lines:
        parts = line.split(b'"')  # no backslash, so no escaped quote: head, value, tail
        if len(parts) != 3:
            return None
        head, raw, tail = parts
        datatype = _TAILS.get(tail) or _datatype_of_tail(tail)
        terms = head.split()  # in a file that parses: subject and predicate
        if datatype is None or len(terms) != 2:
            return None
        if terms[1] not in _PREDICATES:
            continue
        if controls and _ESCAPED.search(raw):
            return None
        start = len(head)  # the literal: its quotes, value, ^^ and <datatype>
        try:
            text = line[start : start + len(raw) + len(datatype) + 6].decode()
        except UnicodeDecodeError:
            return None
        rows.append((text, datatype))
    return rows


def _datatype_of_tail(tail: bytes) -> str | None:
    """The datatype of ``^^<datatype> .`` followed by blanks or a comment, else None."""
    close = tail.find(b">") + 1
    datatype = _SUFFIXES.get(b'"' + tail[:close])
    rest = tail[close:].strip(b" \t\r")
    if rest == b"." or (rest.startswith(b".") and rest[1:].lstrip(b" \t").startswith(b"#")):
        return datatype
    return None


def _parse_chunk(chunk: bytes, graph: str, found: ScannedGeometries) -> int:
    """Oxigraph parses the chunk: its triples counted, its geometry literals added."""
    import pyoxigraph

    from eokg.kg.spatial_index import is_geometry_literal

    predicates = frozenset(pyoxigraph.NamedNode(p) for p in GEOMETRY_PREDICATES)
    triples = 0
    try:
        for quad in pyoxigraph.parse(chunk, pyoxigraph.RdfFormat.N_TRIPLES):
            triples += 1
            if quad.predicate not in predicates:
                continue
            if not is_geometry_literal(quad.object):
                continue
            found.geometries += 1
            if not found.overflow:
                found.add(str(quad.object), quad.object, graph)
    except SyntaxError:
        pass  # the bulk load beside reports it, with the file's line
    return triples
