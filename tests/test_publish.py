"""publish: the reference set under published/<machine-id>/ (one run's documents gzipped,
the report, a README), the README's claims tables generated from it (and the stale-file check
on the committed README), and reading .json.gz documents in every command."""

from __future__ import annotations

import copy
import gzip
import json
import shutil
from pathlib import Path

import pytest

from suite import documents
from suite.analysis.report import headline
from suite.publish import published, reproduce
from tests.conftest import suite_cmd
from tests.test_claims import machine

COMMIT = "ab" * 20
RUN = "20260101T000000Z-abc123"
COMMAND = "python -m suite run --backend container --profile reference --out results"


def run_docs(run_id: str = RUN, speedup: float = 3.3) -> list[dict]:
    """One run's documents (cpython-3.13, cpython-3.12, mojo-1.2) with the cells the headline
    claims need, as tests/test_claims.py makes them, plus what a published set requires (the
    suite commit, a finished run, the command) and the load the runner records."""
    out = []
    for d in machine(speedup).docs:
        doc = copy.deepcopy(d.doc)
        doc["suite"].update(git_commit=COMMIT, git_dirty=False)
        doc["run"].update(id=run_id, command=COMMAND, started="2026-01-01T10:00:00Z",
                          updated="2026-01-01T11:31:00Z", finished="2026-01-01T11:31:00Z")
        for c in doc["cells"]:
            c["noise"] = {"sample_cpu_ns": list(c["samples"]),
                          "load_avg": [[0.5, 1.5], [1.0, 1.0], [2.0, 4.0]],
                          "cpu_wall_ratio": 1.0, "preempted": 1 if c["threads"] == 1 else None}
        documents.validate(doc, "test document")
        out.append(doc)
    return out


def write(directory: Path, docs: list[dict], gz: bool = False) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for doc in docs:
        p = directory / f"{doc['runtime']['id']}-{doc['run']['id']}.json{'.gz' * gz}"
        data = (json.dumps(doc, indent=1) + "\n").encode()
        p.write_bytes(gzip.compress(data) if gz else data)
        paths.append(p)
    return paths


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file()}


@pytest.fixture(scope="module")
def published_set(tmp_path_factory) -> Path:
    """A set written by `python -m suite publish` from a run's plain documents."""
    base = tmp_path_factory.mktemp("pub")
    src = write(base / "results", run_docs())
    out = base / "published"
    p = suite_cmd("publish", *map(str, src), "--machine-id", "test-box-2c", "--out", str(out),
                  "--command", "make reference")
    assert p.returncode == 0, p.stdout + p.stderr
    return out / "test-box-2c"


# -- the committed README ----------------------------------------------------------------------

def test_readme_tables_are_what_the_suite_generates_from_the_committed_set():
    """The stale-file check: README.md's claims block equals what the suite generates from
    published/ now (the placeholder while nothing is published)."""
    text = published.README.read_text()
    if published.reference_set() is None:
        assert published.current_block(text) == published.placeholder()
    why = published.stale()
    assert why is None, why


# -- publishing ----------------------------------------------------------------------------------

def test_a_valid_run_is_published_with_documents_report_and_readme(published_set):
    results = published_set / published.RESULTS_DIR
    files = sorted(p.name for p in results.iterdir())
    assert files == ["cpython-3.12.json.gz", "cpython-3.13.json.gz", "mojo-1.2.json.gz"]
    originals = {d["runtime"]["id"]: d for d in run_docs()}
    for f in results.iterdir():
        doc = documents.load(f)  # valid, read from the .json.gz
        assert doc == originals[doc["runtime"]["id"]]
        assert gzip.decompress(f.read_bytes())[:1] == b"{"
    report = published_set / published.REPORT_DIR
    assert (report / "index.html").is_file() and (report / "report.md").is_file()
    assert any((report / "charts").iterdir())
    copies = sorted(report.glob("data/**/*.json.gz"))  # the report's own copies, still gzip
    assert len(copies) == 3 and all(documents.read(c) in originals.values() for c in copies)
    readme = (published_set / "README.md").read_text()
    for fact in ("Test CPU", "x86_64", "2 cores", "2026-01-01", "1 h 31 min",
                 f"`{COMMAND}`", "`make reference`", COMMIT, RUN,
                 "1-minute load average 1.00 (median; at most 3.00)",
                 "(report/report.md)",
                 f"make reproduce FROM={published_set}/results/cpython-3.12.json.gz",
                 f"make report RESULTS={published_set}/results"):
        assert fact in readme, fact


