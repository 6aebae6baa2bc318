"""``eokg index``: files of every supported shape, failures reported, good items kept."""

from __future__ import annotations

import json

from eokg.catalog.index import SearchRequest
from eokg.catalog.samples import make_items
from eokg.catalog.sqlite_index import SqliteIndex
from eokg.cli import main


def test_index_command_reads_every_format(tmp_path, capsys):
    items = make_items(12)
    (tmp_path / "one.json").write_text(json.dumps(items[0]))
    (tmp_path / "fc.geojson").write_text(
        json.dumps({"type": "FeatureCollection", "features": items[1:4]})
    )
    bad = dict(items[5], properties={"title": "no datetime"})
    lines = [json.dumps(i) for i in items[6:12]] + ["{not json", json.dumps(bad)]
    (tmp_path / "many.ndjson").write_text("\n".join(lines) + "\n")
    (tmp_path / "coll.json").write_text(
        json.dumps(
            {
                "type": "Collection",
                "id": "sentinel-1-grd",
                "description": "S1",
                "license": "proprietary",
                "extent": {},
                "links": [],
            }
        )
    )
    db = tmp_path / "cat.sqlite"
    code = main(
        [
            "index",
            str(tmp_path / "coll.json"),
            str(tmp_path / "one.json"),
            str(tmp_path / "fc.geojson"),
            str(tmp_path / "many.ndjson"),
            "--catalog",
            str(db),
            "--batch-size",
            "4",
        ]
    )
    out = capsys.readouterr().out
    assert code == 1, out
    assert "indexed 10 item(s) and 1 collection(s)" in out
    assert "many.ndjson:7: record: not JSON" in out
    assert f"many.ndjson:8: item '{items[5]['id']}' [properties.datetime]" in out
    index = SqliteIndex(db)
    assert index.search(SearchRequest()).matched == 10
    assert index.get_collection("sentinel-1-grd")["description"] == "S1"


def test_index_command_json_report_and_success(tmp_path, capsys):
    items = make_items(3)
    (tmp_path / "items.jsonl").write_text("\n".join(json.dumps(i) for i in items))
    code = main(["index", str(tmp_path), "--catalog", str(tmp_path / "c.sqlite"), "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0 and report["indexed"] == 3 and report["failures"] == []


def test_a_line_that_is_not_utf8_is_reported_and_the_rest_indexed(tmp_path, capsys):
    items = make_items(1000)
    lines = [json.dumps(i).encode() for i in items]
    lines.insert(500, b'{"id": "caf\xe9"}')  # Latin-1, not UTF-8
    path = tmp_path / "items.ndjson"
    path.write_bytes(b"\n".join(lines) + b"\n")
    db = tmp_path / "cat.sqlite"
    code = main(["index", str(path), "--catalog", str(db)])
    out = capsys.readouterr().out
    assert code == 1, out
    assert "indexed 1000 item(s)" in out
    assert "items.ndjson:501: record: not UTF-8" in out
    assert SqliteIndex(db).search(SearchRequest(limit=1)).matched == 1000
