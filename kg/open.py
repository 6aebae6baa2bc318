"""Open the SPARQL source the settings ask for.

The one place that maps ``settings.store.backend`` to a class, so the CLI, the
HTTP API and the pipeline never repeat the choice.
"""

from __future__ import annotations

from collections.abc import Mapping

from eokg.config import StoreSettings
from eokg.errors import ConfigError
from eokg.kg.source import SparqlSource


def open_source(
    store: StoreSettings,
    *,
    timeout_s: float = 60.0,
    headers: Mapping[str, str] | None = None,
) -> SparqlSource:
    """The embedded GeoSPARQL store, or a remote endpoint when ``backend = "sparql"``.

    ``timeout_s`` and ``headers`` apply to a remote endpoint only (HTTP timeout,
    e.g. an ``Authorization`` header for its update URL).
    """
    if store.backend == "sparql":
        if not store.query_url:
            raise ConfigError('the "sparql" backend needs a query URL', where="store.query_url")
        from eokg.kg.remote import RemoteSparqlSource

        return RemoteSparqlSource(
            store.query_url, store.update_url, timeout_s=timeout_s, headers=headers
        )
    from eokg.kg.store import GeoStore

    return GeoStore.from_settings(store)
