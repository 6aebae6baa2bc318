"""The one seam between the catalogue and a search server.

``EsIndex`` talks to Elasticsearch through the official ``elasticsearch``
client and to OpenSearch through ``opensearch-py`` (each refuses, or is not
meant, to talk to the other).  Both accept the same calls with a JSON body
(``index=``, ``id=``, ``body=``, ``refresh=``), so the adapter only differs in
what a driver does differently: how it is built, how it reports an HTTP status,
and where its bulk helpers live.  Every driver error leaves ``call`` as an
``eokg.errors`` error: connection failures, timeouts and 5xx are
``SourceUnavailable``, a 400 is ``InputError``.  Messages name the operation,
never the cluster's URL, index names or query text (those are logged).

A 9.x ``elasticsearch`` client asks for ``compatible-with=9`` media types, which
an 8.x server refuses (elasticsearch-py documents 9.x clients for 9.x servers
only).  Users run 8.x clusters with 9.x clients, so ``connect`` reads the
server's major version once from ``GET /`` and, when it is older than the
client's, builds the client on a transport that asks for the server's major
instead (``compatible_transport``); the REST compatibility layer of the server
then answers as it always does for that major.

The drivers are imported when a client is built, never at module import.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator
from typing import Any, ClassVar, Literal

from eokg.errors import EokgError, InputError, NotFound, SourceUnavailable, require

log = logging.getLogger(__name__)

Flavor = Literal["auto", "elasticsearch", "opensearch"]
REQUEST_TIMEOUT_S = 60


def failed(exc: BaseException, what: str, status: int | None = None) -> EokgError:
    """A client-facing error for a failed call; the driver's text stays in the log."""
    log.warning("catalogue server %s failed: %s", what, exc)
    if isinstance(exc, EokgError):
        return exc
    if status == 400:
        return InputError(f"the catalogue rejected the {what}", where="filter")
    if status == 404:
        return NotFound(f"the catalogue has nothing for the {what}", where="catalogue")
    return SourceUnavailable(f"the catalogue backend failed during {what}", where="catalogue")


class SearchClient:
    """What ``EsIndex`` needs from a server; the same on both drivers.

    ``call("indices.create", index=..., body=...)`` runs that driver method and
    returns its answer as a plain dict; ``missing_ok`` turns a 404 into ``None``,
    as ``ignore`` does for the statuses it lists.
    """

    flavor: ClassVar[str]
    helpers_module: ClassVar[str]

    def __init__(self, raw: Any) -> None:
        self.raw = raw

    @staticmethod
    def status(exc: BaseException) -> int | None:
        """The HTTP status of a driver error (None: no answer from the server)."""
        raise NotImplementedError

    def call(
        self, api: str, /, *, missing_ok: bool = False, ignore: Iterable[int] = (), **kwargs: Any
    ) -> Any:
        target = self.raw
        for part in api.split("."):
            target = getattr(target, part)
        try:
            answer = target(**kwargs)
        except Exception as exc:
            status = self.status(exc)
            if status is not None and (status in ignore or (missing_ok and status == 404)):
                return None
            raise failed(exc, api.replace("_", " ").replace(".", " "), status) from exc
        return getattr(answer, "body", answer)

    def exists(self, api: str, /, **kwargs: Any) -> bool:
        """A HEAD call (``exists``, ``indices.exists_alias``, ...) as a bool."""
        return bool(self.call(api, **kwargs))

    def streaming_bulk(
        self, actions: Iterable[dict[str, Any]], **kwargs: Any
    ) -> Iterator[tuple[bool, dict[str, Any]]]:
        """The driver's ``helpers.streaming_bulk``; a lost server is ``SourceUnavailable``."""
        helpers = require(self.helpers_module, "es")
        try:
            yield from helpers.streaming_bulk(self.raw, actions, raise_on_error=False, **kwargs)
        except EokgError:
            raise
        except Exception as exc:
            raise failed(exc, "bulk ingest", self.status(exc)) from exc

    def close(self) -> None:
        self.raw.close()


