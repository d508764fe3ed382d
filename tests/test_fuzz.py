"""Fuzzing the readers of result documents (documents from a URL are untrusted input).

Documents generated from schemas/result.schema.json (a strategy built from the schema
here: hypothesis-jsonschema 0.23.1 installs but does not run on the pinned Hypothesis)
and documents mutated from a valid one go through validate, compare, report, claims
(the CLI commands, in process) and reproduce's audit and image trust. Each must either
work or fail with a clear message: an exit status and an `error:`/refusal line, never an
exception escaping (a traceback). Fixed budgets: max_examples per test (about 250 documents,
derandomized: the same ones every run), no time limits.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from suite import cli, documents
from suite.publish import reproduce
from tests.test_compare import make_cell, make_doc

SCHEMA = documents.schema()
HOSTILE = ["<script>alert(1)</script>", "../../../etc/passwd", "", " ", "\x00", "a" * 300,
           "](javascript:alert(1))", "'\"><img src=x onerror=alert(1)>", "NaN", "-1",
           "sha256:" + "0" * 64, "--privileged"]


def fuzz(examples: int) -> settings:
    """A fixed budget of examples, derandomized (the same documents every run)."""
    return settings(max_examples=examples, deadline=None, derandomize=True, database=None,
                    suppress_health_check=list(HealthCheck))


# -- a strategy from the schema ----------------------------------------------------------------
def resolve(ref: str) -> dict:
    node = SCHEMA
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


def from_schema(schema: dict) -> st.SearchStrategy:
    """Values for `schema` (the keywords result.schema.json uses). `allOf` branches of the
    form if {k: const v} then {...} are followed, so most values validate."""
    if "$ref" in schema:
        return from_schema({**resolve(schema["$ref"]), **{k: v for k, v in schema.items()
                                                          if k != "$ref"}})
    if "const" in schema:
        return st.just(schema["const"])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    if "anyOf" in schema:
        return st.one_of([from_schema(s) for s in schema["anyOf"]])
    types = schema.get("type") or ("object" if "properties" in schema else
                                   "array" if "items" in schema else ["string", "integer"])
    if isinstance(types, list):
        return st.one_of([from_schema({**schema, "type": t}) for t in types])
    return LEAVES.get(types, lambda s: st.none())(schema) if types not in (
        "object", "array") else (objects(schema) if types == "object" else arrays(schema))


def strings(s: dict) -> st.SearchStrategy:
    if s.get("format") == "date-time":
        return st.datetimes().map(lambda d: d.isoformat(timespec="seconds") + "Z")
    if "pattern" in s:
        return st.from_regex(s["pattern"], fullmatch=True).filter(
            lambda x: len(x) <= s.get("maxLength", 200))
    return st.one_of(st.sampled_from(HOSTILE), st.text(max_size=20)).filter(
        lambda x: len(x) >= s.get("minLength", 0))


def numbers(s: dict, integer: bool) -> st.SearchStrategy:
    lo = s.get("minimum", s.get("exclusiveMinimum", -10**6))
    hi = s.get("maximum", lo + 10**9)
    if integer:
        return st.integers(int(lo) + ("exclusiveMinimum" in s), int(hi))
    return st.floats(lo, hi, exclude_min="exclusiveMinimum" in s, allow_nan=False,
                     allow_infinity=False)


LEAVES = {"string": strings, "integer": lambda s: numbers(s, True),
          "number": lambda s: numbers(s, False), "boolean": lambda s: st.booleans(),
          "null": lambda s: st.none()}


def arrays(s: dict) -> st.SearchStrategy:
    lo = s.get("minItems", 0)
    return st.lists(from_schema(s.get("items", {})), min_size=lo,
                    max_size=max(lo, min(s.get("maxItems", 4), 4)))


def objects(s: dict) -> st.SearchStrategy:
    branches = [b for b in s.get("allOf", []) if "if" in b]
    if branches:  # one branch: its `if` constant set, its `then` merged in
        return st.one_of([objects(merge(s, b)) for b in branches])
    props = s.get("properties", {})
    required = [k for k in s.get("required", []) if k in props]
    optional = [k for k in props if k not in required and k not in s.get("forbidden", ())]
    extra = s.get("additionalProperties")
    names = from_schema({"type": "string", **s.get("propertyNames", {})})
    return st.fixed_dictionaries(
        {k: from_schema(props[k]) for k in required},
        optional={k: from_schema(props[k]) for k in optional}).flatmap(
        lambda d: st.dictionaries(names, from_schema(extra), max_size=2).map(
            lambda e: {**e, **d}) if isinstance(extra, dict) else st.just(d))


def merge(s: dict, branch: dict) -> dict:
    """`s` with the if-branch's constants fixed and its `then` applied."""
    then = branch["then"]
    props = dict(s.get("properties", {}))
    for k, sub in branch["if"]["properties"].items():
        props[k] = sub
    for k, sub in then.get("properties", {}).items():
        props[k] = {**props.get(k, {}), **sub} if "properties" not in sub else {
            **props[k], "properties": {**resolve_props(props[k]), **sub["properties"]}}
    return {**{k: v for k, v in s.items() if k != "allOf"}, "properties": props,
            "required": sorted(set(s.get("required", [])) | set(then.get("required", []))),
            "forbidden": then.get("not", {}).get("required", [])}


