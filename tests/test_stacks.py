"""Training stacks: presets of mechanisms, each mechanism also settable on its own (specification tests)."""
import typing
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.data import builtin_registry
from planner.estimator import estimate
from planner.estimator.stacks import STACKS, Stack
from planner.workload import Framework, Workload

reg = builtin_registry()
GiB = 2**30
TRAINING_STACKS = sorted(STACKS)


def est(model, **kw):
    return estimate(reg.models[model], Workload(**kw))


def test_every_training_framework_has_a_preset_of_mechanisms():
    frameworks = set(typing.get_args(Framework)) - {"mlx-lm"}       # mlx-lm belongs to the engines
    assert frameworks == set(STACKS)
    for name, s in STACKS.items():
        assert isinstance(s, Stack) and s.name == name and s.summary
        assert s.loss in ("full", "chunked", "fused") and s.attention in ("sdpa", "flash", "eager")
        assert s.sharding in ("deepspeed", "fsdp1", "fsdp2")


def test_presets_are_frozen_data():
    with pytest.raises(Exception):
        STACKS["hf"].loss = "fused"


@pytest.mark.parametrize("stack", TRAINING_STACKS)
def test_assumptions_name_the_stack_and_each_mechanism(stack):
    e = est("llama-3.1-8b", method="qlora", framework=stack, seq_len=1024)
    text = " | ".join(e.assumptions)
    assert f"training stack: {stack}" in text
    assert "attention:" in text and "loss:" in text and "gradient checkpointing" in text


# ---- attention ------------------------------------------------------------------------------------------

def test_flash_attention_never_materialises_scores_memory_grows_linearly_in_seq_len():
    kw = dict(method="qlora", framework="hf", attention="flash", gradient_checkpointing=True)
    a, b, c = (est("llama-3.1-8b", **kw, seq_len=n).peak_allocated_bytes for n in (8000, 16000, 24000))
    # equal steps in sequence length add equal memory (no s^2 term), within the rounding of integer terms
    assert abs((c - b) - (b - a)) < 0.01 * (c - a)


def test_sdpa_math_backend_with_the_fp32_upcast_is_quadratic():
    kw = dict(method="qlora", framework="hf", gradient_checkpointing=True)
    a, b, c = (est("llama-3.1-8b", **kw, seq_len=n).peak_allocated_bytes for n in (4000, 8000, 12000))
    assert (c - b) > 1.3 * (b - a)


def test_flash_qlora_at_28k_tokens_fits_in_80_gb():
    e = est("llama-3.1-8b", method="qlora", framework="hf", attention="flash", seq_len=28000)
    assert e.total_bytes < 80e9


@pytest.mark.parametrize("stack", ["fsdp-qlora", "torchtune", "litgpt", "unsloth"])
def test_stacks_without_the_kbit_upcast_keep_a_16_bit_stream(stack):
    hf = est("llama-3.1-8b", method="qlora", framework="hf", attention="flash", seq_len=4096)
    other = est("llama-3.1-8b", method="qlora", framework=stack, loss="full", seq_len=4096)
    assert other.peak_allocated_bytes < hf.peak_allocated_bytes
    assert any("bf16 stream" in a for a in other.assumptions)


def test_gemma2_softcapping_runs_eager_attention_and_saves_tanh_outputs():
    e = est("gemma-2-2b", method="qlora", seq_len=1024)
    text = " | ".join(e.assumptions)
    assert "eager attention" in text and "soft-capped" in text and "final logit soft-capping" in text
    kw = dict(method="qlora", seq_len=2048, batch_size=2, gradient_checkpointing=False)
    assert est("gemma-2-2b", **kw, attention="flash").peak_allocated_bytes < est("gemma-2-2b", **kw).peak_allocated_bytes


# ---- loss -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("stack", TRAINING_STACKS)
def test_chunked_loss_uses_less_than_full_and_fused_less_than_chunked(stack):
    kw = dict(method="lora", framework=stack, batch_size=4, seq_len=2048, gradient_checkpointing=True)
    full, chunked, fused = (est("llama-3.1-8b", **kw, loss=x).peak_allocated_bytes for x in ("full", "chunked", "fused"))
    assert fused <= chunked < full


def test_the_loss_flag_overrides_the_preset():
    kw = dict(method="qlora", batch_size=2, seq_len=2048)
    assert est("llama-3.1-8b", framework="torchtune", loss="full", **kw).peak_allocated_bytes > \
        est("llama-3.1-8b", framework="torchtune", **kw).peak_allocated_bytes
    assert est("llama-3.1-8b", framework="hf", loss="chunked", **kw).peak_allocated_bytes < \
        est("llama-3.1-8b", framework="hf", **kw).peak_allocated_bytes