class ElasticsearchClient(SearchClient):
    flavor = "elasticsearch"
    helpers_module = "elasticsearch.helpers"

    @classmethod
    def connect(cls, url: str, server_major: int | None = None) -> ElasticsearchClient:
        """``server_major``: the server's major version when known (see ``connect``)."""
        driver = require("elasticsearch", "es")
        options: dict[str, Any] = {"request_timeout": REQUEST_TIMEOUT_S}
        client_major = int(driver.__versionstr__.partition(".")[0])
        if server_major is not None and MIN_COMPATIBLE_MAJOR <= server_major < client_major:
            options["transport_class"] = compatible_transport(server_major)
        return cls(driver.Elasticsearch(url, **options))

    @staticmethod
    def status(exc: BaseException) -> int | None:
        # ApiError has .meta.status; a transport error (no answer) has neither
        meta = getattr(exc, "meta", None)
        status = getattr(meta, "status", None) or getattr(exc, "status_code", None)
        return status if isinstance(status, int) else None


#: The oldest server major that understands ``compatible-with`` media types.
MIN_COMPATIBLE_MAJOR = 8
_COMPATIBLE_WITH = re.compile(r"compatible-with=\d+")


def compatible_transport(server_major: int) -> type:
    """An ``elastic_transport.Transport`` whose requests ask for ``server_major``.

    The client turns every ``application/json`` (and ``x-ndjson``) Accept and
    Content-Type header into ``application/vnd.elasticsearch+json;
    compatible-with=<client major>`` just before handing it to its transport
    (``transport_class`` is the client's documented hook for its transport);
    this one rewrites the version to the server's.  Bodies and answers are the
    same: the API the catalogue uses did not change between 8 and 9.
    """
    transport = require("elastic_transport", "es")
    wanted = f"compatible-with={server_major}"

    class CompatibleTransport(transport.Transport):  # type: ignore[name-defined]
        def perform_request(self, method: str, target: str, **kwargs: Any) -> Any:
            headers = kwargs.get("headers")
            if headers:
                headers = transport.HttpHeaders(headers)
                for name in ("accept", "content-type"):
                    if name in headers:
                        headers[name] = _COMPATIBLE_WITH.sub(wanted, headers[name])
                kwargs["headers"] = headers
            return super().perform_request(method, target, **kwargs)

    return CompatibleTransport


class OpenSearchClient(SearchClient):
    flavor = "opensearch"
    helpers_module = "opensearchpy.helpers"

    @classmethod
    def connect(cls, url: str) -> OpenSearchClient:
        driver = require("opensearchpy", "es")
        return cls(driver.OpenSearch(hosts=[url], timeout=REQUEST_TIMEOUT_S))

    @staticmethod
    def status(exc: BaseException) -> int | None:
        # TransportError.status_code is an int, or "N/A" for a connection error
        status = getattr(exc, "status_code", None)
        return status if isinstance(status, int) else None


CLIENTS: dict[str, type[ElasticsearchClient] | type[OpenSearchClient]] = {
    "elasticsearch": ElasticsearchClient,
    "opensearch": OpenSearchClient,
}


def server_info(url: str) -> tuple[str, int | None]:
    """The server's flavour and major version: ``opensearch`` when ``GET /`` says
    ``version.distribution: opensearch``, else ``elasticsearch`` (which has no such
    field).  A server without ``GET /`` (Elasticsearch without its rest-root
    module, as in its integ-test zip) is asked its local node's version instead.
    The major is None when no version number is found."""
    import httpx

    try:
        answer = httpx.get(url, timeout=10, follow_redirects=True)
        if answer.status_code == 405:
            answer = httpx.get(
                f"{url.rstrip('/')}/_nodes/_local",
                params={"filter_path": "nodes.*.version"},
                timeout=10,
                follow_redirects=True,
            )
            answer.raise_for_status()
            nodes = list(answer.json().get("nodes", {}).values())
            version = {"number": nodes[0].get("version")} if nodes else {}
        else:
            answer.raise_for_status()
            version = answer.json().get("version", {})
    except Exception as exc:
        raise failed(exc, "server detection") from exc
    flavor = "opensearch" if version.get("distribution") == "opensearch" else "elasticsearch"
    major = str(version.get("number", "")).partition(".")[0]
    return flavor, int(major) if major.isdigit() else None


def detect_flavor(url: str) -> str:
    """``opensearch`` or ``elasticsearch``, as ``server_info`` finds it."""
    return server_info(url)[0]


def connect(url: str, flavor: Flavor = "auto") -> SearchClient:
    """A client for the server at ``url``; ``auto`` asks the server what it is.

    An Elasticsearch server is always asked its version (one ``GET /`` at
    connect), so a newer client can speak to an older server.
    """
    if flavor == "opensearch":
        return OpenSearchClient.connect(url)
    chosen, major = server_info(url)
    if flavor == "elasticsearch" or chosen == "elasticsearch":
        return ElasticsearchClient.connect(url, major)
    return OpenSearchClient.connect(url)
