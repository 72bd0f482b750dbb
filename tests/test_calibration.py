"""The estimator against every real measurement in calibration/ (issue 2's acceptance bar)."""
import pytest

from planner.validation import evaluate, summary

RESULTS = evaluate()


@pytest.mark.parametrize("r", RESULTS, ids=[r.id for r in RESULTS])
def test_each_measured_case(r):
    if r.oom:
        assert not r.predicted_fits, f"{r.label}: ran out of memory on the card but predicted to fit"
    else:
        assert -0.15 <= r.error <= 0.25, f"{r.label}: error {r.error:+.1%}"
        assert r.predicted_fits, f"{r.label}: ran on the card but predicted not to fit"


def test_summary_meets_the_targets():
    s = summary(RESULTS)
    assert s["cases"] >= 30
    assert s["median_abs_error"] <= 0.05
    assert s["p90_abs_error"] <= 0.12
    assert s["worst_under"] >= -0.15
    assert s["oom_predicted_to_fit"] == 0
