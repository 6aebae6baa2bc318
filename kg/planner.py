"""The GeoSPARQL planner: find spatial operators in the parsed query, answer them from the index.

Oxigraph has no spatial index, so ``FILTER(geof:sfIntersects(?w, CONST))``
scans every geometry and a filter between two geometry variables is a nested
loop.  The planner works on the query's parse tree (``sparql_syntax``), group
by group at any depth (OPTIONAL, UNION, MINUS, GRAPH, subqueries, EXISTS):

* **selections** ``rel(?w, CONST)`` and ``distance(?w, CONST, uom) < d`` become
  ``VALUES ?w { candidates }`` from the R-tree;
* **joins** ``rel(?w1, ?w2)``: the patterns that bind each side are evaluated
  first (Oxigraph, union of all graphs, so the sets are supersets of what the
  group can see), and only those literals are joined with an STRtree and
  vectorised GEOS predicates; the surviving pairs become ``VALUES (?w1 ?w2)``.
  Cost follows the two sets and the output, never the store;
* **topology properties** ``?a geo:sfX ?b`` (GeoSPARQL query rewrite
  extension) answer the union of asserted triples and computed relations;
* **RDFS entailment** of the GeoSPARQL vocabulary: ``?x a geo:Feature`` finds
  instances of subclasses (built in and declared in the store) and of the
  domain/range of GeoSPARQL properties; ``geo:hasGeometry`` includes its
  subproperties.

``?w`` counts as a geometry variable of a group when a triple of that very
group binds it through a path ending in a geometry serialization property
(``geo:asWKT`` ..., so also ``geo:hasGeometry/geo:asWKT``): then every solution
binds ``?w`` to a literal the index holds, and restricting it to the index
answer cannot change the result.  When every literal involved is CRS84/EPSG:4326
the index answer is exact and the conjunct is dropped; otherwise it stays as
the final check.  Anything not understood is left as written (always correct,
just not accelerated), and a query the planner cannot write back runs as given.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from pyoxigraph import Literal

from eokg.errors import EokgError
from eokg.kg.entailment import HIERARCHY_NAMESPACES, SUBPROPERTIES, TOPOLOGY, GeoVocabulary
from eokg.kg.functions import DISJOINT_RELATIONS, RELATIONS, relation_holds
from eokg.kg.geometry import GEOMETRY_DATATYPES, to_crs84
from eokg.kg.query_patterns import (
    conjuncts,
    constant_from_text,
    core,
    geof_call,
    geometry_object,
    in_scope,
    literal_datatype,
    needs_entailment,
    number,
    plain_iri,
    raw_vars,
    sequence_steps,
    term_iri,
    triple_text,
    vars_of,
)
from eokg.kg.sparql_syntax import (
    SyntaxTree,
    TemplateSource,
    Writer,
    _get,
    flatten,
    mentions_geosparql,
    parse_query,
    raw_part,
    scoped_groups,
    walk_groups,
)
from eokg.kg.spatial_index import parse_literals
from eokg.kg.spatial_join import (
    count_none,
    distance_box,
    tree_join,
    valid_pairs,
)
from eokg.ontologies.namespaces import GEO, GEOF, RDF


@dataclass
class Step:
    """One planned operator, for EXPLAIN."""

    operator: str
    kind: str  # selection | join | distance | property | entailment | skipped
    used_index: bool
    variables: list[str] = field(default_factory=list)
    candidates: dict[str, int] = field(default_factory=dict)
    pairs: int | None = None
    dropped_filter: bool = False
    invalid_literals: int = 0
    seconds: float = 0.0
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if v not in (None, "", [], {})}
        out["seconds"] = round(self.seconds, 6)
        return out


@dataclass
class Plan:
    """What the planner made of a query: the text to run and how it got there."""

    text: str
    original: str
    rewritten: bool = False
    has_dataset: bool = False
    parsed: bool = False
    steps: list[Step] = field(default_factory=list)
    parse_seconds: float = 0.0
    plan_seconds: float = 0.0
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "rewritten": self.rewritten,
            "parsed": self.parsed,
            "parse_seconds": round(self.parse_seconds, 6),
            "plan_seconds": round(self.plan_seconds, 6),
            "steps": [s.to_json() for s in self.steps],
            **({"note": self.note} if self.note else {}),
            **({"query": self.text} if self.rewritten and len(self.text) < 20_000 else {}),
        }


class IndexLike(Protocol):
    """What the planner needs from the spatial index (see ``spatial_index.SpatialIndex``)."""

    @property
    def exact(self) -> bool: ...

    def __len__(self) -> int: ...
    def select(self, relation: str, constant: Any, *, constant_first: bool) -> list[str]: ...
    def select_per_literal(
        self, relation: str, constant: Any, *, constant_first: bool, pad: float
    ) -> tuple[list[str], bool]: ...
    def bbox_candidates(self, bounds: tuple[float, float, float, float]) -> list[str]: ...


#: Runs a SELECT over the union of all graphs; returns rows of pyoxigraph terms.
Fetch = Callable[[str], list[list[Any]]]


# --- the query's triples, as the planner sees them -----------------------------------------


@dataclass
class _Triple:
    text: str  # SPARQL text of the pattern (a triple, or an entailment subquery)
    variables: frozenset[str]
    geometry_var: str | None = None  # object variable bound to a geometry literal
    block: int | None = None  # the group part (triples block) it is written in; None: nested
    #: The group part after which every solution binds ``variables`` (its own block, or
    #: the GRAPH / nested group it comes from); None: unknown, the group's end.
    position: int | None = None


@dataclass
class _Spatial:
    part: int  # index of the FILTER part in the group (-1: synthetic)
    conjunct: int
    kind: str  # select | join | distance
    relation: str
    var: str
    other: str | None = None
    constant: Any = None  # parsed Geom
    constant_first: bool = False
    limit: float = 0.0
    uom: str = ""


class Planner:
    """Plans one query against one index and store (``fetch``)."""

    def __init__(
        self,
        index: IndexLike,
        fetch: Fetch,
        *,
        entailment: bool = True,
        use_index: bool = True,
        union_dataset: bool = False,
        templates: TemplateSource | None = None,
    ) -> None:
        """``union_dataset``: the query will be evaluated over the union of all graphs,
        as ``fetch`` is, so a join side ``fetch`` evaluated is exactly what the
        query's patterns would give and may replace them (``_bind_join``).
        ``templates``: the store's persistent tier of the parse cache."""
        self.index = index
        self.fetch = fetch
        self.entailment = entailment
        self.use_index = use_index
        self.union_dataset = union_dataset
        self.templates = templates
        self._scoped: set[int] = set()  # groups another active graph or EXISTS scope
        self._over_union = False  # this query's dataset is the union (no FROM)
        self._fresh = itertools.count()
        self.vocab = GeoVocabulary(fetch, self._fresh)

    # --- entry point -----------------------------------------------------------------------

    def _mentions_types(self, text: str) -> bool:
        """A query naming sf: or gml: geometry types, whose class hierarchy is entailed."""
        return self.entailment and any(ns[:-1] in text for ns in HIERARCHY_NAMESPACES[1:])

    def plan(self, text: str, tree: SyntaxTree | None = None) -> Plan:
        started = time.perf_counter()
        plan = Plan(text=text, original=text)
        if tree is None and not mentions_geosparql(text) and not self._mentions_types(text):
            plan.has_dataset = has_dataset_clause(text)
            return plan
        try:
            if tree is None:
                tree = parse_query(text, self.templates)
        except EokgError as exc:
            # rdflib is stricter or buggier than Oxigraph in places: Oxigraph decides.
            plan.note = f"not planned: {exc.message}"
            plan.has_dataset = has_dataset_clause(text)
            return plan
        plan.parsed = True
        plan.parse_seconds = time.perf_counter() - started
        plan.has_dataset = bool(_get(tree.query, "datasetClause"))
        self._scoped = scoped_groups(tree.query)
        self._over_union = self.union_dataset and not plan.has_dataset
        writer = Writer(tree.prologue)
        projection = None
        if tree.query.name == "SelectQuery" and not _get(tree.query, "projection"):
            projection = [f"?{v}" for v in in_scope(tree.query["where"])]
        changed = False
        try:
            for group in list(walk_groups(tree.query)):
                changed = self._plan_group(group, writer, plan) or changed
            if changed:
                plan.text = writer.query(tree, projection)
                plan.rewritten = True
        except EokgError as exc:
            plan.text = text
            plan.rewritten = False
            plan.note = f"left as written: {exc.message}"
        plan.plan_seconds = time.perf_counter() - started
        return plan

    # --- one group -------------------------------------------------------------------------

    def _plan_group(self, group: Any, writer: Writer, plan: Plan) -> bool:
        parts = list(_get(group, "part") or [])
        triples: list[_Triple] = []
        changed = False
        new_parts: list[Any] = []
        expansions: list[Any] = []
        for part in parts:
            if part.name != "TriplesBlock":
                new_parts.append(part)
                continue
            flat = flatten(part["triples"])
            texts: list[str] = []
            for s, p, o in self._split_paths(flat, writer):
                handled = self._special_triple(s, p, o, writer, plan, expansions)
                if handled is not None:
                    triples.append(handled)
                    texts.append(handled.text)
                    changed = changed or handled.text != triple_text(writer, s, p, o)
                    continue
                text = triple_text(writer, s, p, o)
                triples.append(
                    _Triple(text, frozenset(vars_of(s, p, o)), geometry_object(writer, p, o))
                )
                texts.append(text)
            block = len(new_parts)
            for t in triples[len(triples) - len(texts) :]:
                t.block = t.position = block
            new_parts.append(raw_part(" ".join(texts)))
        if changed or expansions:
            parts = new_parts
            dict.__setitem__(group, "part", parts)
        if expansions:
            # ?a geo:sfX ?b: asserted triples UNION computed relation, planned as a join
            self._expand_property(group, writer, plan, triples, expansions[0])
            if len(expansions) > 1:
                plan.note = "one topology property per group is expanded; others match asserted"
            return True
        if not self.use_index:
            return changed
        triples += self._nested_triples(parts, writer)
        bindable = self._bindable(group, new_parts)
        return (
            self._plan_spatial(
                group,
                new_parts if bindable else parts,
                triples,
                [],
                writer,
                plan,
                bindable=bindable,
            )
            or changed
        )

    #: Parts a group may hold for its join sides to be replaced by their rows: the
    #: triples move into a VALUES block at the front, which keeps the meaning only
    #: where nothing evaluates in order against them (BIND) or in another scope.
    _BINDABLE_PARTS = frozenset({"RawText", "Filter", "OptionalGraphPattern", "MinusGraphPattern"})

    def _bindable(self, group: Any, parts: list[Any]) -> bool:
        return (
            self._over_union
            and id(group) not in self._scoped
            and all(p.name in self._BINDABLE_PARTS for p in parts)
        )

    def _split_paths(self, flat: list[Any], writer: Writer) -> Iterator[tuple[Any, Any, Any]]:
        """The block's triples, entailment-relevant step sequences split at fresh variables.

        ``?f geo:hasGeometry/geo:asWKT ?w`` becomes two triples, so each step gets
        the subproperty entailment an explicit triple gets (``hasDefaultGeometry``
        and declared subproperties) and the literal variable stays visible to the
        index. Fresh variables are hidden from ``SELECT *`` by the planner's
        projection; a step sequence is a join on an unprojected variable in SPARQL
        too, so the answers are the same.
        """
        from rdflib import URIRef, Variable

        for i in range(0, len(flat) - 2, 3):
            s, p, o = flat[i], flat[i + 1], flat[i + 2]
            steps = sequence_steps(writer, p) if self.entailment else None
            if steps is None or not any(needs_entailment(writer, URIRef(x), None) for x in steps):
                yield s, p, o
                continue
            subject = s
            for n, step in enumerate(steps):
                last = n == len(steps) - 1
                target = o if last else Variable(f"eokg_s{next(self._fresh)}")
                yield subject, URIRef(step), target
                subject = target

    def _nested_triples(self, parts: list[Any], writer: Writer) -> list[_Triple]:
        """Plain triples of GRAPH groups and single nested groups: they bind in every solution.

        Used to recognise geometry variables and as join sides; triples needing
        entailment are left out, which only makes a side a superset (safe).
        """
        out: list[_Triple] = []
        for at, part in enumerate(parts):
            if part.name == "GraphGraphPattern":
                inner = [part["graph"]]
            elif part.name == "GroupOrUnionGraphPattern" and len(part["graph"]) == 1:
                inner = list(part["graph"])
            else:
                continue
            for group in inner:
                if getattr(group, "name", None) != "GroupGraphPatternSub":
                    continue
                sub = list(_get(group, "part") or [])
                for block in sub:
                    if block.name != "TriplesBlock":
                        continue
                    # Step sequences are split as in the group's own blocks: the
                    # evaluated query gives ``?f geo:hasGeometry/geo:asWKT ?w`` the
                    # subproperty entailment (hasDefaultGeometry ...), so the raw
                    # path would fetch a join side missing those literals.  Only the
                    # last step, which needs none, is kept: a superset side.
                    for s, p, o in self._split_paths(flatten(block["triples"]), writer):
                        if needs_entailment(writer, p, o) or _typed_geometry(writer, p, o):
                            continue
                        out.append(
                            _Triple(
                                triple_text(writer, s, p, o),
                                frozenset(vars_of(s, p, o)),
                                geometry_object(writer, p, o),
                                position=at,
                            )
                        )
                for t in self._nested_triples(sub, writer):
                    t.position = at  # bound once the enclosing part is
                    out.append(t)
        return out

    def _special_triple(
        self,
        s: Any,
        p: Any,
        o: Any,
        writer: Writer,
        plan: Plan,
        expansions: list[Any],
    ) -> _Triple | None:
        """Entailment and topology-property handling for one triple; None: plain triple."""
        from rdflib import BNode, Variable

        iri = plain_iri(writer, p)
        if iri is None:
            return None
        if iri.startswith(GEO) and iri[len(GEO) :] in TOPOLOGY:
            self._queue_property(s, iri[len(GEO) :], o, writer, expansions)
            text = triple_text(writer, s, p, o)
            return _Triple(text, frozenset(vars_of(s, p, o)))
        if not self.entailment:
            return None
        if iri == RDF + "type" and not isinstance(o, Variable) and isinstance(s, Variable | BNode):
            cls = term_iri(writer, o)
            if cls is None or not cls.startswith(HIERARCHY_NAMESPACES):
                return None
            pattern = self.vocab.type_pattern(writer.term(s), cls)
            if pattern is None:
                return None
            subject = writer.term(s)[1:]
            plan.steps.append(Step(f"?{subject} a <{cls}>", "entailment", False, [subject]))
            return _Triple(pattern, frozenset({subject}))
        if iri.startswith(GEO) and iri[len(GEO) :] in SUBPROPERTIES:
            variables = [writer.term(t) for t in (s, o) if isinstance(t, Variable | BNode)]
            if not variables:
                return None
            props = self.vocab.subproperties(iri)
            if set(self.vocab.in_use(props)) <= {iri}:
                return None  # no subproperty is used: the plain triple is complete
            fresh = f"?eokg_p{next(self._fresh)}"
            values = " ".join(f"<{x}>" for x in props)
            body = f"{writer.term(s)} {fresh} {writer.term(o)} . VALUES {fresh} {{ {values} }}"
            text = f"{{ SELECT DISTINCT {' '.join(variables)} WHERE {{ {body} }} }}"
            plan.steps.append(Step(f"<{iri}>", "entailment", False, [v[1:] for v in variables]))
            return _Triple(text, frozenset(v[1:] for v in variables))
        return None

    def _queue_property(
        self, s: Any, relation: str, o: Any, writer: Writer, expansions: list[Any]
    ) -> None:
        extra: list[tuple[str, str]] = []
        args: list[str] = []
        for term in (s, o):
            datatype = literal_datatype(writer, term)
            if datatype in GEOMETRY_DATATYPES:
                args.append(writer.term(term))
                continue
            var = f"eokg_w{next(self._fresh)}"
            pattern = self.vocab.geometry_pattern(writer.term(term), f"?{var}", self.entailment)
            extra.append((pattern, var))
            args.append(f"?{var}")
        asserted = f"{writer.term(s)} <{GEO}{relation}> {writer.term(o)}"
        expansions.append((asserted, extra, relation, args))

    def _expand_property(
        self,
        group: Any,
        writer: Writer,
        plan: Plan,
        triples: list[_Triple],
        expansion: tuple[str, list[tuple[str, str]], str, list[str]],
    ) -> None:
        """Turn the group G holding ``asserted`` into G UNION (G' FILTER NOT EXISTS asserted)."""
        from rdflib.plugins.sparql.parserutils import CompValue

        asserted, extra, relation, args = expansion
        parts = list(_get(group, "part") or [])
        computed_parts = []
        for part in parts:
            if part.name == "RawText":
                text = str(part["text"]).replace(asserted + " .", " ".join(t for t, _ in extra), 1)
                computed_parts.append(raw_part(text))
            else:
                computed_parts.append(part)
        call = f"<{GEOF}{relation}>({args[0]}, {args[1]})"
        filter_at = len(computed_parts)
        computed_parts.append(raw_part(f"FILTER({call})"))
        computed_parts.append(raw_part(f"FILTER NOT EXISTS {{ {asserted} }}"))
        if relation.startswith("rcc8"):
            # RCC8 relations apply to regions only (11-052r4 Table 3: "AA")
            areas = " && ".join(f"<{GEOF}dimension>({a}) = 2" for a in args)
            computed_parts.append(raw_part(f"FILTER({areas})"))
        computed = CompValue("GroupGraphPatternSub", part=computed_parts)
        original = CompValue("GroupGraphPatternSub", part=parts)
        step = Step(f"<{GEO}{relation}>", "property", False, [a[1:] for a in args if a[0] == "?"])
        step.note = "asserted UNION computed"
        plan.steps.append(step)
        union = CompValue("GroupOrUnionGraphPattern", graph=[original, computed])
        dict.__setitem__(group, "part", [union])
        if self.use_index:
            self._plan_computed(
                computed, computed_parts, filter_at, writer, plan, triples, expansion
            )
        # A derived triple is in the entailed graph once, however many literal pairs
        # (WKT and GML of one geometry...) satisfy the relation: one solution each.
        fresh = {var for _, var in extra}
        visible = [f"?{v}" for v in sorted(raw_vars(writer.group(original)))]
        keep = " ".join(v for v in visible if v[1:] not in fresh) or "*"
        union["graph"][1] = CompValue(
            "GroupGraphPatternSub",
            part=[raw_part(f"{{ SELECT DISTINCT {keep} WHERE {writer.group(computed)} }}")],
        )

    def _plan_computed(
        self,
        computed: Any,
        computed_parts: list[Any],
        filter_at: int,
        writer: Writer,
        plan: Plan,
        triples: list[_Triple],
        expansion: tuple[str, list[tuple[str, str]], str, list[str]],
    ) -> None:
        """Index selection or join for the computed branch of a topology property."""
        asserted, extra, relation, args = expansion
        branch = [t for t in triples if t.text != asserted + " ."]
        at = next((t.block for t in triples if t.text == asserted + " ."), None)
        branch += [_Triple(t, frozenset(raw_vars(t)), var, position=at) for t, var in extra]
        synthetic = []
        a, b = args
        if a.startswith("?") and b.startswith("?"):
            synthetic.append(_Spatial(filter_at, 0, "join", relation, a[1:], other=b[1:]))
        else:
            var, const = (a, b) if a.startswith("?") else (b, a)
            geom = constant_from_text(const)
            if geom is not None:
                synthetic.append(
                    _Spatial(
                        filter_at,
                        0,
                        "select",
                        relation,
                        var[1:],
                        constant=geom,
                        constant_first=not a.startswith("?"),
                    )
                )
        self._plan_spatial(computed, computed_parts, branch, synthetic, writer, plan)

    # --- selections and joins --------------------------------------------------------------

    def _plan_spatial(
        self,
        group: Any,
        parts: list[Any],
        triples: list[_Triple],
        synthetic: list[_Spatial],
        writer: Writer,
        plan: Plan,
        *,
        bindable: bool = False,
    ) -> bool:
        geo_vars = {t.geometry_var for t in triples if t.geometry_var}
        if not geo_vars or len(self.index) == 0:
            return False
        found: list[_Spatial] = [s for s in synthetic if s.var in geo_vars]
        for i, part in enumerate(parts):
            if part.name != "Filter":
                continue
            for j, conjunct in enumerate(conjuncts(part["expr"])):
                match = _match(writer, conjunct, geo_vars, i, j)
                if match is not None:
                    found.append(match)
        if not found:
            return False
        selected: dict[str, set[str]] = {}
        drops: set[tuple[int, int]] = set()
        for item in found:
            if item.kind == "join":
                continue
            step_started = time.perf_counter()
            terms, exact = self._select(item)
            if terms is None:
                continue
            previous = selected.get(item.var)
            selected[item.var] = set(terms) if previous is None else previous & set(terms)
            step = Step(
                _describe(item),
                "selection" if item.kind == "select" else "distance",
                True,
                [item.var],
                {item.var: len(terms)},
                dropped_filter=exact,
                seconds=time.perf_counter() - step_started,
            )
            plan.steps.append(step)
            if exact:
                drops.add((item.part, item.conjunct))
        barrier = _barrier(parts)
        # (head, rows, part after which the block goes; -1: the front) of each VALUES block
        values: list[tuple[str, list[str], int]] = []
        bound: list[_Triple] = []  # triples a join's rows replace
        for item in found:
            if item.kind != "join" or item.other is None:
                continue
            rows = self._bind_join(item, triples, selected, plan, barrier) if bindable else None
            if rows is not None:
                head, body, exact, bound = rows
                values.append((head, body, -1))
            else:
                joined = self._join(item, triples, selected, plan)
                if joined is None:
                    continue
                pairs, exact = joined
                values.append(
                    (
                        f"(?{item.var} ?{item.other})",
                        [f"({a} {b})" for a, b in pairs],
                        _values_at(triples, [item.var, item.other], barrier, len(parts)),
                    )
                )
            selected.pop(item.var, None)
            selected.pop(item.other, None)
            if exact:
                drops.add((item.part, item.conjunct))
            break  # one join per group: the pairs already restrict both variables
        for var, chosen in selected.items():
            values.append(
                (f"?{var}", sorted(chosen), _values_at(triples, [var], barrier, len(parts)))
            )
        if not values:
            return False
        rest: list[tuple[int, Any]] = []  # (index in parts, part)
        for i, part in enumerate(parts):
            if part.name == "Filter":
                kept = [c for j, c in enumerate(conjuncts(part["expr"])) if (i, j) not in drops]
                if kept:
                    text = f"FILTER({' && '.join(writer.expr(c) for c in kept)})"
                    rest.append((i, raw_part(text)))
                continue
            if part.name == "RawText" and (i, 0) in drops:
                continue  # a synthetic filter answered exactly
            if bound and part.name == "RawText":
                gone = {id(t) for t in bound}
                kept_triples = [t.text for t in triples if t.block == i and id(t) not in gone]
                if kept_triples:
                    rest.append((i, raw_part(" ".join(kept_triples))))
                continue
            rest.append((i, part))
        dict.__setitem__(group, "part", _with_values(values, rest))
        return True

    def _select(self, item: _Spatial) -> tuple[list[str] | None, bool]:
        """Index candidates for a selection or distance bound, and whether they are exact."""
        import shapely

        constant = item.constant
        shape = to_crs84(constant).shape
        exact = self.index.exact and constant.is_wgs84
        if item.kind == "select":
            if item.relation in DISJOINT_RELATIONS:
                return None, False
            if exact:
                return (
                    self.index.select(item.relation, shape, constant_first=item.constant_first),
                    True,
                )
            minx, miny, maxx, maxy = shapely.bounds(shape)
            pad = 1e-3 * max(maxx - minx, maxy - miny, 1.0)
            if constant.is_wgs84:  # exactness per literal: only reprojected ones keep the filter
                return self.index.select_per_literal(
                    item.relation, shape, constant_first=item.constant_first, pad=pad
                )
            padded = (minx - pad, miny - pad, maxx + pad, maxy + pad)
            return self.index.bbox_candidates(padded), False
        box = distance_box(shape, item.limit, item.uom)
        if box is None:
            return None, False
        return self.index.bbox_candidates(box), False

    def _join(
        self,
        item: _Spatial,
        triples: list[_Triple],
        selected: dict[str, set[str]],
        plan: Plan,
    ) -> tuple[list[tuple[str, str]], bool] | None:
        """Evaluate each side's patterns, join only those literals; None when not possible."""
        assert item.other is not None
        if item.relation in DISJOINT_RELATIONS:
            return None
        started = time.perf_counter()
        left_c = _component(triples, item.var)
        right_c = _component(triples, item.other)
        step = Step(_describe(item), "join", True, [item.var, item.other])
        if left_c is right_c or set(map(id, left_c)) & set(map(id, right_c)):
            rows = self.fetch(
                f"SELECT DISTINCT ?{item.var} ?{item.other} WHERE {{ "
                + " ".join(t.text for t in left_c)
                + " }"
            )
            pairs_in = [
                (a, b)
                for a, b in rows
                if a is not None
                and b is not None
                and _keep(str(a), selected.get(item.var))
                and _keep(str(b), selected.get(item.other))
            ]
            step.note = "sides share patterns: pairs fetched, relation vectorised"
            left = _distinct(a for a, _ in pairs_in)
            right = _distinct(b for _, b in pairs_in)
            lshapes, lexact = _shapes(left)
            rshapes, rexact = _shapes(right)
            lpos = {t: i for i, t in enumerate(left)}
            rpos = {t: i for i, t in enumerate(right)}
            import numpy as np

            li = np.array([lpos[a] for a, _ in pairs_in], dtype=np.int64)
            ri = np.array([rpos[b] for _, b in pairs_in], dtype=np.int64)
            exact = lexact and rexact
            li, ri = valid_pairs(li, ri, lshapes, rshapes)
            if exact and len(li):
                mask = np.asarray(relation_holds(item.relation, lshapes[li], rshapes[ri]), bool)
                li, ri = li[mask], ri[mask]
        else:
            left = self._side(left_c, item.var, selected.get(item.var))
            right = self._side(right_c, item.other, selected.get(item.other))
            lshapes, lexact = _shapes(left)
            rshapes, rexact = _shapes(right)
            exact = lexact and rexact
            li, ri = tree_join(item.relation, lshapes, rshapes, exact=exact)
        _record_join(step, item, (left, right), (lshapes, rshapes), len(li), exact, started)
        plan.steps.append(step)
        pairs = zip(li.tolist(), ri.tolist(), strict=True)
        return [(str(left[a]), str(right[b])) for a, b in pairs], exact

    def _bind_join(
        self,
        item: _Spatial,
        triples: list[_Triple],
        selected: dict[str, set[str]],
        plan: Plan,
        barrier: int,
    ) -> tuple[str, list[str], bool, list[_Triple]] | None:
        """A join whose sides' rows replace their patterns: ``(head, rows, exact, triples)``.

        Each side's patterns are evaluated once, with every variable they bind,
        and joined on their literals; the pairs' full rows go into the query as
        one VALUES block and those patterns leave it, so Oxigraph does not look
        every pair's subjects up again (at 86k pairs among 1.1M geometries that
        lookup was 4/5 of the join).  Only for top-level triples of a group over
        the union dataset (``_bindable``) written before its first OPTIONAL or
        MINUS (``barrier``: the rows go to the group's front, and those operators
        see what precedes them), and not where a row holds a blank node, which
        VALUES cannot carry; None then, and ``_join`` runs instead.
        """
        import pyoxigraph

        assert item.other is not None
        if item.relation in DISJOINT_RELATIONS:
            return None
        left_c = _component(triples, item.var)
        right_c = _component(triples, item.other)
        both = left_c + right_c
        if set(map(id, left_c)) & set(map(id, right_c)) or any(
            t.block is None or t.block > barrier for t in both
        ):
            return None
        started = time.perf_counter()
        sides = []
        for component, var in ((left_c, item.var), (right_c, item.other)):
            names = sorted(set().union(*(t.variables for t in component)))
            rows = self.fetch(
                f"SELECT {' '.join('?' + n for n in names)} WHERE {{ "
                + " ".join(t.text for t in component)
                + " }"
            )
            if any(isinstance(term, pyoxigraph.BlankNode) for row in rows for term in row):
                return None
            at = names.index(var)
            keep = selected.get(var)
            groups: dict[Any, list[str]] = {}
            for row in rows:
                if row[at] is not None and _keep(str(row[at]), keep):
                    groups.setdefault(row[at], []).append(
                        " ".join("UNDEF" if t is None else str(t) for t in row)
                    )
            sides.append((names, groups))
        (lnames, lgroups), (rnames, rgroups) = sides
        left, right = sorted(lgroups, key=str), sorted(rgroups, key=str)
        lshapes, lexact = _shapes(left)
        rshapes, rexact = _shapes(right)
        exact = lexact and rexact
        li, ri = tree_join(item.relation, lshapes, rshapes, exact=exact)
        body = [
            f"({a} {b})"
            for i, j in zip(li.tolist(), ri.tolist(), strict=True)
            for a in lgroups[left[i]]
            for b in rgroups[right[j]]
        ]
        step = Step(_describe(item), "join", True, [item.var, item.other])
        step.note = "sides fetched once; their rows replace their patterns"
        _record_join(step, item, (left, right), (lshapes, rshapes), len(li), exact, started)
        plan.steps.append(step)
        head = "(" + " ".join(f"?{n}" for n in lnames + rnames) + ")"
        return head, body, exact, both

    def _side(self, component: list[_Triple], var: str, keep: set[str] | None) -> list[Any]:
        rows = self.fetch(
            f"SELECT DISTINCT ?{var} WHERE {{ " + " ".join(t.text for t in component) + " }"
        )
        return [r[0] for r in rows if r[0] is not None and _keep(str(r[0]), keep)]


