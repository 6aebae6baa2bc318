"""The one interface every catalogue backend implements, and its request/response models.

The STAC API, the CLI and the pipeline talk only to ``MetadataIndex``; which
backend sits behind it (embedded SQLite or Elasticsearch) is a config value,
resolved once by ``open_index``.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from eokg.catalog.timeutil import canonical_interval, parse_interval
from eokg.config import CatalogSettings
from eokg.errors import ConfigError, InputError

#: hard cap on page size: a larger ``limit`` is served as this (STAC API item search).
MAX_LIMIT = 10_000
#: the only CRS of filter geometries (STAC API filter: servers accept only this).
CRS84 = {
    "http://www.opengis.net/def/crs/OGC/1.3/CRS84",
    "https://www.opengis.net/def/crs/OGC/1.3/CRS84",
}
#: aggregations every backend supports.
AGGREGATIONS = (
    "total_count",
    "collection_frequency",
    "datetime_frequency",
    "concept_frequency",
    "datetime_min",
    "datetime_max",
)


class SortField(BaseModel):
    field: str
    direction: Literal["asc", "desc"] = "asc"


class FieldsSpec(BaseModel):
    """Fields extension: dotted item paths (applied to returned items, never to a query).

    ``null`` is an empty list, but whether ``include`` was given at all matters:
    ``{"exclude": [...]}`` subtracts from the whole item, ``{"include": [], "exclude":
    [...]}`` from the default set (``search_common.apply_fields``).
    """

    include: list[str] = Field(default_factory=list)
    exclude: list[str] = Field(default_factory=list)

    @field_validator("include", "exclude", mode="before")
    @classmethod
    def _null_is_empty(cls, value: Any) -> Any:
        return [] if value is None else value

    @field_validator("include", "exclude")
    @classmethod
    def _check_paths(cls, value: list[str]) -> list[str]:
        for path in value:
            if not path or len(path) > 256 or any(not part for part in path.split(".")):
                raise ValueError(f"{path!r} is not a dotted field path such as properties.title")
        return value


def request_error(exc: ValidationError) -> InputError:
    """The first validation error of a search as an ``InputError`` naming the parameter."""
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "body"
    return InputError(str(first["msg"]).removeprefix("Value error, "), where=where)


def clamp_limit(value: Any) -> Any:
    """Above the maximum is served as the maximum: the STAC API says so, not a 400."""
    if isinstance(value, int) and not isinstance(value, bool) and value > MAX_LIMIT:
        return MAX_LIMIT
    return value


def check_bbox(value: list[float]) -> list[float]:
    """A WGS 84 ``bbox`` (4 numbers, or 6 with heights) as 4 numbers, or ValueError.

    Shared by item and collection search so both refuse the same boxes with the same
    message; ``west > east`` is allowed: the box crosses the antimeridian.
    """
    if len(value) not in (4, 6):
        raise ValueError("bbox needs 4 or 6 numbers")
    if not all(math.isfinite(v) for v in value):
        raise ValueError("bbox numbers must be finite (no NaN or infinity)")
    if len(value) == 6:
        if value[2] > value[5]:
            raise ValueError("bbox minimum elevation is greater than its maximum")
        value = [value[0], value[1], value[3], value[4]]
    west, south, east, north = value
    if not (-180 <= west <= 180 and -180 <= east <= 180):
        raise ValueError("bbox longitudes must lie in [-180, 180] (WGS 84)")
    if not (-90 <= south <= 90 and -90 <= north <= 90):
        raise ValueError("bbox latitudes must lie in [-90, 90] (WGS 84)")
    if south > north:
        raise ValueError("bbox south is greater than north")
    return value


def check_datetime(value: str) -> str:
    """Strict RFC 3339 (a date alone or a missing offset is a 400), then one plain form."""
    try:
        return canonical_interval(value)
    except InputError as exc:
        raise ValueError(exc.message) from exc


class _Request(BaseModel):
    """A request model whose validation errors are ``InputError`` naming the field, and
    whose ``limit`` above the maximum acts as the maximum (STAC API: not a 400)."""

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise request_error(exc) from exc

    @field_validator("limit", mode="before", check_fields=False)
    @classmethod
    def _clamp_limit(cls, value: Any) -> Any:
        return clamp_limit(value)


class SearchRequest(_Request):
    """A STAC item search, whichever way it arrived (GET query string, POST body, Python).

    Invalid values raise ``InputError`` naming the parameter (a 400 in the API),
    whoever builds the request: the STAC routes, semantic search or a script.
    """

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    bbox: list[float] | None = None
    intersects: dict[str, Any] | None = None
    datetime: str | None = None
    ids: list[str] | None = None
    collections: list[str] | None = None
    limit: int = Field(default=10, ge=1, le=MAX_LIMIT)
    token: str | None = None
    filter: str | dict[str, Any] | None = None
    filter_lang: Literal["cql2-text", "cql2-json"] | None = Field(default=None, alias="filter-lang")
    filter_crs: str | None = Field(default=None, alias="filter-crs")
    sortby: list[SortField] | None = None
    fields: FieldsSpec | None = None
    q: list[str] | None = None
    concepts: list[str] | None = None

    @field_validator("fields", mode="before")
    @classmethod
    def _fields_object(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("fields must be an object with include and/or exclude lists")
        return value

    @model_validator(mode="after")
    def _bbox_xor_intersects(self) -> SearchRequest:
        if self.bbox is not None and self.intersects is not None:
            raise ValueError("give bbox or intersects, not both")
        return self

    @field_validator("bbox")
    @classmethod
    def _check_bbox(cls, value: list[float] | None) -> list[float] | None:
        return None if value is None else check_bbox(value)

    @field_validator("intersects")
    @classmethod
    def _check_intersects(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None:
            from eokg.catalog.cql2_sql import literal_geometry

            if "type" not in value:
                raise ValueError("intersects must be a GeoJSON geometry")
            try:
                literal_geometry(value, "intersects")
            except InputError as exc:
                raise ValueError(exc.message.replace("geometry literal", "geometry")) from exc
        return value

    @field_validator("filter_crs")
    @classmethod
    def _check_crs(cls, value: str | None) -> str | None:
        if value is not None and value not in CRS84:
            raise ValueError(f"filter-crs must be {min(CRS84)} (the only one supported)")
        return value

    @field_validator("datetime")
    @classmethod
    def _check_datetime(cls, value: str | None) -> str | None:
        return None if value is None else check_datetime(value)

    def interval(self) -> tuple[float | None, float | None] | None:
        return parse_interval(self.datetime) if self.datetime else None

    def sort_fields(self) -> list[SortField]:
        """The requested order, or newest first; ``id`` then ``collection`` break ties,
        so every item has a distinct sort key and keyset pages are stable."""
        order = list(self.sortby or [SortField(field="datetime", direction="desc")])
        for tie in ("id", "collection"):
            if not any(s.field == tie for s in order):
                order.append(SortField(field=tie, direction="asc"))
        return order

    def cql2_json(self) -> dict[str, Any] | None:
        from eokg.catalog.cql2_parse import filter_to_json

        return filter_to_json(self.filter, self.filter_lang)


#: page size of a collection search without ``limit`` (as for item search).
COLLECTIONS_LIMIT = 10


class CollectionSearch(_Request):
    """A STAC API Collection Search (``GET /collections``): simple query plus free text.

    ``bbox`` and ``datetime`` are checked exactly as for items, so a box or time a
    client may send to ``/search`` means the same here and is refused the same way.
    """

    model_config = ConfigDict(extra="forbid")

    bbox: list[float] | None = None
    datetime: str | None = None
    q: list[str] | None = None
    limit: int = Field(default=COLLECTIONS_LIMIT, ge=1, le=MAX_LIMIT)
    token: str | None = None

    @field_validator("bbox")
    @classmethod
    def _check_bbox(cls, value: list[float] | None) -> list[float] | None:
        return None if value is None else check_bbox(value)

    @field_validator("datetime")
    @classmethod
    def _check_datetime(cls, value: str | None) -> str | None:
        return None if value is None else check_datetime(value)

    def interval(self) -> tuple[float | None, float | None] | None:
        return parse_interval(self.datetime) if self.datetime else None


@dataclass
class CollectionPage:
    """One page of a collection search, ordered by id, with tokens both ways."""

    collections: list[dict[str, Any]]
    matched: int
    next_token: str | None = None
    prev_token: str | None = None


@dataclass
class Match:
    """Why a hit matched: the requested concept or term and the item field that satisfied it."""

    kind: Literal["concept", "text"]
    query: str
    via: str

    def to_json(self) -> dict[str, str]:
        return {"kind": self.kind, "query": self.query, "via": self.via}


@dataclass
class SearchPage:
    items: list[dict[str, Any]]
    matched: int | None
    next_token: str | None
    #: item id -> reasons (only for q/concepts searches)
    why: dict[str, list[Match]] = field(default_factory=dict)


@dataclass
class ItemFailure:
    item_id: str | None
    reason: str
    field: str | None = None
    source: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


@dataclass
class BulkReport:
    indexed: int = 0
    failures: list[ItemFailure] = field(default_factory=list)

    @property
    def failed(self) -> int:
        return len(self.failures)

    def merge(self, other: BulkReport) -> None:
        self.indexed += other.indexed
        self.failures.extend(other.failures)


@runtime_checkable
class MetadataIndex(Protocol):
    """What the STAC API and CLI need from a catalogue backend."""

    def add_collection(self, collection: dict[str, Any]) -> None: ...

    def upsert_items(
        self,
        items: Iterable[dict[str, Any]],
        *,
        batch_size: int = 1000,
        on_failure: Callable[[ItemFailure], None] | None = None,
    ) -> BulkReport:
        """Validate and write ``items`` in transactional batches; bad items are reported
        (and passed to ``on_failure`` the moment they are rejected), good ones kept."""
        ...

    def get_item(self, collection: str, item_id: str) -> dict[str, Any]: ...

    def delete_item(self, collection: str, item_id: str) -> None: ...

    def search(self, request: SearchRequest) -> SearchPage: ...

    def aggregate(
        self, request: SearchRequest, aggregations: list[str], *, interval: str = "month"
    ) -> list[dict[str, Any]]: ...

    def collections(self) -> list[dict[str, Any]]: ...

    def search_collections(self, request: CollectionSearch) -> CollectionPage:
        """Collections whose extent meets ``bbox``/``datetime`` and text meets ``q``."""
        ...

    def get_collection(self, collection_id: str) -> dict[str, Any]: ...

    def queryables(self, collection: str | None = None) -> dict[str, Any]: ...

    def close(self) -> None: ...


#: backend name (CatalogSettings.backend) -> "module:factory".  Immutable on purpose.
BACKENDS: dict[str, str] = {
    "embedded": "eokg.catalog.sqlite_index:SqliteIndex.from_settings",
    "elasticsearch": "eokg.catalog.es_index:EsIndex.from_settings",
}


def open_index(settings: CatalogSettings, **kwargs: Any) -> MetadataIndex:
    """Open the backend the settings choose; ``kwargs`` (e.g. ``concepts``) go to its factory."""
    target = BACKENDS.get(settings.backend)
    if target is None:
        raise ConfigError(
            f"unknown catalogue backend {settings.backend!r}", where="catalog.backend"
        )
    module_name, _, attr = target.partition(":")
    factory: Any = importlib.import_module(module_name)
    for part in attr.split("."):
        factory = getattr(factory, part)
    index: MetadataIndex = factory(settings, **kwargs)
    return index
