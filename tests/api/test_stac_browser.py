"""STAC Browser under ``/browser``, in headless Chromium against a running ``eokg serve``.

Chromium is driven over the DevTools protocol on ``--remote-debugging-pipe`` (two
file descriptors, NUL-separated JSON), so no websocket client or Playwright browser
download is needed.  Host names other than 127.0.0.1 do not resolve in it: the map
tiles STAC Browser asks the internet for fail quietly and nothing leaves loopback.
The page text is read from the rendered DOM after the app's own requests finish.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import select
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from eokg.api.browser import DEFAULT_DIR
from eokg.catalog.samples import CONCEPTS, EOC, extension_items, make_items

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
requires_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="no chromium on PATH: run scripts/install_chromium.sh"
)
requires_build = pytest.mark.skipif(
    not (DEFAULT_DIR / "index.html").is_file(),
    reason=f"STAC Browser is not built in {DEFAULT_DIR}: run scripts/vendor_stac_browser.sh",
)
ITEMS = make_items(12, seed=3) + extension_items()
TITLE = "Sentinel-1 GRD over Svalbard"
DESCRIPTION = "Ground range detected SAR scenes tagged with sea-ice classes."
COLLECTION: dict[str, Any] = {
    "type": "Collection",
    "stac_version": "1.1.0",
    "id": "sentinel-1-grd",
    "title": TITLE,
    "description": DESCRIPTION,
    "license": "CC-BY-4.0",
    "extent": {
        "spatial": {"bbox": [[5, 74, 35, 81]]},
        "temporal": {"interval": [["2025-01-01T00:00:00Z", "2025-12-31T23:59:59Z"]]},
    },
    "links": [],
}
FLAGS = (
    "--headless=new",
    "--disable-gpu",
    "--no-sandbox",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-extensions",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--lang=en-US",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
)
WAIT_S = 45.0


# -- a running server ---------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_until_up(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    """Poll the landing page: ``eokg serve`` imports the whole app before it listens."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"eokg serve exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"eokg serve did not answer {url}")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``eokg index`` the sample data, then ``eokg serve`` it on a loopback port."""
    work = tmp_path_factory.mktemp("browser")
    (work / "collection.json").write_text(json.dumps(COLLECTION))
    (work / "items.json").write_text(json.dumps({"type": "FeatureCollection", "features": ITEMS}))
    env = {**os.environ, "EOKG_CATALOG__PATH": str(work / "cat.sqlite"), "EOKG_DATA_DIR": str(work)}
    eokg = [sys.executable, "-m", "eokg"]
    files = [str(work / "collection.json"), str(work / "items.json")]
    subprocess.run([*eokg, "index", *files], cwd=work, env=env, check=True, capture_output=True)
    port = _free_port()
    log = work / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [*eokg, "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=work,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(f"{base}/stac", proc, log)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=20)


# -- Chromium over the DevTools pipe ------------------------------------------------
#: puts the two pipe ends on fds 3 and 4, where --remote-debugging-pipe expects them
#: (dash cannot redirect fds above 9, so no shell); the ends are above 9 already.
EXEC_ON_3_4 = (
    "import os, sys; os.dup2(int(sys.argv[1]), 3); os.dup2(int(sys.argv[2]), 4); "
    "os.execv(sys.argv[3], sys.argv[3:])"
)


def _high(fds: tuple[int, int]) -> tuple[int, int]:
    """The pipe moved above fd 9, so putting one end on fd 3 or 4 cannot close the other."""
    moved = tuple(fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10) for fd in fds)
    for fd in fds:
        os.close(fd)
    return moved[0], moved[1]


class DevTools:
    """One Chromium page driven with DevTools protocol commands, answered in order."""

    def __init__(self, binary: str, profile: Path) -> None:
        commands_in, self._commands = _high(os.pipe())  # Chromium reads fd 3
        self._events, events_out = _high(os.pipe())  # and writes fd 4
        self.log = profile / "chromium.log"
        chromium = [binary, *FLAGS, f"--user-data-dir={profile}", "--remote-debugging-pipe"]
        with self.log.open("wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", EXEC_ON_3_4, str(commands_in), str(events_out), *chromium],
                pass_fds=(commands_in, events_out),
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
        os.close(commands_in)
        os.close(events_out)
        self._buffer = b""
        self._id = 0
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        attached = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})
        self.session: str | None = attached["sessionId"]

    def _message(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = max(0.0, deadline - time.monotonic())
            ready, _, _ = select.select([self._events], [], [], left)
            chunk = os.read(self._events, 1 << 16) if ready else b""
            if not chunk:
                tail = self.log.read_text(errors="replace")[-1500:]
                raise RuntimeError(f"Chromium closed the DevTools pipe or did not answer: {tail}")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        message: dict[str, Any] = json.loads(raw)
        return message

    def send(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """Run one command and return its result (events in between are dropped)."""
        self._id += 1
        message: dict[str, Any] = {"id": self._id, "method": method, "params": params or {}}
        if getattr(self, "session", None):
            message["sessionId"] = self.session
        os.write(self._commands, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + 30
        while True:
            reply = self._message(deadline)
            if reply.get("id") == self._id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                result: dict[str, Any] = reply.get("result", {})
                return result

    def evaluate(self, expression: str) -> Any:
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        return result["result"].get("value")

    def open(self, url: str) -> None:
        self.send("Page.navigate", {"url": url})

    def wait_for(self, condition: Callable[[str], bool], what: str) -> str:
        """The page's visible text once ``condition`` holds: the app renders after fetching."""
        deadline = time.monotonic() + WAIT_S
        text = ""
        while time.monotonic() < deadline:
            text = self.evaluate("document.body ? document.body.innerText : ''") or ""
            if condition(text):
                return text
            time.sleep(0.2)
        raise AssertionError(f"no {what} after {WAIT_S}s; the page says: {text[:1500]}")

    def type_into(self, selector: str, *entries: str) -> None:
        """Type each entry into ``selector`` followed by Enter, as a user would (focused
        again each time: a tag field closes on Enter and drops the focus)."""
        element = f"document.querySelector({json.dumps(selector)})"
        assert self.evaluate(f"!!{element}"), selector
        for entry in entries:
            self.evaluate(f"{element}.focus()")
            self.send("Input.insertText", {"text": entry})
            enter = {"key": "Enter", "code": "Enter", "windowsVirtualKeyCode": 13}
            self.send("Input.dispatchKeyEvent", {"type": "keyDown", "text": "\r", **enter})
            self.send("Input.dispatchKeyEvent", {"type": "keyUp", **enter})

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=20)
        os.close(self._commands)
        os.close(self._events)


