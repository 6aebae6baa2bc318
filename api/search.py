"""``/search/semantic``: one search over the catalogue, the local graph and the federation.

A client asks with free text (``q``) and/or concept IRIs (``concept``), and
optionally ``bbox``/``intersects`` and ``datetime``.  Concepts are expanded to
their narrower concepts with the SKOS scheme (depth kept: an exact match
ranks above a match three levels down), and free text also selects concepts
whose labels (any language) equal it.  Three places answer:

* the metadata catalogue (STAC items tagged with the concepts, or matching the text);
* the graph: features whose ``eo:labelClass``, ``eo:stageOfDevelopment``,
  ``eo:cropType``, ``eo:productType`` or ``eo:predictedClass`` is one of the
  concepts or ``skos:broader+`` one of them, inside the spatial filter, asked
  through the federation engine so that the local store and every federated
  source answer together, each hit naming the member(s) that hold it.

Hits are merged by identifier and ranked by a score whose parts are returned:
``concept`` (1 / (1 + expansion depth)), ``text`` (share of query words in the
title), ``recency`` (0.2 at most, halving every year).
"""

from __future__ import annotations

import math
import re
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, FastAPI, Request

from eokg.api import openapi_docs as docs
from eokg.errors import EokgError, QueryError
from eokg.ontologies.namespaces import DCTERMS, EO, GEO, GEOF, RDFS, SKOS

router = APIRouter(tags=["search"])

#: Properties linking a feature to the concept it is an instance of.
CONCEPT_PROPERTIES = (
    EO + "labelClass",
    EO + "stageOfDevelopment",
    EO + "cropType",
    EO + "productType",
    EO + "predictedClass",
)
DATE_PROPERTIES = (EO + "startTime", EO + "chartDate", DCTERMS + "date")
MAX_LIMIT = 500
#: most concept IRIs in one request: each becomes a term of the graph query.
MAX_CONCEPTS = 100
#: longest free text: it is matched against labels, titles and descriptions.
MAX_TEXT = 1_000
#: an absolute IRI with none of the characters SPARQL forbids inside ``<...>``: the
#: concepts are written into the graph query, so ``>`` would end the IRI and let the
#: rest of the "concept" become query text.
_IRI = re.compile(r'(?:https?://|urn:)[^\x00-\x20<>"{}|^`\\]*')
RECENCY_WEIGHT = 0.2
TEXT_WEIGHT = 0.5


def setup(app: FastAPI) -> None:
    """Nothing to open: the catalogue, the store and the federation come from the others."""


# ---------------------------------------------------------------------- request


@dataclass
class SemanticQuery:
    q: str | None = None
    concepts: list[str] = field(default_factory=list)
    bbox: list[float] | None = None
    intersects: dict[str, Any] | None = None
    datetime: str | None = None
    limit: int = 20

    def words(self) -> list[str]:
        from eokg.catalog.concepts import normalise

        return normalise(self.q).split() if self.q else []

    def geometry_wkt(self) -> str | None:
        if self.intersects is not None:
            import shapely.geometry

            try:
                return shapely.geometry.shape(self.intersects).wkt
            except Exception as exc:
                raise QueryError(f"not a GeoJSON geometry: {exc}", where="intersects") from exc
        if self.bbox is not None:
            from eokg.kg.service import bbox_wkt

            minx, miny, maxx, maxy = self.bbox[0], self.bbox[1], self.bbox[-2], self.bbox[-1]
            return bbox_wkt((minx, miny, maxx, maxy))
        return None


def _parse_bbox(text: str | None) -> list[float] | None:
    if not text:
        return None
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError as exc:
        raise QueryError("bbox needs comma-separated numbers", where="bbox") from exc
    if len(values) not in (4, 6):
        raise QueryError("bbox needs 4 or 6 numbers", where="bbox")
    return _four(values)


def _four(values: list[float]) -> list[float]:
    """A 3D bbox (with heights) as its 2D footprint."""
    return [values[0], values[1], values[3], values[4]] if len(values) == 6 else values


