"""XML logical sources (``rml:XPath``): an XPath 1.0 subset over the standard library.

The iterator and the references are XPath 1.0 expressions; a reference is
evaluated with the iterated element as its context node and every node it
selects gives one value (RML-Core: several results, several terms).  The
value of an element is its string-value (all its descendant text), of an
attribute or a text node its text.

What is evaluated (anything else is refused when the mapping is read, naming
the expression): location paths, absolute or relative, with ``/`` and ``//``;
the axes ``child``, ``attribute`` (``@``), ``self`` (``.``), ``parent``
(``..``), ``descendant``, ``descendant-or-self``, ``ancestor``,
``ancestor-or-self``, ``following-sibling`` and ``preceding-sibling``; name
tests (``name``, ``*``, ``prefix:name``, ``prefix:*``) and the node tests
``text()`` and ``node()``; unions (``a | b``); predicates made of positions
(``[2]``, ``[last()]``, ``position() < 3``), paths (``[@lang]``),
comparisons of a path, ``position()``, a string or a number (``=``, ``!=``,
``<``, ``<=``, ``>``, ``>=``), ``and``, ``or`` and ``not(...)``.  Names are
matched as XPath 1.0 says: an unprefixed name matches elements in no
namespace; a prefix must be declared (eokg reads no ``rml:namespace`` yet, so
prefixed names are refused).  No third-party XPath engine is needed.

Streaming: when the iterator is a simple absolute path (``/a/b/c``, ``*``
steps allowed, no predicate) and no reference looks outside the iterated
element (no ``..``, ancestor or sibling axis, no absolute path), the file is
read with :func:`xml.etree.ElementTree.iterparse` and each iterated element
is evaluated as soon as it is complete, then cleared and detached, so memory
holds one record at a time.  Any other iterator (``//x``, predicates,
references to ancestors) parses the whole document first: such expressions
need nodes the stream would have dropped.

A document with a DTD (``<!DOCTYPE``) is refused, whatever it declares:
ElementTree never fetches external entities, but it expands internal ones, and
only Expat 2.4.1 and later bound how far ("billion laughs"); data needs no DTD.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from eokg.errors import MappingError
from eokg.spark.model import LogicalSource, Reference
from eokg.spark.project import ROW_COLUMN

# ------------------------------------------------------------------ the model


@dataclass(frozen=True)
class Step:
    axis: str
    #: ``name``, ``*``, ``{uri}name``, ``{uri}*``, ``text()`` or ``node()``.
    test: str
    predicates: tuple[Expr, ...] = ()


@dataclass(frozen=True)
class LocPath:
    absolute: bool
    steps: tuple[Step, ...]


@dataclass(frozen=True)
class UnionExpr:
    paths: tuple[LocPath, ...]


@dataclass(frozen=True)
class Lit:
    value: str | float


@dataclass(frozen=True)
class Call:
    name: str
    args: tuple[Expr, ...]


@dataclass(frozen=True)
class Binary:
    op: str
    left: Expr
    right: Expr


Expr = UnionExpr | LocPath | Lit | Call | Binary

_AXES = {
    "child",
    "attribute",
    "self",
    "parent",
    "descendant",
    "descendant-or-self",
    "ancestor",
    "ancestor-or-self",
    "following-sibling",
    "preceding-sibling",
}
_LOOKS_OUT = {"parent", "ancestor", "ancestor-or-self", "following-sibling", "preceding-sibling"}
_FUNCTIONS = {"last": 0, "position": 0, "not": 1}
_TOKEN = re.compile(
    r"\s*(?:(?P<num>\d+(?:\.\d*)?|\.\d+)|(?P<str>\"[^\"]*\"|'[^']*')"
    r"|(?P<op>//|::|!=|<=|>=|\.\.|[/\[\]()@|=<>.*,])"
    r"|(?P<name>[A-Za-z_][\w.\-]*(?::(?:[A-Za-z_][\w.\-]*|\*))?))"
)


class XPathUnsupported(ValueError):
    """An expression outside the subset eokg evaluates (or not XPath at all)."""


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise XPathUnsupported(f"cannot read {text[pos:].strip()!r}")
        kind = match.lastgroup or ""
        out.append((kind, match.group(kind)))
        pos = match.end()
    return out


class _Parser:
    def __init__(self, text: str, namespaces: dict[str, str]) -> None:
        self.text = text
        self.toks = _tokens(text)
        self.i = 0
        self.namespaces = namespaces

    def peek(self, offset: int = 0) -> tuple[str, str]:
        j = self.i + offset
        return self.toks[j] if j < len(self.toks) else ("end", "")

    def take(self, value: str | None = None) -> tuple[str, str]:
        tok = self.peek()
        if value is not None and tok[1] != value:
            found = tok[1] or "the end"
            raise XPathUnsupported(f"expected {value!r}, found {found!r}")
        self.i += 1
        return tok

    def parse(self) -> Expr:
        expr = self.or_expr()
        if self.peek()[0] != "end":
            raise XPathUnsupported(f"unexpected {self.peek()[1]!r}")
        return expr

    def or_expr(self) -> Expr:
        left = self.and_expr()
        while self.peek() == ("name", "or"):
            self.take()
            left = Binary("or", left, self.and_expr())
        return left

    def and_expr(self) -> Expr:
        left = self.comparison()
        while self.peek() == ("name", "and"):
            self.take()
            left = Binary("and", left, self.comparison())
        return left

    def comparison(self) -> Expr:
        left = self.union()
        while self.peek()[1] in ("=", "!=", "<", "<=", ">", ">="):
            op = self.take()[1]
            left = Binary(op, left, self.union())
        return left

    def union(self) -> Expr:
        first = self.primary()
        if self.peek()[1] != "|":
            return first
        paths = [first]
        while self.peek()[1] == "|":
            self.take()
            paths.append(self.primary())
        if not all(isinstance(p, LocPath) for p in paths):
            raise XPathUnsupported("'|' joins location paths only")
        return UnionExpr(tuple(p for p in paths if isinstance(p, LocPath)))

    def primary(self) -> Expr:
        kind, value = self.peek()
        if kind == "num":
            self.take()
            return Lit(float(value))
        if kind == "str":
            self.take()
            return Lit(value[1:-1])
        if value == "(":
            self.take()
            inner = self.or_expr()
            self.take(")")
            return inner
        if kind == "name" and self.peek(1)[1] == "(" and value not in ("text", "node"):
            if value not in _FUNCTIONS:
                raise XPathUnsupported(f"function {value}() is not evaluated by eokg")
            self.take()
            self.take("(")
            args: list[Expr] = []
            while self.peek()[1] != ")":
                args.append(self.or_expr())
                if self.peek()[1] == ",":
                    self.take()
            self.take(")")
            if len(args) != _FUNCTIONS[value]:
                raise XPathUnsupported(f"{value}() takes {_FUNCTIONS[value]} argument(s)")
            return Call(value, tuple(args))
        return self.path()

    def path(self) -> LocPath:
        steps: list[Step] = []
        absolute = False
        if self.peek()[1] in ("/", "//"):
            absolute = True
            sep = self.take()[1]
            if sep == "//":
                steps.append(Step("descendant-or-self", "node()"))
            elif not self._starts_step():
                return LocPath(True, ())  # "/" alone: the document
        steps.append(self.step())
        while self.peek()[1] in ("/", "//"):
            if self.take()[1] == "//":
                steps.append(Step("descendant-or-self", "node()"))
            steps.append(self.step())
        return LocPath(absolute, tuple(steps))

    def _starts_step(self) -> bool:
        kind, value = self.peek()
        return kind == "name" or value in (".", "..", "@", "*")

    def step(self) -> Step:
        kind, value = self.peek()
        if value == ".":
            self.take()
            return Step("self", "node()")
        if value == "..":
            self.take()
            return Step("parent", "node()")
        axis = "child"
        if value == "@":
            self.take()
            axis = "attribute"
        elif kind == "name" and self.peek(1)[1] == "::":
            axis = value
            if axis not in _AXES:
                raise XPathUnsupported(f"axis {axis}:: is not evaluated by eokg")
            self.take()
            self.take()
        kind, value = self.take()
        if value == "*":
            test = "*"
        elif kind != "name":
            raise XPathUnsupported(f"expected a name, found {value or 'the end'!r}")
        elif value in ("text", "node") and self.peek()[1] == "(":
            self.take("(")
            self.take(")")
            test = value + "()"
        else:
            test = self._qualified(value)
        predicates: list[Expr] = []
        while self.peek()[1] == "[":
            self.take()
            predicates.append(self.or_expr())
            self.take("]")
        return Step(axis, test, tuple(predicates))

    def _qualified(self, name: str) -> str:
        if ":" not in name:
            return name
        prefix, local = name.split(":", 1)
        if prefix not in self.namespaces:
            raise XPathUnsupported(f"namespace prefix {prefix!r} is not declared")
        return "{" + self.namespaces[prefix] + "}" + local


def xpath_key(text: str) -> str:
    """The key (``Reference.path[0]``) of an XPath reference: its text, with the
    characters Spark cannot have in a column name (``.`` and backticks)
    percent-encoded.  The Spark engine names its XML columns by this key."""
    return "xpath:" + text.replace("%", "%25").replace(".", "%2E").replace("`", "%60")


def compile_xpath(text: str, namespaces: dict[str, str] | None = None) -> Expr:
    """Parse ``text``; :class:`XPathUnsupported` for what eokg does not evaluate."""
    if not text.strip():
        raise XPathUnsupported("empty expression")
    return _Parser(text, namespaces or {}).parse()


def looks_outside(expr: Expr) -> bool:
    """True when ``expr`` may select nodes outside its context element's subtree."""
    if isinstance(expr, LocPath):
        return expr.absolute or any(
            s.axis in _LOOKS_OUT or any(looks_outside(p) for p in s.predicates) for s in expr.steps
        )
    if isinstance(expr, UnionExpr):
        return any(looks_outside(p) for p in expr.paths)
    if isinstance(expr, Call):
        return any(looks_outside(a) for a in expr.args)
    if isinstance(expr, Binary):
        return looks_outside(expr.left) or looks_outside(expr.right)
    return False


