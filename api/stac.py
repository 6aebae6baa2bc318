"""STAC API under ``/stac``: landing page, collection search, items, item search,
queryables, aggregation, and ``/stac/api``, the OpenAPI 3.0 service description.

The routes only translate HTTP to ``MetadataIndex`` calls and add links; the
backend (embedded or Elasticsearch) is built once by ``setup`` from
``app.state.settings`` unless the caller handed one in as ``app.state.catalog``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse

from eokg.api import openapi_docs as docs
from eokg.api import stac_params
from eokg.api.urls import public_root
from eokg.catalog.cql2_parse import parse_json
from eokg.catalog.index import FieldsSpec, MetadataIndex, SearchPage, SearchRequest
from eokg.catalog.search_common import selects
from eokg.errors import InputError

PREFIX = "/stac"
GEOJSON = "application/geo+json"
STAC_VERSION = "1.1.0"
QUERYABLES_REL = "http://www.opengis.net/def/rel/ogc/1.0/queryables"

CONFORMANCE = [
    "https://api.stacspec.org/v1.0.0/core",
    "https://api.stacspec.org/v1.0.0/collections",
    "https://api.stacspec.org/v1.0.0/ogcapi-features",
    "https://api.stacspec.org/v1.0.0/item-search",
    "https://api.stacspec.org/v1.0.0/item-search#filter",
    "https://api.stacspec.org/v1.0.0/item-search#sort",
    "https://api.stacspec.org/v1.0.0/item-search#fields",
    "https://api.stacspec.org/v1.0.0/ogcapi-features#filter",
    "https://api.stacspec.org/v1.0.0/ogcapi-features#sort",
    "https://api.stacspec.org/v1.0.0/ogcapi-features#fields",
    "https://api.stacspec.org/v1.0.0-rc.1/item-search#free-text",
    "https://api.stacspec.org/v1.0.0-rc.1/collection-search",
    "https://api.stacspec.org/v1.0.0-rc.1/collection-search#free-text",
    "http://www.opengis.net/spec/ogcapi-common-2/1.0/conf/simple-query",
    "https://api.stacspec.org/v0.3.0/aggregation",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
    "http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators",
    "http://www.opengis.net/spec/cql2/1.0/conf/case-insensitive-comparison",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions-plus",
    "http://www.opengis.net/spec/cql2/1.0/conf/spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/temporal-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/array-functions",
    "https://w3id.org/eokg/conf/semantic-search",
]

router = APIRouter(prefix=PREFIX, tags=["STAC"])


def setup(app: FastAPI) -> None:
    """Open the catalogue from settings unless one was handed to ``create_app``."""
    if getattr(app.state, "catalog", None) is None:
        from eokg.catalog.index import open_index

        app.state.catalog = open_index(app.state.settings.catalog)


# -- helpers --------------------------------------------------------------------
def _index(request: Request) -> MetadataIndex:
    index: MetadataIndex = request.app.state.catalog
    return index


def _base(request: Request) -> str:
    return public_root(request) + PREFIX


def _link(rel: str, href: str, media: str = "application/json", **extra: Any) -> dict[str, Any]:
    return {"rel": rel, "href": href, "type": media, **extra}


def _segment(value: Any) -> str:
    """An id as one URL path segment (ingest refuses ids containing '/')."""
    return quote(str(value), safe="")


def _geojson(body: dict[str, Any], status: int = 200) -> JSONResponse:
    return JSONResponse(body, status_code=status, media_type=GEOJSON)


def _item_links(
    base: str, item: dict[str, Any], fields: FieldsSpec | None = None
) -> dict[str, Any]:
    """The item with its API links, unless the Fields extension left ``links`` out."""
    collection = item.get("collection")
    if collection is None or "id" not in item or not selects(fields, "links", item):
        return item
    coll_url = f"{base}/collections/{_segment(collection)}"
    own = [
        _link("self", f"{coll_url}/items/{_segment(item['id'])}", GEOJSON),
        _link("parent", coll_url),
        _link("collection", coll_url),
        _link("root", base),
    ]
    kept = [
        link
        for link in item.get("links") or []
        if link.get("rel") not in {"self", "parent", "collection", "root"}
    ]
    return {**item, "links": own + kept}


def _collection_links(base: str, collection: dict[str, Any]) -> dict[str, Any]:
    url = f"{base}/collections/{_segment(collection['id'])}"
    own = [
        _link("self", url),
        _link("parent", base),
        _link("root", base),
        _link("items", f"{url}/items", GEOJSON),
        _link(QUERYABLES_REL, f"{url}/queryables", "application/schema+json"),
    ]
    kept = [
        link
        for link in collection.get("links") or []
        if link.get("rel") not in {"self", "parent", "root", "items", QUERYABLES_REL}
    ]
    return {**collection, "links": own + kept}


async def _json_body(request: Request) -> Any:
    """The JSON body, read as a stream and refused (413) once past ``api.max_request_bytes``:
    a chunked body has no Content-Length to check first."""
    from eokg.api.sparql import read_body

    raw = await read_body(request, where="body")
    if not raw:
        return {}
    return parse_json(raw, where="body")


def _feature_collection(
    request: Request,
    page: SearchPage,
    search: SearchRequest,
    self_url: str,
    *,
    post: bool,
    omit: tuple[str, ...] = (),
) -> JSONResponse:
    base = _base(request)
    features = [_item_links(base, item, search.fields) for item in page.items]
    links = [_link("root", base), _link("self", self_url, GEOJSON)]
    if page.next_token:
        following = search.model_copy(update={"token": page.next_token})
        href = self_url.split("?")[0]
        if post:
            links.append(
                _link(
                    "next",
                    href,
                    GEOJSON,
                    method="POST",
                    body=stac_params.to_body(following),
                    merge=False,
                )
            )
        else:
            query = {k: v for k, v in stac_params.to_query(following).items() if k not in omit}
            links.append(_link("next", f"{href}?{urlencode(query)}", GEOJSON))
    body: dict[str, Any] = {
        "type": "FeatureCollection",
        "features": features,
        "links": links,
        "numberReturned": len(features),
    }
    if page.matched is not None:
        body["numberMatched"] = page.matched
    return _geojson(body)


# -- routes ---------------------------------------------------------------------
@router.get("", summary="STAC landing page", responses=docs.JSON_RESPONSES)
def landing(request: Request) -> JSONResponse:
    base = _base(request)
    root = base[: -len(PREFIX)]
    links = [
        _link("self", base),
        _link("root", base),
        _link("conformance", f"{base}/conformance"),
        _link("data", f"{base}/collections"),
        _link("search", f"{base}/search", GEOJSON, method="GET"),
        _link("search", f"{base}/search", GEOJSON, method="POST"),
        _link(QUERYABLES_REL, f"{base}/queryables", "application/schema+json"),
        _link("aggregate", f"{base}/aggregate", method="GET"),
        _link("aggregate", f"{base}/aggregate", method="POST"),
        # OpenAPI 3.0 first (what ``oas30`` promises and clients take), 3.1 as well
        _link("service-desc", f"{base}/api", docs.OPENAPI30_MEDIA_TYPE),
        _link("service-desc", f"{root}/openapi.json", docs.OPENAPI_MEDIA_TYPE),
        _link("service-doc", f"{root}/docs", "text/html"),
    ]
    for collection in _index(request).collections():
        links.append(
            _link(
                "child",
                f"{base}/collections/{_segment(collection['id'])}",
                title=collection.get("title"),
            )
        )
    return JSONResponse(
        {
            "type": "Catalog",
            "stac_version": STAC_VERSION,
            "id": "eokg",
            "title": "eokg STAC API",
            "description": "Earth Observation metadata discovery with semantic (SKOS) search.",
            "conformsTo": CONFORMANCE,
            "links": links,
        }
    )


@router.get("/api", include_in_schema=False)
def service_desc(request: Request) -> JSONResponse:
    """The app's OpenAPI document as OpenAPI 3.0.3, the ``service-desc`` of the landing
    page: the ``oas30`` conformance class is about this document, not ``/openapi.json``
    (FastAPI's 3.1)."""
    document = docs.openapi30(request.app.openapi())
    return JSONResponse(document, media_type=docs.OPENAPI30_MEDIA_TYPE)


@router.get("/conformance", summary="Conformance classes", responses=docs.JSON_RESPONSES)
def conformance() -> dict[str, Any]:
    return {"conformsTo": CONFORMANCE}


@router.get(
    "/collections",
    summary="All collections",
    openapi_extra=docs.STAC_COLLECTIONS_GET,
    responses=docs.JSON_RESPONSES,
)
def collections(request: Request) -> dict[str, Any]:
    """Collection Search: ``bbox``, ``datetime``, ``limit`` and free-text ``q``, paged by
    ``next``/``prev`` links as item search is (collection-search, #free-text)."""
    base = _base(request)
    search = stac_params.collections_from_query(request.query_params)
    page = _index(request).search_collections(search)
    self_url = f"{base}/collections"
    if request.url.query:
        self_url += f"?{request.url.query}"
    links = [_link("self", self_url), _link("root", base), _link("parent", base)]
    for rel, token in (("next", page.next_token), ("prev", page.prev_token)):
        if token:
            query = stac_params.collections_to_query(search.model_copy(update={"token": token}))
            links.append(_link(rel, f"{base}/collections?{urlencode(query)}"))
    found = [_collection_links(base, c) for c in page.collections]
    return {
        "collections": found,
        "links": links,
        "numberMatched": page.matched,
        "numberReturned": len(found),
    }


@router.get(
    "/collections/{collection_id}", summary="One collection", responses=docs.FOUND_RESPONSES
)
def collection(request: Request, collection_id: str) -> dict[str, Any]:
    return _collection_links(_base(request), _index(request).get_collection(collection_id))


@router.get(
    "/collections/{collection_id}/items",
    summary="Items of a collection",
    openapi_extra=docs.STAC_ITEMS_GET,
    responses=docs.ITEMS_RESPONSES,
)
def collection_items(request: Request, collection_id: str) -> JSONResponse:
    index = _index(request)
    index.get_collection(collection_id)
    params = dict(request.query_params)
    params.pop("collections", None)
    search = stac_params.from_query(params, collections=[collection_id])
    page = index.search(search)
    self_url = f"{_base(request)}/collections/{_segment(collection_id)}/items"
    if request.url.query:
        self_url += f"?{request.url.query}"
    return _feature_collection(request, page, search, self_url, post=False, omit=("collections",))


@router.get(
    "/collections/{collection_id}/items/{item_id}",
    summary="One item",
    responses=docs.ITEM_RESPONSES,
)
def item(request: Request, collection_id: str, item_id: str) -> JSONResponse:
    found = _index(request).get_item(collection_id, item_id)
    return _geojson(_item_links(_base(request), found))


@router.get(
    "/search",
    summary="Item search (GET)",
    openapi_extra=docs.STAC_SEARCH_GET,
    responses=docs.FEATURES_RESPONSES,
)
def search_get(request: Request) -> JSONResponse:
    search = stac_params.from_query(request.query_params)
    page = _index(request).search(search)
    self_url = f"{_base(request)}/search"
    if request.url.query:
        self_url += f"?{request.url.query}"
    return _feature_collection(request, page, search, self_url, post=False)


@router.post(
    "/search",
    summary="Item search (POST)",
    openapi_extra=docs.STAC_SEARCH_POST,
    responses=docs.SEARCH_POST_RESPONSES,
)
async def search_post(request: Request) -> JSONResponse:
    search = stac_params.from_body(await _json_body(request))
    from starlette.concurrency import run_in_threadpool

    page = await run_in_threadpool(_index(request).search, search)
    return _feature_collection(request, page, search, f"{_base(request)}/search", post=True)


@router.get(
    "/queryables",
    summary="Queryables of all collections",
    responses=docs.QUERYABLES_RESPONSES,
)
def queryables(request: Request) -> JSONResponse:
    doc = _index(request).queryables()
    doc["$id"] = f"{_base(request)}/queryables"
    return JSONResponse(doc, media_type="application/schema+json")


@router.get(
    "/collections/{collection_id}/queryables",
    summary="Queryables of one collection",
    responses=docs.COLLECTION_QUERYABLES_RESPONSES,
)
def collection_queryables(request: Request, collection_id: str) -> JSONResponse:
    doc = _index(request).queryables(collection_id)
    doc["$id"] = f"{_base(request)}/collections/{_segment(collection_id)}/queryables"
    return JSONResponse(doc, media_type="application/schema+json")


def _aggregate(
    request: Request, search: SearchRequest, names: list[str], interval: str
) -> dict[str, Any]:
    base = _base(request)
    return {
        "type": "AggregationCollection",
        "aggregations": _index(request).aggregate(search, names, interval=interval),
        "links": [_link("root", base), _link("self", f"{base}/aggregate")],
    }


DEFAULT_AGGREGATIONS = "total_count,collection_frequency,datetime_frequency,concept_frequency"


@router.get(
    "/aggregate",
    summary="Aggregations over an item search (GET)",
    openapi_extra=docs.STAC_AGGREGATE_GET,
    responses=docs.JSON_RESPONSES,
)
def aggregate_get(request: Request) -> dict[str, Any]:
    params = request.query_params
    names = stac_params._csv(params.get("aggregations", DEFAULT_AGGREGATIONS))
    interval = params.get("datetime_frequency_interval", "month")
    return _aggregate(request, stac_params.from_query(params), names, interval)


@router.post(
    "/aggregate",
    summary="Aggregations over an item search (POST)",
    openapi_extra=docs.STAC_AGGREGATE_POST,
    responses=docs.SEARCH_POST_RESPONSES_JSON,
)
async def aggregate_post(request: Request) -> dict[str, Any]:
    body = await _json_body(request)
    search = stac_params.from_body(body)
    names = body.get("aggregations", DEFAULT_AGGREGATIONS)
    if isinstance(names, str):
        names = stac_params._csv(names)
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise InputError("aggregations must be a list of names", where="aggregations")
    interval = body.get("datetime_frequency_interval", "month")
    if not isinstance(interval, str):
        raise InputError(
            "datetime_frequency_interval must be a string", where="datetime_frequency_interval"
        )
    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(_aggregate, request, search, names, interval)


@router.get("/aggregations", summary="Available aggregations", responses=docs.JSON_RESPONSES)
def aggregations(request: Request) -> dict[str, Any]:
    from eokg.catalog.index import AGGREGATIONS

    base = _base(request)
    return {
        "aggregations": [{"name": name} for name in AGGREGATIONS],
        "links": [_link("root", base), _link("self", f"{base}/aggregations")],
    }
