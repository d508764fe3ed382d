"""The article's published claims (suite/data/claims.json) checked against result documents.

For every claim and every machine in the results the check says what was measured, the
comparison that is fair across hardware, and a verdict with a one-line reason:

- consistent      the claimed value lies within the measured 95% CI widened by the
                  tolerance (25% across different hardware, 10% on matching hardware);
- not reproduced  it does not (the reason gives the measured value and the factor);
- implausible on the stated hardware
                  an absolute time measured on other hardware that the article's machine
                  could not plausibly take: outside our time scaled by the documented
                  hardware ratios (per-core FMA peak, cores, memory bandwidth) and a margin
                  of 10x either way (see `plausibility`); the reason names the bound;
- not comparable  an absolute time on other hardware within those bounds, or a result
                  from emulation;
- not measurable  the article states no number to check;
- not measured    the results lack a cell the claim needs (never dropped);
- contradicted    method claims: primary sources (cited) say otherwise.

Ratios use the draws of suite.measure.stats, as compare does: each cell's log time per call
is drawn from its process-level sampling distribution (Student t over its per-process
medians; pooled bootstrap for documents without them), the log ratio (or its mean over
several cells: a geometric mean, or median) is recomputed per draw, and the 2.5..97.5
percentiles give the CI. The tolerance widens that CI symmetrically on the log scale:
[lo / (1 + tol), hi * (1 + tol)]. Cost claims are recomputed from measured speedups.
"""

from __future__ import annotations

import fnmatch
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from jsonschema import Draft202012Validator

from suite.analysis.machines import Machine, RuntimeData
from suite.measure import stats
from suite.measure.stats import fmt_ns

ROOT = Path(__file__).resolve().parents[2]
DATA_PATH = ROOT / "suite" / "data" / "claims.json"
SCHEMA_PATH = ROOT / "schemas" / "claims.schema.json"
IMPLAUSIBLE = "implausible on the stated hardware"
VERDICTS = ("consistent", "not reproduced", IMPLAUSIBLE, "not comparable", "not measurable",
            "not measured", "contradicted")
UNIT_NS = {"ms": 1e6, "s": 1e9, "us": 1e3}  # claim units of absolute times


def schema() -> dict:
    return json.loads(SCHEMA_PATH.read_text())


def violations(data: object) -> list[str]:
    s = schema()
    Draft202012Validator.check_schema(s)
    v = Draft202012Validator(s, format_checker=Draft202012Validator.FORMAT_CHECKER)
    return [f"{e.json_path}: {e.message}" for e in v.iter_errors(data)]


def load_claims(path: Path = DATA_PATH) -> dict:
    data = json.loads(Path(path).read_text())
    errs = violations(data)
    if errs:
        raise ValueError(f"{path}: invalid claims file: " + "; ".join(errs[:5]))
    ids = {c["id"] for c in data["claims"]}
    unknown = [h["id"] for h in data.get("headline", []) if h["id"] not in ids]
    if unknown:
        raise ValueError(f"{path}: headline names claims that do not exist: "
                         f"{', '.join(unknown)} (use ids from 'claims')")
    if data["plausibility"]["measuring_host"]["fp64_flops_per_cycle"][-1]["flags"]:
        raise ValueError(f"{path}: plausibility.measuring_host.fp64_flops_per_cycle must end "
                         "with a default row whose flags are [] (it matches any host)")
    return data


# -- resolving cells ---------------------------------------------------------------------

@dataclass
class Found:
    runtime: str
    cell: dict
    estimate: bool = False

    @property
    def median(self) -> float:
        """The time per call: the cell's center (the median before schema 1.2.0)."""
        if self.estimate:
            return float(self.cell["skip"]["estimate_call_ns"])
        st = self.cell["stats"]
        return float(st.get("center", st["median"]))

    def log_draws(self) -> np.ndarray:
        """Draws of log(time per call) (an estimate has no spread)."""
        if self.estimate:
            return np.full(stats.RESAMPLES, math.log(self.median))
        return stats.cell_location(self.cell, f"{self.runtime}:{self.cell['id']}").log_draws

    def describe(self) -> str:
        c = self.cell
        p = c["params"]
        bits = [f"{k}={v}" for k, v in p.items() if k in ("n", "dtype")]
        extra = f"[{','.join(bits)}]" if bits else ""
        est = " (estimate)" if self.estimate else ""
        return f"{self.runtime} {c['workload']}{extra} {c['flavor']} t={c['threads']}{est}"


