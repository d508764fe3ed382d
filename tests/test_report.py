"""report: built from real result documents of a smoke run, opened in headless Chromium."""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
from html import unescape
from html.parser import HTMLParser
from pathlib import Path

import pytest

from suite import documents
from suite.analysis import machines
from suite.analysis.report import browser, build, model
from tests.conftest import ROOT, available_runtimes, suite_cmd
from tests.test_compare import make_cell, make_doc

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
    docs = [documents.load(p) for p in smoke_results.rglob("*.json")]
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
        html_by_caption.setdefault(unescape(m.group(1)), html_t[tid])
    checked = 0
    for caption, rows in md_t.items():
        if caption not in html_by_caption:
            continue
        hrows = html_by_caption[caption]
        assert len(rows) == len(hrows), caption
        for mr, hr in zip(rows, hrows):
            assert [numbers(c) for c in mr] == [numbers(c) for c in hr], (caption, mr, hr)
        checked += 1
    assert checked >= 6
    assert any(c.startswith("Median time per call") for c in md_t)
    assert "The article's headline claims" in md_t


# -- browser -----------------------------------------------------------------------------------

PROBE = """(() => {
  const t = document.querySelector('table.summary');
  const imgs = [...document.querySelectorAll('img.chart')];
  const r = t ? t.getBoundingClientRect() : null;
  const top = s => { const e = document.querySelector(s);
                     return e ? e.getBoundingClientRect().top : null; };
  return {summaryTop: r ? r.top : null, summaryRows: t ? t.rows.length : 0,
          leadTop: top('p.lead'), headlineTop: top('table.headline'),
          headlineBottom: document.querySelector('table.headline')
                          ?.getBoundingClientRect().bottom ?? null,
          fastestTop: top('table.fastest'), detailsTop: top('#details'),
          charts: imgs.length,
          chartsLoaded: imgs.filter(i => i.complete && i.naturalWidth > 0).length,
          firstChartTop: imgs.length ? imgs[0].getBoundingClientRect().top : null,
          firstChartWidth: imgs.length ? imgs[0].getBoundingClientRect().width : 0};
})()"""


def chromium() -> str:
    exe = browser.find_chromium()
    assert exe, ("headless Chromium is needed for the report tests: run them with `make test` "
                 "(it installs Debian's chromium as root) or apt-get install chromium")
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
    assert p["summaryRows"] > 2 and p["summaryTop"] is not None
    # The first screen (1280x1000) is the answer: the sentence, then the whole headline
    # claims table; the fastest-option table, the details and the big table follow.
    assert 0 < p["leadTop"] < p["headlineTop"] < p["headlineBottom"] < 1000, p
    assert p["headlineBottom"] <= p["fastestTop"] < p["detailsTop"] < p["summaryTop"], p
    assert p["charts"] >= 1 and p["chartsLoaded"] == p["charts"]
    assert p["detailsTop"] < p["firstChartTop"] and p["firstChartWidth"] > 200
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
        documents.validate(doc)
        (d / f"{name}.json").write_text(json.dumps(doc))
    return d


def test_flavor_rule_estimates_and_emulation(tmp_path):
    d = _docs(tmp_path)
    built = build([d], tmp_path / "rep", now="2026-01-01T00:00:00Z")
    assert built.machines == 2
    docs, _ = documents.load_many([d])
    groups = machines.group(docs)
    native = next(m for m in groups if not m.emulated)
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


def test_rerendering_removes_the_earlier_reports_data_and_charts(tmp_path):
    d = _docs(tmp_path)
    rep = tmp_path / "rep"
    stale = [rep / "data" / "old" / "gone.json", rep / "data" / "old" / "gone.json.gz",
             rep / "charts" / "gone.svg"]
    for f in stale:
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text("stale")
    mine = rep / "notes.txt"  # not the report's: left alone
    mine.write_text("keep")
    build([d], rep)
    assert not any(f.exists() for f in stale)
    assert mine.read_text() == "keep"
    assert len(list((rep / "data").rglob("*.json"))) == 4


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
    key = machines.group(documents.load_many([d])[0])[0].key
    t = parse(html).tables["jit-" + key + "-cpython-3.13-jit"]
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
    (m,) = machines.group(documents.load_many([d])[0])
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


# -- the first screen: the answer before the method -------------------------------------------

