"""Answer one SPARQL/GeoSPARQL query over the local store and remote endpoints.

How a query runs:

1. It is parsed into rdflib's algebra.  Every basic graph pattern (also inside
   OPTIONAL, UNION, MINUS, EXISTS and SERVICE) is planned by ``planner``: sources
   per pattern, spatial pruning, exclusive groups, join order.
2. The patterns are evaluated against the members with parallel HTTP requests;
   later units are bind-joined with ``VALUES`` blocks of ``batch_size`` bindings,
   and an OPTIONAL/MINUS/EXISTS side or the other side of a join is seeded with
   the bindings of the side evaluated first.  Filters go with the unit that can
   evaluate them; the rest (e.g. a ``geof:`` function a plain endpoint lacks) are
   evaluated here, with the eokg function library, as soon as their variables
   are bound, so that only surviving bindings are joined further.
3. The triples that make up those solutions are loaded into a small in-memory
   store and the *original* query is evaluated there with the eokg function
   library.  Everything above the patterns (OPTIONAL, UNION, FILTER, BIND,
   aggregates, ORDER BY, LIMIT) therefore has exactly the semantics of the
   local store, and the answer equals the one a single store holding the union
   of all members would give.  (Limitation shared with FedX: blank nodes do not
   join across requests.)

When a member fails: ``on_source_failure="error"`` raises ``SourceUnavailable``
naming it; ``"partial"`` drops it for the rest of the query and flags the
result as partial with its name.

``SERVICE <url>`` names a member (by URL or name) or, if ``outbound`` allows
the URL (``service_policy``; the CLI passes ``UNRESTRICTED``), an ad-hoc
endpoint; anything else is ``TargetForbidden`` before a request is sent.
Redirects are followed only within the origin of the request.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import logging
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from eokg.errors import EokgError, QueryError, SourceUnavailable, TargetForbidden
from eokg.kg.federation.algebra import (
    FRESH,
    Block,
    Filter,
    Pattern,
    block_of,
    conjuncts,
    exists_graphs,
    make_filter,
    parse,
    spatial_constraint,
    term_text,
    to_algebra,
)
from eokg.kg.federation.planner import (
    Unit,
    assign_filters,
    in_spaces,
    join_order,
    make_units,
    spatially_excluded,
    subject_filter,
    void_verdict,
)
from eokg.kg.federation.sources import (
    HttpMember,
    LocalMember,
    Member,
    Row,
    SourceStats,
    fetch_void,
    run_detached,
)
from eokg.kg.service_policy import (
    OutboundPolicy,
    refuse_cross_origin_redirect_async,
    same_url,
)

log = logging.getLogger(__name__)

FailureMode = Literal["partial", "error"]
#: Plan nodes below which seeds and filters must not go (they would change counts/limits).
_BOUNDARIES = frozenset(
    {"Project", "Distinct", "Reduced", "Slice", "OrderBy", "Group", "AggregateJoin"}
)
_SERVICE = re.compile(r"\bSERVICE\b", re.IGNORECASE)


@dataclass
class FederatedResult:
    """A materialised answer (safe to hand between threads: plain terms only)."""

    kind: Literal["solutions", "boolean", "triples"]
    variables: list[str] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)
    boolean: bool | None = None
    triples: list[Any] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    explain: dict[str, Any] = field(default_factory=dict)
    #: subject IRI -> names of the members that returned statements about it
    origins: dict[str, list[str]] = field(default_factory=dict)

    @property
    def partial(self) -> bool:
        return bool(self.failed)


@dataclass
class _Solved:
    """Rows every relevant solution of a node is compatible with (None: no restriction)."""

    rows: list[Row] | None


class _Run:
    """The state of one execution: HTTP client, counters, failures, the plan so far."""

    def __init__(self, engine: FederationEngine, client: Any, dry_run: bool) -> None:
        self.engine = engine
        self.client = client
        self.dry_run = dry_run
        self.stats = {m.name: SourceStats() for m in engine.members}
        self.failed: dict[str, str] = {}
        self.blocks: list[dict[str, Any]] = []
        self.triples: set[Any] = set()
        self.fetched_paths: set[str] = set()
        self.origins: dict[str, set[str]] = {}
        self.limits = {m.name: asyncio.Semaphore(engine.max_parallel) for m in engine.members}
        #: the members patterns are planned against (one member inside SERVICE)
        self.scope: list[Member] = list(engine.members)

    def alive(self, members: Iterable[Member]) -> list[Member]:
        return [m for m in members if m.name not in self.failed]

    def fail(self, member: Member, exc: EokgError) -> None:
        if self.engine.on_source_failure == "error":
            raise SourceUnavailable(
                exc.message,
                where=member.where(),
                source=member.name,
                url=member.url,
            ) from None
        if member.name not in self.failed:
            log.warning("federation: %s failed: %s", member.where(), exc.message)
        self.failed[member.name] = exc.message
        self.stats[member.name].failed = exc.message

    async def select(self, member: Member, sparql: str) -> list[Row]:
        if member.name in self.failed:
            return []
        async with self.limits[member.name]:
            if member.name in self.failed:
                return []
            try:
                return await member.select(sparql, self.client, self.stats[member.name])
            except EokgError as exc:
                self.fail(member, exc)
                return []

    async def ask(self, member: Member, pattern: Pattern) -> bool:
        key = (member.name, pattern.shape())
        cache = self.engine.ask_cache
        if key in cache:
            return cache[key]
        try:
            async with self.limits[member.name]:
                answer = await member.ask(
                    f"ASK {{ {pattern.text()} }}", self.client, self.stats[member.name]
                )
        except EokgError as exc:
            self.fail(member, exc)
            return False
        cache[key] = answer
        return answer


class FederationEngine:
    """Federated SELECT/ASK/CONSTRUCT over ``members`` (see the module docstring)."""

    def __init__(
        self,
        members: list[Member],
        *,
        on_source_failure: FailureMode = "error",
        batch_size: int = 100,
        max_parallel: int = 8,
        outbound: OutboundPolicy | None = None,
    ) -> None:
        names = [m.name for m in members]
        if len(set(names)) != len(names):
            raise QueryError("federation source names must be unique", where=", ".join(names))
        self.members = members
        self.on_source_failure = on_source_failure
        self.batch_size = batch_size
        self.max_parallel = max_parallel
        #: which non-member SERVICE endpoints may be asked (default: none)
        self.outbound = outbound or OutboundPolicy()
        #: (member, pattern shape) -> ASK answer; lives as long as the engine.
        self.ask_cache: dict[tuple[str, str], bool] = {}
        self._void_urls: dict[str, str] = {}
        self._described = False
        self.void_errors: dict[str, str] = {}

    @classmethod
    def from_settings(
        cls,
        settings: Any,
        *,
        local_store: Any = None,
        local_name: str = "local",
        outbound: OutboundPolicy | None = None,
    ) -> FederationEngine:
        """Members from ``settings.federation`` (and the local store, when given).

        ``outbound`` defaults to the policy of full ``Settings`` (``outbound``
        section); given only ``FederationSettings``, to members only.
        """
        fed = settings.federation if hasattr(settings, "federation") else settings
        if outbound is None and hasattr(settings, "outbound"):
            outbound = OutboundPolicy.from_settings(settings)
        members: list[Member] = []
        if local_store is not None:
            members.append(LocalMember(local_store, name=local_name))
        void_urls = {}
        for source in fed.sources:
            members.append(HttpMember(source.name, source.url, timeout_s=source.timeout_s))
            if source.void_url:
                void_urls[source.name] = source.void_url
        engine = cls(members, on_source_failure=fed.on_source_failure, outbound=outbound)
        engine._void_urls = void_urls
        return engine

    def set_void(self, name: str, void_url: str) -> None:
        self._void_urls[name] = void_url
        self._described = False

    # ------------------------------------------------------------------ public API

    def run(self, query: str) -> FederatedResult:
        """Execute synchronously (from a thread without an event loop)."""
        return asyncio.run(self.execute(query))

    def explain_sync(self, query: str, *, execute: bool = False) -> dict[str, Any]:
        return asyncio.run(self.explain(query, execute=execute))

    async def explain(self, query: str, *, execute: bool = False) -> dict[str, Any]:
        """The plan (per pattern: sources; units; join order); with ``execute``, the counts."""
        if execute:
            return (await self.execute(query)).explain
        return (await self._execute(query, dry_run=True)).explain

    async def execute(self, query: str) -> FederatedResult:
        return await self._execute(query, dry_run=False)

    async def describe_members(self, client: Any) -> None:
        """Read every member's VoID once (a failure just leaves it undescribed)."""
        for member in self.members:
            if isinstance(member, LocalMember):
                await asyncio.to_thread(run_detached, member.refresh)
        if self._described:
            return
        by_name = {m.name: m for m in self.members}

        async def one(name: str, url: str) -> None:
            member = by_name.get(name)
            if member is None:
                return
            try:
                member.description = await fetch_void(url, client, member.where())
            except EokgError as exc:
                self.void_errors[name] = exc.message
                log.warning("federation: no VoID for %s: %s", member.where(), exc.message)

        await asyncio.gather(*(one(n, u) for n, u in self._void_urls.items()))
        self._described = True

    # ------------------------------------------------------------------ execution

    async def _execute(self, query: str, *, dry_run: bool) -> FederatedResult:
        import httpx

        from eokg.kg.planner import expand_topology_properties

        started = time.perf_counter()
        # ?a geo:sfX ?b -> asserted UNION computed, so sources are asked for geometries
        text = expand_topology_properties(query)
        prepared = parse(text)
        algebra = prepared.algebra
        if algebra.name == "DescribeQuery":
            raise QueryError("DESCRIBE is not supported over a federation", where="query form")
        if algebra.get("datasetClause"):
            raise QueryError("FROM / FROM NAMED are not supported over a federation", where="FROM")
        limits = httpx.Limits(max_connections=64, max_keepalive_connections=32)
        async with httpx.AsyncClient(
            limits=limits,
            follow_redirects=True,
            event_hooks={"response": [refuse_cross_origin_redirect_async]},
        ) as client:
            await self.describe_members(client)
            run = _Run(self, client, dry_run)
            await self._solve(run, algebra["p"], None, [])
        result = FederatedResult(kind="solutions")
        if not dry_run:
            result = await asyncio.to_thread(
                run_detached, _evaluate, _strip_service(text), run.triples
            )
        result.failed = dict(run.failed)
        result.origins = {k: sorted(v) for k, v in run.origins.items()}
        result.explain = {
            "sources": {
                m.name: {
                    "url": m.url,
                    "description": m.description.to_json(),
                    **(
                        {"void_error": self.void_errors[m.name]}
                        if m.name in self.void_errors
                        else {}
                    ),
                }
                for m in self.members
            },
            "blocks": run.blocks,
            "executed": not dry_run,
            "partial": bool(run.failed),
            "failed": dict(run.failed),
            "stats": {name: s.to_json() for name, s in run.stats.items()},
            "requests": sum(s.requests + s.asks for s in run.stats.values()),
            "shipped_triples": len(run.triples),
            "seconds": round(time.perf_counter() - started, 4),
        }
        return result

    async def _solve(
        self, run: _Run, node: Any, seed: list[Row] | None, filters: list[Filter]
    ) -> _Solved:
        name = getattr(node, "name", None)
        if name == "BGP":
            return await self._solve_bgp(run, node["triples"], seed, filters)
        if name in _BOUNDARIES:
            await self._solve(run, node["p"], None, [])
            return _Solved(None)
        if name == "Filter":
            own = [make_filter(c) for c in conjuncts(node["expr"])]
            solved = await self._solve(run, node["p"], seed, filters + own)
            for graph in exists_graphs(node["expr"]):
                await self._solve(run, graph, solved.rows, [])
            return solved
        if name == "Extend":
            var = str(node["var"])
            inner_seed = _project(seed, exclude={var})
            kept = [f for f in filters if var not in f.variables]
            solved = await self._solve(run, node["p"], inner_seed, kept)
            for graph in exists_graphs(node["expr"]):
                await self._solve(run, graph, solved.rows, [])
            return solved
        if name == "Join":
            first, second = node["p1"], node["p2"]
            if getattr(second, "name", None) == "ToMultiSet" and (
                getattr(first, "name", None) != "ToMultiSet"
            ):
                first, second = second, first
            one = await self._solve(run, first, seed, _fit(filters, first))
            two_seed = _join(seed, one.rows)
            two = await self._solve(run, second, two_seed, _fit(filters, second))
            return _Solved(_join(one.rows, two.rows))
        if name == "LeftJoin":
            one = await self._solve(run, node["p1"], seed, _fit(filters, node["p1"]))
            expr = node.get("expr")
            own = []
            if expr is not None and getattr(expr, "name", None) != "TrueFilter":
                own = [f for f in (make_filter(c) for c in conjuncts(expr))]
            two_filters = [f for f in own if f.variables <= certain(node["p2"])]
            await self._solve(run, node["p2"], _join(seed, one.rows), two_filters)
            if expr is not None:
                for graph in exists_graphs(expr):
                    await self._solve(run, graph, one.rows, [])
            return one
        if name == "Minus":
            one = await self._solve(run, node["p1"], seed, _fit(filters, node["p1"]))
            await self._solve(run, node["p2"], one.rows, [])
            return one
        if name == "Union":
            one = await self._solve(run, node["p1"], seed, _fit(filters, node["p1"]))
            two = await self._solve(run, node["p2"], seed, _fit(filters, node["p2"]))
            if one.rows is None or two.rows is None:
                return _Solved(None)
            return _Solved(one.rows + two.rows)
        if name == "ToMultiSet":
            inner = node["p"]
            if getattr(inner, "name", None) == "values":
                return _Solved(_values_rows(inner["res"]))
            await self._solve(run, inner, None, [])
            return _Solved(None)
        if name == "values":
            return _Solved(_values_rows(node["res"]))
        if name == "ServiceGraphPattern":
            return await self._solve_service(run, node, seed)
        if name == "Graph":
            raise QueryError("GRAPH patterns are not supported over a federation", where="GRAPH")
        if name in ("SelectQuery", "AskQuery", "ConstructQuery"):
            return await self._solve(run, node["p"], seed, filters)
        raise QueryError(
            f"the federation engine cannot plan a {name} node", where="federated query"
        )

    async def _solve_service(self, run: _Run, node: Any, seed: list[Row] | None) -> _Solved:
        """SERVICE <url> { P }: P is planned against that member only.

        A URL that is no member is asked only if ``self.outbound`` allows it.
        """
        from rdflib import Variable

        term = node["term"]
        if isinstance(term, Variable):
            if self.outbound.unrestricted:
                raise QueryError("SERVICE needs an endpoint IRI over a federation", where="SERVICE")
            raise TargetForbidden(
                f"SERVICE ?{term}: a SERVICE endpoint must be an IRI", where=f"SERVICE ?{term}"
            )
        url = str(term)
        target = [m for m in self.members if m.name == url or same_url(m.url, url)]
        if not target:
            if not self.outbound.allows_service(url):
                raise TargetForbidden(
                    f"SERVICE <{url}> is not allowed: it is neither a federation source nor in "
                    "outbound.allowed_urls",
                    where=f"SERVICE <{url}>",
                    url=url,
                )
            target = [HttpMember(url, url)]
            run.stats.setdefault(url, SourceStats())
            run.limits.setdefault(url, asyncio.Semaphore(self.max_parallel))
        inner = to_algebra(node["graph"])
        saved = run.scope
        run.scope = target
        try:
            return await self._solve(run, inner, seed, [])
        finally:
            run.scope = saved

    # ------------------------------------------------------------------ one BGP

    async def _solve_bgp(
        self, run: _Run, triples: list[Any], seed: list[Row] | None, filters: list[Filter]
    ) -> _Solved:
        block = block_of(triples, itertools.count(len(run.blocks) * 1000), {})
        record: dict[str, Any] = {"patterns": [], "units": [], "residual_filters": []}
        run.blocks.append(record)
        members = run.alive(run.scope)
        await self._ship_paths(run, block, members)
        variables = block.variables
        usable = [f for f in filters if f.variables and f.variables <= variables]
        constraints = [c for c in (spatial_constraint(f) for f in usable) if c is not None]

        # 1. source selection
        async def choose(pattern: Pattern) -> tuple[Pattern, list[Member], dict[str, str]]:
            chosen: list[Member] = []
            why: dict[str, str] = {}
            probes = []
            for member in members:
                verdict = void_verdict(member, pattern)
                if verdict is False:
                    why[member.name] = "void: not held"
                    continue
                excluded = spatially_excluded(member, pattern, constraints)
                if excluded is not None:
                    why[member.name] = f"spatial: extent misses {list(excluded.bbox)}"
                    continue
                if verdict is True:
                    chosen.append(member)
                else:
                    probes.append(member)
            answers = await asyncio.gather(*(run.ask(m, pattern) for m in probes))
            for member, answer in zip(probes, answers, strict=True):
                if answer:
                    chosen.append(member)
                else:
                    why[member.name] = "ask: no match"
            return pattern, chosen, why

        selections = await asyncio.gather(*(choose(p) for p in block.patterns))
        sources = {}
        for pattern, chosen, why in selections:
            sources[pattern] = chosen
            record["patterns"].append(
                {"pattern": pattern.text(), "sources": [m.name for m in chosen], "excluded": why}
            )
        if any(not chosen for chosen in sources.values()) or not block.patterns:
            record["empty"] = bool(block.patterns)
            return _Solved([] if block.patterns else None)

        # 2. exclusive groups, pushed filters, join order
        units = make_units(block.patterns, sources)
        residual = assign_filters(units, usable)
        seed_rows = _project(seed, keep=variables)
        bound = set(seed_rows[0]) if seed_rows else set()
        ordered = join_order(units, bound, residual)
        record["units"] = [u.to_json() for u in ordered]
        record["residual_filters"] = [f.text for f in residual]
        record["seeded_by"] = sorted(bound)
        if run.dry_run:
            return _Solved(None)

        # 3. evaluation
        current = seed_rows if seed_rows else None
        pending = list(residual)
        for unit in ordered:
            rows = await self._evaluate_unit(run, unit, current)
            current = rows if current is None else _join(current, rows)
            assert current is not None
            if pending and current:
                names = set(current[0])
                ready = [f for f in pending if f.variables <= names]
                if ready:
                    current = await asyncio.to_thread(run_detached, _local_filter, current, ready)
                    pending = [f for f in pending if f not in ready]
            if not current:
                break
        rows = current or []
        record["rows"] = len(rows)
        for row in rows:
            for pattern in block.patterns:
                triple = _instantiate(pattern, row)
                if triple is not None:
                    run.triples.add(triple)
        return _Solved([{k: v for k, v in r.items() if not k.startswith(FRESH)} for r in rows])

    async def _evaluate_unit(self, run: _Run, unit: Unit, current: list[Row] | None) -> list[Row]:
        variables = sorted(unit.variables)
        body = " ".join(p.text() for p in unit.patterns)
        body += "".join(f" FILTER({f.text})" for f in unit.filters)
        head = "SELECT DISTINCT " + (" ".join(f"?{v}" for v in variables) or "*")
        shared = sorted(set(current[0]) & unit.variables) if current else []
        subjects = sorted({p.s[1:] for p in unit.patterns if p.s.startswith("?")})
        if not shared:
            query = f"{head} WHERE {{ {body} }}"
            results = await asyncio.gather(*(run.select(m, query) for m in unit.members))
            for member, rows in zip(unit.members, results, strict=True):
                _note_origins(run, member, rows, subjects)
            return _distinct(itertools.chain.from_iterable(results))
        assert current is not None
        keys = _distinct({v: row[v] for v in shared if v in row} for row in current)
        tasks = []
        asked: list[Member] = []
        for member in unit.members:
            # VoID uriSpaces: send a member only the subjects that can live in it
            filtered = subject_filter(member, unit, shared)
            mine = [r for r in keys if all(in_spaces(member, r.get(v)) for v in filtered)]
            for start in range(0, len(mine), self.batch_size):
                batch = mine[start : start + self.batch_size]
                values = _values_block(shared, batch)
                query = f"{head} WHERE {{ {values} {body} }}"
                tasks.append(run.select(member, query))
                asked.append(member)
        results = await asyncio.gather(*tasks)
        for member, rows in zip(asked, results, strict=True):
            _note_origins(run, member, rows, subjects)
        return _distinct(itertools.chain.from_iterable(results))

    async def _ship_paths(self, run: _Run, block: Block, members: list[Member]) -> None:
        """Triples of predicates used in * + ? | paths: shipped whole (closure is local)."""
        todo = sorted(block.path_predicates - run.fetched_paths)
        if not todo or run.dry_run:
            return
        run.fetched_paths |= set(todo)
        for predicate in todo:
            pattern = Pattern("?s", f"<{predicate}>", "?o")
            holders = [m for m in members if void_verdict(m, pattern) is not False]
            query = f"SELECT ?s ?o WHERE {{ {pattern.text()} }}"
            results = await asyncio.gather(*(run.select(m, query) for m in holders))
            for row in itertools.chain.from_iterable(results):
                triple = _instantiate(pattern, row)
                if triple is not None:
                    run.triples.add(triple)