def _runtimes(m: Machine, patterns: list[str]) -> list[RuntimeData]:
    out = []
    for pat in patterns:
        for rid in sorted(m.runtimes):
            if fnmatch.fnmatchcase(rid, pat) and m.runtimes[rid] not in out:
                out.append(m.runtimes[rid])
    return out


def _usable(c: dict, allow_estimate: bool) -> bool:
    if c["status"] == "ok":
        return True
    return (allow_estimate and c["status"] == "skipped"
            and bool(c.get("skip", {}).get("estimate_call_ns")))


def find(m: Machine, ref: dict, allow_estimate: bool = False) -> tuple[Found | None, str]:
    """The cell a cell reference names (first runtime in preference order that has it)."""
    why = ""
    for rt in _runtimes(m, ref["runtime"]):
        cands = [c for c in rt.cells.values()
                 if c["workload"] == ref["workload"] and c["flavor"] == ref["flavor"]
                 and c["params"] == ref["params"]]
        if ref["threads"] == "all":
            cands = sorted(cands, key=lambda c: -c["threads"])[:1]
        else:
            cands = [c for c in cands if c["threads"] == ref["threads"]]
        for c in cands:
            if _usable(c, allow_estimate):
                return Found(rt.id, c, c["status"] != "ok"), ""
            why = why or f"{rt.id} {c['id']} {c['status']}" + (
                f": {c.get('error') or c.get('skip', {}).get('reason', '')}")
    if why:
        return None, why
    params = ",".join(f"{k}={v}" for k, v in sorted(ref["params"].items()))
    return None, (f"no {ref['workload']}[{params}]/{ref['flavor']}/threads={ref['threads']} "
                  f"cell from {' or '.join(ref['runtime'])}")


@dataclass
class Ratio:
    value: float | None = None
    ci: tuple[float, float] | None = None
    terms: list[tuple[Found, Found, float]] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    @property
    def estimate(self) -> bool:
        return any(a.estimate or b.estimate for a, b, _ in self.terms)

    def describe(self) -> str:
        if len(self.terms) == 1:
            a, b, _ = self.terms[0]
            return f"{a.describe()} / {b.describe()}"
        return f"{len(self.terms)} cell pairs, e.g. {self.terms[0][0].describe()} / " \
               f"{self.terms[0][1].describe()}"


def _pairs(m: Machine, match: dict) -> tuple[list[tuple[Found, Found]], list[str]]:
    nrts, drts = _runtimes(m, match["num"]["runtime"]), _runtimes(m, match["den"]["runtime"])
    if not nrts or not drts:
        side = "num" if not nrts else "den"
        return [], [f"no {' or '.join(match[side]['runtime'])} results"]
    nrt, drt = nrts[0], drts[0]
    out = []
    for c in nrt.cells.values():
        if c["flavor"] != match["num"]["flavor"] or c["status"] != "ok":
            continue
        if match.get("workloads") and c["workload"] not in match["workloads"]:
            continue
        t = match["num"].get("threads")
        if t not in (None, "all") and c["threads"] != t:
            continue
        dt = match["den"].get("threads", c["threads"])
        dt = c["threads"] if dt == "all" else dt
        did = f"{c['id'].split('/')[0]}/{match['den']['flavor']}/threads={dt}"
        d = drt.cells.get(did)
        if d and d["status"] == "ok":
            out.append((Found(nrt.id, c), Found(drt.id, d)))
    if not out:
        return [], [f"no {match['num']['flavor']} cell of {nrt.id} has an ok "
                    f"{match['den']['flavor']} counterpart in {drt.id}"]
    return out, []


def ratio(m: Machine, spec: dict) -> Ratio:
    """Evaluate a ratio spec (terms or match) with its 95% CI (see the module docstring)."""
    r = Ratio()
    est = bool(spec.get("allow_estimate"))
    pairs: list[tuple[Found, Found]] = []
    if "terms" in spec:
        for t in spec["terms"]:
            a, why_a = find(m, t["num"], est)
            b, why_b = find(m, t["den"], est)
            if a is None:
                r.missing.append(why_a)
            if b is None:
                r.missing.append(why_b)
            if a and b:
                pairs.append((a, b))
    else:
        pairs, r.missing = _pairs(m, spec["match"])
    if r.missing or not pairs:
        return r
    draws = np.array([a.log_draws() - b.log_draws() for a, b in pairs])
    points = np.log([a.median / b.median for a, b in pairs])
    agg = np.median if spec.get("aggregate", "single") == "median" else np.mean
    log_value = float(agg(points))
    r.value, r.ci = math.exp(log_value), stats.interval(agg(draws, axis=0), log_value)
    r.terms = [(a, b, math.exp(float(p))) for (a, b), p in zip(pairs, points)]
    return r


