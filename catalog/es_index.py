"""Elasticsearch / OpenSearch catalogue backend (drivers imported only when used).

Layout: one index per collection (``{prefix}-items-{collection}-v{n}``) behind a
per-collection alias (``{prefix}-items-{collection}``, which writes go to) and a
shared read alias (``{prefix}-items``).  ``reindex_collection`` builds ``v{n+1}``
and swaps both aliases in one atomic ``_aliases`` call, so readers never see a
gap; the old index is deleted after the swap has settled.  Collections live in
``{prefix}-collections``.  Query translation is in ``es_query`` (pure functions).
The server is reached through ``es_client``: the official ``elasticsearch``
client for Elasticsearch, ``opensearch-py`` for OpenSearch, one adapter
interface; driver errors are logged in full and leave it as ``eokg.errors``
without the cluster's URL, index names or query text.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from eokg.catalog import es_query
from eokg.catalog.concepts import ConceptScheme, concept_query
from eokg.catalog.es_client import ElasticsearchClient, Flavor, SearchClient, connect
from eokg.catalog.index import (
    AGGREGATIONS,
    BulkReport,
    CollectionPage,
    CollectionSearch,
    ItemFailure,
    SearchPage,
    SearchRequest,
)
from eokg.catalog.items import (
    MATCHED_PROPERTY,
    IndexedItem,
    check_collection_id,
    placeholder_collection,
    valid_items,
)
from eokg.catalog.queryables import json_type, queryables_document
from eokg.catalog.search_common import (
    apply_fields,
    check_queryables,
    collection_page,
    decode_token,
    encode_token,
    explain,
)
from eokg.catalog.timeutil import to_iso
from eokg.config import CatalogSettings
from eokg.errors import ConfigError, InputError, NotFound, SourceUnavailable

log = logging.getLogger(__name__)

INTERVALS = {"day": "day", "month": "month", "year": "year"}
FORMATS = {"day": "yyyy-MM-dd", "month": "yyyy-MM", "year": "yyyy"}


#: "failed to parse field [properties.orbit] of type [long] ..." -> the item field
_FIELD_IN_REASON = re.compile(r"field \[(?:properties\.|derived\.)?([^\]]+)\]")


def _bulk_failure(info: dict[str, Any]) -> ItemFailure:
    """One rejected bulk action as an ``ItemFailure`` (error type, reason and field)."""
    detail = next(iter(info.values()))
    error = detail.get("error")
    if isinstance(error, dict):
        reason = f"the catalogue rejected the item ({error.get('type')}): {error.get('reason')}"
        cause = error.get("caused_by") or {}
        if cause.get("reason"):
            reason += f"; {cause['reason']}"
        found = _FIELD_IN_REASON.search(str(error.get("reason", "")))
        field = found.group(1) if found else None
    else:
        reason, field = f"the catalogue rejected the item: {error}", None
    if field in ("t_start", "t_end"):
        field = "datetime"
    return ItemFailure(detail.get("_id"), reason, field, None)


def _slug(collection: str) -> str:
    """Index names must be lowercase without most punctuation."""
    return re.sub(r"[^a-z0-9_\-]", "_", collection.lower())


class EsIndex:
    """The ``MetadataIndex`` on an Elasticsearch or OpenSearch cluster.

    ``flavor`` picks the driver (``auto``: ask the server); ``client`` is an
    ``es_client.SearchClient``, or a raw driver object taken as Elasticsearch.
    """

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "eokg",
        concepts: ConceptScheme | None = None,
        refresh: bool = False,
        client: Any = None,
        flavor: Flavor = "auto",
    ) -> None:
        if client is None:
            client = connect(url, flavor)
        elif not isinstance(client, SearchClient):
            client = ElasticsearchClient(client)
        self.client: SearchClient = client
        self.prefix = prefix
        self.concepts = concepts
        self.refresh = refresh
        self.read_alias = f"{prefix}-items"
        self.collections_index = f"{prefix}-collections"
        self.queryables_index = f"{prefix}-queryables"
        self._ready: set[str] = set()
        self._queryable_names: set[str] = set()
        #: property -> JSON types seen at ingest (here or, once looked up, anywhere)
        self._queryable_types: dict[str, set[str]] = {}
        try:
            self.client.call(
                "indices.put_index_template",
                name=f"{prefix}-items",
                body=es_query.index_template(prefix),
            )
            # indices made before the template said so (a dynamic setting; none is fine)
            self.client.call(
                "indices.put_settings",
                index=f"{prefix}-items-*",
                body={"index": es_query.ITEM_INDEX_SETTINGS},
                missing_ok=True,
            )
            if not self.client.exists("indices.exists", index=self.collections_index):
                self._create_index(
                    self.collections_index,
                    {"mappings": {"properties": {"doc": {"type": "object", "enabled": False}}}},
                )
        except Exception as exc:
            log.warning("catalogue server at %s is not usable: %s", url, exc)
            raise SourceUnavailable(
                "the catalogue server is not usable", where="catalog.es_url"
            ) from exc

    @classmethod
    def from_settings(
        cls, settings: CatalogSettings, *, concepts: ConceptScheme | None = None
    ) -> EsIndex:
        if not settings.es_url:
            raise ConfigError("the elasticsearch backend needs es_url", where="catalog.es_url")
        if concepts is None:
            from eokg.catalog.concepts import default_scheme

            concepts = default_scheme()
        return cls(
            settings.es_url,
            prefix=settings.es_index_prefix,
            concepts=concepts,
            flavor=settings.es_flavor,
        )

    def close(self) -> None:
        self.client.close()

    def drop(self) -> None:
        """Delete every index of this prefix (tests)."""
        # explicit names: clusters refuse wildcard deletes (destructive_requires_name)
        found = self.client.call("indices.get", index=f"{self.prefix}-*", missing_ok=True)
        for name in [n for n in found or {} if n.startswith(f"{self.prefix}-")]:
            self.client.call("indices.delete", index=name, missing_ok=True)
        self.client.call(
            "indices.delete_index_template", name=f"{self.prefix}-items", missing_ok=True
        )

    # -- index management ---------------------------------------------------
    def _alias(self, collection: str) -> str:
        return f"{self.prefix}-items-{_slug(collection)}"

    def _create_index(self, index: str, body: dict[str, Any]) -> bool:
        """Create ``index``; False when another writer created it first."""
        try:
            self.client.call("indices.create", index=index, body=body)
        except InputError:
            # a 400: most likely resource_already_exists_exception from a racing writer
            if self.client.exists("indices.exists", index=index):
                return False
            raise
        return True

    def _ensure_collection_index(self, collection: str) -> str:
        alias = self._alias(collection)
        if alias in self._ready:
            return alias
        if not self.client.exists("indices.exists_alias", name=alias):
            # index and both aliases in one request: never an index without its aliases
            aliases = {alias: {"is_write_index": True}, self.read_alias: {}}
            self._create_index(f"{alias}-v1", {"aliases": aliases})
        self._ready.add(alias)
        return alias

    def _versions(self, alias: str) -> dict[str, bool]:
        """Every ``{alias}-v{n}`` index -> whether the collection alias points to it."""
        found = self.client.call("indices.get", index=f"{alias}-v*", missing_ok=True) or {}
        pattern = re.compile(re.escape(alias) + r"-v\d+")
        return {
            name: alias in info.get("aliases", {})
            for name, info in found.items()
            if pattern.fullmatch(name)
        }

    def reindex_collection(self, collection: str) -> str:
        """Copy a collection into a fresh index (new mapping) and swap aliases atomically.

        The new index gets no alias until its shards are started and it is complete
        and refreshed; the swap (both aliases moved to it) is one ``_aliases`` call,
        so readers see the old index or the new one, never neither.  The old
        indices are deleted only once every node applies the swap: deleted in the
        same call, searches resolved just before it failed with 503 on a loaded
        node until the deletion settled.  If the copy fails, the old index keeps
        serving and the half-built one (or an old one left by a failed delete) is
        dropped at the next reindex.
        """
        alias = self._alias(collection)
        versions = self._versions(alias)
        current = [name for name, aliased in versions.items() if aliased]
        if not current:
            raise NotFound("no such collection index", where=f"collection {collection!r}")
        version = max(int(name.rsplit("-v", 1)[1]) for name in versions) + 1
        new = f"{alias}-v{version}"
        self._create_index(new, {})
        self.client.call("cluster.health", index=new, wait_for_status="yellow")
        self.client.call(
            "reindex",
            body={"source": {"index": alias}, "dest": {"index": new}},
            refresh=True,
            wait_for_completion=True,
        )
        actions: list[dict[str, Any]] = [
            {"add": {"index": new, "alias": alias, "is_write_index": True}},
            {"add": {"index": new, "alias": self.read_alias}},
        ]
        actions += [
            {"remove": {"index": old, "alias": name}}
            for old in current
            for name in (alias, self.read_alias)
        ]
        self.client.call("indices.update_aliases", body={"actions": actions})
        self.client.call("cluster.health", wait_for_events="languid")
        for name in versions:  # the swapped-out ones, and any left by a failed copy
            self.client.call("indices.delete", index=name, missing_ok=True)
        return new

    # -- writes -------------------------------------------------------------
    def add_collection(self, collection: dict[str, Any]) -> None:
        cid = check_collection_id(collection.get("id"))
        self._ensure_collection_index(cid)
        self.client.call(
            "index",
            index=self.collections_index,
            id=cid,
            body={"doc": collection},
            refresh=self._refresh_value(),
        )

    def _refresh_value(self) -> Any:
        # "true", not "wait_for": the latter waits out the 1 s refresh interval per call
        return "true" if self.refresh else None

    def upsert_items(
        self,
        items: Iterable[dict[str, Any]],
        *,
        batch_size: int = 1000,
        on_failure: Callable[[ItemFailure], None] | None = None,
    ) -> BulkReport:
        report = BulkReport()
        seen: dict[tuple[str, str], str] = {}
        known_collections: set[str] = set()

        def actions() -> Iterator[dict[str, Any]]:
            for p in valid_items(items, report, on_failure):
                if p.collection not in known_collections:
                    self._ensure_collection_index(p.collection)
                    self._placeholder(p.collection)
                    known_collections.add(p.collection)
                for name, value in p.item["properties"].items():
                    seen.setdefault((p.collection, name), json_type(value))
                yield self._action(p)

        try:
            for ok, info in self.client.streaming_bulk(
                actions(),
                chunk_size=batch_size,
                refresh="true" if self.refresh else "false",
            ):
                if ok:
                    report.indexed += 1
                else:
                    failure = _bulk_failure(info)
                    report.failures.append(failure)
                    if on_failure is not None:
                        on_failure(failure)
        finally:
            # what reached the index is queryable, even when a later batch failed
            if seen:
                try:
                    self._record_queryables(seen)
                except SourceUnavailable:
                    log.warning("could not record %d queryables", len(seen))
        return report

    def _action(self, p: IndexedItem) -> dict[str, Any]:
        labels = self.concepts.labels_text(p.concepts) if self.concepts else ""
        return {
            "_op_type": "index",
            "_index": self._alias(p.collection),
            "_id": p.id,
            "_source": es_query.document(p, labels),
        }

    def _placeholder(self, collection: str) -> None:
        if self.client.exists("exists", index=self.collections_index, id=collection):
            return
        # create only (409 if present): a collection written meanwhile is never replaced
        self.client.call(
            "index",
            index=self.collections_index,
            id=collection,
            body={"doc": placeholder_collection(collection)},
            op_type="create",
            refresh=self._refresh_value(),
            ignore=(409,),
        )

    def _record_queryables(self, seen: dict[tuple[str, str], str]) -> None:
        """One bulk request for the (collection, property) pairs of an ingest."""
        body: list[dict[str, Any]] = []
        for (collection, name), kind in seen.items():
            key = f"{collection}\x1f{name}"
            body.append({"index": {"_index": self.queryables_index, "_id": key}})
            body.append({"collection": collection, "name": name, "type": kind})
        self.client.call("bulk", body=body, refresh=self._refresh_value() or "false")
        for (_, name), kind in seen.items():
            self._queryable_names.add(name)
            self._queryable_types.setdefault(name, set()).add(kind)

    def delete_item(self, collection: str, item_id: str) -> None:
        # by id on the collection's write alias: no search, no _delete_by_query
        result = self.client.call(
            "delete",
            index=self._alias(collection),
            id=item_id,
            refresh="true",
            missing_ok=True,
        )
        if not result or result.get("result") != "deleted":
            raise NotFound("no such item", where=f"{collection}/{item_id}")

    # -- reads --------------------------------------------------------------
    def collections(self) -> list[dict[str, Any]]:
        result = self.client.call(
            "search", index=self.collections_index, body={"size": 10_000, "sort": ["_doc"]}
        )
        docs = [hit["_source"]["doc"] for hit in result["hits"]["hits"]]
        return sorted(docs, key=lambda d: d["id"])

    def search_collections(self, request: CollectionSearch) -> CollectionPage:
        """Collection Search, matched in ``search_common`` so every backend agrees."""
        return collection_page(self.collections(), request)

    def get_collection(self, collection_id: str) -> dict[str, Any]:
        result = self.client.call(
            "get", index=self.collections_index, id=collection_id, missing_ok=True
        )
        if not result or not result.get("found"):
            raise NotFound("no such collection", where=f"collection {collection_id!r}")
        doc: dict[str, Any] = result["_source"]["doc"]
        return doc

    def get_item(self, collection: str, item_id: str) -> dict[str, Any]:
        result = self.client.call("get", index=self._alias(collection), id=item_id, missing_ok=True)
        if not result or not result.get("found"):
            raise NotFound("no such item", where=f"{collection}/{item_id}")
        item: dict[str, Any] = result["_source"]["item"]
        return item

    def _queryables_hits(self, query: dict[str, Any], size: int) -> list[dict[str, Any]]:
        result = self.client.call(
            "search",
            index=self.queryables_index,
            body={"query": query, "size": size},
            missing_ok=True,  # no ingest yet: no queryables index
        )
        hits: list[dict[str, Any]] = (result or {}).get("hits", {}).get("hits", [])
        return hits

    def queryables(self, collection: str | None = None) -> dict[str, Any]:
        query: dict[str, Any] = {"match_all": {}}
        if collection is not None:
            self.get_collection(collection)
            query = {"term": {"collection.keyword": collection}}
        hits = self._queryables_hits(query, 10_000)
        seen = {h["_source"]["name"]: h["_source"]["type"] for h in hits}
        return queryables_document(seen, collection)

    def _is_queryable(self, name: str) -> bool:
        """Seen at ingest, by this process or (looked up on a miss) by any other writer."""
        if name in self._queryable_names:
            return True
        hits = self._queryables_hits({"term": {"name.keyword": name}}, 1000)
        kinds = {h["_source"].get("type") for h in hits} - {None}
        self._queryable_types.setdefault(name, set()).update(kinds)
        if hits:
            self._queryable_names.add(name)
            return True
        return False

    def _field_types(self) -> es_query.FieldTypes:
        """Document field -> JSON types of the properties seen (for ``es_query``)."""
        out: es_query.FieldTypes = {}
        for name, kinds in self._queryable_types.items():
            try:
                out[es_query.field_name(name, "")] = frozenset(kinds)
            except InputError:
                continue  # a name no query can use
        return out

    def _semantic(self, request: SearchRequest) -> tuple[Any, list[str], list[str]]:
        cq = None
        concept_iris: list[str] = []
        text_concepts: list[str] = []
        if request.concepts or request.q:
            cq = concept_query(self.concepts, request.concepts or [], request.q or [])
            concept_iris = sorted(
                {i for c in request.concepts or [] for i in cq.expansions.get(c, {c})}
            )
            text_concepts = sorted(
                {
                    i
                    for c, group in cq.expansions.items()
                    if c not in (request.concepts or [])
                    for i in group
                }
            )
        return cq, concept_iris, text_concepts

    def search(self, request: SearchRequest) -> SearchPage:
        check_queryables(request, self._is_queryable)
        cq, concept_iris, text_concepts = self._semantic(request)
        after = None
        if request.token:
            after = decode_token(request.token, len(request.sort_fields()))
        body = es_query.search_body(
            request,
            concept_iris=concept_iris,
            text_concepts=text_concepts,
            search_after=after,
            types=self._field_types(),
        )
        result = self._search(body, "search")
        hits = result["hits"]["hits"]
        next_token = None
        if len(hits) > request.limit:
            hits = hits[: request.limit]
            next_token = encode_token(hits[-1]["sort"])
        items = []
        why = {}
        for hit in hits:
            item = hit["_source"]["item"]
            if cq is not None:
                reasons = explain(item, request.q or [], cq)
                why[item["id"]] = reasons
                item["properties"][MATCHED_PROPERTY] = [r.to_json() for r in reasons]
            items.append(apply_fields(item, request.fields))
        return SearchPage(items, result["hits"]["total"]["value"], next_token, why)

    def _search(self, body: dict[str, Any], what: str) -> dict[str, Any]:
        """A search on the read alias; a 400 is the request's fault, the rest the server's."""
        try:
            result: dict[str, Any] = self.client.call("search", index=self.read_alias, body=body)
        except InputError as exc:
            raise InputError(f"the catalogue rejected the {what}", where="filter") from exc
        except NotFound:
            # nothing ingested yet: no index behind the read alias
            result = {"hits": {"total": {"value": 0}, "hits": []}, "aggregations": {}}
        shards = result.get("_shards", {})
        if shards.get("failed"):
            # a partial answer is a wrong answer: never return it as the result
            log.warning("catalogue %s: shard failures %s", what, shards.get("failures"))
            reasons = json.dumps(shards.get("failures", []))
            if "query_shard_exception" in reasons or "illegal_argument" in reasons:
                raise InputError(f"the catalogue rejected the {what}", where="filter")
            raise SourceUnavailable(
                f"the catalogue answered the {what} only in part", where="catalogue"
            )
        return result

    def aggregate(
        self, request: SearchRequest, aggregations: list[str], *, interval: str = "month"
    ) -> list[dict[str, Any]]:
        unknown = [a for a in aggregations if a not in AGGREGATIONS]
        if unknown:
            raise InputError(f"unknown aggregation(s) {unknown}", where="aggregations")
        if interval not in INTERVALS:
            raise InputError(f"interval must be one of {list(INTERVALS)}", where="interval")
        check_queryables(request, self._is_queryable)
        _, concept_iris, text_concepts = self._semantic(request)
        body = es_query.search_body(
            request,
            concept_iris=concept_iris,
            text_concepts=text_concepts,
            types=self._field_types(),
        )
        aggs = {
            "collection_frequency": {"terms": {"field": "collection", "size": 1000}},
            "concept_frequency": {"terms": {"field": "concepts", "size": 1000}},
            "datetime_frequency": {
                "date_histogram": {
                    "field": "t_start",
                    "calendar_interval": INTERVALS[interval],
                    "format": FORMATS[interval],
                    "min_doc_count": 1,
                }
            },
            "datetime_min": {"min": {"field": "t_start"}},
            "datetime_max": {"max": {"field": "t_end"}},
        }
        result = self._search(
            {
                "query": body["query"],
                "size": 0,
                "track_total_hits": True,
                "aggs": {k: v for k, v in aggs.items() if k in aggregations},
            },
            "aggregation",
        )
        out: list[dict[str, Any]] = []
        for name in aggregations:
            if name == "total_count":
                total = result["hits"]["total"]["value"]
                out.append({"name": name, "data_type": "integer", "value": total})
            elif name in ("datetime_min", "datetime_max"):
                value = result["aggregations"][name]["value"]
                iso = to_iso(value / 1000) if value is not None else None
                out.append({"name": name, "data_type": "datetime", "value": iso})
            else:
                key_type = "datetime" if name == "datetime_frequency" else "string"
                buckets = [
                    {
                        "key": b.get("key_as_string", b["key"]),
                        "data_type": key_type,
                        "frequency": b["doc_count"],
                    }
                    for b in result["aggregations"][name]["buckets"]
                ]
                out.append(
                    {"name": name, "data_type": "frequency_distribution", "buckets": buckets}
                )
        return out
