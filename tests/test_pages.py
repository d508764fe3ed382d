"""The Pages site bench.yml deploys: latest/, a dated copy, the schema at its $id path, and
earlier dated copies carried over from the live site."""

from __future__ import annotations

import functools
import http.server
import json
import threading
from pathlib import Path

import pytest

from suite import documents
from suite.publish import pages


def inputs(tmp_path: Path) -> tuple[Path, Path]:
    report = tmp_path / "report"
    report.mkdir()
    (report / "index.html").write_text("<html>report</html>")
    (report / "report.md").write_text("# report")
    res = tmp_path / "results" / "amd64" / "cpython-3.12"
    res.mkdir(parents=True)
    (res / "20261125T000000Z.json").write_text("{}")
    return report, tmp_path / "results"


def test_layout(tmp_path):
    report, res = inputs(tmp_path)
    site = tmp_path / "site"
    m = pages.build(site, report, res, "2026-11-25", None, log=lambda m: None)
    for copy in ("latest", "2026-11-25"):
        assert (site / copy / "index.html").read_text() == "<html>report</html>"
        assert (site / copy / "results/amd64/cpython-3.12/20261125T000000Z.json").exists()
        assert (site / copy / "result.schema.json").exists()
    schema = json.loads((site / "schemas/result" / documents.SCHEMA_VERSION /
                         "result.schema.json").read_text())
    assert schema["$id"].endswith(f"/schemas/result/{documents.SCHEMA_VERSION}/"
                                  "result.schema.json")
    assert m["dates"] == ["2026-11-25"]
    assert all(f.startswith("2026-11-25/") for f in m["files"])
    assert 'href="latest/"' in (site / "index.html").read_text()


def test_earlier_dated_copies_are_carried_over(tmp_path):
    report, res = inputs(tmp_path)
    old = tmp_path / "old-site"
    pages.build(old, report, res, "2026-11-18", None, log=lambda m: None)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(old))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        site = tmp_path / "site"
        m = pages.build(site, report, res, "2026-11-25",
                        f"http://127.0.0.1:{server.server_port}/", log=lambda m: None)
    finally:
        server.shutdown()
    assert m["dates"] == ["2026-11-18", "2026-11-25"]
    assert (site / "2026-11-18/results/amd64/cpython-3.12/20261125T000000Z.json").exists()
    assert 'href="2026-11-18/"' in (site / "index.html").read_text()


def test_no_live_site_is_not_fatal(tmp_path):
    report, res = inputs(tmp_path)
    said = []
    m = pages.build(tmp_path / "site", report, res, "2026-11-25", "http://127.0.0.1:9/",
                    log=said.append)
    assert m["dates"] == ["2026-11-25"] and "no earlier dated copies" in said[0]


def test_bad_input(tmp_path):
    report, res = inputs(tmp_path)
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        pages.build(tmp_path / "s", report, res, "25.11.2026", None)
    with pytest.raises(ValueError, match="no result documents"):
        empty = tmp_path / "empty"
        empty.mkdir()
        pages.build(tmp_path / "s", report, empty, "2026-11-25", None)