# -- verdicts ----------------------------------------------------------------------------

def fmt_num(x: float) -> str:
    if x == 0:
        return "0"
    a = abs(x)
    if a >= 1000:
        return f"{x:,.0f}"
    if a >= 100:
        return f"{x:.0f}"
    if a >= 10:
        return f"{x:.1f}"
    if a >= 0.01:
        return f"{x:.2f}"
    return f"{x:.2g}"


def fmt_value(x: float | None, unit: str) -> str:
    if x is None:
        return "no number"
    if unit == "x":
        return f"{fmt_num(x)}×"
    if unit == "% less time":
        return f"{x:g}% less time"
    if unit == "relative error":
        return f"{x:.0e} relative"
    if unit in ("USD", "USD/month"):
        return f"${x:,.0f}" + ("/month" if unit == "USD/month" else "")
    return f"{fmt_num(x)} {unit}".strip()


def hardware_matches(m: Machine, setup: dict) -> bool:
    return (m.arch == setup["arch"] and m.cores == setup["cores"]
            and any(s.lower() in m.cpu_model.lower() for s in setup["cpu_model_match"]))


def within(claimed: tuple[float, float], ci: tuple[float, float], tol: float) -> bool:
    """The claimed range meets the CI widened by the tolerance, symmetrically on the log
    scale: [ci_lo / (1 + tol), ci_hi * (1 + tol)]."""
    return ci[0] / (1 + tol) <= claimed[1] and ci[1] * (1 + tol) >= claimed[0]


def factor_text(measured: float, claimed: float) -> str:
    if measured <= 0 or claimed <= 0:
        return ""
    f = measured / claimed

    def num(x: float) -> str:
        return f"{x:,.0f}" if x >= 100 else f"{x:.2g}"

    return f"{num(f)}x the claim" if f >= 1 else f"1/{num(1 / f)} of the claim"


@dataclass
class Result:
    claim: dict
    machine: str | None
    verdict: str
    reason: str
    measured: str = ""
    fair: str = ""
    also: list[str] = field(default_factory=list)
    value: float | None = None
    ci: tuple[float, float] | None = None
    estimate: bool = False  # the measured value rests on an estimated (skipped) cell
    plausible: tuple[float, float] | None = None  # absolute times: the plausibility bounds

    @property
    def claimed(self) -> str:
        c = self.claim
        if c.get("value_range"):
            lo, hi = c["value_range"]
            return f"{fmt_num(lo)}–{fmt_value(hi, c['unit'])}"
        return fmt_value(c["value"], c["unit"]) if c["kind"] != "method" else "—"

    def as_json(self) -> dict:
        c = self.claim
        return {"id": c["id"], "kind": c["kind"], "quote": c["quote"], "where": c["where"],
                "claimed": self.claimed, "machine": self.machine, "verdict": self.verdict,
                "reason": self.reason, "measured": self.measured, "fair": self.fair,
                "value": self.value, "ci95": list(self.ci) if self.ci else None,
                "estimate": self.estimate,
                "plausible_range": list(self.plausible) if self.plausible else None,
                "also": self.also, "note": c.get("note", ""), "sources": c.get("sources", [])}


def missing_text(missing: list[str]) -> str:
    more = f" (+{len(missing) - 1} more missing)" if len(missing) > 1 else ""
    return (missing[0] if missing else "no results") + more


def _ratio_text(r: Ratio, unit: str) -> str:
    if r.value is None:
        return ""
    est = " (includes an estimated time)" if r.estimate else ""
    if any(f.cell.get("warnings") for a, b, _ in r.terms for f in (a, b)):
        est += " ⚠ stability warnings on the cells"
    if unit == "% less time":
        return (f"{1 - r.value:.0%} less time (time ratio {r.value:.3g}, 95% CI "
                f"{r.ci[0]:.3g}–{r.ci[1]:.3g}){est}")
    return f"{fmt_num(r.value)}× (95% CI {fmt_num(r.ci[0])}–{fmt_num(r.ci[1])}){est}"


