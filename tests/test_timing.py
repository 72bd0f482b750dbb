"""The time model: its constants are what the measured tokens/s say, and it behaves as physics says."""
import importlib.util
from pathlib import Path

import pytest

from planner.data import builtin_registry
from planner.timing import MFU, inference_throughput, training_flops_per_token, training_throughput
from planner.workload import Workload

spec = importlib.util.spec_from_file_location("throughput", Path(__file__).parent.parent / "benchmarks" / "throughput.py")
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)
reg = builtin_registry()


def test_utilisation_constants_match_the_measurements():
    _, medians = bench.measured_mfu()
    for method, value in medians.items():
        assert MFU[method] == pytest.approx(value, abs=0.02), method


def test_decode_model_is_within_a_third_on_unquantised_cases():
    errs = [pred / meas - 1 for cid, model, b, meas, pred in bench.decode_errors()]
    errs.sort(key=abs)
    assert abs(errs[len(errs) // 2]) < 0.33


def test_full_training_is_six_flops_per_parameter_per_token():
    m = reg.models["llama-3.1-8b"]
    f = training_flops_per_token(m, Workload(method="full", seq_len=1))
    assert f == pytest.approx(6 * m.params, rel=0.01)


def test_more_gpus_train_faster_and_pretraining_defaults_to_chinchilla():
    m = reg.models["llama-3.2-1b"]
    w = Workload(method="pretrain", seq_len=2048)
    one = training_throughput(m, w, 989, 1)
    eight = training_throughput(m, w, 989, 8)
    assert eight.seconds < one.seconds / 6
    assert one.seconds == pytest.approx(20 * m.params / one.tokens_per_s)


def test_decode_is_bandwidth_bound():
    m = reg.models["llama-3.1-8b"]
    w = Workload(method="inference", batch_size=1, seq_len=128, new_tokens=256)
    slow = inference_throughput(m, w, [(1.0, 165, 1008)], 16e9, 1e8)
    fast = inference_throughput(m, w, [(1.0, 165, 3350)], 16e9, 1e8)
    assert fast.tokens_per_s > 1.5 * slow.tokens_per_s
