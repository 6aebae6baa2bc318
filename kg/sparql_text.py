"""Just enough SPARQL syntax to find spatial filters and rewrite them in place.

A full parse (rdflib's) costs tens of milliseconds and cannot give back the
query text; the rewriter only needs tokens with their offsets, the prefixes,
and the structure of each ``{ }`` group: its triple statements, its FILTERs and
which variables occur inside nested constructs.  Anything this module does not
understand is marked opaque, and the rewriter then leaves the query alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<comment>\#[^\n]*)
  | (?P<iri><[^<>"{}|^`\\\x00-\x20]*>)
  | (?P<string>\"\"\"(?:[^"\\]|\\.|"(?!""))*\"\"\"|'''(?:[^'\\]|\\.|'(?!''))*'''
               |"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
  | (?P<var>[?$][A-Za-z0-9_\u00B7-\uFFFF]+)
  | (?P<lang>@[A-Za-z]+(?:-[A-Za-z0-9]+)*)
  | (?P<dt>\^\^)
  | (?P<number>[+-]?(?:\d+\.\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?|\d+(?:[eE][+-]?\d+)?))
  | (?P<bnode>_:[A-Za-z0-9_\-.\u00B7-\uFFFF]*)
  | (?P<pname>(?:[A-Za-z\u00C0-\uFFFF][A-Za-z0-9_\-.\u00B7-\uFFFF]*)?:
               (?:[A-Za-z0-9_\-.:%\u00B7-\uFFFF]|\\.)*)
  | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>&&|\|\||!=|<=|>=|[{}()\[\];,.*=<>!+\-/|^?])
  | (?P<other>.)
    """,
    re.VERBOSE | re.DOTALL,
)

TERM_KINDS = frozenset({"iri", "pname", "var", "string", "number", "bnode"})
_GROUP_KEYWORDS = frozenset({"OPTIONAL", "MINUS", "GRAPH", "SERVICE", "UNION", "BIND", "VALUES"})


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    start: int
    end: int


def tokenize(text: str) -> list[Token]:
    """Tokens without whitespace and comments; a trailing '.' is split off prefixed names."""
    tokens: list[Token] = []
    for match in _TOKEN.finditer(text):
        kind = match.lastgroup or "other"
        if kind in ("ws", "comment"):
            continue
        value = match.group()
        start, end = match.span()
        if kind in ("pname", "bnode") and value.endswith(".") and not value.endswith("\\."):
            stripped = value.rstrip(".")
            tokens.append(Token(kind, stripped, start, start + len(stripped)))
            for i in range(start + len(stripped), end):
                tokens.append(Token("op", ".", i, i + 1))
            continue
        if kind == "word" and value.upper() in ("TRUE", "FALSE"):
            kind = "bool"
        tokens.append(Token(kind, value, start, end))
    return tokens


def is_word(token: Token, *words: str) -> bool:
    """``token`` is one of the keywords ``words`` (given upper case), in any case."""
    return token.kind == "word" and token.text.upper() in words


def matching(tokens: list[Token], open_index: int) -> int:
    """Index of the bracket closing the one at ``open_index``."""
    pairs = {"{": "}", "(": ")", "[": "]"}
    opener = tokens[open_index].text
    closer = pairs[opener]
    depth = 0
    for i in range(open_index, len(tokens)):
        text = tokens[i].text
        if tokens[i].kind != "op":
            continue
        if text == opener:
            depth += 1
        elif text == closer:
            depth -= 1
            if depth == 0:
                return i
    raise ValueError("unbalanced brackets")


@dataclass
class Term:
    """One RDF term as written: a single token, or a literal with its datatype/lang."""

    first: int  # token indexes, inclusive
    last: int
    kind: str  # iri | pname | var | literal | number | bnode | bool | a
    text: str
    datatype: str | None = None  # resolved IRI for typed literals


@dataclass
class Triple:
    subject: Term
    verb: list[Token]  # a single token unless it is a property path
    obj: Term
    statement: tuple[int, int]  # token span of the whole statement (inclusive)
    standalone: bool  # the statement is exactly this one triple


