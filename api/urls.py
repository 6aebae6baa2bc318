"""This server's public root URL, as clients name it: ``api.public_url`` when set
(a deployment behind a proxy), else the request's base URL.  Every link and
every graph IRI the API derives from its own address starts here."""

from __future__ import annotations

from fastapi import Request


def public_root(request: Request) -> str:
    """The public root, without a trailing slash."""
    public = request.app.state.settings.api.public_url
    return str(public or request.base_url).rstrip("/")
