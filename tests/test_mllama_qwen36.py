"""Llama 3.2 Vision 90B (model_type mllama) and Qwen3.6-35B-A3B (model_type qwen3_5_moe) as built-ins, specified by
the modules their transformers classes build.

mllama (transformers modeling_mllama.py): MllamaTextModel is a Llama decoder whose layers listed in
cross_attention_layers are MllamaCrossAttentionDecoderLayer: the self-attention layer's q/k/v/o, MLP and two RMSNorms,
plus q_norm and k_norm over head_dim and two tanh gates; its K/V are projected from the vision encoder's states.
embed_tokens has vocab_size + 8 rows, lm_head vocab_size. MllamaVisionModel: a Conv2d patch embedding, class token,
gated position and tile embeddings, 32 local and 8 gated global encoder layers; multi_modal_projector maps its
vision_output_dim features to the text width. A request without an image skips the cross-attention layers.

Qwen3.6-35B-A3B (transformers modular_qwen3_5_moe.py): Qwen3-Next's gated attention, sparse MoE block (256 experts, a
shared expert with a sigmoid gate) and decoder layer; 30 Gated DeltaNet layers (in_proj_qkv, in_proj_z, in_proj_b,
in_proj_a, a conv1d, dt_bias, A_log, a gated RMSNorm) and 10 attention layers; a Qwen3-VL vision transformer without
deepstack mergers. Config: Qwen/Qwen3.6-35B-A3B config.json as published."""
import io
import json

import pytest

from planner import cli
from planner.architecture import load_config_file
from planner.errors import InputError
from planner.estimator import estimate
from planner.sources import vision_params
from planner.throughput.inference import model_bytes
from planner.workload import Workload

ASPECT_RATIOS = 8          # MllamaVisionConfig.supported_aspect_ratios for max_num_tiles 4