def stream_steps(expr: Expr) -> list[str] | None:
    """The element names of a simple absolute iterator (``/a/*/c``), else None."""
    if not isinstance(expr, LocPath) or not expr.absolute or not expr.steps:
        return None
    names = []
    for step in expr.steps:
        if step.axis != "child" or step.predicates or step.test in ("text()", "node()"):
            return None
        names.append(step.test)
    return names


# ---------------------------------------------------------------- evaluation

#: A node: an element, the document, an attribute ``(owner, name, value)`` or a
#: text node ``(owner, text)``.
Node = Any


class _Document:
    """The document node (ElementTree has none): the root element's parent."""

    def __init__(self, root: ET.Element) -> None:
        self.root = root


@dataclass(frozen=True)
class _Attr:
    owner: ET.Element
    name: str
    value: str


@dataclass(frozen=True)
class _Text:
    owner: ET.Element
    index: int
    value: str


class Evaluator:
    """Evaluates compiled expressions over one document (or one streamed record)."""

    def __init__(self, document: _Document | None) -> None:
        self.document = document
        self._parents: dict[int, ET.Element | _Document] | None = None

    def parent(self, node: Node) -> Node | None:
        if isinstance(node, (_Attr, _Text)):
            return node.owner
        if isinstance(node, _Document) or self.document is None:
            return None
        if self._parents is None:
            root = self.document.root
            self._parents = {id(root): self.document}
            for elem in root.iter():
                for child in elem:
                    self._parents[id(child)] = elem
        return self._parents.get(id(node))

    def select(self, expr: Expr, context: Node) -> list[Node]:
        if isinstance(expr, UnionExpr):
            out: list[Node] = []
            seen: set[int] = set()
            for path in expr.paths:
                for node in self.select(path, context):
                    if id(node) not in seen:
                        seen.add(id(node))
                        out.append(node)
            return out
        if not isinstance(expr, LocPath):
            raise XPathUnsupported("not a node set")
        if expr.absolute:
            if self.document is None:
                raise XPathUnsupported("an absolute path in a streamed record")
            current: list[Node] = [self.document]
        else:
            current = [context]
        for step in expr.steps:
            nxt: list[Node] = []
            seen_ids: set[int] = set()
            for node in current:
                for found in self._step(step, node):
                    key = id(found) if not isinstance(found, (_Attr, _Text)) else hash(found)
                    if key not in seen_ids:
                        seen_ids.add(key)
                        nxt.append(found)
            current = nxt
        return current

    def _step(self, step: Step, node: Node) -> list[Node]:
        candidates = [n for n in self._axis(step.axis, node) if _matches(step, n)]
        for predicate in step.predicates:
            size = len(candidates)
            candidates = [
                n
                for i, n in enumerate(candidates)
                if self._truth(predicate, n, i + 1, size, positional=True)
            ]
        return candidates

    def _axis(self, axis: str, node: Node) -> list[Node]:
        if axis == "self":
            return [node]
        if axis == "attribute":
            if isinstance(node, ET.Element):
                return [_Attr(node, k, v) for k, v in node.attrib.items()]
            return []
        if axis == "child":
            return _children(node)
        if axis in ("descendant", "descendant-or-self"):
            out = [node] if axis == "descendant-or-self" else []
            stack = list(reversed(_children(node)))
            while stack:
                n = stack.pop()
                out.append(n)
                stack.extend(reversed(_children(n)))
            return out
        if axis == "parent":
            parent = self.parent(node)
            return [parent] if parent is not None else []
        if axis in ("ancestor", "ancestor-or-self"):
            out = [node] if axis == "ancestor-or-self" else []
            current = self.parent(node)
            while current is not None:
                out.append(current)
                current = self.parent(current)
            return out
        # following-sibling / preceding-sibling (elements and text nodes)
        parent = self.parent(node)
        if parent is None or isinstance(node, _Attr):
            return []
        siblings = _children(parent)
        index = next((i for i, s in enumerate(siblings) if _same(s, node)), None)
        if index is None:
            return []
        if axis == "following-sibling":
            return siblings[index + 1 :]
        return list(reversed(siblings[:index]))

    def _truth(
        self, expr: Expr, node: Node, position: int, size: int, positional: bool = False
    ) -> bool:
        value = self._value(expr, node, position, size)
        if positional and isinstance(value, float):
            return value == position
        return _boolean(value)

    def _value(self, expr: Expr, node: Node, position: int, size: int) -> Any:
        if isinstance(expr, Lit):
            return expr.value
        if isinstance(expr, Call):
            if expr.name == "last":
                return float(size)
            if expr.name == "position":
                return float(position)
            return not self._truth(expr.args[0], node, position, size)
        if isinstance(expr, Binary):
            if expr.op == "and":
                return self._truth(expr.left, node, position, size) and self._truth(
                    expr.right, node, position, size
                )
            if expr.op == "or":
                return self._truth(expr.left, node, position, size) or self._truth(
                    expr.right, node, position, size
                )
            left = self._value(expr.left, node, position, size)
            right = self._value(expr.right, node, position, size)
            return _compare(expr.op, left, right)
        return self.select(expr, node)

    def strings(self, expr: Expr, context: Node) -> list[str]:
        """The string-value of every node ``expr`` selects from ``context``."""
        if not isinstance(expr, (LocPath, UnionExpr)):
            value = self._value(expr, context, 1, 1)
            return [_string(value)]
        return [string_value(n) for n in self.select(expr, context)]


