"""Elasticsearch catalogue backend (official client, imported only when used).

Layout: one index per collection (``{prefix}-items-{collection}-v{n}``) behind a
per-collection alias (``{prefix}-items-{collection}``, which writes go to) and a
shared read alias (``{prefix}-items``).  ``reindex_collection`` builds ``v{n+1}``
and swaps both aliases in one atomic ``_aliases`` call, so readers never see a
gap.  Collections live in ``{prefix}-collections``.  Query translation is in
``es_query`` (pure functions).  Client errors are logged in full and reported
without the cluster's URL, index names or query text (``_failed``).
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from eokg.catalog import es_query
from eokg.catalog.concepts import ConceptScheme, concept_query
from eokg.catalog.index import (
    AGGREGATIONS,
    BulkReport,
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
    decode_token,
    encode_token,
    explain,
)
from eokg.catalog.timeutil import to_iso
from eokg.config import CatalogSettings
from eokg.errors import (
    ConfigError,
    EokgError,
    InputError,
    NotFound,
    SourceUnavailable,
    require,
)

log = logging.getLogger(__name__)

INTERVALS = {"day": "day", "month": "month", "year": "year"}
FORMATS = {"day": "yyyy-MM-dd", "month": "yyyy-MM", "year": "yyyy"}


def _failed(exc: Exception, what: str) -> EokgError:
    """A client-facing error for a failed call; the client's text stays in the log."""
    log.warning("Elasticsearch %s failed: %s", what, exc)
    if type(exc).__name__ == "BadRequestError":
        return InputError(f"the catalogue rejected the {what}", where="filter")
    return SourceUnavailable(f"the catalogue backend failed during {what}", where="catalogue")


def _slug(collection: str) -> str:
    """Index names must be lowercase without most punctuation."""
    return re.sub(r"[^a-z0-9_\-]", "_", collection.lower())