def resolve_props(s: dict) -> dict:
    return (resolve(s["$ref"]) if "$ref" in s else s).get("properties", {})


DOCUMENTS = from_schema(SCHEMA)


# -- running the readers -------------------------------------------------------------------------
def run_cli(capsys, *argv: str) -> int:
    """A command in process: an exit status, and (when it fails) a message; an exception
    escaping it fails the test with its traceback."""
    status = cli.main(list(argv))
    out = capsys.readouterr()
    if status:
        assert (out.err + out.out).strip(), f"{argv[0]}: exit {status} without a message"
    return status


def check_audit(doc: object, inputs: Path) -> None:
    reasons = reproduce.audit(doc, inputs)
    assert isinstance(reasons, list) and all(isinstance(r, str) and r for r in reasons)
    if not reasons and doc["backend"]["kind"] == "container":
        ok, why = reproduce.image_trust(doc)
        assert isinstance(ok, bool) and why


def check_document(doc: object, inputs: Path) -> bool:
    """validate and reproduce's audit; True when the document is valid."""
    errors = documents.violations(doc)
    assert all(re.match(r"^\$", e) for e in errors), errors
    check_audit(doc, inputs)
    return not errors


@fuzz(60)
@given(doc=DOCUMENTS)
def test_generated_documents_validate_or_are_refused_clearly(doc, tmp_path_factory, capsys):
    d = tmp_path_factory.mktemp("gen")
    valid = check_document(doc, d / "inputs")
    (d / "doc.json").write_text(json.dumps(doc))
    assert run_cli(capsys, "validate", str(d / "doc.json")) == (0 if valid else 1)


def base_doc() -> dict:
    p = {"dtype": "float64", "n": 64}
    return make_doc("cpython-3.12", [
        make_cell("matmul", p, "numpy", 1, [1000 + 7 * i for i in range(12)]),
        make_cell("matmul", p, "pure", 2, [90_000 + 13 * i for i in range(12)])],
        profile="smoke")


JSON = st.recursive(st.none() | st.booleans() | st.integers(-2**70, 2**70)
                    | st.floats(allow_nan=False) | st.sampled_from(HOSTILE) | st.text(max_size=8),
                    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=5), c,
                                                                        max_size=3), max_leaves=6)


def paths(node, prefix=()) -> list[tuple]:
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += paths(v, (*prefix, i))
    return out


@st.composite
def mutated(draw) -> dict:
    doc = base_doc()
    for _ in range(draw(st.integers(1, 3))):
        where = draw(st.sampled_from(paths(doc)[1:]))
        parent = doc
        for k in where[:-1]:
            parent = parent[k]
        action = draw(st.sampled_from(["replace", "delete", "hostile", "huge"]))
        if action == "delete":
            del parent[where[-1]]
        else:
            parent[where[-1]] = {"replace": lambda: draw(JSON),
                                 "hostile": lambda: draw(st.sampled_from(HOSTILE)),
                                 "huge": lambda: draw(st.sampled_from(
                                     [10**9, 2**63, -1, 0, 1e308, [0] * 1100]))}[action]()
    return doc


@fuzz(150)
@given(doc=mutated())
def test_mutated_documents_validate_or_are_refused_clearly(doc, tmp_path_factory, capsys):
    d = tmp_path_factory.mktemp("mut")
    if check_document(doc, d / "inputs"):
        (d / "doc.json").write_text(json.dumps(doc))
        (d / "base.json").write_text(json.dumps(base_doc()))
        run_cli(capsys, "compare", str(d / "base.json"), str(d / "doc.json"))
        run_cli(capsys, "claims", str(d / "doc.json"))


@fuzz(15)
@given(docs=st.lists(st.one_of(DOCUMENTS, mutated()), min_size=1, max_size=3))
def test_reports_compare_and_claims_of_any_documents(docs, tmp_path_factory, capsys):
    d = tmp_path_factory.mktemp("rep")
    for i, doc in enumerate(docs):
        (d / f"{i}.json").write_text(json.dumps(doc))
    for i in range(1, len(docs)):
        run_cli(capsys, "compare", str(d / "0.json"), str(d / f"{i}.json"))
    run_cli(capsys, "claims", str(d))
    run_cli(capsys, "report", str(d), "-o", str(d / "report"))


def test_the_strategy_generates_valid_documents_too():
    """The generator covers the valid side (else the fuzz tests would only see refusals)."""
    valid = []

    @fuzz(30)
    @given(DOCUMENTS)
    def collect(doc):
        valid.append(not documents.violations(copy.deepcopy(doc)))

    collect()
    assert sum(valid) >= len(valid) // 3, f"{sum(valid)} of {len(valid)} valid"