def _children(node: Node) -> list[Node]:
    """Child nodes in document order: elements and text nodes (no comments)."""
    if isinstance(node, _Document):
        return [node.root]
    if not isinstance(node, ET.Element):
        return []
    out: list[Node] = []
    index = 0
    if node.text:
        out.append(_Text(node, index, node.text))
    for child in node:
        if isinstance(child.tag, str):  # comments and PIs have function tags
            out.append(child)
        if child.tail:
            index += 1
            out.append(_Text(node, index, child.tail))
    return out


def _same(a: Node, b: Node) -> bool:
    return a == b if isinstance(a, _Text) and isinstance(b, _Text) else a is b


def _matches(step: Step, node: Node) -> bool:
    test = step.test
    if test == "node()":
        return True
    if test == "text()":
        return isinstance(node, _Text)
    if step.axis == "attribute":
        if not isinstance(node, _Attr):
            return False
        name = node.name
    elif isinstance(node, ET.Element):
        name = node.tag
    else:
        return False
    if test == "*":
        return True
    if test.endswith("}*"):
        return name.startswith(test[:-1])
    return bool(name == test)


def string_value(node: Node) -> str:
    if isinstance(node, (_Attr, _Text)):
        return node.value
    if isinstance(node, _Document):
        return "".join(node.root.itertext())
    return "".join(node.itertext())