def _check_bbox(bbox: list[float]) -> None:
    """WGS 84 degrees, finite, south below north (a box may cross the antimeridian)."""
    west, south, east, north = bbox
    if not all(math.isfinite(v) for v in bbox):
        raise QueryError("bbox values must be finite numbers", where="bbox")
    if not (-180 <= west <= 180 and -180 <= east <= 180):
        raise QueryError("bbox longitudes must lie in [-180, 180]", where="bbox")
    if not (-90 <= south <= north <= 90):
        raise QueryError("bbox latitudes must lie in [-90, 90], south <= north", where="bbox")


def _check(query: SemanticQuery) -> SemanticQuery:
    if not query.q and not query.concepts:
        raise QueryError("give free text 'q' and/or a 'concept' IRI", where="q")
    if not 1 <= query.limit <= MAX_LIMIT:
        raise QueryError(f"limit must be between 1 and {MAX_LIMIT}", where="limit")
    if query.bbox is not None and query.intersects is not None:
        raise QueryError("give bbox or intersects, not both", where="intersects")
    if query.bbox is not None:
        _check_bbox(query.bbox)
    if query.datetime:
        from eokg.catalog.timeutil import parse_interval

        parse_interval(query.datetime)
    if query.q is not None and len(query.q) > MAX_TEXT:
        raise QueryError(f"q is longer than {MAX_TEXT} characters", where="q")
    if len(query.concepts) > MAX_CONCEPTS:
        raise QueryError(f"give at most {MAX_CONCEPTS} concepts", where="concept")
    for iri in query.concepts:
        if not _IRI.fullmatch(iri):
            raise QueryError(
                f"a concept must be an absolute IRI, not {iri[:200]!r}", where="concept"
            )
    query.geometry_wkt()  # a bad ``intersects`` is the client's 400, not a note
    return query


# ---------------------------------------------------------------------- concepts


def scheme_of(app_state: Any) -> Any:
    """The SKOS scheme: handed in, the catalogue's own, or the one shipped with eokg."""
    scheme = getattr(app_state, "concepts", None)
    if scheme is None:
        scheme = getattr(getattr(app_state, "catalog", None), "concepts", None)
    if scheme is None:
        from eokg.catalog.concepts import default_scheme

        scheme = default_scheme()
        app_state.concepts = scheme
    return scheme


def expand(scheme: Any, query: SemanticQuery) -> dict[str, tuple[str, int, str]]:
    """concept IRI -> (requested concept, depth below it, how it was requested)."""
    requested: list[tuple[str, str]] = [(iri, "concept") for iri in query.concepts]
    if query.q and scheme is not None:
        requested += [(iri, "text") for iri in sorted(scheme.match_text(query.q))]
    out: dict[str, tuple[str, int, str]] = {}
    for root, how in requested:
        queue = deque([(root, 0)])
        while queue:
            iri, depth = queue.popleft()
            if iri in out and out[iri][1] <= depth:
                continue
            out[iri] = (root, depth, how)
            for child in scheme.narrower.get(iri, ()) if scheme is not None else ():
                queue.append((child, depth + 1))
    return out


# ---------------------------------------------------------------------- scoring


@dataclass
class Hit:
    id: str
    kind: str
    title: str | None = None
    datetime: str | None = None
    sources: set[str] = field(default_factory=set)
    why: list[dict[str, Any]] = field(default_factory=list)
    concepts: set[str] = field(default_factory=set)
    extra: dict[str, Any] = field(default_factory=dict)
    parts: dict[str, float] = field(default_factory=dict)

    def score(self, query: SemanticQuery, expansion: dict[str, tuple[str, int, str]]) -> float:
        from eokg.catalog.concepts import normalise

        depths = [expansion[c][1] for c in self.concepts if c in expansion]
        concept = max((1.0 / (1 + d) for d in depths), default=0.0)
        words = query.words()
        title_words = set(normalise(self.title).split()) if self.title else set()
        text = 0.0
        if words:
            text = TEXT_WEIGHT * sum(w in title_words for w in words) / len(words)
            if any(w.get("kind") == "text" for w in self.why):
                text = max(text, TEXT_WEIGHT / 2)
        recency = 0.0
        when = _epoch(self.datetime)
        if when is not None:
            age_years = max(0.0, (time.time() - when) / (365.25 * 86400))
            recency = RECENCY_WEIGHT * math.pow(0.5, age_years)
        self.parts = {
            "concept": round(concept, 4),
            "text": round(text, 4),
            "recency": round(recency, 4),
        }
        return concept + text + recency

    def to_json(self, score: float) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "title": self.title,
            "datetime": self.datetime,
            "sources": sorted(self.sources),
            "concepts": sorted(self.concepts),
            "why": self.why,
            "score": round(score, 4),
            "score_parts": self.parts,
            **self.extra,
        }


