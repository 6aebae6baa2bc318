"""Parsed query templates kept beside a persistent store, across processes.

rdflib's pyparsing grammar is most of what a planned query costs: 2-8 ms for a
small GeoSPARQL query, about 35 ms for the first parse of a process (the
grammar warms up).  ``sparql_syntax`` caches trees by *template* (the text with
its string constants lifted out) for the life of a process; this module keeps
the same templates in a small SQLite file beside the store, so a server
restarted on a store answers its first query of a known shape without running
the parser at all (bench/README.md, "Persistent spatial index", measure (b)).

Trees are stored as JSON, never pickled: the file must not be a way to run
code in whoever opens the store.  A row carries the codec version and rdflib's
version; a file written by other versions is emptied on open.  The file is only
a cache: when it cannot be read or written (read-only folder, corrupt file,
another process holding the lock) it is skipped with one warning, and queries
are parsed as before.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from pathlib import Path
from typing import Any

from eokg.kg.sparql_syntax import Prologue, SyntaxTree

log = logging.getLogger(__name__)

#: Bump when the JSON form of a tree changes.
CODEC_VERSION = "1"
#: Templates kept per store; the oldest written go first.
MAX_TEMPLATES = 4096


def template_path(store_path: Path) -> Path:
    """Where a persistent store's query templates live: one file beside its directory."""
    return Path(str(store_path) + ".queries.sqlite")


class Unencodable(Exception):
    """A tree holds a value the JSON codec has no form for (the tree is not kept)."""


def encode_tree(tree: SyntaxTree) -> str:
    """The JSON text of a parse tree (``Unencodable`` when a node has no JSON form)."""
    return json.dumps(
        {"base": tree.prologue.base, "prefixes": tree.prologue.prefixes, "query": _enc(tree.query)},
        ensure_ascii=False,
        separators=(",", ":"),
    )


def decode_tree(text: str) -> SyntaxTree:
    """The parse tree ``encode_tree`` wrote."""
    data = json.loads(text)
    return SyntaxTree(Prologue(data["base"], dict(data["prefixes"])), _dec(data["query"]))


def _enc(node: Any) -> Any:
    from rdflib import BNode, Literal, URIRef, Variable
    from rdflib.plugins.sparql.parserutils import CompValue

    if isinstance(node, CompValue):
        return {"c": node.name, "f": [[key, _enc(value)] for key, value in dict.items(node)]}
    if isinstance(node, list):
        return [_enc(item) for item in node]
    if isinstance(node, Variable):
        return {"v": str(node)}
    if isinstance(node, URIRef):
        return {"u": str(node)}
    if isinstance(node, BNode):
        return {"b": str(node)}
    if isinstance(node, Literal):
        datatype = None if node.datatype is None else str(node.datatype)
        return {"l": str(node), "d": datatype, "g": node.language}
    if node is None or type(node) in (str, bool, int):
        return node
    raise Unencodable(type(node).__name__)


def _dec(node: Any) -> Any:
    from collections import OrderedDict

    from rdflib import BNode, Literal, URIRef, Variable
    from rdflib.plugins.sparql.parserutils import CompValue

    if isinstance(node, list):
        return [_dec(item) for item in node]
    if not isinstance(node, dict):
        return node
    if "c" in node:
        value = CompValue(node["c"])
        for key, item in node["f"]:
            OrderedDict.__setitem__(value, key, _dec(item))
        return value
    if "v" in node:
        return Variable(node["v"])
    if "u" in node:
        return URIRef(node["u"])
    if "b" in node:
        return BNode(node["b"])
    datatype = None if node["d"] is None else URIRef(node["d"])
    return Literal(node["l"], datatype=datatype, lang=node["g"], normalize=False)


class TemplateFile:
    """Query templates of one store (see the module docstring); thread-safe."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db: sqlite3.Connection | None = None
        self._lock = threading.Lock()
        self._broken = False
        self._known: set[str] = set()  # in the file: read from it or written by this process

    def get(self, template: str) -> SyntaxTree | None:
        """The tree kept for ``template``, or None."""
        with self._lock:
            db = self._open()
            if db is None:
                return None
            try:
                row = db.execute("SELECT tree FROM template WHERE text = ?", (template,)).fetchone()
            except sqlite3.Error as exc:
                self._fail(exc)
                return None
        if row is None:
            return None
        try:
            tree = decode_tree(row[0])
        except (ValueError, KeyError, TypeError) as exc:  # a row damaged outside eokg
            log.warning("query template cache %s: an unreadable row is ignored: %s", self.path, exc)
            return None
        with self._lock:
            self._known.add(template)
        return tree

    def put(self, template: str, tree: SyntaxTree) -> None:
        """Keep ``tree`` for ``template`` (silently not, when it cannot be)."""
        if template in self._known:
            return
        try:
            encoded = encode_tree(tree)
        except Unencodable:
            self._known.add(template)  # asked again on every hit otherwise
            return
        with self._lock:
            db = self._open()
            if db is None:
                return
            try:
                with db:
                    db.execute(
                        "INSERT OR REPLACE INTO template (text, tree) VALUES (?, ?)",
                        (template, encoded),
                    )
                    dropped = db.execute(
                        "DELETE FROM template WHERE rowid <= (SELECT max(rowid) FROM template) - ?",
                        (MAX_TEMPLATES,),
                    ).rowcount
                if dropped:
                    self._known.clear()  # which of them went is not worth tracking
                self._known.add(template)
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc):
                    self._fail(exc)
                # another process is writing: this template is kept next time
            except sqlite3.Error as exc:
                self._fail(exc)

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def _open(self) -> sqlite3.Connection | None:
        if self._db is not None or self._broken:
            return self._db
        try:
            db = sqlite3.connect(self.path, timeout=0.05, check_same_thread=False)
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = OFF")  # a cache: a lost row is parsed again
            with db:
                db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
                db.execute(
                    "CREATE TABLE IF NOT EXISTS template"
                    " (text TEXT PRIMARY KEY, tree TEXT NOT NULL)"
                )
                stamp = _stamp()
                row = db.execute("SELECT value FROM meta WHERE key = 'version'").fetchone()
                if row is None or row[0] != stamp:
                    db.execute("DELETE FROM template")
                    db.execute("INSERT OR REPLACE INTO meta VALUES ('version', ?)", (stamp,))
        except sqlite3.Error as exc:
            self._fail(exc)
            return None
        self._db = db
        return db

    def _fail(self, exc: Exception) -> None:
        log.warning("query template cache %s is not used: %s", self.path, exc)
        self._broken = True
        if self._db is not None:
            self._db.close()
            self._db = None


def _stamp() -> str:
    import rdflib

    return f"codec {CODEC_VERSION}, rdflib {rdflib.__version__}"