def _string(value: Any) -> str:
    if isinstance(value, list):
        return string_value(value[0]) if value else ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value)


def _boolean(value: Any) -> bool:
    if isinstance(value, list):
        return bool(value)
    if isinstance(value, float):
        return value != 0 and value == value
    return bool(value)


def _number(value: Any) -> float:
    text = _string(value).strip() if not isinstance(value, (bool, float)) else value
    try:
        return float(text)
    except ValueError:
        return float("nan")


def _compare(op: str, left: Any, right: Any) -> bool:
    """XPath 1.0 comparison: node sets compare if any of their members does."""
    lefts = [string_value(n) for n in left] if isinstance(left, list) else [left]
    rights = [string_value(n) for n in right] if isinstance(right, list) else [right]
    for a in lefts:
        for b in rights:
            if _compare_one(op, a, b, isinstance(left, list), isinstance(right, list)):
                return True
    return False


def _compare_one(op: str, a: Any, b: Any, a_nodes: bool, b_nodes: bool) -> bool:
    if op in ("=", "!="):
        if isinstance(a, bool) or isinstance(b, bool):
            x: Any = _boolean([a] if a_nodes else a)
            y: Any = _boolean([b] if b_nodes else b)
        elif isinstance(a, float) or isinstance(b, float):
            x, y = _number(a), _number(b)
        else:
            x, y = _string(a), _string(b)
        return bool(x == y) if op == "=" else bool(x != y)
    x, y = _number(a), _number(b)
    return {"<": x < y, "<=": x <= y, ">": x > y, ">=": x >= y}[op]


