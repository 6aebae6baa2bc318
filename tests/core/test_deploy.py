"""docker-compose.yml parses and only names things that exist (no Docker engine runs here)."""

from __future__ import annotations

from pathlib import Path

import yaml

from eokg.cli import COMMANDS

ROOT = Path(__file__).resolve().parents[2]


def test_compose_services_are_complete() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"opensearch", "spark-master", "spark-worker", "ingest", "api"} <= set(services)
    for name, service in services.items():
        assert "image" in service or "build" in service, name
        assert service["healthcheck"]["test"], name
        for dependency in service.get("depends_on", {}):
            assert dependency in services, f"{name} depends on unknown {dependency}"


def test_deployed_api_keeps_the_geosparql_layer() -> None:
    """The API serves a persistent eokg store (index beside it), not a bare Oxigraph,
    and the Spark services run the eokg image, so executors can import eokg."""
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    api = services["api"]["environment"]
    assert api["EOKG_STORE__PATH"].startswith("/data/")
    assert api.get("EOKG_STORE__BACKEND", "oxigraph") == "oxigraph"
    assert api["EOKG_CATALOG__BACKEND"] == "elasticsearch"
    for name in ("spark-master", "spark-worker", "ingest", "api"):
        assert services[name]["image"] == "eokg:latest", name
    ingest = services["ingest"]["command"]
    assert ingest[:2] == ["eokg", "demo"] and services["api"]["depends_on"]["ingest"]


def test_api_service_runs_an_existing_command() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    command = compose["services"]["api"]["command"]
    assert command[0] == "eokg" and command[1] in COMMANDS
    assert (ROOT / "Dockerfile").is_file()


def test_ci_runs_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "bash scripts/test.sh" in readme
    assert "bash scripts/test.sh" in ci
    assert "bash scripts/demo.sh" in readme