# ---- checkpoints, accumulation ----------------------------------------------------------------------------

def test_activation_offload_moves_checkpoints_to_host_ram():
    kw = dict(method="qlora", framework="hf", attention="flash", batch_size=4, seq_len=4096)
    on_gpu = est("llama-3.1-8b", **kw)
    off = est("llama-3.1-8b", **kw, activation_offload=True)
    assert off.peak_allocated_bytes < on_gpu.peak_allocated_bytes
    assert off.cpu_ram_bytes > on_gpu.cpu_ram_bytes
    # unsloth's gradient checkpointing offloads by default: its checkpoints are in host RAM, hf's are not
    kw = dict(method="qlora", seq_len=4096, batch_size=4, gradient_checkpointing=True)
    assert est("llama-3.1-8b", framework="unsloth", **kw).cpu_ram_bytes > \
        est("llama-3.1-8b", framework="hf", **kw).cpu_ram_bytes + 0.9 * 4 * 4096 * 32 * 4096 * 2


def test_accumulated_gradients_are_alive_during_the_next_forward():
    kw = dict(method="full", precision="bf16", batch_size=2, seq_len=2048, optimizer="sgd")
    one = est("llama-3.2-1b", **kw)
    four = est("llama-3.2-1b", **kw, grad_accum=4)
    assert four.peak_allocated_bytes >= one.peak_allocated_bytes
    assert any("micro-batches per step" in a for a in four.assumptions)


# ---- sharding -------------------------------------------------------------------------------------------

def test_fsdp_cpu_offload_moves_params_and_grads_to_host_ram():
    kw = dict(method="qlora", framework="fsdp-qlora", gpus=2, zero_stage=3, batch_size=2, seq_len=2048,
              lora_rank=64, gradient_checkpointing=True)
    on_gpu = est("llama-2-70b", **kw)
    off = est("llama-2-70b", **kw, offload="optimizer+params")
    assert off.breakdown["weights"] < on_gpu.breakdown["weights"] / 3
    assert off.breakdown["gradients"] <= on_gpu.breakdown["gradients"]
    # the whole 4-bit model (~36 GB) plus LoRA weights, grads and states land in host RAM
    assert off.cpu_ram_bytes - on_gpu.cpu_ram_bytes > 30e9
    assert any("CPUOffload" in a for a in off.assumptions)


def test_answer_ai_70b_recipe_fits_a_24_gb_card():
    e = est("llama-2-70b", method="qlora", framework="fsdp-qlora", gpus=2, zero_stage=3, offload="optimizer+params",
            gradient_checkpointing=True, batch_size=2, seq_len=2048, lora_rank=64)
    assert e.total_bytes < 22 * GiB


def test_fsdp_root_unit_holds_embeddings_and_lm_head_unsharded():
    m = reg.models["qwen2.5-7b"]
    e = est("qwen2.5-7b", method="lora", precision="bf16", framework="hf-fsdp", gpus=8, zero_stage=3,
            gradient_checkpointing=True, seq_len=512)
    assert e.breakdown["weights"] > m.params * 2 / 8 + m.embedding_params * 2



def test_embeddings_in_their_own_units_are_gathered_only_for_their_use(monkeypatch):
    import planner.estimator.stacks as stacks
    kw = dict(method="lora", precision="bf16", framework="torchtune", gpus=8, zero_stage=3,
              gradient_checkpointing=True, seq_len=512)
    root = est("qwen2.5-7b", **kw)
    monkeypatch.setitem(stacks.STACKS, "torchtune", replace(stacks.STACKS["torchtune"], shard_embeddings=True))
    own_units = est("qwen2.5-7b", **kw)                               # custom_sharded_layers
    assert own_units.breakdown["weights"] < root.breakdown["weights"]


def test_nccl_buffers_count_in_the_device_total_only_and_only_with_several_gpus():
    kw = dict(method="lora", precision="bf16", seq_len=512)
    one = est("llama-3.2-1b", **kw)
    two = est("llama-3.2-1b", **kw, gpus=2)
    assert "nccl_buffers" not in one.breakdown and one.total_bytes == one.reserved_bytes + one.cuda_context_bytes
    assert two.total_bytes == two.reserved_bytes + two.cuda_context_bytes + two.breakdown["nccl_buffers"]