# ---------------------------------------------------------------------- helpers


def _note_origins(run: _Run, member: Member, rows: list[Row], subjects: list[str]) -> None:
    for row in rows:
        for var in subjects:
            term = row.get(var)
            if term is not None and type(term).__name__ == "NamedNode":
                run.origins.setdefault(term.value, set()).add(member.name)


def certain(node: Any) -> set[str]:
    """Variables bound in every solution of ``node`` (conservative)."""
    name = getattr(node, "name", None)
    if name == "BGP":
        return {
            v
            for v in block_of(node["triples"], itertools.count(), {}).variables
            if not v.startswith(FRESH)
        }
    if name in ("Filter", "Extend"):
        return certain(node["p"])
    if name == "Join":
        return certain(node["p1"]) | certain(node["p2"])
    if name in ("LeftJoin", "Minus"):
        return certain(node["p1"])
    if name == "Union":
        return certain(node["p1"]) & certain(node["p2"])
    return set()


def _fit(filters: list[Filter], node: Any) -> list[Filter]:
    names = certain(node)
    return [f for f in filters if f.variables and f.variables <= names]


def _project(
    rows: list[Row] | None, *, keep: set[str] | None = None, exclude: set[str] | None = None
) -> list[Row] | None:
    """Rows cut down to the variables bound in all of them (and wanted)."""
    if rows is None:
        return None
    if not rows:
        return []
    common = set(rows[0])
    for row in rows[1:]:
        common &= set(row)
    if keep is not None:
        common &= keep
    if exclude:
        common -= exclude
    if not common:
        return None
    return _distinct({k: row[k] for k in common} for row in rows)


