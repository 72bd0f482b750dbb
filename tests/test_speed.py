"""Speed work must not change a single result: every cache and every faster algorithm is checked against
what it replaces (issue 20)."""
import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.catalog import load_catalog
from planner.data import builtin_registry
from planner.throughput import training
from planner.throughput.comm import Link, network_link, nvlink_link, pcie_link
from planner.throughput.hardware import card_of
from planner.workload import Workload

reg = builtin_registry()
cat = load_catalog()

MODELS = ["llama-3.2-1b", "llama-3.1-8b", "mixtral-8x7b", "llama-3.1-70b"]
CARDS = ["h100-sxm", "rtx-4090", "a100-80gb-pcie", "mi300x", "mac-studio-m3-ultra-512gb", "l40s"]


def _links(card):
    return [Link("none", 0.0), nvlink_link(card, 450.0), pcie_link(card, 16), network_link(100, pcie_link(card, 8))]


@settings(max_examples=60, deadline=None)
@given(model=st.sampled_from(MODELS), gpu=st.sampled_from(CARDS),
       method=st.sampled_from(["lora", "qlora", "full", "pretrain"]), framework=st.sampled_from(["hf", "hf-fsdp", "torchtune", "unsloth"]),
       batch=st.integers(1, 16), seq=st.sampled_from([256, 2048, 8192]), rank=st.sampled_from([4, 16, 128]),
       targets=st.sampled_from(["all-linear", "attention", "q_proj,v_proj"]), ckpt=st.booleans(),
       accum=st.integers(1, 4), gpus=st.sampled_from([1, 2, 8, 64]),
       strategy=st.sampled_from([(0, "none"), (1, "none"), (3, "none"), (2, "optimizer"), (3, "optimizer+params")]),
       link=st.integers(0, 3), fp8=st.booleans())
def test_a_cached_training_step_equals_one_computed_from_scratch(model, gpu, method, framework, batch, seq, rank,
                                                                  targets, ckpt, accum, gpus, strategy, link, fp8):
    """The micro-batch cache (architecture, workload, card, preset) returns exactly what a cold computation
    does, whatever GPU count, sharding and link the step then adds."""
    arch, card = reg.models[model], card_of(cat.gpus[gpu])
    w = Workload(method=method, framework=framework, batch_size=batch, seq_len=seq, lora_rank=rank,
                 lora_targets=targets, gradient_checkpointing=ckpt, grad_accum=accum, gpus=gpus)
    zero, offload = strategy
    lk = _links(card)[link]
    training.training_step(arch, w.model_copy(update={"gpus": 1}), card, 1, _links(card)[0], fp8=fp8)  # fills it
    warm = training.training_step(arch, w, card, gpus, lk, zero, offload, fp8=fp8)
    training._MICRO_BATCHES.clear()
    for f in (training._lora_params_of, training._quantised_weights, training._adapters):
        f.cache_clear()
    cold = training.training_step(arch, w, card, gpus, lk, zero, offload, fp8=fp8)
    assert (warm.seconds, warm.tokens, warm.parts, warm.bound) == (cold.seconds, cold.tokens, cold.parts, cold.bound)


def test_the_micro_batch_does_not_depend_on_the_gpu_count_or_sharding():
    """gpus, zero_stage and offload reach the step as arguments; the workload's copies of them are not read."""
    arch, card = reg.models["llama-3.1-8b"], card_of(cat.gpus["h100-sxm"])
    one = training.micro_batch(arch, Workload(method="lora"), card)
    training._MICRO_BATCHES.clear()
    other = training.micro_batch(arch, Workload(method="full", gpus=8, zero_stage=3, offload="optimizer+params")
                                 .model_copy(update={"method": "lora", "precision": "bf16"}), card)
    assert one == other


def test_card_of_is_cached_on_the_fields_it_reads():
    g = cat.gpus["rtx-4090"]
    assert card_of(g) is card_of(g.model_copy())
    assert card_of(g.model_copy(update={"bf16_tflops": 100.0})).bf16_tflops == 100.0