def test_gzipped_documents_are_read_by_validate_claims_and_compare(published_set, tmp_path):
    results = published_set / published.RESULTS_DIR
    v = suite_cmd("validate", str(results))
    assert v.returncode == 0, v.stdout
    assert v.stdout.count(": valid (schema") == 3
    plain = tmp_path / "plain"
    write(plain, run_docs())
    gz_claims = suite_cmd("claims", str(results))
    assert gz_claims.returncode == 0, gz_claims.stderr
    assert gz_claims.stdout == suite_cmd("claims", str(plain)).stdout
    c = suite_cmd("compare", str(results / "cpython-3.13.json.gz"),
                  str(results / "cpython-3.13.json.gz"))
    assert c.returncode == 0, c.stdout + c.stderr
    assert "not significant" in c.stdout
    # reproduce reads the same bytes (its rerun needs the runtime, not available here)
    doc = reproduce.read(str(results / "mojo-1.2.json.gz"))
    assert doc == documents.load(results / "mojo-1.2.json.gz")


def test_documents_of_two_runs_are_refused_and_run_picks_one(tmp_path):
    src = tmp_path / "results"
    write(src, run_docs())
    write(src, run_docs(run_id="20260102T000000Z-def456")[:1])
    out = tmp_path / "published"
    p = suite_cmd("publish", str(src), "--machine-id", "box", "--out", str(out))
    assert p.returncode == 1
    assert "2 runs" in p.stderr and RUN in p.stderr and "20260102T000000Z-def456" in p.stderr
    assert "--run" in p.stderr and not out.exists()
    with pytest.raises(published.Refused, match="no document of run 2027"):
        published.select([src], run_id="20270101T000000Z")
    assert len(published.select([src], run_id=RUN)) == 3


@pytest.mark.parametrize("bad", ["", "Box", "../x", "a/b", "-x", "a_b", "a" * 64, "box.1",
                                 "box\n"])
def test_an_unsafe_machine_id_is_refused(tmp_path, bad):
    with pytest.raises(ValueError, match="not a safe name"):
        published.publish([tmp_path], bad, tmp_path / "published")
    assert not (tmp_path / "published").exists()


def test_the_cli_refuses_a_bad_machine_id_with_the_rule(tmp_path):
    src = write(tmp_path / "r", run_docs())
    p = suite_cmd("publish", str(src[0]), "--machine-id", "My Box", "--out", str(tmp_path))
    assert p.returncode == 2
    assert "'My Box' is not a safe name" in p.stderr and "lowercase" in p.stderr


def test_documents_without_commit_or_digest_or_finish_are_refused(tmp_path):
    docs = run_docs()
    docs[0]["suite"]["git_commit"] = None
    docs[1]["run"].update(complete=False, interrupted="SIGTERM")
    docs[2]["backend"] = {"kind": "container", "engine": "podman", "image": None,
                          "digest": None}
    docs[2]["suite"]["git_dirty"] = True
    src = write(tmp_path / "r", docs)
    with pytest.raises(published.Refused) as exc:
        published.publish(src, "box", tmp_path / "published")
    text = "\n".join(exc.value.reasons)
    for why in ("no suite commit", "did not complete (SIGTERM)", "without its image digest",
                "uncommitted changes"):
        assert why in text, why
    assert len(exc.value.reasons) == 4
    assert not (tmp_path / "published" / "box").exists()


def test_invalid_documents_are_refused(tmp_path):
    src = write(tmp_path / "r", run_docs())
    (tmp_path / "r" / "bad.json").write_text("{nope")
    with pytest.raises(published.Refused, match=r"bad\.json: not JSON"):
        published.publish([tmp_path / "r"], "box", tmp_path / "published")
    assert src


def test_an_existing_set_is_replaced_only_with_force(published_set, tmp_path):
    out = tmp_path / "published"
    shutil.copytree(published_set, out / "box")
    before = snapshot(out / "box")
    src = write(tmp_path / "r", run_docs(speedup=2.0))
    with pytest.raises(ValueError, match="already exists: pass --force"):
        published.publish(src, "box", out)
    assert snapshot(out / "box") == before
    published.publish(src, "box", out, force=True)
    after = snapshot(out / "box")
    assert after != before
    mojo = next(p for p in src if p.name.startswith("mojo-1.2-"))
    assert after["results/mojo-1.2.json.gz"] == gzip.compress(mojo.read_bytes(), 9, mtime=0)
    assert sorted(p.name for p in out.iterdir()) == ["box"]  # nothing left aside


def test_no_result_is_lost_when_publishing_fails(published_set, tmp_path, monkeypatch):
    out = tmp_path / "published"
    shutil.copytree(published_set, out / "box")
    before = snapshot(out / "box")
    src_dir = tmp_path / "r"
    write(src_dir, run_docs(speedup=2.0), gz=True)
    sources = snapshot(src_dir)

    def broken(*args, **kw):
        raise OSError("disk full (planted)")
    monkeypatch.setattr(published, "build", broken)
    with pytest.raises(OSError, match="planted"):
        published.publish([src_dir], "box", out, force=True)
    assert snapshot(out / "box") == before  # the set it was to replace, untouched
    assert snapshot(src_dir) == sources  # the documents it read, untouched
    assert sorted(p.name for p in out.iterdir()) == ["box"]  # no half-written set left
    with pytest.raises(OSError, match="planted"):
        published.publish([src_dir], "new", out)
    assert sorted(p.name for p in out.iterdir()) == ["box"]