def eval_ratio_claim(c: dict, m: Machine, data: dict) -> Result:
    spec = c["measure"]
    r = ratio(m, spec)
    also = []
    for a in spec.get("also", []):
        ra = ratio(m, a)
        also.append(f"{a.get('label', '')}: " + (_ratio_text(ra, c["unit"]) if ra.value
                                                  is not None else "not measured ("
                                                  + "; ".join(ra.missing[:2]) + ")"))
    if r.value is None:
        return Result(c, m.label, "not measured", missing_text(r.missing), also=also)
    same = hardware_matches(m, data["article_setup"])
    tol = data["tolerance"]["same_hardware" if same else "cross_hardware"]
    claimed = tuple(spec.get("claimed_range") or (spec["claimed"], spec["claimed"]))
    text = _ratio_text(r, c["unit"])
    fair = ("ratio of times on one machine" + ("" if same else
            f" (compared across hardware with a ±{tol:.0%} allowance)") + ": " + r.describe())
    if m.emulated:
        return Result(c, m.label, "not comparable", "measured under emulation (QEMU): "
                      "timings say nothing about hardware", text, fair, also, r.value, r.ci,
                      r.estimate)
    ok = within(claimed, r.ci, tol)
    if ok:
        reason = f"claim within the measured 95% CI ±{tol:.0%}"
        if r.ci[1] > 2 * r.ci[0]:
            reason += " (a wide CI: weak evidence either way)"
    else:
        if c["unit"] == "% less time":
            reason = (f"measured {1 - r.value:.0%} less time (ratio {r.value:.2f}) vs claimed "
                      f"{c['value']:g}% (ratio {claimed[0]:.2f})")
        else:
            reason = (f"measured {fmt_num(r.value)}× vs claimed {fmt_num(claimed[0])}"
                      + (f"–{fmt_num(claimed[1])}" if claimed[1] != claimed[0] else "")
                      + f"× ({factor_text(r.value, claimed[0])})")
        if r.estimate:
            reason += "; uses an estimated time"
    return Result(c, m.label, "consistent" if ok else "not reproduced", reason, text, fair,
                  also, r.value, r.ci, r.estimate)


def eval_time_claim(c: dict, m: Machine, data: dict) -> Result:
    spec = c["measure"]
    f, why = find(m, spec["cell"], bool(spec.get("allow_estimate")))
    if f is None:
        return Result(c, m.label, "not measured", why)
    div = UNIT_NS.get(c["unit"], 1e6)
    val = f.median / div
    if f.estimate:
        ci = (val, val)
        how = ("extrapolated from a smaller size" if "probe_params" in f.cell["skip"]
               else "from one calibration process at full size")
        text = f"~{fmt_ns(f.median)} (estimate, {how})"
    else:
        lo_ns, hi_ns = f.cell["stats"]["ci95"]
        ci = (lo_ns / div, hi_ns / div)
        text = f"{fmt_ns(f.median)} (95% CI {fmt_ns(lo_ns)}–{fmt_ns(hi_ns)})"
    text += f": {f.describe()}"
    est = f.estimate
    if c["value"] is None:
        return Result(c, m.label, "not measurable", "the article gives no number"
                      + ("; our estimate is above" if f.estimate else "; we measured"),
                      text, "", [], val, ci, est)
    setup = data["article_setup"]
    if m.emulated:
        return Result(c, m.label, "not comparable", "measured under emulation", text, "", [],
                      val, ci, est)
    if not hardware_matches(m, setup):
        return plausibility_verdict(c, m, f, ci, text, data)
    tol = data["tolerance"]["same_hardware"]
    ok = within((c["value"], c["value"]), ci, tol)
    return Result(c, m.label, "consistent" if ok else "not reproduced",
                  f"same hardware; {factor_text(val, c['value'])}" if not ok else
                  f"claim within the measured CI ±{tol:.0%} on matching hardware",
                  text, "same hardware", [], val, ci, est)


# -- plausibility of an absolute time on other hardware ------------------------------------


def _x(f: float, suffix: str = "x") -> str:
    """A factor: 6,400x, 85x, 4.8x."""
    return (f"{f:,.0f}" if f >= 100 else f"{f:.2g}") + suffix


@dataclass
class Bounds:
    """How many times slower (`slow`) or faster (`fast`) the article's machine could be than
    the measuring machine on one cell, from documented hardware figures (margin not
    included), each with the reason."""
    slow: float
    fast: float
    slow_why: str
    fast_why: str