def modeling_mllama_parameters(h: int, layers: int, cross: int, heads: int, kv_heads: int, inter: int,
                               vocab: int) -> int:
    """MllamaForConditionalGeneration, module by module (the 11B's and 90B's vision_config)."""
    d = h // heads
    attn = h * h + 2 * h * kv_heads * d + h * h           # q, k, v, o_proj, no bias
    mlp = 3 * h * inter                                   # gate, up, down_proj
    self_layer = attn + mlp + 2 * h                       # input_layernorm, post_attention_layernorm
    cross_layer = self_layer + 2 * d + 2                  # + q_norm, k_norm, cross_attn_attn_gate, cross_attn_mlp_gate
    text = (vocab + 8) * h + (layers - cross) * self_layer + cross * cross_layer + h + vocab * h
    vh, vi, tiles, patches = 1280, 5120, 4, (560 // 14) ** 2 + 1
    enc_layer = 4 * vh * vh + vh * vi + vi + vi * vh + vh + 4 * vh      # attention, fc1, fc2, 2 LayerNorms
    vision = (3 * 14 * 14 * vh + vh                                     # patch_embedding (no bias), class_embedding
              + 1 + patches * vh + (ASPECT_RATIOS + 1) * tiles * patches * vh   # gated position + tile embedding
              + 2 * ((ASPECT_RATIOS + 1) * tiles * vh + 1)              # pre/post tile positional embeddings
              + 4 * vh                                                  # layernorm_pre, layernorm_post
              + 32 * enc_layer + 8 * (enc_layer + 2))                   # transformer, gated global_transformer
    projector = 7680 * h + h
    return text + vision + projector


def write_config(tmp_path, cfg: dict):
    p = tmp_path / "config.json"
    p.write_text(json.dumps(cfg))
    return p


def test_the_count_is_the_published_one_for_the_11b(tmp_path):
    """The same modules at the 11B's shapes give its published exact count (NVIDIA's model card and the Hub's
    safetensors parameter_count: 10,670,220,835), which checks the vision tower's count."""
    assert modeling_mllama_parameters(4096, 40, 8, 32, 8, 14336, 128256) == 10_670_220_835
    cfg = {"model_type": "mllama", "text_config": {"model_type": "mllama_text_model"},
           "vision_config": {"image_size": 560}}                             # every other size a class default
    a = load_config_file(write_config(tmp_path, cfg))
    assert (a.params + a.extra_params, a.cross_attn_layers) == (10_670_220_835, 8)


def test_90b_vision_is_88_6b_parameters(arch):
    """88,593,355,323: the Hub's safetensors total of Llama-3.2-90B-Vision-Instruct rounds to 88.6B."""
    a = arch("llama-3.2-90b-vision")
    total = modeling_mllama_parameters(8192, 100, 20, 64, 8, 28672, 128256)
    assert total == 88_593_355_323 and round(total / 1e9, 1) == 88.6
    assert a.params + a.extra_params == total
    assert a.extra_params == 926_490_131                      # vision encoder + projector, outside the language model
    assert (a.num_layers, a.cross_attn_layers, a.full_attention_layers) == (100, 20, 80)


def test_the_text_layers_are_llama_3_1_70b(arch):
    """Minus the cross-attention layers, the text decoder is Llama-3.1-70B (plus 8 embedding rows)."""
    v, l70 = arch("llama-3.2-90b-vision"), arch("llama-3.1-70b")
    assert v.params - v.cross_attn_params - 8 * 8192 == l70.params


def test_a_config_saved_without_defaults_gives_the_builtin(tmp_path, arch):
    """A config.json saved by transformers 4.47 lists only what differs from MllamaTextConfig / MllamaVisionConfig
    (as fine-tunes of the 90B-Vision ship it): the defaults fill the rest."""
    cfg = {"architectures": ["MllamaForConditionalGeneration"], "model_type": "mllama",
           "text_config": {"cross_attention_layers": list(range(3, 100, 5)), "hidden_size": 8192,
                           "intermediate_size": 28672, "model_type": "mllama_text_model", "num_attention_heads": 64,
                           "num_hidden_layers": 100, "torch_dtype": "bfloat16"},
           "vision_config": {"image_size": 560, "model_type": "mllama_vision_model"}}
    a, b = load_config_file(write_config(tmp_path, cfg)), arch("llama-3.2-90b-vision")
    assert (a.params, a.extra_params, a.cross_attn_layers, a.num_kv_heads) == (b.params, b.extra_params, 20, 8)


@pytest.mark.parametrize("cross", [[1, 7], [1, 1], "3", [True]])
def test_cross_attention_layers_must_be_distinct_layer_indices(tmp_path, cross):
    cfg = {"model_type": "mllama", "text_config": {"model_type": "mllama_text_model", "num_hidden_layers": 4,
                                                   "cross_attention_layers": cross}}
    with pytest.raises(InputError, match="cross_attention_layers"):
        load_config_file(write_config(tmp_path, cfg))


def _kv(name, engine, seq_len, **kw):
    w = Workload(method="inference", engine=engine, seq_len=seq_len, new_tokens=0, **kw)
    return estimate(arch_of(name), w).breakdown["kv_cache"]


def arch_of(name):
    from planner.data import builtin_registry
    return builtin_registry().resolve(name)[0]


def test_text_tokens_grow_the_cache_of_the_80_self_attention_layers_under_transformers():
    grown = _kv("llama-3.2-90b-vision", "transformers", 4096) - _kv("llama-3.2-90b-vision", "transformers", 2048)
    assert grown == 80 * 2 * 1024 * 2 * 2048                   # layers x (K, V) x kv width x bf16 x tokens


def test_vllm_gives_every_layer_a_slot_per_text_token():
    """vLLM's blocks (and SGLang's pool) span all 100 layers, the cross-attention layers' included."""
    for engine in ("vllm", "sglang"):
        grown = _kv("llama-3.2-90b-vision", engine, 4096) - _kv("llama-3.2-90b-vision", engine, 2048)
        assert grown == 100 * 2 * 1024 * 2 * 2048, engine


def test_text_decode_reads_what_llama_3_1_70b_reads():
    """Without an image the cross-attention layers and the vision tower are skipped: a decode step reads the 80
    self-attention layers and lm_head, as Llama-3.1-70B does, and computes as much."""
    w = Workload(method="inference", engine="vllm", seq_len=1024, new_tokens=128)
    v, l70 = model_bytes(arch_of("llama-3.2-90b-vision"), w), model_bytes(arch_of("llama-3.1-70b"), w)
    assert v.weight_bytes == l70.weight_bytes
    assert v.active_flops_per_token == l70.active_flops_per_token
    assert (v.kv_bytes_per_token, v.layers) == (l70.kv_bytes_per_token, 80)
    # while all of it loads: 2 bytes for each of the 88.6B parameters
    assert estimate(arch_of("llama-3.2-90b-vision"), w).breakdown["weights"] == 2 * 88_593_355_323


def test_llama_cpp_has_no_mllama_loader():
    with pytest.raises(InputError, match="llama.cpp"):
        estimate(arch_of("llama-3.2-90b-vision"), Workload(method="inference", engine="llama.cpp", precision="q4_k_m"))


# ---------------------------------------------------------------------------------------------------
# Qwen3.6-35B-A3B

def modeling_qwen3_5_moe_parameters() -> tuple[int, int]:
    """(language model, vision transformer) of Qwen3_5MoeForConditionalGeneration at Qwen3.6-35B-A3B's config."""
    h, vocab, experts, f, shared = 2048, 248320, 256, 512, 512
    attn = h * 2 * 16 * 256 + 2 * h * 2 * 256 + 16 * 256 * h + 2 * 256    # q_proj (+ gate), k, v, o_proj, q/k_norm
    kd, vd = 16 * 128, 32 * 128
    delta = (h * (2 * kd + vd) + h * vd + 2 * h * 32 + vd * h             # in_proj_qkv, in_proj_z, in_proj_b/a, out_proj
             + (2 * kd + vd) * 4 + 2 * 32 + 128)                          # conv1d (no bias), dt_bias, A_log, norm
    moe = experts * 3 * h * f + experts * h + 3 * h * shared + h          # experts, router, shared expert and its gate
    lm = 10 * (attn + moe + 2 * h) + 30 * (delta + moe + 2 * h) + 2 * vocab * h + h
    vh, vi, m = 1152, 4304, 4
    block = 4 * vh + 3 * vh * vh + 3 * vh + vh * vh + vh + vh * vi + vi + vi * vh + vh
    vision = (3 * 2 * 16 * 16 * vh + vh + 2304 * vh + 27 * block          # Conv3d patch_embed, pos_embed, blocks
              + 2 * vh + (m * vh) ** 2 + m * vh + m * vh * 2048 + 2048)   # merger
    return lm, vision


def test_qwen36_counts(arch):
    a = arch("qwen3.6-35b-a3b")
    lm, vision = modeling_qwen3_5_moe_parameters()
    assert (a.params, a.extra_params) == (lm, vision) == (34_660_610_688, 446_571_248)
    assert (a.linear_attn_layers, a.full_attention_layers, a.num_experts, a.experts_per_token) == (30, 10, 256, 8)
    assert a.mtp_layers == 1
    # the MTP layer (a decoder layer, fc 2h -> h and its norms) makes the checkpoint the Hub's "36B"
    mtp = a._attention_params() + a._moe_params() + 2 * 2048 + 2 * 2048 * 2048 + 3 * 2048
    assert round((a.params + a.extra_params + mtp) / 1e9) == 36


def test_qwen36_hub_id_and_aliases_resolve(registry):
    assert registry.resolve("Qwen/Qwen3.6-35B-A3B")[0].name == "qwen3.6-35b-a3b"
    assert registry.resolve("qwen3.6")[0].name == "qwen3.6-35b-a3b"
    assert registry.resolve("meta-llama/Llama-3.2-90B-Vision-Instruct")[0].name == "llama-3.2-90b-vision"
    assert registry.resolve("90b")[0].name == "llama-3.2-90b-vision"


def test_qwen36_vision_tower_is_counted_from_its_config():
    cfg = {"model_type": "qwen3_5_moe", "vision_config": {"depth": 27, "hidden_size": 1152,
                                                          "intermediate_size": 4304, "out_hidden_size": 2048}}
    assert vision_params(cfg, 2048)[0] == modeling_qwen3_5_moe_parameters()[1]


def test_qwen36_decode_reads_the_active_experts_and_each_sequence_state():
    """One token at batch 1: the attention/DeltaNet layers, shared experts and lm_head, 8 of 256 experts, the KV of
    the 10 attention layers and the 30 DeltaNet states (read and rewritten), not the vision tower."""
    a = arch_of("qwen3.6-35b-a3b")
    mb = model_bytes(a, Workload(method="inference", engine="vllm", precision="bf16", seq_len=1024, new_tokens=1))
    lookup = 248320 * 2048 * 2
    assert mb.weight_bytes == 2 * a.params - lookup
    assert mb.kv_bytes_per_token == 10 * 2 * 2 * 256 * 2
    rec, conv = a.recurrent_state_elements
    assert mb.state_bytes_per_seq == 2 * 30 * (rec + conv) * 2


# ---------------------------------------------------------------------------------------------------
# The plans

def _plan(*argv) -> dict:
    out = io.StringIO()
    assert cli.main(list(argv) + ["--json"], out=out) == 0
    return json.loads(out.getvalue())


@pytest.mark.parametrize("model,params", [("llama-3.2-90b-vision", 87_666_865_192),
                                          ("Qwen/Qwen3.6-35B-A3B", 34_660_610_688)])
def test_a_serving_plan_runs_and_fits(model, params):
    d = _plan("--model", model, "--method", "inference")
    assert d["feasible"] and d["estimate"]["params"] == params
    for m in d["plan"]["memory"]:
        assert 0 < m["need_bytes"] <= m["usable_bytes"]


@pytest.mark.parametrize("model,precision,gpus,weights", [
    ("llama-3.2-90b-vision", "bf16", 4, 2 * 88_593_355_323 // 4),        # every weight, split four ways
    ("qwen3.6-35b-a3b", "bf16", 1, 2 * (34_660_610_688 + 446_571_248)),
])
def test_vllm_estimate_loads_the_language_model_and_the_vision_tower(model, precision, gpus, weights):
    d = _plan("estimate", "--model", model, "--engine", "vllm", "--precision", precision, "--gpus", str(gpus))
    assert d["breakdown"]["weights"] == weights
    assert 0 < d["breakdown"]["kv_cache"] < 2 * 2**30
