"""report: built from real result documents of a smoke run, opened in headless Chromium."""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest

from suite import results
from suite.report import browser, build, load, model

from .conftest import ROOT, available_runtimes, suite_cmd
from .test_compare import make_cell, make_doc

_SMOKE: dict[str, Path] = {}


def smoke_results_dir(base: Path) -> Path:
    """One real smoke run of matmul and gelu on two native runtimes (cached per session)."""
    if "dir" in _SMOKE:
        return _SMOKE["dir"]
    avail = available_runtimes()
    prefer = [r for r in ("cpython-3.12", "cpython-3.13") if r in avail]
    rts = prefer if len(prefer) == 2 else avail[:2]
    assert rts, "no native CPython runtime available (pyenv 3.12/3.13 expected)"
    out = base / "results"
    proc = suite_cmd("run", "-r", ",".join(rts), "-p", "smoke", "-w", "matmul,gelu",
                     "-o", str(out), env={**os.environ, "SUITE_CACHE_DIR": str(ROOT / ".cache")},
                     timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    _SMOKE["dir"] = out
    _SMOKE["runtimes"] = rts
    return out


@pytest.fixture(scope="session")
def smoke_results(tmp_path_factory) -> Path:
    return smoke_results_dir(tmp_path_factory.mktemp("report-smoke"))


@pytest.fixture(scope="session")
def report_dir(smoke_results, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("report") / "report"
    proc = suite_cmd("report", str(smoke_results), "-o", str(out))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out


class Tables(HTMLParser):
    """Text of every <td>/<th> per table id."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.cur: str | None = None
        self.cell: list[str] | None = None
        self.hrefs: list[str] = []
        self.srcs: list[str] = []
        self.scripts = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table":
            self.cur = a.get("id", "")
            self.tables[self.cur] = []
        elif tag == "tr" and self.cur is not None:
            self.tables[self.cur].append([])
        elif tag in ("td", "th") and self.cur is not None:
            self.cell = []
        elif tag == "span" and self.cell is not None:
            self.cell.append(" · ")
        if tag == "a" and a.get("href"):
            self.hrefs.append(a["href"])
        if tag in ("img", "script", "link", "iframe") and (a.get("src") or a.get("href")):
            self.srcs.append(a.get("src") or a.get("href"))
        if tag == "script":
            self.scripts += 1

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self.cell is not None:
            self.tables[self.cur][-1].append("".join(self.cell).strip())
            self.cell = None
        elif tag == "table":
            self.cur = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell.append(data)


def parse(html: str) -> Tables:
    t = Tables()
    t.feed(html)
    return t


def md_tables(md: str) -> dict[str, list[list[str]]]:
    """Markdown tables keyed by their bold caption."""
    out, lines = {}, md.splitlines()
    for i, line in enumerate(lines):
        m = re.fullmatch(r"\*\*(.+)\*\*", line)
        if m and i + 2 < len(lines) and lines[i + 2].startswith("| "):
            rows = []
            for row in lines[i + 2:]:
                if not row.startswith("|"):
                    break
                if re.fullmatch(r"\|(---\|)+", row):
                    continue
                cells = re.split(r"(?<!\\)\|", row.strip()[1:-1])
                rows.append([re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", c.strip()).replace("\\|", "|")
                             for c in cells])
            out.setdefault(m.group(1), rows)
    return out


def numbers(s: str) -> list[str]:
    return re.findall(r"\d[\d,]*(?:\.\d+)?", s)


# -- content ---------------------------------------------------------------------------------

def test_report_files_and_self_contained_html(report_dir, smoke_results):
    html = (report_dir / "index.html").read_text()
    md = (report_dir / "report.md").read_text()
    t = parse(html)
    assert t.scripts == 0
    # No network: every image is a data URI; every link is a local file that exists.
    assert t.srcs and all(s.startswith("data:image/svg+xml;base64,") for s in t.srcs)
    assert "http://" not in html.split("<h2 id=\"claims\">")[0]
    local = [h for h in t.hrefs if not h.startswith(("http://", "https://", "#"))]
    assert local, "links to the raw JSON are expected"
    for h in local:
        assert (report_dir / h).is_file(), h
    n_docs = len(list(smoke_results.rglob("*.json")))
    assert len(list((report_dir / "data").rglob("*.json"))) == n_docs
    for sec in ("Published claims vs measured", "Environment", "JIT on vs off",
                "Failures and skips", "Geometric mean speedup"):
        assert sec in html and sec in md


def test_summary_table_has_every_cell_and_speedups(report_dir, smoke_results):
    html = (report_dir / "index.html").read_text()
    t = parse(html)
    (sid,) = [k for k in t.tables if k.startswith("summary-")]
    rows = t.tables[sid]
    header, body = rows[0], rows[1:]
    rts = _SMOKE["runtimes"]
    assert header[1] == "cpython-3.12" if "cpython-3.12" in rts else rts[0]
    assert header[1:] == sorted(header[1:], key=lambda r: r != header[1])
    docs = [results.load(p) for p in smoke_results.rglob("*.json")]
    ids = {c["id"] for d in docs for c in d["cells"]}
    assert {r[0] for r in body} == ids
    if len(rts) == 2:
        # Non-baseline column: a speedup ("×") next to every measured time.
        assert all("×" in r[2] for r in body if r[2] and "FAILED" not in r[2]
                   and "skipped" not in r[2])
        assert all("×" not in r[1] for r in body)


def test_markdown_matches_html_numbers(report_dir):
    html_t = parse((report_dir / "index.html").read_text()).tables
    md_t = md_tables((report_dir / "report.md").read_text())
    html_by_caption = {}
    html = (report_dir / "index.html").read_text()
    for tid in html_t:
        m = re.search(rf'<table id="{re.escape(tid)}"[^>]*><caption>(.*?)</caption>', html)
        html_by_caption.setdefault(m.group(1).replace("&amp;", "&"), html_t[tid])
    checked = 0
    for caption, rows in md_t.items():
        if caption not in html_by_caption:
            continue
        hrows = html_by_caption[caption]
        assert len(rows) == len(hrows), caption
        for mr, hr in zip(rows, hrows):
            assert [numbers(c) for c in mr] == [numbers(c) for c in hr], (caption, mr, hr)
        checked += 1
    assert checked >= 4
    assert any(c.startswith("Median time per call") for c in md_t)


# -- browser -----------------------------------------------------------------------------------

PROBE = """(() => {
  const t = document.querySelector('table.summary');
  const imgs = [...document.querySelectorAll('img.chart')];
  const r = t ? t.getBoundingClientRect() : null;
  return {summaryTop: r ? r.top : null, summaryRows: t ? t.rows.length : 0,
          charts: imgs.length,
          chartsLoaded: imgs.filter(i => i.complete && i.naturalWidth > 0).length,
          firstChartTop: imgs.length ? imgs[0].getBoundingClientRect().top : null,
          firstChartWidth: imgs.length ? imgs[0].getBoundingClientRect().width : 0};
})()"""


def chromium() -> str:
    exe = browser.find_chromium()
    assert exe, "headless Chromium is needed for the report tests (apt-get install chromium)"
    return exe


def test_browser_check_can_fail(tmp_path):
    bad = tmp_path / "bad.html"
    bad.write_text('<!DOCTYPE html><html><body><img src="missing.png">'
                   '<script>console.error("boom"); nope();</script></body></html>')
    res = browser.inspect(bad, chromium=chromium(), timeout=60)
    text = "\n".join(res["errors"])
    assert "boom" in text and "nope" in text and "missing.png" in text


def test_html_renders_in_chromium_without_errors(report_dir, tmp_path):
    from PIL import Image, ImageStat

    shot = tmp_path / "shot.png"
    res = browser.inspect(report_dir / "index.html", screenshot=shot, width=1280,
                          height=2000, probe=PROBE, chromium=chromium(), timeout=90)
    assert res["errors"] == []
    p = res["probe"]
    assert p["summaryRows"] > 2 and p["summaryTop"] is not None and p["summaryTop"] < 2000
    assert p["charts"] >= 1 and p["chartsLoaded"] == p["charts"]
    assert p["firstChartTop"] < 2000 and p["firstChartWidth"] > 200
    img = Image.open(shot)
    assert img.size == (1280, 2000)
    gray = img.convert("L")
    assert ImageStat.Stat(gray).stddev[0] > 10  # not blank
    top = gray.crop((0, 0, 1280, 1000))
    assert len(top.getcolors(1 << 16) or []) > 20  # text and a chart, not a flat page


# -- bad input ---------------------------------------------------------------------------------

def test_invalid_documents_are_named_and_skipped_or_refused(smoke_results, tmp_path):
    d = tmp_path / "mixed"
    shutil.copytree(smoke_results, d)
    good = next(d.rglob("*.json"))
    broken = json.loads(good.read_text())
    broken["cells"][0]["status"] = "great"
    (d / "violates.json").write_text(json.dumps(broken))
    (d / "notjson.json").write_text("{nope")
    out = tmp_path / "rep"
    p = suite_cmd("report", str(d), "-o", str(out))
    assert p.returncode == 0, p.stderr
    assert "violates.json" in p.stderr and "status" in p.stderr
    assert "notjson.json" in p.stderr and "not JSON" in p.stderr
    html = (out / "index.html").read_text()
    assert "violates.json" in html and "notjson.json" in html
    p = suite_cmd("report", str(d), "-o", str(tmp_path / "rep2"), "--strict")
    assert p.returncode == 1
    assert "violates.json" in p.stderr and "notjson.json" in p.stderr
    assert not (tmp_path / "rep2" / "index.html").exists()


def test_empty_directory_is_a_clear_error(tmp_path):
    (tmp_path / "empty").mkdir()
    p = suite_cmd("report", str(tmp_path / "empty"), "-o", str(tmp_path / "r"))
    assert p.returncode == 1
    assert "no result documents" in p.stderr and "make bench" in p.stderr
    p = suite_cmd("report", str(tmp_path / "nowhere"), "-o", str(tmp_path / "r"))
    assert p.returncode == 1 and "nowhere" in p.stderr


# -- rules on synthetic documents (same schema as the real ones) -------------------------------

def _xs(base: int) -> list[int]:
    return [base + base // 1000 * i for i in range(12)]


def _docs(tmp_path: Path) -> Path:
    d = tmp_path / "docs"
    d.mkdir()
    p = {"dtype": "float32", "n": 64}
    cp12 = make_doc("cpython-3.12", [
        make_cell("matmul", p, "numpy", 1, _xs(1_000_000), flops=2 * 64**3,
                  gflops=2 * 64**3 / 1_005_500),
        make_cell("matmul", p, "pure", 1, _xs(100_000_000))])
    mojo = make_doc("mojo-1.2", [
        make_cell("matmul", p, "mojo-simd", 1, _xs(250_000)),
        make_cell("matmul", p, "numpy", 1, _xs(1_000_000))], kind="mojo",
        mojo={"mojo_version": "1.2.0"})
    emu = make_doc("cpython-3.12", [make_cell("matmul", p, "numpy", 1, _xs(9_000_000))],
                   arch="aarch64", emulated=True)
    skipped = copy.deepcopy(cp12)
    skipped["runtime"]["id"] = "cpython-3.13"
    c = skipped["cells"][1]
    for k in ("stats", "samples", "loops"):
        c.pop(k)
    c.update(status="skipped", skip={"reason": "over budget", "estimate_call_ns": 4.2e10})
    for name, doc in (("a", cp12), ("b", mojo), ("c", emu), ("d", skipped)):
        results.validate(doc)
        (d / f"{name}.json").write_text(json.dumps(doc))
    return d


def test_flavor_rule_estimates_and_emulation(tmp_path):
    d = _docs(tmp_path)
    built = build([d], tmp_path / "rep", now="2026-01-01T00:00:00Z")
    assert built.machines == 2
    docs, _ = load.load([d])
    machines = load.group(docs)
    native = next(m for m in machines if not m.emulated)
    v = model.view(native)
    row = dict(v.rows)["matmul[dtype=float32,n=64]/mojo-simd/threads=1"]
    mojo_e = next(e for e in row if e.runtime == "mojo-1.2")
    sp = {s.label: s for s in mojo_e.speedups}
    assert sp["vs numpy"].speedup == pytest.approx(4.0, rel=0.01)
    assert sp["vs pure"].speedup == pytest.approx(400, rel=0.01)
    md = (tmp_path / "rep" / "report.md").read_text()
    html = (tmp_path / "rep" / "index.html").read_text()
    assert "4.00× vs numpy" in md and "4.00× vs numpy" in html
    assert "skipped (est. ~42 s)" in md and "an estimate, not a measurement" in md
    # The emulated document: agreement only, no time in any table of its section.
    emu_section = md.split("EMULATED")[1].split("## ")[0]
    assert "Output agreement" in emu_section and " ms" not in emu_section
    assert "9 ms" not in md.split("## Published claims")[0]


def test_missing_baseline_falls_back_and_says_so(tmp_path):
    d = _docs(tmp_path)
    built = build([d], tmp_path / "rep", baseline="cpython-9.9")
    md = built.markdown.read_text()
    assert "the requested baseline cpython-9.9 has no results" in md


def test_jit_on_vs_off_table(tmp_path):
    p = {"dtype": "float64", "n": 48}
    d = tmp_path / "jit"
    d.mkdir()
    off = make_doc("cpython-3.13", [make_cell("matmul", p, "pure", 1, _xs(4_000_000)),
                                    make_cell("matmul", p, "numpy", 1, _xs(4_000))])
    on = make_doc("cpython-3.13-jit", [make_cell("matmul", p, "pure", 1, _xs(3_200_000)),
                                       make_cell("matmul", p, "numpy", 1, _xs(4_000))],
                  jit=True)
    (d / "off.json").write_text(json.dumps(off))
    (d / "on.json").write_text(json.dumps(on))
    built = build([d], tmp_path / "rep")
    md = built.markdown.read_text()
    html = built.html.read_text()
    assert "**JIT on (cpython-3.13-jit) vs off (cpython-3.13)**" in md
    jit_md = md.split("**JIT on (cpython-3.13-jit)")[1]
    row = next(r for r in jit_md.splitlines() if r.startswith("| matmul[dtype=float64,n=48]/pure"))
    assert "1.25×" in row and "JIT faster" in row
    assert "JIT state measured by the worker" in md and "built, enabled" in md
    t = parse(html).tables["jit-" + load.group(load.load([d])[0])[0].key + "-cpython-3.13-jit"]
    assert any("1.25×" in c for r in t for c in r)


def test_fastest_option_per_workload(tmp_path):
    # One configuration run by every option; the table names each option's best
    # single-thread time, the winner and its margin over the runner-up.
    p = {"dtype": "float64", "n": 48}
    d = tmp_path / "fast"
    d.mkdir()
    docs = {
        "cp12": make_doc("cpython-3.12", [
            make_cell("matmul", p, "pure", 1, _xs(100_000_000)),
            make_cell("matmul", p, "numpy", 1, _xs(1_000_000)),
            make_cell("matmul", p, "numpy", 2, _xs(100_000)),  # 2 threads: not counted
            make_cell("matmul", p, "numba", 1, _xs(2_000_000))]),
        "jit": make_doc("cpython-3.13-jit", [
            make_cell("matmul", p, "pure", 1, _xs(80_000_000)),
            make_cell("matmul", p, "numba", 1, _xs(1_500_000))], jit=True),
        "pypy": make_doc("pypy-3.11", [make_cell("matmul", p, "pure", 1, _xs(10_000_000))],
                         kind="pypy", jit=True),
        "mojo": make_doc("mojo-1.2", [make_cell("matmul", p, "mojo-simd", 1, _xs(500_000)),
                                      make_cell("matmul", p, "mojo", 1, _xs(250_000))],
                         kind="mojo"),
    }
    for name, doc in docs.items():
        (d / f"{name}.json").write_text(json.dumps(doc))
    built = build([d], tmp_path / "rep")
    (m,) = load.group(load.load([d])[0])
    (row,) = model.view(m).fastest
    assert {f: r for f, (r, _) in row.best.items()} == {
        "CPython": "cpython-3.12", "CPython JIT": "cpython-3.13-jit", "PyPy": "pypy-3.11",
        "Numba": "cpython-3.13-jit", "NumPy": "cpython-3.12", "Mojo": "mojo-1.2"}
    assert [f for f, _, _ in row.ranked()][:3] == ["Mojo", "NumPy", "Numba"]
    assert row.margin() == pytest.approx(4.0, rel=0.01)
    md_rows = md_tables(built.markdown.read_text())["Which option is fastest (single thread)"]
    assert md_rows[0][1:] == [*model.FAMILIES, "fastest"]
    assert md_rows[1][-1] == "Mojo, 4.00× faster than NumPy"
    html_rows = parse(built.html.read_text()).tables[f"fastest-{m.key}"]
    assert html_rows[1][1:] == md_rows[1][1:]