def _distinct(rows: Iterable[Row]) -> list[Row]:
    seen: set[tuple[Any, ...]] = set()
    out = []
    for row in rows:
        key = tuple(sorted(row.items(), key=lambda kv: kv[0]))
        if key not in seen:
            seen.add(key)
            out.append(row)
    return out


def _join(left: list[Row] | None, right: list[Row] | None) -> list[Row] | None:
    """Hash join of compatible rows; None stands for 'no restriction'."""
    if left is None:
        return right
    if right is None:
        return left
    if not left or not right:
        return []
    left_common = set.intersection(*(set(r) for r in left))
    right_common = set.intersection(*(set(r) for r in right))
    keys = sorted(left_common & right_common)
    table: dict[tuple[Any, ...], list[Row]] = {}
    for row in right:
        table.setdefault(tuple(row[k] for k in keys), []).append(row)
    out = []
    for row in left:
        for other in table.get(tuple(row[k] for k in keys), ()):
            if all(row[k] == v for k, v in other.items() if k in row):
                out.append({**row, **other})
    return out


def _values_rows(res: list[dict[Any, Any]]) -> list[Row]:
    from eokg.kg.federation.algebra import Unwritable

    rows = []
    for binding in res:
        row = {}
        for var, term in binding.items():
            if term is None:
                continue
            try:
                row[str(var)] = _to_oxigraph(term_text(term, {}))
            except Unwritable:
                continue
        rows.append(row)
    return rows