def host_peak(m: Machine, dtype: str, host: dict) -> tuple[float, float, str]:
    """The measuring machine's per-core FMA peak in GFLOP/s for `dtype`: (low, high, where
    from). The suite's measurement (host.peak_gflops, 1 thread) when the documents have it,
    else the first row of `host` whose flags the CPU lists (host.simd) times the clock
    range; the last row (no flags) is the default for an unknown CPU."""
    measured = m.peak(dtype, 1)
    if measured:
        return measured, measured, "measured by the suite"
    simd = set(m.host.get("simd") or [])
    rows = host["fp64_flops_per_cycle"]
    row = next((r for r in rows if set(r["flags"]) <= simd), rows[-1])
    lanes = 2 if dtype == "float32" else 1
    (flo, fhi), (glo, ghi) = row["range"], host["ghz"]
    src = ("its " + "+".join(row["flags"]) + " flags" if row["flags"]
           else "no known SIMD flags")
    return (flo * lanes * glo, fhi * lanes * ghi,
            f"{flo:g}–{fhi:g} float64 flops/cycle from {src} at {glo:g}–{ghi:g} GHz")


def bounds(m: Machine, f: Found, ref: dict, data: dict) -> Bounds:
    """The hardware ratios that bound what the article's machine could take for the cell
    `f` (see docs/report.md, "Published claims vs measured"):

    slower: max(1, our per-core peak / its, our bandwidth / its) x the threads we used
            (it may have used one core where we used several);
    faster: max(1, its per-core peak / ours) x max(1, its cores / our threads), or, when
            it may have used several cores, its socket bandwidth / ours if that is larger.
    Each uses the end of our ranges that widens the bound."""
    pl = data["plausibility"]
    art, host = pl["article_machine"], pl["measuring_host"]
    name = art["name"]
    dtype = "float64" if f.cell["flavor"] == "pure" else f.cell["params"].get("dtype",
                                                                                "float64")
    lanes = 2 if dtype == "float32" else 1
    peak = art["fp64_flops_per_cycle"] * lanes * art["ghz"]
    lo, hi, src = host_peak(m, dtype, host)
    bw, (bw_lo, bw_hi) = art["memory_gb_s"], host["memory_gb_s"]
    ours = f.cell["threads"]
    theirs = data["article_setup"]["cores"] if ref["threads"] == "all" else ref["threads"]

    core, mem = hi / peak, bw_hi / bw
    if max(core, mem) <= 1:
        slow_why = (f"{name} is not slower per core than this CPU ({peak:.3g} vs at most "
                    f"{hi:.3g} GFLOP/s {dtype}; {src})")
    elif core >= mem:
        slow_why = (f"{name}'s per-core {dtype} peak is at most {_x(core)} below this CPU's "
                    f"({peak:.3g} vs up to {hi:.3g} GFLOP/s; {src})")
    else:
        slow_why = (f"{name}'s memory bandwidth is at most {_x(mem)} below this machine's "
                    f"({bw:g} vs up to {bw_hi:g} GB/s)")
    if ours > 1:
        slow_why += f", times the {ours} threads we used (it may have used one core)"
    slow = max(1.0, core, mem) * ours

    core = peak / lo
    if core <= 1:
        fast_why = (f"{name}'s per-core {dtype} peak is not above this CPU's ({peak:.3g} vs "
                    f"at least {lo:.3g} GFLOP/s; {src})")
    else:
        fast_why = (f"{name}'s per-core {dtype} peak is at most {_x(core)} this CPU's "
                    f"({peak:.3g} vs at least {lo:.3g} GFLOP/s; {src})")
    cores = theirs / ours
    if cores > 1:
        fast_why += f", times {theirs} cores against our {ours} thread(s)"
    fast = max(1.0, core) * max(1.0, cores)
    mem = bw / bw_lo if theirs > 1 else 1.0
    if mem > fast:
        fast, fast_why = mem, (f"{name}'s socket memory bandwidth is at most {_x(mem)} this "
                               f"machine's ({bw:g} vs at least {bw_lo:g} GB/s), the larger "
                               f"bound for work it may have spread over {theirs} cores")
    return Bounds(slow, fast, slow_why, fast_why)


