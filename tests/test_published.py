"""The estimator against peak-memory figures published by other stacks (validation/published-cases.json).

Each case is the command line its record gives (`cli_today`, parsed by the real CLI parser), compared on the field
the publication measured. Tolerance: 25% per case (published figures carry unstated details: exact sequence
lengths, library versions, what the tool counted), median |error| <= 10% over all cases."""
import json

import pytest

from benchmarks.published import CASES, evaluate, run_case, summary

DATA = json.loads(CASES.read_text())
RESULTS = evaluate()
PER_CASE_TOLERANCE = 0.25


def test_the_cases_file_is_the_shared_copy_unchanged():
    assert len(DATA["cases"]) >= 19
    assert all({"id", "published_gb", "compare", "cli_today"} <= set(c) for c in DATA["cases"])


@pytest.mark.parametrize("case", DATA["cases"], ids=[c["id"] for c in DATA["cases"]])
def test_every_case_runs_through_the_cli_parser(case):
    est, wl = run_case(case)
    assert est.peak_allocated_bytes > 0 and est.total_bytes >= est.reserved_bytes
    if case.get("framework_flag"):
        assert wl.framework == case["framework_flag"]


@pytest.mark.parametrize("r", RESULTS, ids=[r.id for r in RESULTS])
def test_each_case_within_tolerance(r):
    assert abs(r.error) <= PER_CASE_TOLERANCE, f"{r.id}: predicted {r.predicted:.2f} GiB vs {r.published:.2f} " \
        f"({r.error:+.1%}){' - ' + r.why_off if r.why_off else ''}"


def test_median_error_over_all_cases():
    s = summary(RESULTS)
    assert s["median_abs_error"] <= 0.10