# -- README tables -------------------------------------------------------------------------------

def test_readme_tables_round_trip_and_an_edited_cell_is_stale(published_set, tmp_path):
    out = tmp_path / "published"
    shutil.copytree(published_set, out / "test-box-2c")
    readme = tmp_path / "README.md"
    readme.write_text(published.README.read_text())
    outside = published.splice(readme.read_text(), "")
    assert published.stale(readme, out) is not None  # the placeholder is stale now
    assert published.update_readme(readme, out)
    assert published.stale(readme, out) is None
    assert not published.update_readme(readme, out)  # a second run changes nothing
    text = readme.read_text()
    assert published.splice(text, "") == outside  # nothing else in the README changed
    block = published.current_block(text)
    link = "published/test-box-2c/report/report.md"
    cli = suite_cmd("claims", "--markdown", "--report-link", link,
                    str(out / "test-box-2c" / published.RESULTS_DIR))
    assert cli.returncode == 0, cli.stderr
    assert block == cli.stdout  # exactly what `claims --markdown` prints
    assert "| Mojo SIMD vs NumPy, 1024×1024 matmul (results table) | 3.30× |" in block
    assert f"[Full report]({link})" in block
    ok = suite_cmd("publish", "--readme-tables", "--check", "--readme", str(readme),
                   "--out", str(out))
    assert ok.returncode == 0, ok.stderr
    # Edit one cell of a table row: the check fails and names the fix.
    row = next(ln for ln in block.splitlines() if ln.startswith("| Mojo SIMD vs NumPy"))
    cells = row.split(" | ")
    cells[2] = "9.99× (95% CI 9.9-10.1)"
    readme.write_text(text.replace(row, " | ".join(cells)))
    why = published.stale(readme, out)
    assert why is not None and "make readme-tables" in why and "9.99×" in why
    bad = suite_cmd("publish", "--readme-tables", "--check", "--readme", str(readme),
                    "--out", str(out))
    assert bad.returncode == 1 and "stale" in bad.stderr


def test_several_sets_need_reference_txt(published_set, tmp_path):
    out = tmp_path / "published"
    assert published.reference_set(out) is None
    out.mkdir()
    (out / "README.md").write_text("sets")
    assert published.readme_tables(out, tmp_path / "README.md") == published.placeholder()
    shutil.copytree(published_set, out / "box-a")
    assert published.reference_set(out) == out / "box-a"
    shutil.copytree(published_set, out / "box-b")
    with pytest.raises(ValueError, match=r"2 published sets \(box-a, box-b\).*reference.txt"):
        published.reference_set(out)
    (out / "reference.txt").write_text("box-b\n")
    assert published.reference_set(out) == out / "box-b"
    (out / "reference.txt").write_text("box-c\n")
    with pytest.raises(ValueError, match="names 'box-c'"):
        published.reference_set(out)


def test_the_readme_needs_one_marker_pair(tmp_path):
    for text in ("no markers\n", f"{headline.END}\n{headline.BEGIN}\n",
                 f"{headline.BEGIN}\n{headline.BEGIN}\n{headline.END}\n"):
        with pytest.raises(ValueError, match="exactly one line"):
            published.splice(text, published.placeholder())


# -- compressed documents -----------------------------------------------------------------------

def test_a_gzip_bomb_and_a_broken_gzip_are_refused_with_the_reason(tmp_path):
    bomb = tmp_path / "bomb.json.gz"
    bomb.write_bytes(gzip.compress(b" " * (documents.MAX_DECOMPRESSED + 1), 1))
    with pytest.raises(ValueError, match="decompresses to more than 64 MiB"):
        documents.load(bomb)
    cut = tmp_path / "cut.json.gz"
    cut.write_bytes(gzip.compress(b'{"a": 1}')[:-6])
    with pytest.raises(ValueError, match="not a valid gzip file"):
        documents.load(cut)
    good = write(tmp_path, run_docs()[:1], gz=True)[0]
    docs, problems = documents.load_many([tmp_path])
    assert [d.path for d in docs] == [good]
    assert {p.path.name: p.reason.split(":")[0] for p in problems} == {
        "bomb.json.gz": "decompresses to more than 64 MiB (refused", "cut.json.gz":
        "not a valid gzip file"}
    v = suite_cmd("validate", str(tmp_path))
    assert v.returncode == 1 and "bomb.json.gz: decompresses to more than 64 MiB" in v.stdout
    with pytest.raises(reproduce.Refused, match="more than 64 MiB"):
        reproduce.read(str(bomb))


def test_document_names_and_the_directory_walk(tmp_path):
    assert documents.split_name(Path("a/run.json.gz")) == ("run", ".json.gz")
    assert documents.split_name(Path("run.json")) == ("run", ".json")
    for name in ("a.json", "b.json.gz", "c.txt", "d.gz", "e.json.gz.bak"):
        (tmp_path / name).write_text("{}")
    assert [p.name for p in documents.iter_documents([tmp_path])] == ["a.json", "b.json.gz"]