# -------------------------------------------------------------------- reading


@dataclass(frozen=True)
class XmlPlan:
    """A source's iterator and references, compiled once."""

    iterator: Expr
    refs: tuple[tuple[Reference, Expr], ...]
    #: Element names of a streamable iterator, else None (whole-document parse).
    stream: tuple[str, ...] | None
    #: One value reader per reference (a fast path for plain child paths).
    readers: tuple[Reader, ...] = ()


def xml_plan(source: LogicalSource, refs: Sequence[Reference]) -> XmlPlan:
    """Compile the iterator and references of ``source`` (MappingError if unsupported)."""
    iterator_text = source.iterator or "/*"
    iterator = checked_xpath(iterator_text, source.where, "rml:iterator")
    compiled = tuple((ref, checked_xpath(ref.text, source.where)) for ref in refs)
    steps = stream_steps(iterator)
    if any(looks_outside(expr) for _, expr in compiled):
        steps = None
    readers = tuple(value_reader(expr) for _, expr in compiled)
    return XmlPlan(iterator, compiled, tuple(steps) if steps is not None else None, readers)


#: Reads one reference's values from one iterated node.
Reader = Callable[[Evaluator, Node], list[str]]


def value_reader(expr: Expr) -> Reader:
    """The values of ``expr`` from a node; plain paths (``a/b``, ``a/@x``, ``@x``,
    ``a/text()``) go through ElementTree's own ``findall``, about 3x faster."""
    general: Reader = lambda ev, node: ev.strings(expr, node)  # noqa: E731
    if not isinstance(expr, LocPath) or expr.absolute or not expr.steps:
        return general
    *steps, last = expr.steps
    if any(s.axis != "child" or s.predicates or s.test.endswith(")") for s in steps):
        return general
    if last.predicates or last.axis not in ("child", "attribute"):
        return general
    path = "/".join(s.test for s in steps)
    if last.axis == "attribute" and not last.test.endswith("*") and last.test != "node()":
        name = last.test

        def attribute(ev: Evaluator, node: Node) -> list[str]:
            if not isinstance(node, ET.Element):
                return ev.strings(expr, node)
            owners = node.findall(path) if path else [node]
            return [v for e in owners if (v := e.get(name)) is not None]

        return attribute
    if last.axis == "child" and last.test == "text()":

        def text(ev: Evaluator, node: Node) -> list[str]:
            if not isinstance(node, ET.Element):
                return ev.strings(expr, node)
            owners = node.findall(path) if path else [node]
            return [t.value for e in owners for t in _children(e) if isinstance(t, _Text)]

        return text
    if last.axis == "child" and not last.test.endswith(")") and not last.test.endswith("}*"):
        full = f"{path}/{last.test}" if path else last.test

        def element(ev: Evaluator, node: Node) -> list[str]:
            if not isinstance(node, ET.Element):
                return ev.strings(expr, node)
            return ["".join(e.itertext()) for e in node.findall(full)]

        return element
    return general