def test_deepspeed_zero3_keeps_live_parameters_and_its_gradient_partition():
    kw = dict(method="full", precision="bf16-mixed", gpus=8, zero_stage=3, gradient_checkpointing=True,
              seq_len=4096)
    e = est("qwen2.5-14b", **kw)
    assert e.breakdown["gradients"] > 0                               # grad_partitions_flat_buffer
    assert any("DeepSpeed ZeRO stage 3" in a for a in e.assumptions)


def test_reserved_covers_every_moment_and_peak_is_the_largest_allocation():
    for kw in (dict(method="full", precision="bf16", batch_size=8, seq_len=1024, optimizer="adamw"),
               dict(method="qlora", batch_size=2, seq_len=4096)):
        e = est("llama-3.2-1b", **kw)
        assert e.reserved_bytes >= e.peak_allocated_bytes
        parts = {k: v for k, v in e.breakdown.items() if k not in ("allocator_slack", "cuda_context", "nccl_buffers")}
        assert sum(parts.values()) == e.peak_allocated_bytes


# ---- properties under every stack ---------------------------------------------------------------------------

workloads = st.fixed_dictionaries({
    "method": st.sampled_from(["full", "lora", "qlora"]),
    "batch_size": st.integers(1, 8),
    "seq_len": st.integers(64, 8192),
    "lora_rank": st.sampled_from([8, 16, 64]),
    "gradient_checkpointing": st.booleans(),
    "optimizer": st.sampled_from(["adamw", "adamw8bit", "sgd"]),
    "framework": st.sampled_from(TRAINING_STACKS),
    "attention": st.sampled_from(["auto", "flash"]),
    "loss": st.sampled_from(["auto", "full", "chunked", "fused"]),
})
MODELS = ["llama-3.2-1b", "qwen2.5-0.5b", "mistral-7b", "gemma-2-2b"]


def _peak(model, kw):
    kw = dict(kw)
    if kw["method"] == "full":
        kw["precision"] = "bf16"
    return est(model, **kw).peak_allocated_bytes


def _kernel_switch(model, kw, longer):
    """hf's SDPA on the fp32 QLoRA stream leaves the math kernel once the sliding-window mask exists (measured)."""
    arch = reg.models[model]
    return bool(arch.sliding_window) and kw["seq_len"] < arch.sliding_window <= longer


@settings(max_examples=120, deadline=None)
@given(st.sampled_from(MODELS), workloads, st.integers(1, 4))
def test_memory_is_monotonic_in_batch_under_every_stack(model, kw, extra):
    assert _peak(model, {**kw, "batch_size": kw["batch_size"] + extra}) >= _peak(model, kw)


@settings(max_examples=120, deadline=None)
@given(st.sampled_from(MODELS), workloads, st.integers(1, 2048))
def test_memory_is_monotonic_in_sequence_under_every_stack(model, kw, extra):
    longer = kw["seq_len"] + extra
    if not _kernel_switch(model, kw, longer):
        assert _peak(model, {**kw, "seq_len": longer}) >= _peak(model, kw)


@settings(max_examples=80, deadline=None)
@given(st.sampled_from(MODELS), workloads)
def test_memory_is_monotonic_in_lora_rank_under_every_stack(model, kw):
    kw = {**kw, "method": "lora"}
    assert _peak(model, {**kw, "lora_rank": kw["lora_rank"] * 2}) >= _peak(model, kw)


@settings(max_examples=80, deadline=None)
@given(st.sampled_from(MODELS), workloads, st.integers(2, 16), st.sampled_from([1, 2, 3]))
def test_more_gpus_never_need_more_per_gpu_when_sharding(model, kw, n, zero):
    assert _peak(model, {**kw, "gpus": n + 1, "zero_stage": zero}) <= _peak(model, {**kw, "gpus": n, "zero_stage": zero})


def test_paged_optimizer_states_live_in_unified_memory_backed_by_host_ram():
    kw = dict(method="full", precision="bf16", batch_size=1, seq_len=512, gradient_checkpointing=True)
    plain = est("llama-3.2-1b", **kw, optimizer="adamw8bit")
    paged = est("llama-3.2-1b", **kw, optimizer="paged_adamw8bit")
    assert paged.peak_allocated_bytes < plain.peak_allocated_bytes
    assert paged.cpu_ram_bytes - plain.cpu_ram_bytes >= 2 * reg.models["llama-3.2-1b"].params


