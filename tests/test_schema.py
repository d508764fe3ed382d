"""The result schema: real smoke documents validate (with ours and an independent
validator); mutated documents are rejected with the JSON path named."""

from __future__ import annotations

import copy
import json

import jsonschema_rs
import pytest
from jsonschema import Draft202012Validator

from suite import documents
from tests.conftest import suite_cmd
from tests.test_compare import strip_process_statistics


def test_schema_is_draft_2020_12_with_versioned_id():
    s = documents.schema()
    Draft202012Validator.check_schema(s)
    assert s["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert documents.SCHEMA_VERSION in s["$id"]
    assert "schema_version" in s["required"]


def test_real_smoke_document_is_valid(smoke_doc):
    doc = json.loads(smoke_doc.read_text())
    assert documents.violations(doc) == []
    independent = jsonschema_rs.Draft202012Validator(documents.schema(), validate_formats=True)
    assert independent.is_valid(doc)
    assert doc["schema_version"] == documents.SCHEMA_VERSION
    assert doc["run"]["complete"] and doc["cells"]
    assert doc["runtime"]["jit"]["built"] is not None
    assert doc["runtime"]["numpy"] and doc["host"]["cores"] >= 1
    statuses = {c["status"] for c in doc["cells"]}
    assert statuses == {"ok"}, [c.get("error") for c in doc["cells"]]


def mutate(doc, path, value=None, delete=False):
    d = copy.deepcopy(doc)
    target = d
    for key in path[:-1]:
        target = target[key]
    if delete:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return d


@pytest.mark.parametrize("path,value,delete,expect", [
    (("run",), None, True, "'run' is a required property"),
    (("schema_version",), "0.9", False, "$.schema_version"),
    (("cells", 0, "threads"), "two", False, "$.cells[0].threads"),
    (("cells", 0, "samples", 0), -5, False, "$.cells[0].samples[0]"),
    (("cells", 0, "status"), "maybe", False, "$.cells[0].status"),
    (("cells", 0, "stats", "median"), 0, False, "$.cells[0].stats.median"),
    (("host", "emulated"), "no", False, "$.host.emulated"),
    (("cells", 0, "check", "ok"), False, False, "$.cells[0].check.ok"),
])
def test_mutated_documents_are_rejected_with_the_path(smoke_doc, path, value, delete, expect):
    doc = json.loads(smoke_doc.read_text())
    bad = mutate(doc, path, value, delete)
    errors = documents.violations(bad)
    assert errors and any(expect in e for e in errors), errors
    independent = jsonschema_rs.Draft202012Validator(documents.schema(), validate_formats=True)
    assert not independent.is_valid(bad)


def test_failed_cell_may_not_carry_stats(smoke_doc):
    doc = json.loads(smoke_doc.read_text())
    bad = mutate(doc, ("cells", 0, "status"), "failed")
    bad["cells"][0]["error"] = "boom"
    assert any("$.cells[0]" in e for e in documents.violations(bad))


def test_validate_command(smoke_doc, tmp_path):
    ok = suite_cmd("validate", str(smoke_doc))
    assert ok.returncode == 0 and "valid" in ok.stdout
    doc = json.loads(smoke_doc.read_text())
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(mutate(doc, ("cells", 0, "samples", 0), -1)))
    out = suite_cmd("validate", str(smoke_doc), str(bad))
    assert out.returncode == 1
    assert "INVALID" in out.stdout and "$.cells[0].samples[0]" in out.stdout


def test_documents_of_the_archived_version_still_validate(smoke_doc):
    # A 1.0.0 document (what the suite wrote before compile_ns/warmup/numba existed) is
    # checked against its own frozen schema; a new field makes it invalid there.
    doc = json.loads(smoke_doc.read_text())
    old = copy.deepcopy(doc)
    old["schema_version"] = "1.0.0"
    for c in old["cells"]:
        for added_later in ("warmup", "compile_ns", "memory", "noise"):  # 1.1.0, 1.2.0
            c.pop(added_later, None)
    strip_process_statistics(old)
    assert documents.violations(old) == []
    old["cells"][0]["warmup"] = doc["cells"][0]["warmup"]
    assert any("warmup" in e for e in documents.violations(old))


def test_unknown_schema_version_names_the_known_ones(smoke_doc):
    doc = json.loads(smoke_doc.read_text())
    doc["schema_version"] = "9.9.9"
    (err,) = documents.violations(doc)
    assert "9.9.9" in err and documents.SCHEMA_VERSION in err and "1.0.0" in err


def test_archived_schemas_keep_their_ids():
    for version, path in documents.ARCHIVED.items():
        s = json.loads(path.read_text())
        assert f"/{version}/" in s["$id"] and s["properties"]["schema_version"]["const"] == version


# -- names and bounds: a document from a URL is untrusted input -----------------------------
def _doc() -> dict:
    from tests.test_compare import make_cell, make_doc

    return make_doc("cpython-3.12", [make_cell("matmul", {"dtype": "float64", "n": 64},
                                               "numpy", 1, [1000 + i for i in range(12)])])


HOSTILE_NAME = "../../x<script>"


@pytest.mark.parametrize("path,value,expect", [
    (("runtime", "id"), HOSTILE_NAME, "$.runtime.id"),
    (("runtime", "id"), "Cpython", "$.runtime.id"),
    (("host", "arch"), "../../../tmp/pwn", "$.host.arch"),
    (("host", "arch"), "x" * 65, "$.host.arch"),
    (("runtime", "machine"), "x86_64/..", "$.runtime.machine"),
    (("cells", 0, "workload"), "../matmul", "$.cells[0].workload"),
    (("cells", 0, "flavor"), "<b>numpy</b>", "$.cells[0].flavor"),
    (("cells", 0, "id"), "matmul[<script>]/numpy/threads=1", "$.cells[0].id"),
    (("cells", 0, "params", "dtype"), "float64<img>", "$.cells[0].params.dtype"),
    (("backend", "image"), "--privileged", "$.backend.image"),
    (("backend", "engine"), "docker;rm", "$.backend.engine"),
    (("run", "settings", "processes"), 101, "$.run.settings.processes"),
    (("run", "settings", "values"), 10**9, "$.run.settings.values"),
    (("run", "settings", "warmups"), 101, "$.run.settings.warmups"),
    (("run", "settings", "max_loops"), 10**7, "$.run.settings.max_loops"),
    (("run", "settings", "min_time_ns"), 10**12, "$.run.settings.min_time_ns"),
    (("cells", 0, "loops"), 10**7, "$.cells[0].loops"),
    (("cells", 0, "threads"), 5000, "$.cells[0].threads"),
    (("cells", 0, "samples"), [1000] * 10001, "$.cells[0].samples"),
])
def test_names_and_counts_out_of_bounds_are_refused_with_the_path(path, value, expect):
    good = _doc()
    assert documents.violations(good) == []
    bad = mutate(good, path, value)
    errors = documents.violations(bad)
    assert any(e.startswith(expect + ":") for e in errors), errors
    # The same limits hold for a document that claims an archived schema version.
    old = mutate(bad, ("schema_version",), "1.1.0")
    assert any(e.startswith(expect + ":") for e in documents.violations(old)), expect


def test_names_at_the_bound_are_accepted():
    doc = mutate(_doc(), ("host", "arch"), "a" * 64)
    doc["run"]["settings"].update(processes=100, values=100, warmups=100, max_loops=10**6)
    doc["cells"][0]["loops"] = 10**6
    assert documents.violations(doc) == []
    assert documents.violations(strip_process_statistics(
        mutate(doc, ("schema_version",), "1.1.0"))) == []
