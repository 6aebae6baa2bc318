"""Settings come from defaults, a TOML file and EOKG_* env vars, in that priority order."""

from __future__ import annotations

from pathlib import Path

import pytest

from eokg.config import load_settings
from eokg.errors import ConfigError


def test_defaults_are_embedded(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings()
    assert settings.store.backend == "oxigraph"
    assert settings.store.path is None
    assert settings.catalog.backend == "embedded"
    assert settings.spark.master == "local[*]"


def test_toml_file_then_env_override(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "site.toml"
    config.write_text('data_dir = "/srv/eokg"\n[api]\nport = 9000\nmax_results = 10\n')
    monkeypatch.setenv("EOKG_CONFIG", str(config))
    monkeypatch.setenv("EOKG_API__PORT", "9100")
    settings = load_settings()
    assert settings.data_dir == Path("/srv/eokg")
    assert settings.api.max_results == 10
    assert settings.api.port == 9100  # env beats file


def test_bad_value_names_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EOKG_API__PORT", "not-a-port")
    with pytest.raises(ConfigError) as err:
        load_settings()
    assert "api.port" in str(err.value)


def test_missing_config_file_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("EOKG_CONFIG", str(tmp_path / "nope.toml"))
    with pytest.raises(ConfigError, match=r"nope\.toml"):
        load_settings()


def test_broken_toml_is_named(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "broken.toml"
    config.write_text("[api\nport = 1\n")
    monkeypatch.setenv("EOKG_CONFIG", str(config))
    with pytest.raises(ConfigError, match=r"broken\.toml"):
        load_settings()