# --- helpers ------------------------------------------------------------------------------


#: Rows per injected VALUES block. Oxigraph joins a VALUES block of a few hundred
#: rows by lookups, but past ~1,000 rows against a large pattern it switches to a
#: plan that probes the block per solution: at 1.1M geometries a 4,164-row block
#: took 312 s, the same rows as a UNION of 500-row blocks 0.26 s (bench/README.md).
VALUES_CHUNK = 500


def _with_values(
    values: list[tuple[str, list[str], int]], rest: list[tuple[int, Any]]
) -> list[Any]:
    """The group's parts with the index answers injected as VALUES.

    Each block goes after the part its third field names (-1: the front), see
    ``_values_at``.  The largest block, when over ``VALUES_CHUNK`` rows and
    joined with patterns, is split into a UNION of branches, each the whole
    group joined with one chunk: the group joined with the block's rows is the
    union of the group joined with disjoint parts of them.  A block that only
    filters (a join's rows that replaced its patterns) stays whole: there is
    nothing to probe.
    """
    from rdflib.plugins.sparql.parserutils import CompValue

    def block(head: str, rows: list[str]) -> Any:
        return raw_part(f"VALUES {head} {{ {' '.join(rows)} }}")

    def assemble(blocks: list[tuple[int, Any]]) -> list[Any]:
        # a block after a part that left (its triples replaced) goes where it stood
        first = rest[0][0] if rest else 0
        out = [b for at, b in blocks if at < first]
        for n, (i, part) in enumerate(rest):
            out.append(part)
            following = rest[n + 1][0] if n + 1 < len(rest) else None
            out += [b for at, b in blocks if at >= i and (following is None or at < following)]
        if not rest:
            out += [b for at, b in blocks if at >= first]
        return out

    largest = max(range(len(values)), key=lambda i: len(values[i][1]))
    head, rows, where = values[largest]
    others = [(at, block(h, r)) for i, (h, r, at) in enumerate(values) if i != largest]
    patterns = bool(others) or any(part.name != "Filter" for _, part in rest)
    if len(rows) <= VALUES_CHUNK or not patterns:
        return assemble([(where, block(head, rows)), *others])
    branches = [
        CompValue(
            "GroupGraphPatternSub",
            part=assemble([(where, block(head, rows[i : i + VALUES_CHUNK])), *others]),
        )
        for i in range(0, len(rows), VALUES_CHUNK)
    ]
    return [_balanced_union(branches)]