def answer_docs(d: Path) -> machines.Machine:
    """tests.test_claims' machine (Mojo 3.3x NumPy on matmul 1024 and linreg) as files in
    `d`: its headline claims get several verdicts (consistent, not reproduced, implausible,
    not measured)."""
    from tests.test_claims import machine

    m = machine(3.3)
    d.mkdir()
    for i, doc in enumerate(m.docs):
        (d / f"{i}.json").write_text(json.dumps(doc.doc))
    return m


def test_the_report_opens_with_the_answer(tmp_path):
    """Headline claims first (the same rows as `claims --markdown`, verdicts included),
    then the fastest option per workload, then the details, in HTML and in Markdown."""
    from suite.analysis import claims
    from suite.analysis.report import headline

    m = answer_docs(tmp_path / "docs")
    built = build([tmp_path / "docs"], tmp_path / "rep")
    html, md = built.html.read_text(), built.markdown.read_text()
    key = m.key
    order = ['<p class="lead">', "<b>Measured on</b>", f'id="headline-{key}"',
             f'id="fastest-{key}"', 'id="details"', f'id="geomean-{key}"',
             f'id="summary-{key}"', 'id="claims"', 'id="environment"']
    at = [html.index(x) for x in order]
    assert at == sorted(at), list(zip(order, at))
    assert html.count('id="fastest-') == 1  # shown once, on top
    order = ["\n**On Test CPU (2 cores, amd64), ", "\nMeasured on amd64 · Test CPU",
             "**The article's headline claims**", "**Which option is fastest (single thread)**",
             "## Details", "**Geometric mean speedup", "**Median time per call",
             "## Published claims vs measured", "## Environment"]
    at = [md.index(x) for x in order]
    assert at == sorted(at), list(zip(order, at))
    assert md.count("**Which option is fastest") == 1
    # One source: the report's tables are the README's (`claims --markdown`), row for row.
    data = claims.load_claims()
    readme = md_tables(headline.markdown([m], claims.evaluate([m], data), data))
    ours = md_tables(md)
    head = ours["The article's headline claims"]
    assert head == readme[f"The article's headline claims, measured on {m.label}"]
    assert ours["Which option is fastest (single thread)"] == \
        readme[f"Which option is fastest (single thread), on {m.label}"]
    # The verdicts, in both renderings, and the HTML's verdict styling with the reason.
    verdicts = [r[-1] for r in head[1:]]
    assert len(verdicts) == len(data["headline"])
    assert {"consistent", "not reproduced", claims.IMPLAUSIBLE, "not measured"} <= \
        set(verdicts) and set(verdicts) <= set(claims.VERDICTS)
    rows = parse(html).tables[f"headline-{key}"]
    assert [r[-1] for r in rows[1:]] == verdicts
    assert [r[:3] for r in rows[1:]] == [[x.replace("\\|", "|") for x in r[:3]]
                                         for r in head[1:]]
    assert re.search(r'<td class="v-consistent" title="[^"]+">consistent</td>', html)
    assert re.search(r'<td class="v-implausible-on-the-stated-hardware" title="[^"]*95% '
                     r'CI[^"]*is implausible">', html)
    # The sentence counts those verdicts.
    hold = verdicts.count("consistent")
    lead = unescape(re.search(r'<p class="lead">(.*?)</p>', html).group(1))
    assert f"{hold} of the article's {len(verdicts)} headline claims" in lead
    n_not = verdicts.count("not reproduced")
    assert f"{n_not} {'is' if n_not == 1 else 'are'} not reproduced" in lead
    assert f"\n**{lead}**\n" in md
    assert "Fastest single-thread option: Mojo in " in html and \
        "Fastest single-thread option: Mojo in " in md