def checked_xpath(text: str, where: str, what: str = "XPath reference") -> Expr:
    try:
        return compile_xpath(text)
    except XPathUnsupported as exc:
        raise MappingError(f"unsupported {what} {text!r}: {exc}", where=where) from None


def xml_batches(
    source: LogicalSource,
    refs: Sequence[Reference],
    batch_rows: int,
    open_bytes: Callable[[LogicalSource], Any],
    *,
    lists: bool = False,
) -> Iterator[pa.RecordBatch]:
    """Projected batches (``__row``, ``val:<ref>``) of an XML source.

    A reference that selects several nodes gives a ``list<string>`` column
    (one term each); ``lists`` makes every column ``list<string>``, for a
    fixed schema (Spark).  Values equal to a declared ``rml:null`` are dropped.
    """
    plan = xml_plan(source, refs)
    nulls = set(source.null_values)
    rows: list[list[list[str]]] = []
    first = 0
    for evaluator, element in _records(source, plan, open_bytes):
        rows.append(
            [[v for v in read(evaluator, element) if v not in nulls] for read in plan.readers]
        )
        if len(rows) >= batch_rows:
            yield _batch(plan, rows, first, lists)
            first += len(rows)
            rows = []
    if rows or first == 0:
        yield _batch(plan, rows, first, lists)


def xml_schema(refs: Sequence[Reference]) -> pa.Schema:
    """The schema of ``xml_batches(..., lists=True)``."""
    fields = [pa.field(ROW_COLUMN, pa.int64())]
    fields += [pa.field(ref.column, pa.list_(pa.string())) for ref in refs]
    return pa.schema(fields)


def _batch(plan: XmlPlan, rows: list[list[list[str]]], first: int, lists: bool) -> pa.RecordBatch:
    arrays: list[pa.Array] = [pa.array(range(first, first + len(rows)), pa.int64())]
    names = [ROW_COLUMN]
    for i, (ref, _) in enumerate(plan.refs):
        values = [row[i] for row in rows]
        if lists or any(len(v) > 1 for v in values):
            arrays.append(pa.array(values, pa.list_(pa.string())))
        else:
            arrays.append(pa.array([v[0] if v else None for v in values], pa.string()))
        names.append(ref.column)
    return pa.RecordBatch.from_arrays(arrays, names=names)