#: Group parts that evaluate against what precedes them (SPARQL 1.1, 18.2.2.6):
#: joining a VALUES block before them is not the same as joining it after.
_ORDERED_PARTS = frozenset({"OptionalGraphPattern", "MinusGraphPattern", "Bind"})


def _barrier(parts: list[Any]) -> int:
    """Index of the group's first OPTIONAL, MINUS or BIND (``len(parts)``: none)."""
    return next((i for i, p in enumerate(parts) if p.name in _ORDERED_PARTS), len(parts))


def _values_at(triples: list[_Triple], names: list[str], barrier: int, end: int) -> int:
    """Where a VALUES block restricting ``names`` may go: -1 for the front, else the
    index of the part after which it joins.

    Restricting a variable to the index answer keeps the meaning wherever every
    solution already binds it: ``{ BIND(STR(?w) AS ?x) ... ?w }`` or
    ``{ OPTIONAL { ...?w... } ... ?w }`` would see a VALUES at the front as
    bindings the query did not have.  So the block goes to the front (where
    Oxigraph uses it for lookups) only when nothing order-sensitive precedes the
    part that binds the variables; otherwise right after that part, or at the
    group's end when it is not known.
    """
    spots = []
    for name in names:
        known = [t.position for t in triples if t.geometry_var == name and t.position is not None]
        if not known:
            return end - 1
        spots.append(min(known))
    at = max(spots)
    return -1 if at < barrier else at


