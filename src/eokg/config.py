"""Settings, from one place.

Values come, highest priority first, from keyword arguments, ``EOKG_*``
environment variables (nested sections with a double underscore, e.g.
``EOKG_API__API_KEY``), a TOML file (``EOKG_CONFIG`` or ``./eokg.toml``), and the
defaults below.  The defaults are the embedded ones: everything works on one
machine with no server.

Settings are built once, by the CLI, the app factory or the Spark driver, and
passed down; no module reads them at import time.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from eokg.errors import ConfigError


class StoreSettings(BaseModel):
    """The RDF store under the GeoSPARQL layer."""

    # "oxigraph": embedded pyoxigraph; "sparql": a remote SPARQL 1.1 endpoint.
    backend: Literal["oxigraph", "sparql"] = "oxigraph"
    # On-disk RocksDB folder; None keeps the store in memory.
    path: Path | None = None
    query_url: str | None = None
    update_url: str | None = None
    # Rows fetched per page when results are streamed.
    page_size: int = 10_000
    # GeoSPARQL RDFS entailment: geo:Feature finds subclass instances, geo:hasGeometry
    # its subproperties.  Switch off for plain SPARQL semantics.
    entailment: bool = True
    # A query that names no graph (no FROM, no default-graph-uri) sees the union of
    # all graphs; false gives plain SPARQL 1.1 semantics (the store's default graph).
    union_default_graph: bool = True
    # Worker processes evaluating queries that have a timeout (the API's), for an
    # on-disk store: a timed-out query is killed instead of running on. 0: threads.
    query_workers: int = Field(default=2, ge=0, le=64)


class ApiSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = 8000
    # Needed for SPARQL UPDATE and other writes; None disables writes over HTTP.
    # Kept out of repr(), so logging or printing the settings never shows it.
    api_key: str | None = Field(default=None, repr=False)
    query_timeout_s: float = 60.0
    max_results: int = 100_000
    max_request_bytes: int = 10 * 1024 * 1024
    public_url: str | None = None
    # Built STAC Browser served under /browser (scripts/vendor_stac_browser.sh);
    # None: the install's .vendor/stac-browser-4.0.1.  Never built at run time.
    browser_dir: Path | None = None


#: request headers that carry the API key (``api.sparql``): never allowed cross-origin.
CREDENTIAL_HEADERS = frozenset({"authorization", "x-api-key"})


class CorsSettings(BaseModel):
    """Which web pages (origins) may call the read API from a browser (CORS).

    The default lets any origin GET and POST queries and searches: the data is
    public and no cookie or key is involved.  Writes never cross origins, whatever
    is set here: a request carrying the API key (``Authorization`` or
    ``X-API-Key``) or a SPARQL UPDATE body gets no CORS headers, and a preflight
    asking to send those headers is refused, so a page elsewhere cannot make the
    browser of someone holding the key write.  ``allow_origins = []`` turns CORS off.
    """

    allow_origins: list[str] = Field(default_factory=lambda: ["*"])
    # pydantic copies a list default per instance: no default_factory needed
    allow_methods: list[Literal["GET", "POST", "HEAD"]] = ["GET", "POST"]
    # request headers a page may send beyond the CORS-safelisted ones
    allow_headers: list[str] = Field(default_factory=lambda: ["Content-Type", "Accept"])
    # response headers a page may read beyond the safelisted ones
    expose_headers: list[str] = Field(default_factory=lambda: ["X-EOKG-Partial"])
    max_age_s: int = Field(default=600, ge=0)

    @field_validator("allow_headers")
    @classmethod
    def _no_credentials(cls, headers: list[str]) -> list[str]:
        for header in headers:
            if header.lower() in CREDENTIAL_HEADERS:
                raise ValueError(f"{header} carries the API key and never crosses origins")
        return headers


class OutboundSettings(BaseModel):
    """Which remote URLs a query or update may make the server call (an SSRF guard).

    ``SERVICE <url>`` (in ``/sparql`` and ``/federation/sparql``) and ``LOAD <url>``
    (an update, so API key only) reach out from the server; they may reach only:

    * SERVICE: a configured federation source (``federation.sources[].url``,
      exact URL) or a URL in ``allowed_urls``;
    * LOAD: an ``http``/``https`` URL in ``allowed_urls`` (never ``file:`` or any
      other scheme).

    Each ``allowed_urls`` entry is an ``http(s)`` URL prefix matched on URL parts,
    not characters: same scheme, host and port, and a path equal to the entry's
    or below it at a ``/`` boundary (``https://data.example.org/sparql`` allows
    ``.../sparql`` and ``.../sparql/x``, not ``.../sparql-admin``; an entry
    ending in ``/`` allows everything below it).  An entry with a query string
    allows exactly that URL.  URLs with user info, fragments, ``.``/``..`` path
    segments, backslashes or non-ASCII characters are never allowed, and
    ``SERVICE ?var`` is always refused over HTTP.

    Callers without the API key may use SERVICE only when ``anonymous_service``
    is on (default off), and then only to the same targets; over the federation
    endpoint a SERVICE naming one of its own sources is always allowed (it only
    narrows which configured source is asked).  Remote endpoints that redirect
    are followed only within the same origin.  The CLI (a local user) is not
    restricted.
    """

    allowed_urls: list[str] = Field(default_factory=list)
    anonymous_service: bool = False

    @field_validator("allowed_urls")
    @classmethod
    def _http_only(cls, urls: list[str]) -> list[str]:
        for url in urls:
            if not url.lower().startswith(("http://", "https://")):
                raise ValueError(f"an allowed URL must be http(s), not {url!r}")
        return urls


class CatalogSettings(BaseModel):
    backend: Literal["embedded", "elasticsearch"] = "embedded"
    # SQLite file of the embedded backend; None keeps it in memory.
    path: Path | None = None
    # Longest a catalogue search may run in the embedded backend before it is
    # interrupted (a 503); None: unbounded.
    statement_timeout_s: float | None = Field(default=10.0, gt=0)
    es_url: str | None = None
    es_index_prefix: str = "eokg"
    # Which server es_url is, hence which driver: the official elasticsearch
    # client or opensearch-py ("auto": ask GET / for version.distribution).
    es_flavor: Literal["auto", "elasticsearch", "opensearch"] = "auto"


class SparkSettings(BaseModel):
    master: str = "local[*]"
    app_name: str = "eokg"
    driver_memory: str = "2g"
    shuffle_partitions: int = 8
    # Rows per Arrow batch handed to Python geometry code.
    arrow_batch_rows: int = 10_000
    # Apache Sedona: "auto" loads its jars from sedona_jars when the folder has them
    # (scripts/install.sh puts them in the install's .vendor/sedona) and uses shapely
    # otherwise; "off" never loads them; "on" fails when they are missing.
    sedona: Literal["auto", "on", "off"] = "auto"
    # Folder of Sedona's jars; None: the install's .vendor/sedona.  Nothing is ever
    # downloaded at run time.
    sedona_jars: Path | None = None


class MLSettings(BaseModel):
    workers: int = 2
    epochs: int = 10
    batch_size: int = 64
    seed: int = 42


class FederationSource(BaseModel):
    name: str
    url: str
    void_url: str | None = None
    timeout_s: float = 30.0


class FederationSettings(BaseModel):
    sources: list[FederationSource] = Field(default_factory=list)
    # "partial": answer from the sources that replied, flagged; "error": fail.
    on_source_failure: Literal["partial", "error"] = "error"


class Settings(BaseSettings):
    """All eokg settings."""

    model_config = SettingsConfigDict(
        env_prefix="EOKG_",
        env_nested_delimiter="__",
        extra="ignore",
    )

    # Where generated samples, mapped RDF, models and reports go.
    data_dir: Path = Path("eokg-data")
    seed: int = 42
    store: StoreSettings = Field(default_factory=StoreSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    catalog: CatalogSettings = Field(default_factory=CatalogSettings)
    spark: SparkSettings = Field(default_factory=SparkSettings)
    ml: MLSettings = Field(default_factory=MLSettings)
    federation: FederationSettings = Field(default_factory=FederationSettings)
    outbound: OutboundSettings = Field(default_factory=OutboundSettings)
    cors: CorsSettings = Field(default_factory=CorsSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_file = _config_file()
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if toml_file is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_file))
        return tuple(sources)


def _config_file() -> Path | None:
    explicit = os.environ.get("EOKG_CONFIG")
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise ConfigError("config file not found", where=str(path))
        return path
    local = Path("eokg.toml")
    return local if local.is_file() else None


def load_settings(**overrides: Any) -> Settings:
    """Build settings from env, file and ``overrides``; errors name the setting."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(first["msg"], where=where or None) from exc
    except ValueError as exc:  # TOML syntax errors
        raise ConfigError(str(exc), where=os.environ.get("EOKG_CONFIG", "eokg.toml")) from exc