class _DtdRefused(Exception):
    """Raised from the parser's DOCTYPE callback: the document declares a DTD."""


class _Builder(ET.TreeBuilder):
    """ElementTree's builder that refuses a DTD before its declarations are read and,
    given ``events``, records ``("start" | "end", element)`` as ``iterparse`` does."""

    def __init__(self, events: list[tuple[str, ET.Element]] | None = None) -> None:
        super().__init__()
        self.events = events

    def doctype(self, name: str, pubid: str | None, system: str | None) -> None:
        raise _DtdRefused(name)

    def start(self, tag: str, attrs: dict[str, str]) -> ET.Element:
        elem = super().start(tag, attrs)
        if self.events is not None:
            self.events.append(("start", elem))
        return elem

    def end(self, tag: str) -> ET.Element:
        elem = super().end(tag)
        if self.events is not None:
            self.events.append(("end", elem))
        return elem


_CHUNK = 1 << 16


def _parse(handle: Any) -> ET.Element:
    parser = ET.XMLParser(target=_Builder())
    while chunk := handle.read(_CHUNK):
        parser.feed(chunk)
    root: ET.Element = parser.close()
    return root


def _events(handle: Any) -> Iterator[tuple[str, ET.Element]]:
    """``ET.iterparse(handle, ("start", "end"))`` with the DTD refusal of ``_Builder``."""
    events: list[tuple[str, ET.Element]] = []
    parser = ET.XMLParser(target=_Builder(events))
    while chunk := handle.read(_CHUNK):
        parser.feed(chunk)
        yield from events
        events.clear()
    parser.close()
    yield from events


def _records(
    source: LogicalSource, plan: XmlPlan, open_bytes: Callable[[LogicalSource], Any]
) -> Iterator[tuple[Evaluator, Node]]:
    try:
        with open_bytes(source) as handle:
            if plan.stream is not None:
                yield from _streamed(handle, plan.stream)
            else:
                document = _Document(_parse(handle))
                evaluator = Evaluator(document)
                for node in evaluator.select(plan.iterator, document):
                    yield evaluator, node
    except _DtdRefused:
        raise MappingError(
            f"{source.path.name} declares a DTD (<!DOCTYPE>): XML sources may not, "
            "since its entities could expand without bound",
            where=source.where,
        ) from None
    except ET.ParseError as exc:
        line, column = getattr(exc, "position", (None, None))
        raise MappingError(
            f"{source.path.name} is not well-formed XML (line {line}, column {column}): "
            f"{str(exc).split(':')[0]}",
            where=source.where,
        ) from None
    except XPathUnsupported as exc:
        raise MappingError(f"XPath: {exc}", where=source.where) from None


def _streamed(handle: Any, names: tuple[str, ...]) -> Iterator[tuple[Evaluator, Node]]:
    """Iterated elements as they complete; each is dropped once evaluated."""
    evaluator = Evaluator(None)  # references stay inside the record (checked by xml_plan)
    depth_wanted = len(names)
    stack: list[ET.Element] = []
    on_path: list[bool] = [True]
    for event, elem in _events(handle):
        if event == "start":
            depth = len(stack)
            ok = (
                on_path[-1]
                and depth < depth_wanted
                and (names[depth] == "*" or names[depth] == elem.tag)
            )
            stack.append(elem)
            on_path.append(ok)
            continue
        ok = on_path.pop()
        stack.pop()
        depth = len(stack) + 1
        if depth > depth_wanted:
            if not on_path[depth_wanted]:  # inside a subtree no record is in: drop it now
                elem.clear()
                stack[-1].remove(elem)
            continue  # inside a record: kept until the record is complete
        if ok and depth == depth_wanted:
            evaluator._parents = None
            yield evaluator, elem
        elem.clear()
        if stack:
            stack[-1].remove(elem)  # the earlier siblings are gone: this is the first child