def test_the_answer_sentence_counts_the_verdicts():
    from suite.analysis import claims
    from suite.analysis.report import headline

    def rows(*verdicts: str) -> list:
        return [(f"c{i}", claims.Result({"id": f"c{i}"}, "m", v, ""))
                for i, v in enumerate(verdicts)]

    assert headline.answer("X (2 cores, amd64)", rows(
        "consistent", "not measured", "consistent", "not reproduced", claims.IMPLAUSIBLE,
        claims.IMPLAUSIBLE)) == (
        "On X (2 cores, amd64), 2 of the article's 6 headline claims hold; 1 is not "
        "reproduced, 2 are implausible on the article's own hardware and 1 was not measured "
        "in these results.")
    assert headline.answer("", rows("not measured", "not measured")) == (
        "None of the article's 2 headline claims could be checked: 2 were not measured in "
        "these results.")
    assert headline.answer("", rows("not measured", "not reproduced")) == (
        "None of the article's 2 headline claims holds; 1 is not reproduced and 1 was not "
        "measured in these results.")
    assert headline.answer("", rows("consistent", "consistent")) == \
        "All 2 of the article's headline claims hold."
    assert headline.answer("", rows("consistent", "not comparable")) == (
        "1 of the article's 2 headline claims holds; 1 cannot be compared across hardware.")
    assert headline.answer("", []) == "No headline claim of the article could be checked."


def test_the_machine_and_run_in_one_line(tmp_path):
    p = {"dtype": "float64", "n": 48}
    cell = make_cell("matmul", p, "numpy", 1, _xs(1_000_000))
    cell["noise"] = {"sample_cpu_ns": cell["samples"], "cpu_wall_ratio": 1.0, "preempted": 0,
                     "load_avg": [[1.0, 1.4], [2.0, None], [0.4, 0.6]]}
    doc = make_doc("cpython-3.12", [cell, make_cell("matmul", p, "pure", 1, _xs(9_000_000))],
                   started="2026-01-01T10:00:00Z", run_id="20260101T100000Z")
    doc["run"]["finished"] = "2026-01-01T11:05:30Z"
    doc["suite"]["git_commit"] = "0123456789" + "a" * 30
    d = tmp_path / "docs"
    d.mkdir()
    (d / "a.json").write_text(json.dumps(doc))
    built = build([d], tmp_path / "rep")
    (m,) = machines.group(documents.load_many([d])[0])
    line = model.run_line(m)
    assert line == (f"{m.label} · run 20260101T100000Z · 2026-01-01, 1 h 05 min · 1 runtime "
                    "· load average 1.2 on 2 cores (median of 3 measuring processes) · suite "
                    "0.1.0 0123456789")
    assert f"Measured on {line}." in built.markdown.read_text()
    assert f"<b>Measured on</b> {line}</p>" in built.html.read_text()
    doc["run"].update(complete=False, finished=None)
    (d / "a.json").write_text(json.dumps(doc))
    (m,) = machines.group(documents.load_many([d])[0])
    assert model.run_line(m).endswith(" · INCOMPLETE (interrupted or still running)")
    assert model.fmt_duration(59.6) == "1 min 00 s" and model.fmt_duration(5) == "5 s"


# -- hostile documents: documents from a URL are untrusted input -------------------------------

PAYLOAD = ("<script>window.__xss=1</script><img src=x onerror=\"window.__xss=2\">"
           "'\"><svg onload=window.__xss=3>](javascript:alert(1))")
HOSTILE_NAME = "../../../escaped<script>window.__xss=4</script>"
# Fields that must keep their meaning for the report to group and order anything at all.
STRUCTURAL = {"schema_version", "status", "kind", "profile", "started", "updated", "finished",
              "code", "rule", "digest", "inputs_sha256", "git_commit"}
NAMES = {"arch", "workload", "flavor", "machine"}


def hostile(value, key: str = ""):
    """Every string of a document replaced: names by a `../` path with a script, every other
    string by script/attribute/link injections."""
    if isinstance(value, dict):
        return {(HOSTILE_NAME + k if key == "params" else k): hostile(v, k)
                for k, v in value.items()}
    if isinstance(value, list):
        return [hostile(v, key) for v in value]
    if isinstance(value, str) and key not in STRUCTURAL:
        return HOSTILE_NAME if key in NAMES else PAYLOAD + value
    return value


def hostile_docs(d: Path) -> None:
    p = {"dtype": "float32", "n": 64}
    docs = [make_doc("cpython-3.12", [make_cell("matmul", p, "numpy", 1, _xs(1_000_000),
                                                flops=2 * 64**3, gflops=2 * 64**3 / 1_005_500),
                                      make_cell("matmul", p, "pure", 1, _xs(9_000_000))]),
            make_doc("cpython-3.13-jit", [make_cell("matmul", p, "pure", 1, _xs(7_000_000))],
                     jit=True)]
    d.mkdir(parents=True)
    for i, doc in enumerate(docs):
        bad = hostile(doc)
        bad["runtime"]["id"] = f"{HOSTILE_NAME}{i}"
        for c in bad["cells"]:
            c["id"] = HOSTILE_NAME + c["id"]
            c["warnings"] = [{"code": "x", "message": PAYLOAD}]
        (d / f"{PAYLOAD[:20]}{i}.json").write_text(json.dumps(bad))