def plausibility_verdict(c: dict, m: Machine, f: Found, ci: tuple[float, float], text: str,
                         data: dict) -> Result:
    """An absolute time on other hardware: `implausible on the stated hardware` outside
    [ci_lo / (fast x margin), ci_hi x slow x margin], else `not comparable`."""
    setup, margin = data["article_setup"], data["plausibility"]["margin"]
    name = data["plausibility"]["article_machine"]["name"]
    div = UNIT_NS.get(c["unit"], 1e6)
    b = bounds(m, f, c["measure"]["cell"], data)
    lo, hi = ci[0] / (b.fast * margin), ci[1] * b.slow * margin
    claimed, val = c["value"], f.median / div
    ours = f"our estimate {fmt_ns(f.median)}" if f.estimate else f"our {fmt_ns(f.median)}"
    said = fmt_value(claimed, c["unit"])
    fair = ("absolute times compare only on the same hardware; on other hardware the claim is "
            "checked against what the article's machine could plausibly take (documented "
            f"hardware ratios, a {margin:g}x margin either way)")
    if claimed > hi:
        reason = (f"{said} is {_x(claimed / val)} {ours}; {b.slow_why}, so it is at most "
                  f"{_x(b.slow)} slower: more than {fmt_ns(hi * div)} ({_x(b.slow * margin)} "
                  f"the top of our 95% CI, a {margin:g}x margin included) is implausible")
    elif claimed < lo:
        reason = (f"{said} is 1/{_x(val / claimed, '')} of {ours}; {b.fast_why}, so it is at "
                  f"most {_x(b.fast)} faster: less than {fmt_ns(lo * div)} "
                  f"(1/{_x(b.fast * margin, '')} of the bottom of our 95% CI, a {margin:g}x "
                  "margin included) is implausible")
    else:
        return Result(c, m.label, "not comparable",
                      f"absolute time on other hardware ({m.arch}, {m.cores} cores) than "
                      f"the article's ({setup['arch']} {name}, {setup['cores']} vCPU), within "
                      f"what that machine could plausibly take ({fmt_ns(lo * div)} to "
                      f"{fmt_ns(hi * div)}); see the speedup claims (for scale: ours is "
                      f"{factor_text(val, claimed)})", text, fair, [], val, ci, f.estimate,
                      (lo, hi))
    return Result(c, m.label, IMPLAUSIBLE, reason, text, fair, [], val, ci, f.estimate,
                  (lo, hi))


def eval_cost_claim(c: dict, m: Machine, data: dict) -> Result:
    spec = c["measure"]
    price = spec["price_per_hour"]
    if spec["formula"] == "python_cost":
        val = spec["hours"] * price
        ok = abs(val - c["value"]) < 0.5
        return Result(c, m.label, "consistent" if ok else "not reproduced",
                      f"arithmetic: {spec['hours']:g} h x ${price:g}/h = ${val:,.2f}",
                      f"${val:,.2f}", "arithmetic on the stated price", [], val, (val, val))
    r = ratio(m, spec["speedup"])
    if r.value is None:
        return Result(c, m.label, "not measured", "needs the training speedup: "
                      + missing_text(r.missing))

    def cost(s: float) -> float:
        if spec["formula"] == "mojo_cost":
            return spec["hours"] * price / s
        return spec["nodes"] * spec["hours_per_month"] * price * (1 - 1 / s)

    val = cost(r.value)
    lo, hi = sorted((cost(r.ci[0]), cost(r.ci[1])))
    text = (f"${val:,.0f} (95% CI ${lo:,.0f}–${hi:,.0f}) from a measured training speedup "
            f"of {fmt_num(r.value)}× ({r.describe()})")
    if m.emulated:
        return Result(c, m.label, "not comparable", "measured under emulation", text)
    tol = data["tolerance"]["cross_hardware"]
    if spec["formula"] == "monthly_saving" and val <= 0:
        ok = False
    else:
        ok = within((c["value"], c["value"]), (max(lo, 1e-9), max(hi, 1e-9)), tol)
    reason = ("claim within the recomputed cost's CI ±25%" if ok else
              f"recomputed ${val:,.0f} vs claimed ${c['value']:,.0f} from the measured speedup")
    return Result(c, m.label, "consistent" if ok else "not reproduced", reason, text,
                  "cost recomputed from the measured speedup (a ratio, fair across "
                  "hardware)", [], val, (lo, hi))