def _to_oxigraph(text: str) -> Any:
    """Parse one N-Triples-style term (as rdflib writes it) into a pyoxigraph term."""
    import pyoxigraph

    triple = next(
        iter(pyoxigraph.parse(f"<urn:x:s> <urn:x:p> {text} .", pyoxigraph.RdfFormat.N_TRIPLES))
    )
    return triple.object


def _term(term: Any) -> str:
    kind = type(term).__name__
    if kind == "BlankNode":
        return "UNDEF"
    return str(term)


def _values_block(variables: list[str], rows: list[Row]) -> str:
    head = " ".join(f"?{v}" for v in variables)
    body = " ".join(
        "(" + " ".join(_term(row[v]) if v in row else "UNDEF" for v in variables) + ")"
        for row in rows
    )
    return f"VALUES ({head}) {{ {body} }}"


def _instantiate(pattern: Pattern, row: Row) -> Any:
    import pyoxigraph

    terms = []
    for text in (pattern.s, pattern.p, pattern.o):
        if text.startswith("?"):
            value = row.get(text[1:])
            if value is None:
                return None
            terms.append(value)
        else:
            terms.append(_constant(text))
    s, p, o = terms
    if not isinstance(p, pyoxigraph.NamedNode) or isinstance(s, pyoxigraph.Literal):
        return None
    return pyoxigraph.Quad(s, p, o, pyoxigraph.DefaultGraph())