def _balanced_union(branches: list[Any]) -> Any:
    """``{A} UNION {B} UNION ...`` as a balanced tree of binary unions.

    Oxigraph passes each row of a UNION chain through every enclosing union
    operator, so a left-deep chain of n branches costs rows x n: 200 branches
    of 100 rows took 6.0 s as a chain and 0.55 s balanced (bench/README.md).
    """
    from rdflib.plugins.sparql.parserutils import CompValue

    if len(branches) <= 2:
        return CompValue("GroupOrUnionGraphPattern", graph=branches)
    middle = len(branches) // 2
    halves = [
        CompValue("GroupGraphPatternSub", part=[_balanced_union(half)])
        for half in (branches[:middle], branches[middle:])
    ]
    return CompValue("GroupOrUnionGraphPattern", graph=halves)


def _record_join(
    step: Step,
    item: _Spatial,
    sides: tuple[list[Any], list[Any]],
    shapes: tuple[Any, Any],
    pairs: int,
    exact: bool,
    started: float,
) -> None:
    """What EXPLAIN shows of a join: set sizes, pairs, invalid literals, time."""
    assert item.other is not None
    step.candidates = {item.var: len(sides[0]), item.other: len(sides[1])}
    step.pairs = pairs
    step.dropped_filter = exact
    step.invalid_literals = int(count_none(shapes[0]) + count_none(shapes[1]))
    step.seconds = time.perf_counter() - started