@pytest.fixture(scope="module")
def chrome(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevTools]:
    assert CHROMIUM is not None
    browser = DevTools(CHROMIUM, tmp_path_factory.mktemp("chromium-profile"))
    try:
        yield browser
    finally:
        browser.close()


# -- the pages ---------------------------------------------------------------------
@pytest.mark.server
@requires_chromium
@requires_build
def test_landing_page_shows_the_catalogue(server: str, chrome: DevTools) -> None:
    chrome.open(f"{server}/browser/")
    text = chrome.wait_for(lambda t: TITLE in t, "collection list")
    assert "eokg STAC API" in text
    assert "Earth Observation metadata discovery" in text


@pytest.mark.server
@requires_chromium
@requires_build
def test_collection_page_from_a_deep_link(server: str, chrome: DevTools) -> None:
    # a reload on a history-mode URL: the server answers index.html for the sub-path
    chrome.open(f"{server}/browser/stac/collections/sentinel-1-grd")
    text = chrome.wait_for(lambda t: DESCRIPTION in t, "collection description")
    assert TITLE in text
    assert "Sentinel-1 GRD scene 3 over Svalbard" in text  # its items are listed too


def _concept_scenes() -> set[int]:
    """Scenes whose concept is "sea ice" or narrower (all but open water)."""
    wanted = set(CONCEPTS) - {EOC + "seaice/open-water"}
    return {
        int(item["id"].split("_")[1])
        for item in ITEMS
        if set(item["properties"].get("eokg:concepts", [])) & wanted
    }


@pytest.mark.server
@requires_chromium
@requires_build
def test_search_with_free_text_and_a_concept(server: str, chrome: DevTools) -> None:
    """The search form: free text "segmentation model" OR the concept labelled
    "glace de mer" (sea ice, in French), which the API expands to narrower concepts."""
    chrome.open(f"{server}/browser/search")
    chrome.wait_for(lambda t: "Submit" in t, "search form")
    # the item tab (the only one unless the API also offers collection search)
    chrome.evaluate(
        "[...document.querySelectorAll('.nav-tabs a')]"
        ".find(a => a.textContent.trim() === 'Search for Items')?.click()"
    )
    pane = ".search .tab-pane.active"
    chrome.type_into(f"{pane} .filter-freetext input", "segmentation model", "glace de mer")
    chrome.type_into(f"{pane} .limit input", "50")
    chrome.evaluate(f"document.querySelector('{pane} .limit input').blur()")
    chrome.evaluate(f"document.querySelector('{pane} button[type=submit]').click()")
    text = chrome.wait_for(lambda t: "Sea ice segmentation model" in t, "search results")
    scenes = {int(n) for n in re.findall(r"Sentinel-1 GRD scene (\d+) over Svalbard", text)}
    assert scenes == _concept_scenes() and len(scenes) == 9
    assert "Sea ice training labels" not in text


# -- without a build ----------------------------------------------------------------
def test_missing_build_is_a_problem_naming_the_script(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from eokg.api.app import create_app
    from eokg.config import load_settings

    settings = load_settings(data_dir=tmp_path, api={"browser_dir": tmp_path / "none"})
    client = TestClient(create_app(settings))
    for path in ("/browser/", "/browser/stac/collections/x", "/browser/config.js"):
        response = client.get(path)
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/problem+json"
        assert "scripts/vendor_stac_browser.sh" in response.json()["detail"]


def test_files_history_fallback_and_config(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from eokg.api.app import create_app
    from eokg.config import load_settings

    build = tmp_path / "build"
    (build / "js").mkdir(parents=True)
    (build / "index.html").write_text("<html>index</html>")
    (build / "js" / "app.js").write_text("app")
    (tmp_path / "secret.txt").write_text("secret")
    settings = load_settings(
        data_dir=tmp_path, api={"browser_dir": build, "public_url": "https://eo.example.org/"}
    )
    client = TestClient(create_app(settings))
    assert client.get("/browser", follow_redirects=False).headers["location"] == "/browser/"
    assert client.get("/browser/js/app.js").text == "app"
    assert client.get("/browser/stac/collections/x").text == "<html>index</html>"
    assert client.get("/browser/..%2fsecret.txt").text == "<html>index</html>"
    config = client.get("/browser/config.js").text
    assert '"catalogUrl": "https://eo.example.org/stac"' in config
