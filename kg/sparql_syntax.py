"""SPARQL 1.1 queries parsed once into a syntax tree, and written back as text.

The planner (``planner``) needs the query's real structure (groups, triples
with property paths, filters, subqueries, EXISTS) and must hand Oxigraph a
query text again after it has injected index answers.  rdflib's SPARQL parser
gives a full SPARQL 1.1 parse tree; its algebra loses the group structure that
decides filter scope and its ``translateAlgebra`` does not round-trip, so this
module writes the *parse tree* back, node by node, with every IRI resolved
against the prologue.  A tree written back parses to the same query.

Before any text reaches a parser, ``check_limits`` bounds its size and bracket
nesting: pyoxigraph's recursive-descent parser overflows its stack (killing the
process) on a few thousand nested parentheses, and pyparsing hits Python's
recursion limit much earlier.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from eokg.errors import QueryError, RequestTooLarge

#: Deepest bracket nesting accepted; real queries stay far below.
MAX_NESTING = 64
#: Longest query text accepted (VALUES blocks of a few thousand IRIs fit).
MAX_QUERY_CHARS = 2_000_000
#: Most expression operators (||, &&, !, +, -, *, /) in one request.  Oxigraph's parser
#: recurses once per operator of a chain: between 6,000 and 12,000 of them (``1+1+...``
#: in a 16 kB query) overflow a thread's stack and kill the server with SIGSEGV.
MAX_OPERATORS = 4_000
_OPERATORS = re.compile(r"\|\||&&|!(?!=)|[+*/]|(?<![A-Za-z_])-|-(?![A-Za-z_])")
_GEO_HINTS = ("opengis.net/ont/geosparql", "opengis.net/def/function/geosparql")
_STRINGS_AND_IRIS = re.compile(
    r'"""(?:[^"\\]|\\.|"(?!""))*"""'
    r"|'''(?:[^'\\]|\\.|'(?!''))*'''"
    r'|"(?:[^"\\\n]|\\.)*"'
    r"|'(?:[^'\\\n]|\\.)*'"
    r"|<[^<>\"{}|^`\\\x00-\x20]*>|#[^\n]*",
    re.DOTALL,
)
_parse_lock = threading.Lock()  # pyparsing's packrat cache is not thread-safe


def check_limits(text: str, *, where: str = "query") -> None:
    """Refuse oversized or too deeply nested text before any parser sees it."""
    if len(text) > MAX_QUERY_CHARS:
        raise RequestTooLarge(
            f"the query has {len(text)} characters, more than the {MAX_QUERY_CHARS} allowed",
            where=where,
        )
    code = _STRINGS_AND_IRIS.sub(" ", text)
    operators = sum(1 for _ in _OPERATORS.finditer(code))
    if operators > MAX_OPERATORS:
        raise QueryError(
            f"{operators} expression operators, more than the {MAX_OPERATORS} allowed",
            where=where,
        )
    depth = deepest = 0
    for char in code:
        if char in "({[":
            depth += 1
            deepest = max(deepest, depth)
            if deepest > MAX_NESTING:
                raise QueryError(f"brackets nested more than {MAX_NESTING} deep", where=where)
        elif char in ")}]":
            depth -= 1


def mentions_geosparql(text: str) -> bool:
    """Cheap test: a query naming no GeoSPARQL IRI needs no spatial planning."""
    return any(hint in text for hint in _GEO_HINTS)


@dataclass
class Prologue:
    base: str | None = None
    prefixes: dict[str, str] = field(default_factory=dict)

    def resolve(self, node: Any) -> str:
        """The absolute IRI of an ``iri``/``pname`` node."""
        from rdflib import URIRef

        if isinstance(node, URIRef):
            return self.absolute(str(node))
        prefix = _get(node, "prefix") or ""
        if prefix not in self.prefixes:
            raise QueryError(f"undeclared prefix {prefix!r}", where=f"{prefix}:")
        return self.prefixes[prefix] + _unescape_local(_get(node, "localname") or "")

    def absolute(self, iri: str) -> str:
        if self.base and not re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", iri):
            from urllib.parse import urljoin

            if iri.startswith("#"):  # urljoin drops an empty fragment; RFC 3986 keeps "#"
                return self.base.split("#", 1)[0] + iri
            return urljoin(self.base, iri)
        return iri


def _unescape_local(local: str) -> str:
    return re.sub(r"\\(.)", r"\1", local)


@dataclass
class SyntaxTree:
    """A parsed query: its prologue and the query node (SelectQuery, AskQuery, ...)."""

    prologue: Prologue
    query: Any

    @property
    def form(self) -> str:
        return str(self.query.name).removesuffix("Query").upper()


class TemplateSource(Protocol):
    """A persistent tier of the template cache (``template_cache.TemplateFile``)."""

    def get(self, template: str) -> SyntaxTree | None: ...

    def put(self, template: str, tree: SyntaxTree) -> None: ...


#: Parsed queries kept (pristine; callers get a copy): an endpoint sees the same
#: few query texts again and again, and rdflib's parse is most of a planned query.
PARSE_CACHE_SIZE = 256
#: Longer texts are parsed every time (a cache of huge VALUES blocks is memory wasted).
PARSE_CACHE_MAX_CHARS = 32_768
_cache: OrderedDict[str, SyntaxTree] = OrderedDict()
_cache_lock = threading.Lock()


def parse_query(text: str, templates: TemplateSource | None = None) -> SyntaxTree:
    """Parse ``text``; a syntax error is a ``QueryError`` with line and column.

    Each call returns a tree of its own, which the planner may rewrite in place.
    Trees are cached by *template*: the text with its plain string literals (WKT
    and GeoJSON constants, names) replaced by placeholders, so the same query
    asked with another polygon is a cache hit. A hit is a structural copy of the
    pristine template tree with the literals filled in, about 50x cheaper than
    rdflib's parse.  ``templates`` is a second, persistent tier (a store's
    ``template_cache.TemplateFile``) asked before rdflib's parser runs.
    """
    check_limits(text)
    template, values = _template(text)
    if len(template) > PARSE_CACHE_MAX_CHARS:
        return _parse(text)
    with _cache_lock:
        hit = _cache.get(template)
        if hit is not None:
            _cache.move_to_end(template)
    if hit is not None:
        if templates is not None:  # parsed for another store, or before this one opened
            templates.put(template, hit)
    else:
        hit = templates.get(template) if templates is not None else None
        if hit is None:
            try:
                hit = _parse(template)
            except QueryError:
                if not values:
                    raise
                return _parse(text)  # positions in the template's error would be off
            if templates is not None:
                templates.put(template, hit)
        with _cache_lock:
            _cache[template] = hit
            while len(_cache) > PARSE_CACHE_SIZE:
                _cache.popitem(last=False)
    return _clone_tree(hit, values)


_STRING_TOKENS = re.compile(
    r'"""(?P<l2>(?:[^"\\]|"(?!""))*)"""'
    r"|'''(?P<l1>(?:[^'\\]|'(?!''))*)'''"
    r'|"(?P<s2>[^"\\\n\r]*)"'
    r"|'(?P<s1>[^'\\\n\r]*)'"
    r'|"(?:[^"\\\n]|\\.)*"|\'(?:[^\'\\\n]|\\.)*\''
    r"|<[^<>\"{}|^`\\\x00-\x20]*>|#[^\n]*",
    re.DOTALL,
)
_PLACEHOLDER = "\x01eokg{}\x01"


def _template(text: str) -> tuple[str, dict[str, str]]:
    """``text`` with escape-free string literals as placeholders, and their values."""
    if "\x01" in text:
        return text, {}
    values: dict[str, str] = {}

    def replace(match: re.Match[str]) -> str:
        groups = match.groupdict()
        value = next((v for v in groups.values() if v is not None), None)
        if value is None:  # an IRI, a comment or a string with escapes: kept as written
            return match.group(0)
        key = _PLACEHOLDER.format(len(values))
        values[key] = value
        return f'"{key}"'

    return _STRING_TOKENS.sub(replace, text), values


_WARM_QUERY = """PREFIX geo: <http://www.opengis.net/ont/geosparql#>
PREFIX geof: <http://www.opengis.net/def/function/geosparql/>
SELECT ?f (COUNT(?w) AS ?n) WHERE {
  ?f a geo:Feature ; geo:hasGeometry/geo:asWKT ?w .
  OPTIONAL { ?f <http://ex/p> ?o } MINUS { ?f <http://ex/q> 1 }
  FILTER(geof:sfIntersects(?w, "POINT(1 2)"^^geo:wktLiteral) && ?o != "x"@en)
} GROUP BY ?f ORDER BY DESC(?n) LIMIT 10"""
_WARM_UPDATE = 'INSERT DATA { <http://ex/s> <http://ex/p> "o" }'
_warm = False


def warm_up() -> None:
    """Prepare rdflib's SPARQL grammar now instead of in the first request.

    pyparsing streamlines a grammar on its first parse (about 15 ms for SPARQL's)
    and pays more for each construct's first use; a server calls this at startup so
    that its first query, after a restart, costs what later ones do.  Once per process.
    """
    global _warm
    if _warm:
        return
    from rdflib.plugins.sparql import parser

    with _parse_lock:
        parser.parseQuery(_WARM_QUERY)
        parser.parseUpdate(_WARM_UPDATE)
    _warm = True


def clear_parse_cache() -> None:
    """Forget cached parses (tests; nothing else needs it: trees depend on text only)."""
    with _cache_lock:
        _cache.clear()


def _parse(text: str) -> SyntaxTree:
    import pyparsing
    from rdflib.plugins.sparql import parser

    check_limits(text)
    try:
        with _parse_lock:
            raw = parser.parseQuery(text)
    except pyparsing.ParseException as exc:
        raise QueryError(
            f"syntax error at line {exc.lineno}, column {exc.col}: {exc.msg}",
            where=f"query:{exc.lineno}:{exc.col}",
            line=exc.lineno,
            column=exc.col,
        ) from None
    except RecursionError:
        raise QueryError("the query is nested too deeply", where="query") from None
    except Exception as exc:  # rdflib raises plain exceptions for some errors
        raise QueryError(f"cannot parse the query: {exc}", where="query") from None
    prologue = Prologue()
    for decl in raw[0]:
        if decl.name == "Base":
            prologue.base = prologue.absolute(str(decl["iri"]))
        elif decl.name == "PrefixDecl":
            prologue.prefixes[_get(decl, "prefix") or ""] = prologue.absolute(str(decl["iri"]))
    return SyntaxTree(prologue, _clone(raw[1]))


def _clone_tree(tree: SyntaxTree, values: dict[str, str] | None = None) -> SyntaxTree:
    prologue = Prologue(tree.prologue.base, dict(tree.prologue.prefixes))
    return SyntaxTree(prologue, _clone(tree.query, values or {}))


def _clone(node: Any, values: dict[str, str] | None = None) -> Any:
    """A copy of a parse tree's containers; leaves (rdflib terms, strings) are shared.

    ``copy.deepcopy`` cannot rebuild rdflib's ``CompValue``. pyparsing's
    ``ParseResults`` become plain lists: every reader here treats both alike
    (``_is_seq``) and uses no named results inside them.
    """
    import pyparsing
    from rdflib import Literal
    from rdflib.plugins.sparql.parserutils import CompValue

    if isinstance(node, CompValue):
        copy = CompValue(node.name)
        for key, value in dict.items(node):
            OrderedDict.__setitem__(copy, key, _clone(value, values))
        return copy
    if isinstance(node, list | pyparsing.ParseResults):
        return [_clone(item, values) for item in node]
    if values and isinstance(node, Literal) and str(node) in values:
        return Literal(values[str(node)])
    return node


# --- writing ------------------------------------------------------------------------------


class Writer:
    """Writes a parse tree back as SPARQL, IRIs absolute, blank nodes as labels."""

    def __init__(self, prologue: Prologue) -> None:
        self.p = prologue
        # In patterns a blank node is an existential variable; written as one it
        # may cross the group boundaries the planner adds.  Templates keep them.
        self.in_template = False

    # terms ------------------------------------------------------------------------------

    def term(self, node: Any) -> str:
        from rdflib import BNode, Literal, URIRef, Variable
        from rdflib.namespace import RDF

        if isinstance(node, Variable):
            return f"?{node}"
        if isinstance(node, BNode):
            return f"_:{node}" if self.in_template else f"?eokg_b{node}"
        if isinstance(node, URIRef):
            if node == RDF.nil:
                return "()"
            return f"<{self.p.absolute(str(node))}>"
        if isinstance(node, Literal):
            return str(node.n3())
        name = getattr(node, "name", None)
        if name == "pname":
            return f"<{self.p.resolve(node)}>"
        if name == "literal":
            return self.literal(node)
        if isinstance(node, str) and node == "UNDEF":
            return "UNDEF"
        raise QueryError(f"cannot write term {node!r}", where="planner")

    def literal(self, node: Any) -> str:
        from rdflib import Literal

        value = str(node["string"])
        if _get(node, "lang"):
            return str(Literal(value, lang=node["lang"]).n3())
        if _get(node, "datatype") is not None:
            return Literal(value).n3().rstrip() + f"^^<{self.iri(node['datatype'])}>"
        return str(Literal(value).n3())

    def iri(self, node: Any) -> str:
        return self.p.resolve(node)

    # paths ------------------------------------------------------------------------------

    def path(self, node: Any) -> str:
        from rdflib import URIRef, Variable

        if isinstance(node, Variable | URIRef) or getattr(node, "name", None) == "pname":
            return self.term(node)
        name = node.name
        if name == "PathAlternative":
            parts = [self.path(p) for p in node["part"]]
            return parts[0] if len(parts) == 1 else "(" + "|".join(parts) + ")"
        if name == "PathSequence":
            parts = [self.path(p) for p in node["part"]]
            return parts[0] if len(parts) == 1 else "(" + "/".join(parts) + ")"
        if name == "PathElt":
            inner = self.path(node["part"])
            if not _get(node, "mod"):
                return inner
            if inner[-1] in "*+?" or inner.startswith("^"):  # (p*)* is not p**
                inner = f"({inner})"
            return f"{inner}{node['mod']}"
        if name == "PathEltOrInverse":
            return f"^{self.path(node['part'])}"
        if name == "InversePath":
            if _get(node, "part") is None:  # rdflib drops the IRI of ^iri in !(...)
                raise QueryError("cannot write a negated inverse path", where="planner")
            return f"^{self.path(node['part'])}"
        if name == "PathNegatedPropertySet":
            parts = _get(node, "part")
            items = parts if _is_seq(parts) else [parts]
            return "!(" + "|".join(self.path(p) for p in items) + ")"
        if name == "DistinctPath":
            return f"DISTINCT({self.path(node['part'])})"
        raise QueryError(f"cannot write path {name}", where="planner")

    # expressions ------------------------------------------------------------------------

    def expr(self, node: Any) -> str:
        from rdflib import BNode, Literal, URIRef, Variable

        if isinstance(node, Variable | URIRef | Literal | BNode):
            return self.term(node)
        if _is_seq(node):  # ExpressionList
            return "(" + ", ".join(self.expr(e) for e in node) + ")"
        name = getattr(node, "name", None)
        if name in ("pname", "literal"):
            return self.term(node)
        if name in ("ConditionalOrExpression", "ConditionalAndExpression"):
            op = " || " if name == "ConditionalOrExpression" else " && "
            parts = [self.expr(node["expr"])] + [self.expr(o) for o in _get(node, "other") or []]
            return parts[0] if len(parts) == 1 else "(" + op.join(parts) + ")"
        if name == "RelationalExpression":
            left = self.expr(node["expr"])
            if _get(node, "op") is None:
                return left
            op = str(node["op"])
            other = node["other"]
            if op in ("IN", "NOT IN"):
                # rdflib gives an empty list as rdf:nil, a URIRef (a str: do not iterate it)
                items = ", ".join(self.expr(o) for o in other) if _is_seq(other) else ""
                return f"({left} {op} ({items}))"
            return f"({left} {op} {self.expr(other)})"
        if name in ("AdditiveExpression", "MultiplicativeExpression"):
            return self._arith(node)
        if name in ("UnaryNot", "UnaryMinus", "UnaryPlus"):
            sign = {"UnaryNot": "!", "UnaryMinus": "-", "UnaryPlus": "+"}[name]
            return f"({sign}{self.expr(node['expr'])})"
        if name == "Function":
            args = _get(node, "expr") or []
            distinct = "DISTINCT " if _get(node, "distinct") else ""
            return f"<{self.iri(node['iri'])}>({distinct}{', '.join(self.expr(a) for a in args)})"
        if name and name.startswith("Aggregate_"):
            return self._aggregate(node)
        if name in ("Builtin_EXISTS", "Builtin_NOTEXISTS"):
            keyword = "EXISTS" if name == "Builtin_EXISTS" else "NOT EXISTS"
            return f"{keyword} {self.group(node['graph'])}"
        if name and name.startswith("Builtin_"):
            return self._builtin(node)
        raise QueryError(f"cannot write expression {name or node!r}", where="planner")

    def _arith(self, node: Any) -> str:
        text = self.expr(node["expr"])
        ops = _get(node, "op") or []
        others = _get(node, "other") or []
        if not others:
            return text
        if len(ops) < len(others):
            # rdflib folds "?a -1" into an "other" with no operator: a signed literal
            ops = list(ops) + ["+"] * (len(others) - len(ops))
        for op, other in zip(ops, others, strict=False):
            text = f"({text} {op} {self.expr(other)})"
        return text

    def _aggregate(self, node: Any) -> str:
        keyword = node.name[len("Aggregate_") :].upper()
        if keyword == "GROUPCONCAT":
            keyword = "GROUP_CONCAT"
        distinct = "DISTINCT " if _get(node, "distinct") else ""
        arg = _get(node, "vars")
        inner = "*" if arg is None or (isinstance(arg, str) and arg == "*") else self.expr(arg)
        sep = ""
        if _get(node, "separator") is not None:
            sep = f" ; SEPARATOR={self.term(_plain(node['separator']))}"
        return f"{keyword}({distinct}{inner}{sep})"

    _ARGS = (
        "arg",
        "arg1",
        "arg2",
        "arg3",
        "text",
        "pattern",
        "replacement",
        "start",
        "length",
        "flags",
    )

    def _builtin(self, node: Any) -> str:
        keyword = node.name[len("Builtin_") :]
        keyword = {"MD": "MD5", "SHA": "SHA1"}.get(keyword, keyword)
        if keyword in ("CONCAT", "COALESCE"):
            args = _get(node, "arg")
            if args is None or isinstance(args, str):
                return f"{keyword}()"
            return keyword + self.expr(list(args))
        if keyword == "BNODE" and _get(node, "arg") is None:
            return "BNODE()"
        order = {
            "REGEX": ("text", "pattern", "flags"),
            "REPLACE": ("arg", "pattern", "replacement", "flags"),
            "SUBSTR": ("arg", "start", "length"),
        }.get(keyword, ("arg", "arg1", "arg2", "arg3"))
        args = [self.expr(_get(node, k)) for k in order if _get(node, k) is not None]
        return f"{keyword}({', '.join(args)})"

    # patterns ---------------------------------------------------------------------------

    def triples(self, flat: list[Any]) -> str:
        """Flat ``[s, p, o, s, p, o, ...]`` as ``s p o .`` statements."""
        out = []
        for i in range(0, len(flat) - 2, 3):
            s, p, o = flat[i], flat[i + 1], flat[i + 2]
            out.append(f"{self.term(s)} {self.path(p)} {self.term(o)} .")
        return " ".join(out)

    def group(self, node: Any) -> str:
        name = node.name
        if name == "SubSelect":
            return "{ " + self.select(node) + " }"
        if name != "GroupGraphPatternSub":
            raise QueryError(f"cannot write group {name}", where="planner")
        return "{ " + " ".join(self.part(p) for p in _get(node, "part") or []) + " }"

    def part(self, node: Any) -> str:
        name = node.name
        if name == "TriplesBlock":
            return self.triples(flatten(node["triples"]))
        if name == "Filter":
            return f"FILTER({self.expr(node['expr'])})"
        if name == "OptionalGraphPattern":
            return f"OPTIONAL {self.group(node['graph'])}"
        if name == "MinusGraphPattern":
            return f"MINUS {self.group(node['graph'])}"
        if name == "GroupOrUnionGraphPattern":
            return " UNION ".join(self.group(g) for g in node["graph"])
        if name == "GraphGraphPattern":
            return f"GRAPH {self.term(node['term'])} {self.group(node['graph'])}"
        if name == "ServiceGraphPattern":
            silent = "SILENT " if _get(node, "silent") else ""
            return f"SERVICE {silent}{self.term(node['term'])} {self.group(node['graph'])}"
        if name == "Bind":
            return f"BIND({self.expr(node['expr'])} AS {self.term(node['var'])})"
        if name in ("InlineData", "ValuesClause"):
            return self.values(node)
        if name == "RawText":  # text the planner injected
            return str(node["text"])
        raise QueryError(f"cannot write pattern {name}", where="planner")

    def values(self, node: Any) -> str:
        variables = list(_get(node, "var") or [])
        rows = _get(node, "value") or []
        if len(variables) == 1 and not any(_is_seq(r) for r in rows):
            body = " ".join(self.term(v) for v in rows)
            return f"VALUES {self.term(variables[0])} {{ {body} }}"
        head = " ".join(self.term(v) for v in variables)
        body = " ".join(
            "(" + " ".join(self.term(v) for v in (row if _is_seq(row) else [])) + ")"
            for row in rows
        )
        return f"VALUES ({head}) {{ {body} }}"

    # query forms ------------------------------------------------------------------------

    def select(self, node: Any, projection_override: list[str] | None = None) -> str:
        head = "SELECT "
        if _get(node, "modifier"):
            head += f"{node['modifier']} "
        if projection_override is not None:
            head += " ".join(projection_override) or "*"
        elif _get(node, "projection"):
            items = []
            for item in node["projection"]:
                if _get(item, "var") is not None:
                    items.append(self.term(item["var"]))
                else:
                    items.append(f"({self.expr(item['expr'])} AS {self.term(item['evar'])})")
            head += " ".join(items)
        else:
            head += "*"
        return (
            head + self.dataset(node) + " WHERE " + self.group(node["where"]) + self.modifiers(node)
        )

    def dataset(self, node: Any) -> str:
        out = ""
        for clause in _get(node, "datasetClause") or []:
            if _get(clause, "default") is not None:
                out += f" FROM <{self.iri(clause['default'])}>"
            else:
                out += f" FROM NAMED <{self.iri(clause['named'])}>"
        return out

    def modifiers(self, node: Any) -> str:
        out = ""
        if _get(node, "groupby") is not None:
            conds = []
            for cond in node["groupby"]["condition"]:
                if getattr(cond, "name", None) == "GroupAs":
                    alias = f" AS {self.term(cond['var'])}" if _get(cond, "var") is not None else ""
                    conds.append(f"({self.expr(cond['expr'])}{alias})")
                else:
                    conds.append(self.expr(cond))
            out += " GROUP BY " + " ".join(conds)
        if _get(node, "having") is not None:
            out += " HAVING " + " ".join(f"({self.expr(c)})" for c in node["having"]["condition"])
        if _get(node, "orderby") is not None:
            conds = []
            for cond in node["orderby"]["condition"]:
                text = self.expr(cond["expr"])
                conds.append(f"{cond['order']}({text})" if _get(cond, "order") else f"({text})")
            out += " ORDER BY " + " ".join(conds)
        limits = _get(node, "limitoffset")
        if limits is not None:
            if _get(limits, "limit") is not None:
                out += f" LIMIT {limits['limit']}"
            if _get(limits, "offset") is not None:
                out += f" OFFSET {limits['offset']}"
        if _get(node, "valuesClause") is not None:
            out += " " + self.values(node["valuesClause"])
        return out

    def template(self, node: Any) -> str:
        self.in_template = True
        try:
            return self.triples(flatten(_get(node, "template") or []))
        finally:
            self.in_template = False

    def query(self, tree: SyntaxTree, projection_override: list[str] | None = None) -> str:
        # IRIs are written absolute, but IRI("x") and URI("x") resolve against BASE.
        base = f"BASE <{tree.prologue.base}>\n" if tree.prologue.base else ""
        return base + self._query(tree, projection_override)

    def _query(self, tree: SyntaxTree, projection_override: list[str] | None = None) -> str:
        node = tree.query
        name = node.name
        if name == "SelectQuery":
            return self.select(node, projection_override)
        if name == "AskQuery":
            return (
                "ASK"
                + self.dataset(node)
                + " WHERE "
                + self.group(node["where"])
                + (self.modifiers(node))
            )
        if name == "ConstructQuery":
            where = _get(node, "where")
            if getattr(where, "name", None) == "FakeGroupGraphPatten":  # CONSTRUCT WHERE {...}
                template = " ".join(self.part(p) for p in _get(where, "part") or [])
                return f"CONSTRUCT{self.dataset(node)} WHERE {{ {template} }}" + self.modifiers(
                    node
                )
            template = self.template(node)
            return (
                f"CONSTRUCT {{ {template} }}{self.dataset(node)} WHERE "
                + self.group(node["where"])
                + self.modifiers(node)
            )
        if name == "DescribeQuery":
            targets = _get(node, "var") or []
            head = "DESCRIBE " + (" ".join(self.term(t) for t in targets) or "*")
            where = " WHERE " + self.group(node["where"]) if _get(node, "where") is not None else ""
            return head + self.dataset(node) + where + self.modifiers(node)
        raise QueryError(f"cannot write {name}", where="planner")


def _get(node: Any, key: str) -> Any:
    """A parse-tree field or None (``CompValue.get`` returns the key itself when absent)."""
    return dict.get(node, key) if isinstance(node, dict) else None


def _is_seq(value: Any) -> bool:
    import pyparsing

    return isinstance(value, list | pyparsing.ParseResults)


def _plain(value: Any) -> Any:
    from rdflib import Literal

    return value if isinstance(value, Literal) else Literal(str(value))


def flatten(triples: Any) -> list[Any]:
    """A TriplesBlock's ``triples`` (a list of flat s-p-o lists) as one flat list."""
    out: list[Any] = []
    for item in triples:
        if _is_seq(item):
            out.extend(item)
        else:
            out.append(item)
    return out


def write(tree: SyntaxTree, projection_override: list[str] | None = None) -> str:
    """The query text of ``tree`` (absolute IRIs, no prologue needed)."""
    return Writer(tree.prologue).query(tree, projection_override)


def raw_part(text: str) -> Any:
    """A group part holding literal SPARQL text (an injected VALUES block, a union)."""
    from rdflib.plugins.sparql.parserutils import CompValue

    return CompValue("RawText", text=text)


#: Parts whose groups are evaluated against another active graph (GRAPH) or per
#: outer solution (EXISTS): what holds over the query's dataset may not hold there.
_SCOPING = frozenset({"GraphGraphPattern", "Builtin_EXISTS", "Builtin_NOTEXISTS"})


def scoped_groups(node: Any, inside: bool = False) -> set[int]:
    """``id``s of the GroupGraphPatternSubs under a GRAPH, EXISTS or NOT EXISTS."""
    from rdflib.plugins.sparql.parserutils import CompValue

    found: set[int] = set()
    if isinstance(node, CompValue):
        if inside and node.name == "GroupGraphPatternSub":
            found.add(id(node))
        inside = inside or node.name in _SCOPING
        for key, value in node.items():
            if key != "_vars":
                found |= scoped_groups(value, inside)
    elif _is_seq(node):
        for value in node:
            found |= scoped_groups(value, inside)
    return found


def walk_groups(node: Any) -> Iterator[Any]:
    """Every GroupGraphPatternSub under ``node``, outermost first (EXISTS and subqueries too)."""
    from rdflib.plugins.sparql.parserutils import CompValue

    if isinstance(node, CompValue):
        if node.name == "GroupGraphPatternSub":
            yield node
        if node.name == "ServiceGraphPattern":
            return  # evaluated remotely: its patterns are not ours to plan
        for key, value in node.items():
            if key != "_vars":
                yield from walk_groups(value)
    elif _is_seq(node):
        for value in node:
            yield from walk_groups(value)