def _epoch(text: str | None) -> float | None:
    if not text:
        return None
    from eokg.catalog.timeutil import parse_instant

    value = text if "T" in text else text[:10] + "T00:00:00Z"
    try:
        return parse_instant(value)
    except EokgError:
        return None


# ---------------------------------------------------------------------- the three searches


def catalogue_hits(
    index: Any, query: SemanticQuery, expansion: dict[str, tuple[str, int, str]]
) -> tuple[list[Hit], int]:
    """The catalogue's best ``limit`` items, and how many items match in all."""
    from eokg.catalog.index import SearchRequest
    from eokg.catalog.items import CONCEPTS_PROPERTY

    requested = sorted({root for root, _, how in expansion.values() if how == "concept"})
    request = SearchRequest(
        q=[query.q] if query.q else None,
        concepts=requested or None,
        bbox=query.bbox,
        intersects=query.intersects,
        datetime=query.datetime,
        limit=query.limit,
    )
    page = index.search(request)
    hits = []
    for item in page.items:
        props = item.get("properties") or {}
        hit = Hit(
            id=item["id"],
            kind="item",
            title=props.get("title") or item["id"],
            datetime=props.get("datetime") or props.get("start_datetime"),
            sources={"catalog"},
            concepts=set(props.get(CONCEPTS_PROPERTY) or ()),
            extra={"collection": item.get("collection")},
        )
        for match in page.why.get(item["id"], []):
            reason = match.to_json()
            reason["source"] = "catalog"
            if match.kind == "concept" and match.via in expansion:
                reason["depth"] = expansion[match.via][1]
            hit.why.append(reason)
        hits.append(hit)
    return hits, page.matched if page.matched is not None else len(hits)


def graph_sparql(query: SemanticQuery, expansion: dict[str, tuple[str, int, str]]) -> str:
    """The SPARQL the local store and the federation answer for the graph side."""
    concepts = " ".join(f"<{c}>" for c in sorted(expansion))
    roots = " ".join(f"<{r}>" for r in sorted({v[0] for v in expansion.values()}))
    props = " ".join(f"<{p}>" for p in CONCEPT_PROPERTIES)
    dates = "".join(f" OPTIONAL {{ ?f <{p}> ?d{i} }}" for i, p in enumerate(DATE_PROPERTIES))
    spatial = ""
    wkt = query.geometry_wkt()
    if wkt is not None:
        spatial = (
            f" ?f <{GEO}hasGeometry>/<{GEO}asWKT> ?w ."
            f' FILTER(<{GEOF}sfIntersects>(?w, "{wkt}"^^<{GEO}wktLiteral>))'
        )
    return (
        "SELECT DISTINCT ?f ?prop ?c ?label ?d0 ?d1 ?d2 WHERE {"
        f" {{ VALUES ?c {{ {concepts} }} }} UNION"
        f" {{ VALUES ?root {{ {roots} }} ?c <{SKOS}broader>+ ?root }}"
        f" VALUES ?prop {{ {props} }} ?f ?prop ?c .{spatial}"
        f" OPTIONAL {{ ?f <{RDFS}label> ?label }}{dates}"
        f" }} LIMIT {MAX_LIMIT * 4}"
    )