class EsIndex:
    """The ``MetadataIndex`` on an Elasticsearch cluster."""

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "eokg",
        concepts: ConceptScheme | None = None,
        refresh: bool = False,
        client: Any = None,
    ) -> None:
        if client is None:
            elasticsearch = require("elasticsearch", "es")
            client = elasticsearch.Elasticsearch(url, request_timeout=60)
        self.es = client
        self.prefix = prefix
        self.concepts = concepts
        self.refresh = refresh
        self.read_alias = f"{prefix}-items"
        self.collections_index = f"{prefix}-collections"
        self._ready: set[str] = set()
        self._queryable_names: set[str] = set()
        try:
            self.es.indices.put_index_template(
                name=f"{prefix}-items", **es_query.index_template(prefix)
            )
            if not self.es.indices.exists(index=self.collections_index):
                self.es.indices.create(
                    index=self.collections_index,
                    mappings={"properties": {"doc": {"type": "object", "enabled": False}}},
                )
        except Exception as exc:
            raise SourceUnavailable(f"Elasticsearch is not usable: {exc}", where=url) from exc

    @classmethod
    def from_settings(
        cls, settings: CatalogSettings, *, concepts: ConceptScheme | None = None
    ) -> EsIndex:
        if not settings.es_url:
            raise ConfigError("the elasticsearch backend needs es_url", where="catalog.es_url")
        if concepts is None:
            from eokg.catalog.concepts import default_scheme

            concepts = default_scheme()
        return cls(settings.es_url, prefix=settings.es_index_prefix, concepts=concepts)

    def close(self) -> None:
        self.es.close()

    def drop(self) -> None:
        """Delete every index of this prefix (tests)."""
        # explicit names: clusters refuse wildcard deletes (destructive_requires_name)
        found = self.es.options(ignore_status=404).indices.get(index=f"{self.prefix}-*")
        for name in [n for n in found.body if n.startswith(f"{self.prefix}-")]:
            self.es.options(ignore_status=404).indices.delete(index=name)
        self.es.options(ignore_status=404).indices.delete_index_template(
            name=f"{self.prefix}-items"
        )

    # -- index management ---------------------------------------------------
    def _alias(self, collection: str) -> str:
        return f"{self.prefix}-items-{_slug(collection)}"

    def _ensure_collection_index(self, collection: str) -> str:
        alias = self._alias(collection)
        if alias in self._ready:
            return alias
        if not self.es.indices.exists_alias(name=alias):
            index = f"{alias}-v1"
            self.es.indices.create(
                index=index,
                aliases={alias: {"is_write_index": True}, self.read_alias: {}},
            )
        self._ready.add(alias)
        return alias

    def reindex_collection(self, collection: str) -> str:
        """Copy a collection into a fresh index (new mapping) and swap aliases atomically."""
        alias = self._alias(collection)
        current = list(self.es.indices.get_alias(name=alias).keys())
        if not current:
            raise NotFound("no such collection index", where=alias)
        version = max(int(name.rsplit("-v", 1)[1]) for name in current) + 1
        new = f"{alias}-v{version}"
        self.es.indices.create(index=new)
        self.es.reindex(source={"index": alias}, dest={"index": new}, refresh=True)
        actions: list[dict[str, Any]] = [
            {"add": {"index": new, "alias": alias, "is_write_index": True}},
            {"add": {"index": new, "alias": self.read_alias}},
        ]
        actions += [{"remove_index": {"index": old}} for old in current]
        self.es.indices.update_aliases(actions=actions)
        return new

    # -- writes -------------------------------------------------------------
    def add_collection(self, collection: dict[str, Any]) -> None:
        cid = check_collection_id(collection.get("id"))
        self._ensure_collection_index(cid)
        self.es.index(
            index=self.collections_index,
            id=cid,
            document={"doc": collection},
            refresh=self.refresh or None,
        )

    def upsert_items(
        self,
        items: Iterable[dict[str, Any]],
        *,
        batch_size: int = 1000,
        on_failure: Callable[[ItemFailure], None] | None = None,
    ) -> BulkReport:
        helpers = require("elasticsearch.helpers", "es")
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

        for ok, info in helpers.streaming_bulk(
            self.es,
            actions(),
            chunk_size=batch_size,
            raise_on_error=False,
            refresh="wait_for" if self.refresh else False,
        ):
            if ok:
                report.indexed += 1
            else:
                detail = next(iter(info.values()))
                failure = ItemFailure(
                    detail.get("_id"), json.dumps(detail.get("error")), None, None
                )
                report.failures.append(failure)
                if on_failure is not None:
                    on_failure(failure)
        self._record_queryables(seen)
        self._queryable_names.update(name for _, name in seen)
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
        if not self.es.exists(index=self.collections_index, id=collection):
            self.es.index(
                index=self.collections_index,
                id=collection,
                document={"doc": placeholder_collection(collection)},
                refresh=self.refresh or None,
            )

    def _record_queryables(self, seen: dict[tuple[str, str], str]) -> None:
        for (collection, name), kind in seen.items():
            self.es.index(
                index=f"{self.prefix}-queryables",
                id=f"{collection}\x1f{name}",
                document={"collection": collection, "name": name, "type": kind},
                refresh=self.refresh or None,
            )

    def delete_item(self, collection: str, item_id: str) -> None:
        result = self.es.delete_by_query(
            index=self.read_alias,
            query={
                "bool": {
                    "filter": [{"term": {"collection": collection}}, {"term": {"id": item_id}}]
                }
            },
            refresh=True,
        )
        if not result.get("deleted"):
            raise NotFound("no such item", where=f"{collection}/{item_id}")

    # -- reads --------------------------------------------------------------
    def collections(self) -> list[dict[str, Any]]:
        result = self.es.search(index=self.collections_index, size=10_000, sort=["_doc"])
        docs = [hit["_source"]["doc"] for hit in result["hits"]["hits"]]
        return sorted(docs, key=lambda d: d["id"])

    def get_collection(self, collection_id: str) -> dict[str, Any]:
        result = self.es.options(ignore_status=404).get(
            index=self.collections_index, id=collection_id
        )
        if not result.get("found"):
            raise NotFound("no such collection", where=f"collection {collection_id!r}")
        doc: dict[str, Any] = result["_source"]["doc"]
        return doc

    def get_item(self, collection: str, item_id: str) -> dict[str, Any]:
        result = self.es.options(ignore_status=404).get(index=self._alias(collection), id=item_id)
        if not result.get("found"):
            raise NotFound("no such item", where=f"{collection}/{item_id}")
        item: dict[str, Any] = result["_source"]["item"]
        return item

    def queryables(self, collection: str | None = None) -> dict[str, Any]:
        query: dict[str, Any] = {"match_all": {}}
        if collection is not None:
            self.get_collection(collection)
            query = {"term": {"collection.keyword": collection}}
        result = self.es.options(ignore_status=404).search(
            index=f"{self.prefix}-queryables", query=query, size=10_000
        )
        hits = result.get("hits", {}).get("hits", [])
        seen = {h["_source"]["name"]: h["_source"]["type"] for h in hits}
        return queryables_document(seen, collection)

    def _is_queryable(self, name: str) -> bool:
        """Seen at ingest, by this process or (looked up on a miss) by any other writer."""
        if name in self._queryable_names:
            return True
        try:
            result = self.es.options(ignore_status=404).search(
                index=f"{self.prefix}-queryables",
                query={"term": {"name.keyword": name}},
                size=1,
            )
        except Exception as exc:
            raise _failed(exc, "queryables lookup") from exc
        if result.get("hits", {}).get("hits"):
            self._queryable_names.add(name)
            return True
        return False

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
        )
        kwargs = dict(body)
        kwargs["source"] = kwargs.pop("_source")  # the client's name for the DSL's _source
        try:
            result = self.es.search(index=self.read_alias, **kwargs)
        except Exception as exc:
            raise _failed(exc, "search") from exc
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
        body = es_query.search_body(request, concept_iris=concept_iris, text_concepts=text_concepts)
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
        try:
            result = self.es.search(
                index=self.read_alias,
                query=body["query"],
                size=0,
                track_total_hits=True,
                aggs={k: v for k, v in aggs.items() if k in aggregations},
            )
        except Exception as exc:
            raise _failed(exc, "aggregation") from exc
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
