"""Model shapes: exact parameter counts, config.json parsing, aliases and clear errors."""
import json

import pytest

from planner.architecture import from_config, load_config_file
from planner.errors import InputError

# Published totals (safetensors metadata / model cards), as listed in issue 2.
EXACT = {
    "llama-3.1-8b": 8_030_261_248,
    "llama-3.1-70b": 70_553_706_496,
    "llama-3.2-1b": 1_235_814_400,       # tied embeddings counted once
    "mixtral-8x7b": 46_702_792_704,
    "qwen2.5-72b": 72_706_203_648,
    "llama-2-70b": 68_976_648_192,
    "qwen2.5-0.5b": 494_032_768,
    "gemma-3-1b": 999_885_952,
}


@pytest.mark.parametrize("name,params", EXACT.items())
def test_parameter_counts_are_exact(arch, name, params):
    assert arch(name).params == params


def test_every_required_family_is_built_in(registry):
    for name in ["llama-2-7b", "llama-2-13b", "llama-2-70b", "llama-3.2-1b", "llama-3.2-3b", "llama-3.1-8b",
                 "llama-3.1-70b", "llama-3.1-405b", "mistral-7b", "mixtral-8x7b", "mixtral-8x22b", "qwen2.5-0.5b",
                 "qwen2.5-72b", "qwen3-8b", "qwen3-30b-a3b", "qwen3-235b-a22b", "gemma-2-9b", "gemma-3-27b",
                 "phi-3-mini", "phi-4", "deepseek-v3", "olmoe-1b-7b"]:
        assert name in registry.models


def test_moe_counts_all_experts_but_activates_top_k(arch):
    m = arch("mixtral-8x7b")
    assert m.active_params < m.params / 3
    assert arch("deepseek-v3").params == 671_026_419_200


def test_size_alias_says_which_model_it_assumed(registry):
    model, note = registry.resolve("70b")
    assert model.name == "llama-3.1-70b"
    assert "llama-3.1-70b" in note


def test_unknown_model_suggests_close_names(registry):
    with pytest.raises(InputError, match="did you mean.*llama-3.1-8b"):
        registry.resolve("llama-3.1-8")


def test_config_json_matches_builtin(tmp_path, arch):
    cfg = {"model_type": "llama", "hidden_size": 4096, "intermediate_size": 14336, "num_hidden_layers": 32,
           "num_attention_heads": 32, "num_key_value_heads": 8, "vocab_size": 128256,
           "tie_word_embeddings": False}
    p = tmp_path / "config.json"
    p.write_text(json.dumps(cfg))
    assert load_config_file(p).params == arch("llama-3.1-8b").params


def test_malformed_config_json_is_a_clear_error(tmp_path):
    p = tmp_path / "config.json"
    p.write_text("{not json")
    with pytest.raises(InputError, match="not valid JSON"):
        load_config_file(p)
    p.write_text(json.dumps({"model_type": "llama", "hidden_size": 8}))
    with pytest.raises(InputError, match="missing field"):
        load_config_file(p)
    with pytest.raises(InputError, match="not supported"):
        from_config({"model_type": "bert"}, "x")


def test_gqa_kv_cache_is_smaller_than_mha(arch):
    # Llama-3.1-8B (8 KV heads) caches 4x less per token than Llama-2-7B (32 heads), same head size
    assert arch("llama-2-7b").kv_bytes_per_token == 4 * arch("llama-3.1-8b").kv_bytes_per_token