def graph_hits(
    engine: Any, query: SemanticQuery, expansion: dict[str, tuple[str, int, str]]
) -> tuple[list[Hit], dict[str, str]]:
    """Features from the local store and the federated sources (run on a worker thread)."""
    if not expansion:
        return [], {}
    result = engine.run(graph_sparql(query, expansion))
    interval = None
    if query.datetime:
        from eokg.catalog.timeutil import parse_interval

        interval = parse_interval(query.datetime)
    hits: dict[str, Hit] = {}
    for row in result.rows:
        feature = row["f"].value
        concept = row["c"].value
        date = next((row[k].value for k in ("d0", "d1", "d2") if row.get(k) is not None), None)
        if interval is not None:
            when = _epoch(date)
            start, end = interval
            if (
                when is None
                or (start is not None and when < start)
                or (end is not None and when > end)
            ):
                continue
        hit = hits.get(feature)
        if hit is None:
            hit = Hit(
                id=feature,
                kind="feature",
                title=row["label"].value if row.get("label") is not None else None,
                datetime=date,
            )
            hits[feature] = hit
        hit.concepts.add(concept)
        root, depth, how = expansion.get(concept, (concept, 1, "concept"))
        hit.why.append(
            {
                "kind": "concept",
                "query": root,
                "via": concept,
                "property": row["prop"].value,
                "depth": depth,
                "requested_as": how,
            }
        )
        expansion.setdefault(concept, (root, depth, how))
    _name_sources(engine, list(hits.values()), result.origins)
    for hit in hits.values():
        for reason in hit.why:
            reason["source"] = ", ".join(sorted(hit.sources))
    return list(hits.values()), dict(result.failed)


def _name_sources(engine: Any, hits: list[Hit], origins: dict[str, list[str]]) -> None:
    """Each hit's ``graph:<local>`` / ``federation:<source>`` names.

    The engine does not always record which member answered (it did not with the
    local store alone), so a hit without a recorded origin is asked of the local
    members directly; one still unplaced is ``federation`` (some member of it).
    """
    unplaced = [h.id for h in hits if not origins.get(h.id)]
    found = dict(origins)
    if unplaced:
        found.update(_local_holders(engine, unplaced))
    for hit in hits:
        names = found.get(hit.id)
        hit.sources = {_source_name(engine, n) for n in names} if names else {"federation"}


def _local_holders(engine: Any, features: list[str]) -> dict[str, list[str]]:
    """feature IRI -> the local members whose store has it as a subject."""
    from eokg.kg.federation.sources import LocalMember

    members = list(engine.members)
    if len(members) == 1:
        return {f: [members[0].name] for f in features}
    held: dict[str, list[str]] = {}
    values = " ".join(f"<{f}>" for f in features if ">" not in f and " " not in f)
    query = f"SELECT DISTINCT ?f WHERE {{ VALUES ?f {{ {values} }} ?f ?p ?o }}"
    for member in members:
        if not isinstance(member, LocalMember) or not values:
            continue
        rows = member.store.query(query)
        for row in rows:
            held.setdefault(row["f"].value, []).append(member.name)
    return held


def _source_name(engine: Any, member_name: str) -> str:
    from eokg.kg.federation.sources import LocalMember

    for member in engine.members:
        if member.name == member_name:
            kind = "graph" if isinstance(member, LocalMember) else "federation"
            return f"{kind}:{member_name}"
    return f"federation:{member_name}"


