"""``eokg serve``: run the HTTP API with uvicorn."""

from __future__ import annotations

import argparse

from eokg.config import Settings


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", help="interface to bind (default from settings)")
    parser.add_argument("--port", type=int, help="port (default from settings)")


def run(args: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from eokg.api.app import create_app

    app = create_app(settings)
    uvicorn.run(app, host=args.host or settings.api.host, port=args.port or settings.api.port)
    return 0