def _distinct(terms: Iterable[Any]) -> list[Any]:
    return sorted(set(terms), key=str)


def _shapes(terms: list[Any]) -> tuple[Any, bool]:
    """Shapes of one join side, and whether shapely's answer is final for all of them.

    A literal that does not parse joins nothing whatever the relation, so it does not
    spoil exactness; a literal in another CRS or serialization might differ from
    Oxigraph's reading at the edge, so the FILTER stays to decide those.
    """
    import numpy as np

    shapes, native = parse_literals([t for t in terms if isinstance(t, Literal)])
    if len(shapes) != len(terms):  # an IRI or blank node where a literal was expected
        return np.full(len(terms), None, dtype=object), False
    invalid = np.array([s is None for s in shapes], dtype=bool)
    return shapes, bool((native | invalid).all())


class _NoIndex:
    exact = True

    def __len__(self) -> int:
        return 0

    def select(self, relation: str, constant: Any, *, constant_first: bool) -> list[str]:
        return []

    def select_per_literal(
        self, relation: str, constant: Any, *, constant_first: bool, pad: float
    ) -> tuple[list[str], bool]:
        return [], True

    def bbox_candidates(self, bounds: tuple[float, float, float, float]) -> list[str]:
        return []


def expand_topology_properties(text: str) -> str:
    """The query with ``?a geo:sfX ?b`` expanded (asserted UNION computed), nothing else.

    For engines that plan the rest themselves (federation): the expansion is
    what makes sources ship the geometries the relation needs.
    """
    plan = Planner(_NoIndex(), lambda _: [], entailment=False, use_index=False).plan(text)
    return plan.text