def test_torchtune_single_device_full_finetune_steps_the_optimizer_in_backward():
    kw = dict(method="full", precision="bf16", batch_size=2, seq_len=1024, gradient_checkpointing=True)
    one = est("llama-3.1-8b", framework="torchtune", **kw)
    assert one.breakdown["gradients"] <= 2 * reg.models["llama-3.1-8b"].vocab_size * 4096   # one parameter's
    assert any("optimizer_in_bwd" in a for a in one.assumptions)
    # torchtune's recipe fits a 24 GB card with paged 8-bit AdamW (README: 18.9 GiB on a 4090)
    assert est("llama-3.1-8b", framework="torchtune", optimizer="paged_adamw8bit", **kw).total_bytes < 22 * GiB


# ---------------------------------------------------------------------------------------------------
# Activation checkpointing modes (issue 18): full, selective (per op / every N-th layer), none

def _reserved(ac, **kw):
    base = dict(method="full", precision="bf16-mixed", framework="torchtitan", gpus=8, zero_stage=3, batch_size=2,
                seq_len=4096)
    return est("llama-3.1-8b", **{**base, **kw, "activation_checkpointing": ac}).reserved_bytes


def test_selective_checkpointing_lies_between_none_and_full():
    assert _reserved("full") < _reserved("selective") < _reserved("none")


def test_checkpointing_every_layer_is_full_and_rarer_checkpoints_cost_more():
    every = [_reserved("selective", ac_every=k) for k in (1, 2, 4)]
    assert every[0] <= _reserved("full") * 1.01 and every == sorted(every)


def test_gradient_checkpointing_flag_is_full_checkpointing():
    kw = dict(method="lora", seq_len=2048)
    assert est("llama-3.2-1b", gradient_checkpointing=True, **kw).peak_allocated_bytes == \
        est("llama-3.2-1b", activation_checkpointing="full", **kw).peak_allocated_bytes


def test_contradictory_checkpointing_flags_are_refused():
    with pytest.raises(ValueError, match="activation-checkpointing"):
        Workload(method="full", gradient_checkpointing=False, activation_checkpointing="full")
    with pytest.raises(ValueError, match="ac-every"):
        Workload(method="full", ac_every=2)


def test_axolotl_keeps_a_bf16_stream_where_hf_upcasts():
    """Axolotl casts norms and embeddings back to bf16 after kbit preparation: less memory than the hf preset."""
    kw = dict(method="qlora", seq_len=2048, batch_size=2, loss="full", attention="flash")
    assert est("llama-3.1-8b", framework="axolotl", **kw).peak_allocated_bytes < \
        est("llama-3.1-8b", framework="hf", **kw).peak_allocated_bytes


def test_optimizer_in_backward_flag_overrides_the_preset():
    kw = dict(method="full", precision="bf16", framework="hf", seq_len=512)
    assert est("llama-3.2-1b", optimizer_in_backward=True, **kw).peak_allocated_bytes < \
        est("llama-3.2-1b", **kw).peak_allocated_bytes


def test_torchtitan_compiled_loss_needs_less_than_the_eager_loss():
    kw = dict(method="full", precision="bf16-mixed", framework="torchtitan", gpus=8, zero_stage=3, seq_len=8192,
              compile=True)
    assert est("llama-3.1-8b", **kw).reserved_bytes < est("llama-3.1-8b", loss="full", **kw).reserved_bytes


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 8), st.integers(256, 8192), st.sampled_from(["full", "selective", "none"]))
def test_checkpointing_modes_are_monotonic_in_batch_and_sequence(b, s, ac):
    kw = dict(method="full", precision="bf16-mixed", framework="torchtitan", gpus=8, zero_stage=3,
              activation_checkpointing=ac)
    base = est("llama-3.2-1b", batch_size=b, seq_len=s, **kw).reserved_bytes
    assert est("llama-3.2-1b", batch_size=b + 1, seq_len=s, **kw).reserved_bytes >= base
    assert est("llama-3.2-1b", batch_size=b, seq_len=s + 256, **kw).reserved_bytes >= base


def test_zero3_live_parameter_window_is_a_setting():
    kw = dict(method="full", precision="bf16-mixed", gpus=8, zero_stage=3, seq_len=1024)
    small = est("llama-3.1-8b", zero3_max_live_parameters=10**8, **kw).peak_allocated_bytes
    assert small < est("llama-3.1-8b", **kw).peak_allocated_bytes