def semantic_search(
    state: Any, query: SemanticQuery, *, include: tuple[str, ...] = ("catalog", "graph")
) -> dict[str, Any]:
    """Merge and rank; runs on a worker thread (the engine starts its own event loop)."""
    scheme = scheme_of(state)
    expansion = expand(scheme, query)
    hits: list[Hit] = []
    notes: dict[str, Any] = {}
    index = getattr(state, "catalog", None)
    unfetched = 0  # catalogue items that match but lie past ``limit``
    if "catalog" in include and index is not None:
        try:
            found, matched = catalogue_hits(index, query, expansion)
            hits += found
            unfetched = max(0, matched - len(found))
        except EokgError as exc:
            notes["catalog"] = exc.message
    engine = getattr(state, "federation", None)
    if "graph" in include and engine is not None:
        graph, failed = graph_hits(engine, query, expansion)
        hits += graph
        if failed:
            notes["partial"] = failed
    merged: dict[str, Hit] = {}
    for hit in hits:
        known = merged.get(hit.id)
        if known is None:
            merged[hit.id] = hit
        else:
            known.sources |= hit.sources
            known.why += hit.why
            known.concepts |= hit.concepts
    scored = sorted(
        ((h.score(query, expansion), h) for h in merged.values()),
        key=lambda pair: (-pair[0], pair[1].id),
    )
    out = {
        "query": {
            "q": query.q,
            "concepts": query.concepts,
            "bbox": query.bbox,
            "datetime": query.datetime,
            "expanded": {
                c: {"from": r, "depth": d, "requested_as": h}
                for c, (r, d, h) in sorted(expansion.items())
            },
        },
        "hits": [h.to_json(s) for s, h in scored[: query.limit]],
        # every match, not only those fetched: the catalogue counts past its page
        "matched": len(scored) + unfetched,
        "sources": sorted({s for h in merged.values() for s in h.sources}),
    }
    if notes:
        out["notes"] = notes
    return out


async def _search(request: Request, query: SemanticQuery) -> dict[str, Any]:
    import anyio.to_thread

    _check(query)
    return await anyio.to_thread.run_sync(semantic_search, request.app.state, query)


@router.get(
    "/search/semantic",
    name="semantic_search_get",
    openapi_extra=docs.SEMANTIC_GET,
    responses=docs.SEMANTIC_RESPONSES,
)
async def search_get(request: Request) -> Any:
    """Semantic search by GET: ``q``, ``concept`` (repeatable), ``bbox``, ``datetime``."""
    params = request.query_params
    try:
        limit = int(params.get("limit", "20"))
    except ValueError as exc:
        raise QueryError("limit must be an integer", where="limit") from exc
    query = SemanticQuery(
        q=params.get("q") or None,
        concepts=params.getlist("concept"),
        bbox=_parse_bbox(params.get("bbox")),
        datetime=params.get("datetime") or None,
        limit=limit,
    )
    return await _search(request, query)


@router.post(
    "/search/semantic",
    name="semantic_search_post",
    openapi_extra=docs.SEMANTIC_POST,
    responses=docs.SEMANTIC_RESPONSES,
)
async def search_post(request: Request) -> Any:
    """Semantic search by POST: a JSON body with the same fields (and ``intersects``)."""
    from eokg.api.sparql import read_body
    from eokg.catalog.cql2_parse import parse_json

    raw = await read_body(request, where="/search/semantic")  # streamed; 413 past the limit
    # strict and bounded: no NaN, no overflowing numbers, no RecursionError on deep nesting
    body = parse_json(raw, where="body", error=QueryError)
    if not isinstance(body, dict):
        raise QueryError("the body must be a JSON object", where="body")
    concepts = body.get("concepts") or body.get("concept") or []
    if isinstance(concepts, str):
        concepts = [concepts]
    if not isinstance(concepts, list) or not all(isinstance(c, str) for c in concepts):
        raise QueryError("concepts must be a list of IRIs", where="concepts")
    bbox = body.get("bbox")
    if bbox is not None and (not isinstance(bbox, list) or len(bbox) not in (4, 6)):
        raise QueryError("bbox needs 4 or 6 numbers", where="bbox")
    if bbox and not all(_is_number(v) for v in bbox):
        raise QueryError("bbox needs 4 or 6 numbers", where="bbox")
    for name, kind, what in (
        ("q", str, "a string"),
        ("datetime", str, "a string"),
        ("intersects", dict, "a GeoJSON geometry object"),
    ):
        if body.get(name) is not None and not isinstance(body[name], kind):
            raise QueryError(f"{name} must be {what}", where=name)
    limit = body.get("limit", 20)
    if not isinstance(limit, int) or isinstance(limit, bool):
        raise QueryError("limit must be an integer", where="limit")
    query = SemanticQuery(
        q=body.get("q") or None,
        concepts=concepts,
        bbox=_four([float(v) for v in bbox]) if bbox else None,
        intersects=body.get("intersects"),
        datetime=body.get("datetime") or None,
        limit=limit,
    )
    return await _search(request, query)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