def eval_jit_drift(c: dict, m: Machine, data: dict) -> Result:
    pairs = [(rid[:-4], rid) for rid in sorted(m.runtimes)
             if rid.endswith("-jit") and rid[:-4] in m.runtimes]
    if not pairs:
        return Result(c, m.label, "not measured",
                      "needs results of a CPython with and without the JIT "
                      "(e.g. cpython-3.13 and cpython-3.13-jit)")
    same = diff = 0
    worst = 0.0
    for off, on in pairs:
        a, b = m.runtimes[off], m.runtimes[on]
        for cid, ca in a.cells.items():
            cb = b.cells.get(cid)
            if not cb or ca["status"] != "ok" or cb["status"] != "ok":
                continue
            if ca.get("inputs_sha256") != cb.get("inputs_sha256"):
                continue
            ea, eb = ca["check"].get("max_abs_error"), cb["check"].get("max_abs_error")
            if ea is None or eb is None:
                continue
            if ea == eb:
                same += 1
            else:
                diff += 1
                ra, rb = ca["check"].get("max_error") or 0, cb["check"].get("max_error") or 0
                worst = max(worst, abs(ra - rb))
    names = ", ".join(f"{a} vs {b}" for a, b in pairs)
    if same + diff == 0:
        return Result(c, m.label, "not measured", f"no cell measured both ways ({names})")
    text = (f"{same} of {same + diff} cells: identical error against the float64 reference "
            f"with the JIT on and off ({names})")
    if diff == 0:
        return Result(c, m.label, "not reproduced", "the JIT did not change any output's "
                      "error (it preserves floating-point semantics)", text,
                      "same inputs, JIT on vs off, same machine", [], 0.0, (0.0, 0.0))
    ok = worst >= c["value"] / 10
    return Result(c, m.label, "consistent" if ok else "not reproduced",
                  f"{diff} cell(s) differ, largest change of scaled error {worst:.2g}",
                  text + f"; {diff} differ", "same inputs, JIT on vs off", [], worst,
                  (worst, worst))


def method_evidence(c: dict, machines: list[Machine]) -> str:
    check = c["measure"].get("check")
    bits = []
    for m in machines:
        for rt in m.runtimes.values():
            info = rt.info
            if check == "jit-variable" and info.get("kind") == "cpython" and (
                    info.get("jit") or {}).get("expected"):
                env = info.get("env") or {}
                var = "PYTHON_JIT=" + env["PYTHON_JIT"] if "PYTHON_JIT" in env else "PYTHON_JIT"
                bits.append(f"{rt.id} on {m.arch}: ran with {var}; the worker measured the "
                            f"JIT enabled={info['jit'].get('enabled')} "
                            f"({info['jit'].get('method')})")
            if check == "mojo-version" and info.get("kind") == "mojo":
                v = (info.get("mojo") or {}).get("mojo_version") or info.get("version")
                bits.append(f"these results ran Mojo {v} ({rt.id} on {m.arch})")
    return "; ".join(dict.fromkeys(bits))


EVALUATORS = {"ratio": eval_ratio_claim, "time": eval_time_claim, "cost": eval_cost_claim,
              "jit-drift": eval_jit_drift}


def evaluate(machines: list[Machine], data: dict | None = None) -> list[Result]:
    """One result per (claim, machine); method claims once. Every claim gets a verdict."""
    data = data or load_claims()
    out = []
    for c in data["claims"]:
        t = c["measure"]["type"]
        if t == "method":
            ev = method_evidence(c, machines)
            out.append(Result(c, None, c["verdict"], c["note"].split(". ")[0].rstrip(".")
                              + ".", ev or "", "primary sources (cited)"))
            continue
        if not machines:
            out.append(Result(c, None, "not measured", "no results"))
            continue
        for m in machines:
            out.append(EVALUATORS[t](c, m, data))
    return out


# -- terminal output ---------------------------------------------------------------------