@functools.lru_cache(maxsize=4096)
def _constant(text: str) -> Any:
    return _to_oxigraph(text)


def _local_filter(rows: list[Row], filters: list[Filter]) -> list[Row]:
    """Keep the rows that pass ``filters``, evaluated by pyoxigraph with the eokg functions."""
    import pyoxigraph

    from eokg.kg.functions import custom_functions

    variables = sorted({k for row in rows for k in row})
    index_var = f"{FRESH}row"
    values = _values_block(
        [index_var, *variables],
        [
            {
                index_var: pyoxigraph.Literal(
                    str(i),
                    datatype=pyoxigraph.NamedNode("http://www.w3.org/2001/XMLSchema#integer"),
                ),
                **row,
            }
            for i, row in enumerate(rows)
        ],
    )
    conditions = " ".join(f"FILTER({f.text})" for f in filters)
    query = f"SELECT ?{index_var} WHERE {{ {values} {conditions} }}"
    store = pyoxigraph.Store()
    result = store.query(query, custom_functions=custom_functions())
    try:
        assert isinstance(result, pyoxigraph.QuerySolutions), "SELECT results expected"
        keep = [int(solution[index_var].value) for solution in result]
    finally:
        del result
    return [rows[i] for i in keep]


def _strip_service(text: str) -> str:
    """``SERVICE [SILENT] <iri> {`` -> ``{``: the block's triples were shipped in already."""
    if not _SERVICE.search(text):
        return text
    from eokg.kg.sparql_text import tokenize

    tokens = tokenize(text)
    cuts = []
    for i, token in enumerate(tokens):
        if token.kind == "word" and token.text.upper() == "SERVICE":
            j = i + 1
            if j < len(tokens) and tokens[j].text.upper() == "SILENT":
                j += 1
            if j < len(tokens) and tokens[j].kind in ("iri", "pname", "var"):
                cuts.append((token.start, tokens[j].end))
    for start, end in reversed(cuts):
        text = text[:start] + text[end:]
    return text


def _evaluate(text: str, triples: set[Any]) -> FederatedResult:
    """The original query over the shipped triples (on this thread, start to end).

    The triples go into an in-memory ``GeoStore``, so the final evaluation has
    the planner and the spatial index: a spatial join across sources is an
    STRtree join of the shipped geometries, not a nested loop.
    """
    import pyoxigraph

    from eokg.kg.store import GeoStore

    store = GeoStore(name="federation")
    store.extend(
        t if isinstance(t, pyoxigraph.Quad) else pyoxigraph.Quad(t.subject, t.predicate, t.object)
        for t in triples
    )
    result = store.query(text)
    try:
        if isinstance(result, pyoxigraph.QueryBoolean):
            return FederatedResult(kind="boolean", boolean=bool(result))
        if isinstance(result, pyoxigraph.QuerySolutions):
            variables = [v.value for v in result.variables]
            rows = [{v: solution[v] for v in variables} for solution in result]
            return FederatedResult(kind="solutions", variables=variables, rows=rows)
        return FederatedResult(kind="triples", triples=list(result))
    finally:
        del result