XSS_PROBE = """(() => ({
  scripts: document.scripts.length,
  handlers: [...document.querySelectorAll('*')].filter(
      e => [...e.attributes].some(a => a.name.startsWith('on'))).length,
  xss: window.__xss === undefined ? null : window.__xss,
  javascriptLinks: [...document.links].filter(a => a.protocol === 'javascript:').length,
  shownAsText: document.body.innerText.includes('<script>window.__xss=1</script>'),
}))()"""


def files_under(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file() or p.is_symlink()}


def check_hostile_report(rep: Path, root: Path, before: set[Path]) -> None:
    outside = {p for p in files_under(root) - before if rep not in p.parents}
    assert not outside, f"files written outside the report directory: {outside}"
    for p in files_under(rep):
        assert p.resolve().is_relative_to(rep.resolve()), p
    res = browser.inspect(rep / "index.html", probe=XSS_PROBE, chromium=chromium(), timeout=90)
    assert res["errors"] == [], res["errors"]
    assert res["probe"] == {"scripts": 0, "handlers": 0, "xss": None, "javascriptLinks": 0,
                            "shownAsText": True}, res["probe"]
    md = (rep / "report.md").read_text()
    assert "<script" not in md and "<img" not in md and "](javascript:" not in md


def test_hostile_documents_render_inert_and_stay_inside_the_report(tmp_path, monkeypatch):
    """The report's own defences, with the schema out of the way: every name is `../` plus a
    script, every string an injection; nothing runs in Chromium, nothing lands outside."""
    root = tmp_path / "a" / "b" / "c"
    hostile_docs(root / "docs")
    before = files_under(tmp_path)
    monkeypatch.setattr(documents, "violations", lambda doc: [])
    built = build([root / "docs"], root / "rep", now=PAYLOAD)
    assert built.documents == 2 and built.skipped == []
    html = built.html.read_text()
    assert "escaped&lt;script&gt;" in html  # the names are there, as text
    # The first screen quotes the document's CPU model, escaped.
    assert '<p class="lead">On &lt;script&gt;window.__xss=1&lt;/script&gt;' in html
    assert "<b>Measured on</b> " + HOSTILE_NAME.replace("<", "&lt;").replace(">", "&gt;") \
        in html
    check_hostile_report(root / "rep", tmp_path, before)


def test_hostile_documents_are_refused_and_named_inert(tmp_path):
    """With the schema: the same documents are refused, and their file names and the
    reasons (which quote the hostile values) are shown as text."""
    root = tmp_path / "a" / "b" / "c"
    hostile_docs(root / "docs")
    make = root / "docs" / "ok.json"
    make.write_text(json.dumps(make_doc("cpython-3.12", [make_cell(
        "matmul", {"dtype": "float32", "n": 64}, "numpy", 1, _xs(1_000_000))])))
    before = files_under(tmp_path)
    built = build([root / "docs"], root / "rep")
    assert built.documents == 1 and len(built.skipped) == 2
    assert all("schema violation" in p.reason and "escaped<script>" in p.reason
               for p in built.skipped), built.skipped
    check_hostile_report(root / "rep", tmp_path, before)


def test_file_names_are_built_from_safe_names():
    from suite.analysis.report import charts

    assert machines.safe_name("cpython-3.12") == "cpython-3.12"
    for bad in ("../../etc", "..", ".", "a/b", "x<script>", "", "é"):
        s = machines.safe_name(bad)
        assert re.fullmatch(r"[A-Za-z0-9_+-][A-Za-z0-9_.+-]*", s), (bad, s)
    assert machines.safe_name("a/b") != machines.safe_name("a_b")  # distinct stay distinct
    name = charts.file_name("../../x86_64-2c-00", "gflops-../matmul")
    assert name.startswith("charts/") and name.count("/") == 1 and ".." not in name