def render_text(results: list[Result], data: dict) -> str:
    out = [f"Published claims vs measured: {data['source']['title']}",
           f"Article setup: {data['article_setup']['hardware']}. Absolute times compare only "
           "on matching hardware; elsewhere the fair comparison is a speedup ratio, and an "
           "absolute time only gets a plausibility bound.", ""]
    for r in results:
        c = r.claim
        out.append(f"[{r.verdict}] {c['id']}  ({c['where']})")
        out.append(f"  claim:    \"{c['quote']}\"" + (f" = {r.claimed}" if r.claimed != "—"
                                                     else ""))
        if r.measured:
            where = f" on {r.machine}" if r.machine else ""
            out.append(f"  measured: {r.measured}{where}")
        if r.fair:
            out.append(f"  fair:     {r.fair}")
        for a in r.also:
            out.append(f"  also:     {a}")
        out.append(f"  why:      {r.reason}")
        for s in c.get("sources", []):
            out.append(f"  source:   {s['title']} <{s['url']}>")
        out.append("")
    w = max(len(r.claim["id"]) for r in results)
    machines = list(dict.fromkeys(r.machine for r in results if r.machine))
    many = len(machines) > 1
    out.append(f"{'claim':<{w}}  {'claimed':>14}  {'measured':>14}  verdict"
               + ("          machine" if many else ""))
    out.append("-" * (w + 50 + (20 if many else 0)))
    for r in results:
        meas = "-" if r.value is None else _short(r)
        mach = f"  {r.machine.split(' · ')[0] if r.machine else '-'}" if many else ""
        if many and r.machine:
            mach = f"  #{machines.index(r.machine) + 1} {r.machine.split(' · ')[0]}"
        out.append(f"{r.claim['id']:<{w}}  {r.claimed:>14}  {meas:>14}  {r.verdict:<16}"
                   f"{mach}".rstrip())
    if many:
        out += [f"  #{i + 1}: {m}" for i, m in enumerate(machines)]
    elif machines:
        out.append(f"measured on {machines[0]}")
    counts = {v: sum(r.verdict == v for r in results) for v in VERDICTS}
    out.append("")
    out.append(", ".join(f"{n} {v}" for v, n in counts.items() if n))
    return "\n".join(out)


def _short(r: Result) -> str:
    c = r.claim
    if r.value is None:
        return "-"
    if c["unit"] == "% less time":
        return f"{1 - r.value:.0%} less"
    if c["measure"]["type"] == "jit-drift":
        return f"{r.value:.2g}"
    if c["measure"]["type"] == "time":
        return fmt_ns(r.value * UNIT_NS.get(c["unit"], 1e6))
    return fmt_value(r.value, c["unit"])


def measured_with_ci(r: Result) -> str:
    """The measured value and its 95% CI in the claim's unit, short (for the headline
    table): '3.4× (95% CI 3.2–3.6)', '2.0 ms (95% CI 1.9–2.1)', '$40 (95% CI $38–$42)'."""
    c = r.claim
    if r.value is None:
        return "-"
    v, (lo, hi) = r.value, r.ci or (r.value, r.value)
    unit, kind = c["unit"], c["measure"]["type"]
    if kind == "jit-drift":
        return f"{v:.2g}"
    if unit == "% less time":
        head = f"{1 - v:.0%} less time" if v <= 1 else f"{v - 1:.0%} more time"
        return f"{head} (time ratio {v:.2f}, 95% CI {lo:.2f}–{hi:.2f})"
    if unit in ("USD", "USD/month"):
        ci = f" (95% CI ${lo:,.0f}–${hi:,.0f})" if lo != hi else ""
        return fmt_value(v, unit) + ci
    if kind == "time":  # in the unit that suits our number, not the claim's
        div = UNIT_NS.get(unit, 1e6)
        if r.estimate:
            return f"~{fmt_ns(v * div)} (estimate)"
        return f"{fmt_ns(v * div)} (95% CI {fmt_ns(lo * div)}–{fmt_ns(hi * div)})"
    ci = f"95% CI {fmt_num(lo)}–{fmt_num(hi)}"
    est = ", includes an estimate" if r.estimate else ""
    return f"{fmt_value(v, unit)} ({ci}{est})"


def headline(results: list[Result], data: dict) -> dict[str, list[tuple[str, Result]]]:
    """Per machine label (in the order of `results`): the headline claims (data["headline"],
    in its order, with their labels; without it every claim with a number) and their
    results. Method claims (no machine) appear under every machine."""
    picks = data.get("headline") or [{"id": c["id"], "label": c["quote"]}
                                     for c in data["claims"] if c["kind"] != "method"]
    machines = list(dict.fromkeys(r.machine for r in results if r.machine)) or [None]
    out: dict[str, list[tuple[str, Result]]] = {}
    for m in machines:
        by = {r.claim["id"]: r for r in results if r.machine in (m, None)}
        out[m or "no results"] = [(h["label"], by[h["id"]]) for h in picks if h["id"] in by]
    return out


def counts(results: list[Result]) -> dict[str, int]:
    return {v: sum(r.verdict == v for r in results) for v in VERDICTS}


def isfinite(x: float | None) -> bool:
    return x is not None and math.isfinite(x)
