"""The members of a federation: how to ask them, and what they say they hold.

A member is either the local GeoStore (asked on a worker thread, because
pyoxigraph results must be read on the thread that made them) or a remote
SPARQL 1.1 endpoint (asked with ``httpx.AsyncClient``, so requests to all
members run in parallel).  Each keeps per-query counters for ``explain``.

What a member holds comes from its VoID description (``void_url``: an eokg
``/void``, any URL serving VoID Turtle, or a local file): the properties,
classes and subject IRI spaces of its graphs and the bounding box of its
geometries.  A VoID document only lets the engine rule a member *out* when it
describes everything the member answers for; when the default graph holds
triples that no graph partition accounts for, the description is treated as
incomplete and the engine asks the member instead.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eokg.errors import EokgError, QueryError, SourceUnavailable, StoreError
from eokg.ontologies.namespaces import DCTERMS, GEO, GEOF, RDF

VOID = "http://rdfs.org/ns/void#"
SD = "http://www.w3.org/ns/sparql-service-description#"
GEOSPARQL_CONF = "http://www.opengis.net/spec/geosparql/1.1/conf/"
RESULTS_JSON = "application/sparql-results+json"

Row = dict[str, Any]


@dataclass
class Description:
    """What a member holds, as far as its VoID says (None: unknown)."""

    properties: dict[str, int] | None = None
    classes: dict[str, int] | None = None
    uri_spaces: set[str] | None = None
    extent: tuple[float, float, float, float] | None = None
    #: True when the partitions account for every triple the member answers for.
    complete: bool = False
    #: geof: function IRIs the member evaluates itself.
    functions: set[str] = field(default_factory=set)

    def to_json(self) -> dict[str, Any]:
        return {
            "complete": self.complete,
            "properties": len(self.properties or {}),
            "classes": len(self.classes or {}),
            "uri_spaces": sorted(self.uri_spaces or ()),
            "extent": list(self.extent) if self.extent else None,
            "geosparql_functions": len(self.functions),
        }


@dataclass
class SourceStats:
    """Per-member counters of one execution."""

    requests: int = 0
    rows: int = 0
    seconds: float = 0.0
    asks: int = 0
    failed: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "requests": self.requests,
            "ask_probes": self.asks,
            "rows": self.rows,
            "seconds": round(self.seconds, 4),
        }
        if self.failed:
            out["failed"] = self.failed
        return out


class Member:
    """Base of both kinds of member: name, URL, description, counters."""

    name: str
    url: str
    timeout_s: float
    description: Description

    def where(self) -> str:
        return f"source {self.name!r} <{self.url}>"

    async def select(self, sparql: str, client: Any, stats: SourceStats) -> list[Row]:
        """Rows of a SELECT; ``SourceUnavailable`` naming the member when it fails."""
        raise NotImplementedError

    async def ask(self, sparql: str, client: Any, stats: SourceStats) -> bool:
        raise NotImplementedError

    def supports(self, function_iri: str) -> bool:
        return function_iri in self.description.functions


class LocalMember(Member):
    """The embedded GeoStore: full GeoSPARQL, described by itself."""

    def __init__(self, store: Any, *, name: str = "local", timeout_s: float = 60.0) -> None:
        self.store = store
        self.name = name
        self.url = f"local:{name}"
        self.timeout_s = timeout_s
        self.description = Description()
        self._described_size: int | None = None

    def refresh(self) -> None:
        """Describe the store again if it changed size since (a load or an update)."""
        try:
            size = len(self.store)
        except TypeError:
            size = -1
        if size != self._described_size or size == -1:
            self.description = describe_local(self.store)
            self._described_size = size

    async def select(self, sparql: str, client: Any, stats: SourceStats) -> list[Row]:
        started = time.perf_counter()
        stats.requests += 1
        try:
            rows = await asyncio.wait_for(
                asyncio.to_thread(run_detached, _local_rows, self.store, sparql), self.timeout_s
            )
        except TimeoutError as exc:
            raise SourceUnavailable(
                f"no answer within {self.timeout_s:g} s", where=self.where()
            ) from exc
        finally:
            stats.seconds += time.perf_counter() - started
        stats.rows += len(rows)
        return rows

    async def ask(self, sparql: str, client: Any, stats: SourceStats) -> bool:
        stats.asks += 1
        return await asyncio.to_thread(run_detached, _local_ask, self.store, sparql)


class HttpMember(Member):
    """A remote SPARQL 1.1 endpoint, asked over a shared ``httpx.AsyncClient``."""

    def __init__(
        self,
        name: str,
        url: str,
        *,
        timeout_s: float = 30.0,
        description: Description | None = None,
    ) -> None:
        self.name = name
        self.url = url
        self.timeout_s = timeout_s
        self.description = description or Description()

    async def _post(self, sparql: str, client: Any, stats: SourceStats, *, probe: bool) -> bytes:
        import httpx

        started = time.perf_counter()
        if probe:
            stats.asks += 1
        else:
            stats.requests += 1
        try:
            response = await client.post(
                self.url,
                content=sparql.encode("utf-8"),
                headers={
                    "Content-Type": "application/sparql-query; charset=utf-8",
                    "Accept": RESULTS_JSON,
                },
                timeout=httpx.Timeout(self.timeout_s, connect=min(self.timeout_s, 10.0)),
            )
        except httpx.TimeoutException as exc:
            raise SourceUnavailable(
                f"no answer within {self.timeout_s:g} s", where=self.where()
            ) from exc
        except httpx.HTTPError as exc:
            raise SourceUnavailable(
                f"cannot reach the endpoint: {exc}", where=self.where()
            ) from exc
        finally:
            stats.seconds += time.perf_counter() - started
        if response.status_code >= 300:
            detail = response.text.strip()[:300]
            raise SourceUnavailable(
                f"HTTP {response.status_code}: {detail or 'the endpoint failed'}",
                where=self.where(),
                query=sparql[:2000],
            )
        return response.content

    async def select(self, sparql: str, client: Any, stats: SourceStats) -> list[Row]:
        body = await self._post(sparql, client, stats, probe=False)
        rows = parse_json_rows(body, self.where())
        stats.rows += len(rows)
        return rows

    async def ask(self, sparql: str, client: Any, stats: SourceStats) -> bool:
        import json

        body = await self._post(sparql, client, stats, probe=True)
        try:
            return bool(json.loads(body)["boolean"])
        except (ValueError, KeyError) as exc:
            raise SourceUnavailable("unreadable ASK answer", where=self.where()) from exc


# ---------------------------------------------------------------------- results


def run_detached(fn: Any, *args: Any) -> Any:
    """Call ``fn`` on this (worker) thread; an error leaves with no frame attached.

    Frames of a failed call may still hold pyoxigraph results, which abort the
    process if freed on another thread, so the error handed back carries none.
    """
    error: BaseException | None = None
    try:
        return fn(*args)
    except EokgError as exc:
        error = exc
    except Exception as exc:
        error = StoreError(f"{type(exc).__name__}: {exc}", where="federation")
    error.__traceback__ = None
    error.__cause__ = None
    error.__context__ = None
    error.__suppress_context__ = True
    raise error


def parse_json_rows(body: bytes, where: str) -> list[Row]:
    """SPARQL JSON results as rows of pyoxigraph terms, read on this thread."""
    import pyoxigraph

    # The result object is dropped here, on this thread, even when reading fails:
    # pyoxigraph aborts the process if one is freed on another thread.
    message = None
    try:
        result = pyoxigraph.parse_query_results(body, pyoxigraph.QueryResultsFormat.JSON)
        try:
            assert isinstance(result, pyoxigraph.QuerySolutions), "SELECT results expected"
            names = [v.value for v in result.variables]
            rows = [{n: s[n] for n in names if s[n] is not None} for s in result]
        finally:
            del result
    except (SyntaxError, ValueError) as exc:
        message = str(exc)
    if message is not None:
        raise SourceUnavailable(f"unreadable SPARQL JSON results: {message}", where=where)
    return rows


def _local_rows(store: Any, sparql: str) -> list[Row]:
    result = store.query(sparql)
    try:
        names = [v.value for v in result.variables]
        return [{n: s[n] for n in names if s[n] is not None} for s in result]
    finally:
        del result


def _local_ask(store: Any, sparql: str) -> bool:
    result = store.query(sparql)
    try:
        return bool(result)
    finally:
        del result


# ---------------------------------------------------------------------- descriptions


def describe_local(store: Any) -> Description:
    """The local store describes its default graph exactly (what its queries see)."""
    from eokg.kg.functions import custom_functions

    props = _counts(store, "SELECT ?k (COUNT(*) AS ?n) WHERE { ?s ?k ?o } GROUP BY ?k")
    classes = _counts(store, "SELECT ?k (COUNT(DISTINCT ?s) AS ?n) WHERE { ?s a ?k } GROUP BY ?k")
    extent_of = getattr(store, "spatial_extent", None)
    extent = extent_of() if callable(extent_of) else None
    return Description(
        properties=props,
        classes=classes,
        extent=tuple(extent) if extent else None,
        complete=True,
        functions={f.value for f in custom_functions()},
    )


def _counts(store: Any, sparql: str) -> dict[str, int]:
    result = store.query(sparql)
    try:
        return {row["k"].value: int(row["n"].value) for row in result}
    finally:
        del result


def read_void(text: bytes | str, where: str) -> Description:
    """A Description from a VoID / service description document in Turtle."""
    import pyoxigraph

    store = pyoxigraph.Store()
    data = text.encode("utf-8") if isinstance(text, str) else text
    try:
        store.load(data, pyoxigraph.RdfFormat.TURTLE)
    except SyntaxError as exc:
        raise QueryError(f"unreadable VoID document: {exc}", where=where) from exc

    def rows(sparql: str) -> list[dict[str, str]]:
        result = store.query(sparql)
        try:
            assert isinstance(result, pyoxigraph.QuerySolutions), "SELECT results expected"
            names = [v.value for v in result.variables]
            return [{n: s[n].value for n in names if s[n] is not None} for s in result]
        finally:
            del result

    props: dict[str, int] = {}
    for row in rows(
        f"SELECT ?k ?n WHERE {{ ?d <{VOID}propertyPartition> ?x . ?x <{VOID}property> ?k "
        f"OPTIONAL {{ ?x <{VOID}triples> ?n }} }}"
    ):
        props[row["k"]] = props.get(row["k"], 0) + int(float(row.get("n", "1")))
    classes: dict[str, int] = {}
    for row in rows(
        f"SELECT ?k ?n WHERE {{ ?d <{VOID}classPartition> ?x . ?x <{VOID}class> ?k "
        f"OPTIONAL {{ ?x <{VOID}entities> ?n }} }}"
    ):
        classes[row["k"]] = classes.get(row["k"], 0) + int(float(row.get("n", "1")))
    spaces = {r["u"] for r in rows(f"SELECT ?u WHERE {{ ?d <{VOID}uriSpace> ?u }}")}
    extent = _union_extent(
        r["w"] for r in rows(f"SELECT ?w WHERE {{ ?d <{GEO}hasBoundingBox>/<{GEO}asWKT> ?w }}")
    )
    named = sum(
        int(float(r["n"]))
        for r in rows(f"SELECT ?n WHERE {{ ?g <{SD}name> ?x ; <{VOID}triples> ?n }}")
    )
    default = [
        int(float(r["n"]))
        for r in rows(f"SELECT ?n WHERE {{ ?d <{SD}defaultGraph> ?g . ?g <{VOID}triples> ?n }}")
    ]
    # Complete if the graph partitions explain the default graph (empty, or the union).
    complete = bool(props) and (not default or max(default) <= named)
    conforms = {r["c"] for r in rows(f"SELECT ?c WHERE {{ ?s <{DCTERMS}conformsTo> ?c }}")}
    functions = {r["f"] for r in rows(f"SELECT ?f WHERE {{ ?s <{SD}extensionFunction> ?f }}")}
    if any(c.startswith(GEOSPARQL_CONF) for c in conforms) and not functions:
        from eokg.kg.functions import custom_functions

        functions = {f.value for f in custom_functions()}
    functions = {f for f in functions if f.startswith(GEOF)}

    return Description(
        properties=props or None,
        classes=classes or None,
        uri_spaces=spaces or None,
        extent=extent,
        complete=complete,
        functions=functions,
    )


def _union_extent(wkts: Any) -> tuple[float, float, float, float] | None:
    import shapely

    box: list[float] | None = None
    from eokg.kg.geometry import nested_too_deep

    for wkt in wkts:
        text = str(wkt).split(">", 1)[-1].strip()
        if nested_too_deep(text):  # a remote VoID's literal must not crash GEOS
            continue
        try:
            bounds = shapely.from_wkt(text).bounds
        except Exception:
            continue
        if any(b != b for b in bounds):  # NaN: empty geometry
            continue
        if box is None:
            box = list(bounds)
        else:
            box = [
                min(box[0], bounds[0]),
                min(box[1], bounds[1]),
                max(box[2], bounds[2]),
                max(box[3], bounds[3]),
            ]
    return tuple(box) if box else None  # type: ignore[return-value]


async def fetch_void(void_url: str, client: Any, where: str) -> Description:
    """Read a VoID document from a URL (GET, Turtle) or a local file path."""
    import httpx

    if void_url.startswith(("http://", "https://")):
        try:
            response = await client.get(void_url, headers={"Accept": "text/turtle"})
        except httpx.HTTPError as exc:
            raise SourceUnavailable(f"cannot read VoID: {exc}", where=where) from exc
        if response.status_code >= 300:
            raise SourceUnavailable(
                f"cannot read VoID: HTTP {response.status_code}", where=f"{where} {void_url}"
            )
        return read_void(response.content, void_url)
    path = Path(void_url.removeprefix("file://"))
    try:
        return read_void(path.read_bytes(), str(path))
    except OSError as exc:
        raise SourceUnavailable(f"cannot read VoID: {exc.strerror}", where=str(path)) from exc


def rdf_type() -> str:
    return RDF + "type"