@dataclass
class Filter:
    keyword: int  # index of the FILTER token
    first: int  # expression tokens, inclusive
    last: int


@dataclass
class Group:
    """One ``{ }`` group: the direct triples and filters, and what else it holds."""

    open: int
    close: int
    triples: list[Triple] = field(default_factory=list)
    filters: list[Filter] = field(default_factory=list)
    children: list[Group] = field(default_factory=list)
    # GRAPH blocks: their direct triples bind as surely as the group's own
    graph_groups: list[Group] = field(default_factory=list)
    # variables occurring in nested groups, BIND, VALUES or opaque statements
    nested_vars: set[str] = field(default_factory=set)
    opaque: bool = False  # something here was not understood


class Query:
    """A tokenized query with its prologue resolved and its groups scanned."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.prefixes: dict[str, str] = {}
        self.form: str | None = None
        self.where: Group | None = None
        self._read_prologue()

    def _read_prologue(self) -> None:
        toks = self.tokens
        i = 0
        while i < len(toks):
            upper = toks[i].text.upper()
            if upper == "PREFIX" and i + 2 < len(toks):
                name = toks[i + 1].text
                self.prefixes[name[:-1] if name.endswith(":") else name] = toks[i + 2].text[1:-1]
                i += 3
                continue
            if upper == "BASE":
                i += 2
                continue
            if upper in ("SELECT", "ASK", "CONSTRUCT", "DESCRIBE"):
                self.form = upper
            break
        if self.form in ("SELECT", "ASK"):
            for j in range(i, len(toks)):
                if toks[j].kind == "op" and toks[j].text == "{":
                    self.where = self._scan_group(j)
                    break

    def resolve(self, token: Token) -> str | None:
        """Absolute IRI of an IRI or prefixed-name token."""
        if token.kind == "iri":
            return token.text[1:-1]
        if token.kind == "pname":
            prefix, _, local = token.text.partition(":")
            base = self.prefixes.get(prefix)
            return None if base is None else base + re.sub(r"\\(.)", r"\1", local)
        return None

    # --- group scanning ------------------------------------------------------------------

    def _scan_group(self, open_index: int) -> Group:
        toks = self.tokens
        close = matching(toks, open_index)
        group = Group(open_index, close)
        i = open_index + 1
        while i < close:
            tok = toks[i]
            upper = tok.text.upper() if tok.kind == "word" else ""
            if tok.kind == "op" and tok.text == ".":
                i += 1
            elif upper == "FILTER":
                i = self._scan_filter(group, i)
            elif tok.kind == "op" and tok.text == "{":
                child = self._scan_group(i)
                group.children.append(child)
                group.nested_vars |= self._vars(i, child.close)
                i = child.close + 1
            elif upper in _GROUP_KEYWORDS:
                i = self._skip_construct(group, i, close)
            elif tok.kind in TERM_KINDS or tok.kind == "bool" or tok.text in ("[", "("):
                i = self._scan_statement(group, i, close)
            else:
                group.opaque = True
                i += 1
        return group

    def _vars(self, first: int, last: int) -> set[str]:
        return {t.text[1:] for t in self.tokens[first : last + 1] if t.kind == "var"}

    def _skip_construct(self, group: Group, i: int, close: int) -> int:
        """Skip OPTIONAL/MINUS/GRAPH/SERVICE/BIND/VALUES, noting their variables."""
        toks = self.tokens
        start = i
        j = i + 1
        while j < close and not (toks[j].kind == "op" and toks[j].text in ("{", "(")):
            j += 1
        if j >= close:
            group.opaque = True
            return close
        end = matching(toks, j)
        if toks[start].text.upper() == "VALUES" and toks[j].text == "(":
            k = end + 1
            end = matching(toks, k) if k < close and toks[k].text == "{" else end
        elif toks[start].text.upper() == "VALUES" and toks[j].text == "{":
            pass
        if toks[j].text == "{":
            child = self._scan_group(j)
            group.children.append(child)
            if toks[start].text.upper() == "GRAPH" and j == start + 2 and not child.opaque:
                group.graph_groups.append(child)
                group.nested_vars |= self._vars(start, j - 1) | child.nested_vars
                for flt in child.filters:
                    group.nested_vars |= self._vars(flt.first, flt.last)
                return end + 1
        group.nested_vars |= self._vars(start, end)
        return end + 1

    def _scan_filter(self, group: Group, i: int) -> int:
        toks = self.tokens
        j = i + 1
        if j < len(toks) and toks[j].text == "(":
            end = matching(toks, j)
            group.filters.append(Filter(i, j + 1, end - 1))
            return end + 1
        # FILTER fn(...), FILTER EXISTS {...}, FILTER regex(...)
        k = j
        while k < group.close and toks[k].text not in ("(", "{"):
            k += 1
        if k >= group.close:
            group.opaque = True
            return group.close
        end = matching(toks, k)
        if toks[k].text == "{":
            group.children.append(self._scan_group(k))
        group.filters.append(Filter(i, j, end))
        return end + 1

    def _term(self, i: int, end: int) -> Term | None:
        """Parse one term at ``i``; None for blank node brackets and collections."""
        toks = self.tokens
        tok = toks[i]
        if tok.kind == "string":
            last = i
            datatype = None
            if i + 2 <= end and toks[i + 1].kind == "dt":
                datatype = self.resolve(toks[i + 2])
                last = i + 2
            elif i + 1 <= end and toks[i + 1].kind == "lang":
                last = i + 1
            text = self.text[tok.start : toks[last].end]
            return Term(i, last, "literal", text, datatype)
        if tok.kind in ("iri", "pname", "var", "number", "bnode", "bool"):
            return Term(i, i, tok.kind, tok.text)
        if tok.kind == "word" and tok.text == "a":
            return Term(i, i, "a", "a")
        return None

    def _scan_statement(self, group: Group, i: int, close: int) -> int:
        """One TriplesSameSubjectPath up to '.', a keyword or the group's end."""
        toks = self.tokens
        stop = i
        depth = 0
        while stop < close:
            tok = toks[stop]
            if tok.kind == "op" and tok.text in ("(", "["):
                depth += 1
            elif tok.kind == "op" and tok.text in (")", "]"):
                depth -= 1
            elif depth == 0 and (
                (tok.kind == "op" and tok.text in (".", "{"))
                or (tok.kind == "word" and tok.text.upper() in _GROUP_KEYWORDS | {"FILTER"})
            ):
                break
            stop += 1
        last = stop - 1
        triples = self._triples(i, last)
        if triples is None:
            group.nested_vars |= self._vars(i, last)
        else:
            standalone = len(triples) == 1
            for subject, verb, obj in triples:
                group.triples.append(Triple(subject, verb, obj, (i, last), standalone))
        return stop

    def _triples(self, i: int, last: int) -> list[tuple[Term, list[Token], Term]] | None:
        toks = self.tokens
        subject = self._term(i, last)
        if subject is None:
            return None
        out = []
        j = subject.last + 1
        while j <= last:
            verb_start = j
            # a verb is one token, or a path up to the first object term
            if toks[j].text == "(":
                j = matching(toks, j) + 1
            else:
                j += 1
            while j <= last and toks[j].kind == "op" and toks[j].text in "/|^*+?":
                j += 1
                if j <= last and toks[j].text == "(":
                    j = matching(toks, j) + 1
                elif (j <= last and toks[j].kind in ("iri", "pname")) or (
                    j <= last and toks[j].text == "a"
                ):
                    j += 1
            verb = toks[verb_start:j]
            while True:
                if j > last:
                    return None
                obj = self._term(j, last)
                if obj is None:
                    return None
                out.append((subject, verb, obj))
                j = obj.last + 1
                if j <= last and toks[j].text == ",":
                    j += 1
                    continue
                break
            if j <= last and toks[j].text == ";":
                while j <= last and toks[j].text == ";":
                    j += 1
                continue
            if j <= last:
                return None
        return out or None