def has_dataset_clause(text: str) -> bool:
    """True when a query (not parsed) has FROM / FROM NAMED before its WHERE group."""
    from eokg.kg.sparql_syntax import _STRINGS_AND_IRIS

    bare = _STRINGS_AND_IRIS.sub(" ", text)
    head = bare.split("{", 1)[0]
    return any(word.upper() == "FROM" for word in head.split())


def _typed_geometry(writer: Writer, p: Any, o: Any) -> bool:
    """``?x a sf:Surface`` (or a gml: type): entailed too, so not a complete join side."""
    cls = term_iri(writer, o) if plain_iri(writer, p) == RDF + "type" else None
    return cls is not None and cls.startswith(HIERARCHY_NAMESPACES[1:])


def _match(writer: Writer, node: Any, geo_vars: set[str], part: int, index: int) -> _Spatial | None:
    name = getattr(node, "name", None)
    if name == "Function":
        call = geof_call(writer, node)
        if call is None:
            return None
        fn, args = call
        if fn not in RELATIONS or len(args) != 2:
            return None
        (k1, v1), (k2, v2) = args
        if k1 == "var" and k2 == "var" and v1 in geo_vars and v2 in geo_vars and v1 != v2:
            return _Spatial(part, index, "join", fn, v1, other=v2)
        if k1 == "var" and k2 == "geom" and v1 in geo_vars:
            return _Spatial(part, index, "select", fn, v1, constant=v2)
        if k2 == "var" and k1 == "geom" and v2 in geo_vars:
            return _Spatial(part, index, "select", fn, v2, constant=v1, constant_first=True)
        return None
    if name == "RelationalExpression" and _get(node, "op") in ("<", "<=", ">", ">="):
        op = node["op"]
        left, right = core(node["expr"]), core(node["other"])
        call_node, bound = (left, right) if op in ("<", "<=") else (right, left)
        limit = number(bound)
        if limit is None or getattr(call_node, "name", None) != "Function":
            return None
        call = geof_call(writer, call_node)
        if call is None or call[0] != "distance" or len(call[1]) != 3:
            return None
        (k1, v1), (k2, v2), (k3, uom) = call[1]
        if k3 != "iri":
            return None
        if k1 == "var" and k2 == "geom" and v1 in geo_vars:
            return _Spatial(
                part, index, "distance", "distance", v1, constant=v2, limit=limit, uom=uom
            )
        if k2 == "var" and k1 == "geom" and v2 in geo_vars:
            return _Spatial(
                part, index, "distance", "distance", v2, constant=v1, limit=limit, uom=uom
            )
    return None


def _component(triples: list[_Triple], var: str) -> list[_Triple]:
    """Triples connected to ``var`` through shared variables."""
    reached = {var}
    chosen: list[_Triple] = []
    remaining = list(triples)
    grew = True
    while grew:
        grew = False
        for t in list(remaining):
            if t.variables & reached:
                chosen.append(t)
                reached |= t.variables
                remaining.remove(t)
                grew = True
    return chosen


def _keep(term: str, keep: set[str] | None) -> bool:
    return keep is None or term in keep


def _describe(item: _Spatial) -> str:
    other = f"?{item.other}" if item.other else "CONST"
    if item.kind == "distance":
        return f"geof:distance(?{item.var}, CONST) < {item.limit}"
    first, second = (f"?{item.var}", other) if not item.constant_first else (other, f"?{item.var}")
    return f"geof:{item.relation}({first}, {second})"
