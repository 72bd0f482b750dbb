"""--model from where users keep models: the HF cache, model folders (safetensors headers), GGUF files, the Hub.

Every file here is written by the test itself (real formats, zero-filled or absent tensor data); the Hub is a
fake module, so nothing touches the network.
"""
import io
import json
import os
import struct
import sys
import types
from math import prod

import pytest

from planner import sources
from planner.cli import main
from planner.errors import InputError
from planner.sources import GGML_TYPES, quantization_hint

LLAMA_8B = {"model_type": "llama", "hidden_size": 4096, "intermediate_size": 14336, "num_hidden_layers": 32,
            "num_attention_heads": 32, "num_key_value_heads": 8, "vocab_size": 128256, "tie_word_embeddings": False,
            "torch_dtype": "bfloat16"}
TINY = {"model_type": "llama", "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
        "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 100, "tie_word_embeddings": False}


@pytest.fixture(autouse=True)
def no_hub(monkeypatch, tmp_path):
    """No test may reach a real Hub or read the user's cache."""
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)


def run(argv):
    out, err = io.StringIO(), io.StringIO()
    rc = main(argv, out=out, err=err)
    return rc, out.getvalue(), err.getvalue()


def resolve(registry, name):
    return registry.resolve(str(name))


# ---- writers for real file formats -------------------------------------------------------------------

ST_BYTES = {"F32": 4, "F16": 2, "BF16": 2, "F8_E4M3": 1, "I8": 1, "U8": 1, "I32": 4}


def write_safetensors(path, tensors: dict[str, tuple[str, list[int]]]):
    """8-byte header length + JSON header + zero bytes for the data, as the safetensors format lays it out."""
    header, off = {"__metadata__": {"format": "pt"}}, 0
    for name, (dtype, shape) in tensors.items():
        n = prod(shape) * ST_BYTES[dtype]
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [off, off + n]}
        off += n
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)) + raw)
        f.truncate(8 + len(raw) + off)
    return off


def llama_tensors(cfg, dtype="BF16", prefix="model."):
    h, f, v, L = cfg["hidden_size"], cfg["intermediate_size"], cfg["vocab_size"], cfg["num_hidden_layers"]
    kv = cfg["num_key_value_heads"] * h // cfg["num_attention_heads"]
    t = {f"{prefix}embed_tokens.weight": (dtype, [v, h]), f"{prefix}norm.weight": (dtype, [h]),
         "lm_head.weight": (dtype, [v, h])}
    for i in range(L):
        p = f"{prefix}layers.{i}."
        t.update({p + "self_attn.q_proj.weight": (dtype, [h, h]), p + "self_attn.k_proj.weight": (dtype, [kv, h]),
                  p + "self_attn.v_proj.weight": (dtype, [kv, h]), p + "self_attn.o_proj.weight": (dtype, [h, h]),
                  p + "mlp.gate_proj.weight": (dtype, [f, h]), p + "mlp.up_proj.weight": (dtype, [f, h]),
                  p + "mlp.down_proj.weight": (dtype, [h, f]), p + "input_layernorm.weight": (dtype, [h]),
                  p + "post_attention_layernorm.weight": (dtype, [h])})
    return t


GGUF_T = {"F32": 0, "F16": 1, "Q4_0": 2, "Q8_0": 8, "Q4_K": 12, "Q5_K": 13, "Q6_K": 14, "BF16": 30}


def _gguf_str(s: str) -> bytes:
    b = s.encode()
    return struct.pack("<Q", len(b)) + b


def _gguf_value(v) -> bytes:
    if isinstance(v, bool):
        return struct.pack("<I?", 7, v)
    if isinstance(v, int):
        return struct.pack("<IQ", 10, v)           # uint64
    if isinstance(v, float):
        return struct.pack("<If", 6, v)
    if isinstance(v, str):
        return struct.pack("<I", 8) + _gguf_str(v)
    if isinstance(v, list) and all(isinstance(x, str) for x in v):
        return struct.pack("<IIQ", 9, 8, len(v)) + b"".join(_gguf_str(x) for x in v)
    if isinstance(v, list):
        return struct.pack("<IIQ", 9, 5, len(v)) + b"".join(struct.pack("<i", x) for x in v)
    raise TypeError(v)


def write_gguf(path, kv: dict, tensors: list[tuple[str, tuple[int, ...], str]], data=True, version=3):
    """A GGUF v3 file: header, key/values, tensor infos, then (if data) the aligned zero-filled tensor data."""
    out = b"GGUF" + struct.pack("<IQQ", version, len(tensors), len(kv))
    for k, v in kv.items():
        out += _gguf_str(k) + _gguf_value(v)
    off, sizes = 0, []
    for name, dims, t in tensors:
        block, size = GGML_TYPES[GGUF_T[t]][1:]
        out += _gguf_str(name) + struct.pack("<I", len(dims)) + b"".join(struct.pack("<Q", d) for d in dims)
        out += struct.pack("<IQ", GGUF_T[t], off)
        n = prod(dims) // block * size
        sizes.append(n)
        off += n + (-n % 32)
    with open(path, "wb") as f:
        f.write(out)
        if data:
            f.write(b"\0" * (-len(out) % 32))
            f.truncate(f.tell() + off)
    return sum(sizes)


def tiny_gguf_model(vocab=1000, with_output=True):
    """A 2-layer llama: F16 embeddings, Q4_K attention, Q8_0/Q6_K MLP, F32 norms (hidden 256, ffn 512)."""
    h, f, kv = 256, 512, 128
    t = [("token_embd.weight", (h, vocab), "F16"), ("output_norm.weight", (h,), "F32")]
    if with_output:
        t.append(("output.weight", (h, vocab), "Q6_K"))
    for i in range(2):
        b = f"blk.{i}."
        t += [(b + "attn_norm.weight", (h,), "F32"), (b + "attn_q.weight", (h, h), "Q4_K"),
              (b + "attn_k.weight", (h, kv), "Q4_K"), (b + "attn_v.weight", (h, kv), "Q8_0"),
              (b + "attn_output.weight", (h, h), "Q4_K"), (b + "ffn_norm.weight", (h,), "F32"),
              (b + "ffn_gate.weight", (h, f), "Q4_K"), (b + "ffn_up.weight", (h, f), "Q4_K"),
              (b + "ffn_down.weight", (f, h), "Q8_0")]
    kv_pairs = {"general.architecture": "llama", "general.name": "Tiny Llama", "general.file_type": 15,
                "llama.block_count": 2, "llama.context_length": 4096, "llama.embedding_length": h,
                "llama.feed_forward_length": f, "llama.attention.head_count": 4, "llama.attention.head_count_kv": 2,
                "llama.rope.freq_base": 500000.0, "tokenizer.ggml.model": "gpt2",
                "tokenizer.ggml.tokens": [f"t{i}" for i in range(vocab)]}
    return kv_pairs, t


# ---- built-in Hugging Face ids ---------------------------------------------------------------------------

def test_a_builtins_hugging_face_id_is_taken_as_that_builtin(registry):
    arch, note = resolve(registry, "META-LLAMA/llama-3.1-8b")
    assert arch.name == "llama-3.1-8b" and "taken as built-in llama-3.1-8b" in note


def test_cli_estimate_with_a_hugging_face_id_of_a_builtin():
    rc, out, err = run(["estimate", "--model", "meta-llama/Llama-3.1-8B", "--json"])
    assert rc == 0, err
    d = json.loads(out)
    assert d["model"] == "llama-3.1-8b" and d["params"] == 8_030_261_248
    assert "taken as built-in llama-3.1-8b" in d["assumptions"][0]


# ---- the local Hugging Face cache ------------------------------------------------------------------------

def fake_cache(root, repo_id, cfg, files=None):
    org, name = repo_id.split("/")
    repo = root / f"models--{org}--{name}"
    commit = "0123456789abcdef0123456789abcdef01234567"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    snap = repo / "snapshots" / commit
    snap.mkdir(parents=True)
    (snap / "config.json").write_text(json.dumps(cfg))
    for fname, writer in (files or {}).items():
        writer(snap / fname)
    return snap


def test_org_name_is_read_from_the_local_hugging_face_cache(registry, tmp_path, monkeypatch):
    cache = tmp_path / "hub"
    snap = fake_cache(cache, "acme/Llama-Clone-8B", LLAMA_8B)
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    arch, note = resolve(registry, "acme/Llama-Clone-8B")
    assert arch.params == 8_030_261_248 and arch.name == "acme/Llama-Clone-8B"
    assert note == f"config from the local Hugging Face cache: {snap / 'config.json'}"
    assert arch.stored_format == "bf16" and arch.stored_weight_bytes == 0     # only the config is cached
    assert resolve(registry, "ACME/llama-clone-8b")[0].params == arch.params   # ids are case-insensitive


def test_hf_home_hub_is_the_cache_when_hf_hub_cache_is_unset(registry, tmp_path, monkeypatch):
    fake_cache(tmp_path / "home" / "hub", "acme/tiny", TINY)
    monkeypatch.delenv("HF_HUB_CACHE")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "home"))
    assert resolve(registry, "acme/tiny")[0].hidden_size == 64


def test_cached_index_without_shards_gives_its_total_size(registry, tmp_path, monkeypatch):
    index = {"metadata": {"total_size": 16_060_522_496},
             "weight_map": {"lm_head.weight": "model-00004-of-00004.safetensors"}}
    fake_cache(tmp_path / "hub", "acme/big", LLAMA_8B,
               {"model.safetensors.index.json": lambda p: p.write_text(json.dumps(index))})
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    arch, _ = resolve(registry, "acme/big")
    assert arch.stored_weight_bytes == 16_060_522_496 and arch.stored_format == "bf16"
    assert any("total_size of model.safetensors.index.json" in n for n in arch.notes)


def test_cached_safetensors_give_exact_bytes(registry, tmp_path, monkeypatch):
    stored = {}
    fake_cache(tmp_path / "hub", "acme/tiny", TINY,
               {"model.safetensors": lambda p: stored.setdefault("n", write_safetensors(p, llama_tensors(TINY)))})
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    arch, _ = resolve(registry, "acme/tiny")
    assert arch.stored_weight_bytes == stored["n"] == 2 * arch.params


# ---- model folders -----------------------------------------------------------------------------------------

def test_model_folder_reads_config_and_safetensors_headers(registry, tmp_path):
    folder = tmp_path / "Tiny-Llama"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(TINY))
    nbytes = write_safetensors(folder / "model.safetensors", llama_tensors(TINY))
    arch, note = resolve(registry, f"{folder}/")
    assert note == f"config from the model folder {folder}"
    assert arch.name == "Tiny-Llama"
    assert arch.stored_weight_bytes == nbytes == 2 * arch.params
    assert arch.stored_format == "bf16"
    assert any(f"{arch.params:,} parameters (exact, from the headers)" in n for n in arch.notes)


def test_sharded_folder_sums_the_shards_of_the_index(registry, tmp_path):
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(TINY))
    t = list(llama_tensors(TINY, dtype="F16").items())
    half = len(t) // 2
    a = write_safetensors(folder / "model-00001-of-00002.safetensors", dict(t[:half]))
    b = write_safetensors(folder / "model-00002-of-00002.safetensors", dict(t[half:]))
    wm = {n: f"model-0000{1 if i < half else 2}-of-00002.safetensors" for i, (n, _) in enumerate(t)}
    (folder / "model.safetensors.index.json").write_text(json.dumps({"metadata": {"total_size": a + b},
                                                                      "weight_map": wm}))
    arch, _ = resolve(registry, str(folder))
    assert arch.stored_weight_bytes == a + b == 2 * arch.params and arch.stored_format == "fp16"
    (folder / "model-00002-of-00002.safetensors").unlink()             # a partial download says so
    arch, _ = resolve(registry, str(folder))
    assert arch.stored_weight_bytes == a and any("1 shard(s)" in n for n in arch.notes)


def test_safetensors_package_files_read_the_same(registry, tmp_path):
    st = pytest.importorskip("safetensors.numpy")
    np = pytest.importorskip("numpy")
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(TINY))
    st.save_file({n: np.zeros(s, dtype=np.float16) for n, (_, s) in llama_tensors(TINY, "F16").items()},
                 str(folder / "model.safetensors"))
    arch, _ = resolve(registry, str(folder))
    assert arch.stored_weight_bytes == 2 * arch.params and arch.stored_format == "fp16"


def test_folder_without_config_json_names_the_file(registry, tmp_path):
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "model-Q4_K_M.gguf").write_bytes(b"GGUF")
    with pytest.raises(InputError, match=r"m/config.json not found.*pass the file, e.g. .*model-Q4_K_M.gguf"):
        resolve(registry, str(tmp_path / "m"))


@pytest.mark.parametrize("q,hint", [
    ({"quant_method": "bitsandbytes", "load_in_4bit": True, "bnb_4bit_quant_type": "nf4"}, "nf4"),
    ({"load_in_8bit": True}, "int8"),
    ({"quant_method": "awq", "bits": 4, "group_size": 128}, "awq"),
    ({"quant_method": "gptq", "bits": 4, "group_size": 128}, "gptq"),
    ({"quant_method": "fp8", "activation_scheme": "dynamic"}, "fp8"),
    ({"quant_method": "compressed-tensors",
      "config_groups": {"group_0": {"weights": {"num_bits": 8, "type": "float"}}}}, "fp8"),
    ({"quant_method": "compressed-tensors",
      "config_groups": {"group_0": {"weights": {"num_bits": 4, "type": "int"}}}}, "int4"),
    (None, ""),
])
def test_quantization_config_gives_a_precision_hint(q, hint):
    assert quantization_hint(q) == hint


def test_quantised_folder_keeps_exact_bytes_and_the_config_parameter_count(registry, tmp_path):
    folder = tmp_path / "awq"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({**TINY, "quantization_config": {"quant_method": "awq", "bits": 4}}))
    t = {n: ("I32", [s[0], s[1] // 8]) if len(s) == 2 and "layers" in n else (d, s)
         for n, (d, s) in llama_tensors(TINY, "F16").items()}
    nbytes = write_safetensors(folder / "model.safetensors", t)
    arch, _ = resolve(registry, str(folder))
    assert arch.stored_format == "awq" and arch.stored_weight_bytes == nbytes
    assert arch.params == resolve(registry, str(folder / "config.json"))[0].params   # packed elements not counted


# ---- GGUF ----------------------------------------------------------------------------------------------------

def q_bytes(dims, t):
    block, size = GGML_TYPES[GGUF_T[t]][1:]
    return prod(dims) // block * size


def test_gguf_gives_the_architecture_and_exact_weight_bytes(registry, tmp_path):
    kv, tensors = tiny_gguf_model()
    p = tmp_path / "tiny-Q4_K_M.gguf"
    written = write_gguf(p, kv, tensors)
    arch, note = resolve(registry, str(p))
    assert note == f"architecture from the GGUF header of {p}"
    assert (arch.family, arch.hidden_size, arch.num_layers, arch.num_heads, arch.num_kv_heads, arch.head_dim,
            arch.intermediate_size, arch.vocab_size, arch.tie_embeddings, arch.max_position_embeddings) == \
        ("llama", 256, 2, 4, 2, 64, 512, 1000, False, 4096)
    assert arch.name == "Tiny Llama" and arch.stored_format == "q4_k_m"
    # by hand: Q4_K 144 bytes per 256, Q8_0 34 per 32, Q6_K 210 per 256, F16 2, F32 4
    h, f = 256, 512
    per_layer = 2 * 4 * h + (h * h + h * 128 + h * h + 2 * h * f) // 256 * 144 + (h * 128 + f * h) // 32 * 34
    expected = h * 1000 * 2 + h * 4 + h * 1000 // 256 * 210 + 2 * per_layer
    assert arch.stored_weight_bytes == written == expected
    assert arch.params == sum(prod(d) for _, d, _ in tensors)            # the shapes agree with the tensors
    assert any(n.startswith("GGUF Q4_K_M, 0.00 GB of weights (exact, from tensor infos)") for n in arch.notes)


def test_ggml_block_sizes():
    assert [GGML_TYPES[GGUF_T[t]][1:] for t in ("Q4_K", "Q6_K", "Q8_0", "Q5_K", "Q4_0", "F16", "BF16", "F32")] == \
        [(256, 144), (256, 210), (32, 34), (256, 176), (32, 18), (1, 2), (1, 2), (1, 4)]


def test_header_only_gguf_prefix_is_enough(registry, tmp_path):
    kv, tensors = tiny_gguf_model(with_output=False)
    full, head = tmp_path / "full.gguf", tmp_path / "head.gguf"
    write_gguf(full, kv, tensors)
    write_gguf(head, kv, tensors, data=False)
    a, b = resolve(registry, str(full))[0], resolve(registry, str(head))[0]
    assert a.stored_weight_bytes == b.stored_weight_bytes > 0 and a.tie_embeddings and b.params == a.params
    cut = tmp_path / "cut.gguf"                                          # cut inside the tensor infos: refused
    cut.write_bytes(head.read_bytes()[:-40])
    with pytest.raises(InputError, match="GGUF header is cut off"):
        resolve(registry, str(cut))


def test_gguf_without_extension_is_sniffed(registry, tmp_path):
    kv, tensors = tiny_gguf_model()
    blob = tmp_path / "sha256-0123"                                      # how Ollama stores its models
    write_gguf(blob, kv, tensors, data=False)
    assert resolve(registry, str(blob))[0].stored_format == "q4_k_m"


def test_gguf_written_by_the_gguf_package(registry, tmp_path):
    gguf = pytest.importorskip("gguf")
    np = pytest.importorskip("numpy")
    p = tmp_path / "w.gguf"
    w = gguf.GGUFWriter(str(p), "qwen2")
    w.add_block_count(1)
    w.add_context_length(32768)
    w.add_embedding_length(64)
    w.add_feed_forward_length(128)
    w.add_head_count(4)
    w.add_head_count_kv(2)
    w.add_file_type(gguf.LlamaFileType.MOSTLY_Q8_0)
    w.add_token_list([f"t{i}" for i in range(96)])
    shapes = {"token_embd.weight": (96, 64), "output_norm.weight": (64,), "blk.0.attn_norm.weight": (64,),
              "blk.0.ffn_norm.weight": (64,), "blk.0.attn_q.weight": (64, 64), "blk.0.attn_q.bias": (64,),
              "blk.0.attn_k.weight": (32, 64), "blk.0.attn_k.bias": (32,), "blk.0.attn_v.weight": (32, 64),
              "blk.0.attn_v.bias": (32,), "blk.0.attn_output.weight": (64, 64), "blk.0.ffn_gate.weight": (128, 64),
              "blk.0.ffn_up.weight": (128, 64), "blk.0.ffn_down.weight": (64, 128)}
    expected = 0
    for name, shape in shapes.items():
        if len(shape) == 2:
            data = gguf.quants.quantize(np.zeros(shape, dtype=np.float32), gguf.GGMLQuantizationType.Q8_0)
            w.add_tensor(name, data, raw_dtype=gguf.GGMLQuantizationType.Q8_0)
            expected += prod(shape) // 32 * 34
        else:
            w.add_tensor(name, np.zeros(shape, dtype=np.float32))
            expected += prod(shape) * 4
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    arch = resolve(registry, str(p))[0]
    assert (arch.family, arch.vocab_size, arch.tie_embeddings, arch.stored_format) == ("qwen2", 96, True, "q8_0")
    assert arch.stored_weight_bytes == expected
    assert arch.params == sum(prod(s) for s in shapes.values())


def test_gemma3_gguf_keeps_its_sliding_window_layers(registry, arch, tmp_path):
    h, L = 128, 12
    kv = {"general.architecture": "gemma3", "gemma3.block_count": L, "gemma3.embedding_length": h,
          "gemma3.feed_forward_length": 256, "gemma3.attention.head_count": 2, "gemma3.attention.head_count_kv": 1,
          "gemma3.attention.key_length": 64, "gemma3.attention.sliding_window": 512, "gemma3.context_length": 32768}
    tensors = [("token_embd.weight", (h, 320), "BF16")]
    p = tmp_path / "g.gguf"
    write_gguf(p, kv, tensors, data=False)
    m = resolve(registry, str(p))[0]
    assert (m.family, m.sliding_window, m.sliding_layers, m.tie_embeddings, m.stored_format) == \
        ("gemma3_text", 512, 10, True, "bf16")
    write_gguf(p, {**kv, "gemma3.attention.sliding_window_pattern": [True] * 11 + [False]}, tensors, data=False)
    assert resolve(registry, str(p))[0].sliding_layers == 11


DEEPSEEK_V3_GGUF = {
    "general.architecture": "deepseek2", "deepseek2.block_count": 61, "deepseek2.context_length": 163840,
    "deepseek2.embedding_length": 7168, "deepseek2.feed_forward_length": 18432, "deepseek2.attention.head_count": 128,
    "deepseek2.attention.head_count_kv": 128, "deepseek2.rope.dimension_count": 64,
    "deepseek2.attention.q_lora_rank": 1536, "deepseek2.attention.kv_lora_rank": 512,
    "deepseek2.attention.key_length": 192, "deepseek2.attention.value_length": 128, "deepseek2.expert_count": 256,
    "deepseek2.expert_used_count": 8, "deepseek2.expert_shared_count": 1, "deepseek2.expert_feed_forward_length": 2048,
    "deepseek2.leading_dense_block_count": 3, "deepseek2.expert_gating_func": 2}


@pytest.mark.parametrize("builtin,kv,vocab", [
    ("mixtral-8x7b", {"general.architecture": "llama", "llama.block_count": 32, "llama.embedding_length": 4096,
                      "llama.feed_forward_length": 14336, "llama.attention.head_count": 32,
                      "llama.attention.head_count_kv": 8, "llama.expert_count": 8,
                      "llama.expert_used_count": 2}, 32000),
    ("qwen3-30b-a3b", {"general.architecture": "qwen3moe", "qwen3moe.block_count": 48,
                       "qwen3moe.embedding_length": 2048, "qwen3moe.feed_forward_length": 6144,
                       "qwen3moe.attention.head_count": 32, "qwen3moe.attention.head_count_kv": 4,
                       "qwen3moe.attention.key_length": 128, "qwen3moe.expert_count": 128,
                       "qwen3moe.expert_used_count": 8, "qwen3moe.expert_feed_forward_length": 768}, 151936),
    ("deepseek-v3", DEEPSEEK_V3_GGUF, 129280),
    ("deepseek-v3", {**DEEPSEEK_V3_GGUF, "deepseek2.attention.head_count_kv": 1,       # newer llama.cpp (MLA split)
                     "deepseek2.attention.key_length": 576, "deepseek2.attention.value_length": 512,
                     "deepseek2.attention.key_length_mla": 192, "deepseek2.attention.value_length_mla": 128}, 129280),
])
def test_moe_gguf_headers_match_the_builtins(registry, arch, tmp_path, builtin, kv, vocab):
    h = next(v for k, v in kv.items() if k.endswith(".embedding_length"))
    p = tmp_path / "moe.gguf"
    write_gguf(p, kv, [("token_embd.weight", (h, vocab), "Q8_0"), ("output.weight", (h, vocab), "Q8_0")], data=False)
    m = resolve(registry, str(p))[0]
    assert m.params == arch(builtin).params and m.active_params == arch(builtin).active_params
    assert m.stored_weight_bytes == 2 * h * vocab // 32 * 34 and m.stored_format == "q8_0"


@pytest.mark.parametrize("mutate,message", [
    (lambda b: b"GGML" + b[4:], "not a GGUF file"),
    (lambda b: b[:4] + struct.pack("<I", 1) + b[8:], "GGUF version 1 is not supported"),
    (lambda b: b[:4] + struct.pack("<IQQ", 3, 10**9, 1) + b[24:], "more than 100,000 is refused"),
    (lambda b: b[:24] + struct.pack("<Q", 2**40) + b[32:], "over the limit"),
])
def test_hostile_gguf_headers_are_refused(registry, tmp_path, mutate, message):
    kv, tensors = tiny_gguf_model()
    p = tmp_path / "x.gguf"
    write_gguf(p, kv, tensors, data=False)
    p.write_bytes(mutate(p.read_bytes()))
    with pytest.raises(InputError, match=message):
        resolve(registry, str(p))


def test_gguf_metadata_over_64_mib_is_refused(registry, tmp_path, monkeypatch):
    monkeypatch.setattr(sources, "MAX_GGUF_METADATA", 4096)
    kv, tensors = tiny_gguf_model(vocab=2000)
    p = tmp_path / "big.gguf"
    write_gguf(p, kv, tensors, data=False)
    with pytest.raises(InputError, match="GGUF metadata larger than"):
        resolve(registry, str(p))


def test_vision_projector_gguf_is_named(registry, tmp_path):
    p = tmp_path / "mmproj.gguf"
    write_gguf(p, {"general.architecture": "clip"}, [])
    with pytest.raises(InputError, match="vision projector"):
        resolve(registry, str(p))


# ---- multimodal configs -----------------------------------------------------------------------------------------

GEMMA3_4B_IT = {  # google/gemma-3-4b-it config.json (text_config omits heads, head_dim, vocab_size ...)
    "architectures": ["Gemma3ForConditionalGeneration"], "boi_token_index": 255999, "eoi_token_index": 256000,
    "eos_token_id": [1, 106], "image_token_index": 262144, "initializer_range": 0.02, "mm_tokens_per_image": 256,
    "model_type": "gemma3",
    "text_config": {"hidden_size": 2560, "intermediate_size": 10240, "model_type": "gemma3_text",
                    "num_hidden_layers": 34, "rope_scaling": {"factor": 8.0, "rope_type": "linear"},
                    "sliding_window": 1024},
    "torch_dtype": "bfloat16", "transformers_version": "4.50.0.dev0",
    "vision_config": {"hidden_size": 1152, "image_size": 896, "intermediate_size": 4304,
                      "model_type": "siglip_vision_model", "num_attention_heads": 16, "num_hidden_layers": 27,
                      "patch_size": 14, "vision_use_head": False}}
GEMMA3_27B_IT = {**GEMMA3_4B_IT, "text_config": {
    "head_dim": 128, "hidden_size": 5376, "intermediate_size": 21504, "model_type": "gemma3_text",
    "num_attention_heads": 32, "num_hidden_layers": 62, "num_key_value_heads": 16, "query_pre_attn_scalar": 168,
    "rope_scaling": {"factor": 8.0, "rope_type": "linear"}, "sliding_window": 1024}}
QWEN25_VL_7B = {  # Qwen/Qwen2.5-VL-7B-Instruct config.json (text sizes at the top level)
    "architectures": ["Qwen2_5_VLForConditionalGeneration"], "hidden_act": "silu", "hidden_size": 3584,
    "intermediate_size": 18944, "max_position_embeddings": 128000, "max_window_layers": 28, "model_type": "qwen2_5_vl",
    "num_attention_heads": 28, "num_hidden_layers": 28, "num_key_value_heads": 4, "rope_theta": 1000000.0,
    "sliding_window": 32768, "tie_word_embeddings": False, "torch_dtype": "bfloat16", "use_sliding_window": False,
    "vision_config": {"depth": 32, "hidden_act": "silu", "hidden_size": 1280, "intermediate_size": 3420,
                      "num_heads": 16, "in_chans": 3, "out_hidden_size": 3584, "patch_size": 14,
                      "spatial_merge_size": 2, "spatial_patch_size": 14, "window_size": 112,
                      "fullatt_block_indexes": [7, 15, 23, 31], "tokens_per_second": 2, "temporal_patch_size": 2},
    "rope_scaling": {"type": "mrope", "mrope_section": [16, 24, 24]}, "vocab_size": 152064}
QWEN2_VL_7B = {**QWEN25_VL_7B, "model_type": "qwen2_vl", "vision_config": {
    "depth": 32, "embed_dim": 1280, "mlp_ratio": 4, "num_heads": 16, "in_chans": 3, "hidden_size": 3584,
    "patch_size": 14, "spatial_merge_size": 2, "spatial_patch_size": 14, "temporal_patch_size": 2}}


@pytest.mark.parametrize("cfg,builtin,text_params,vision,total", [
    # totals: the parameter counts the Hub shows for each checkpoint (safetensors metadata)
    (GEMMA3_4B_IT, "gemma-3-4b", 3_880_263_168, 419_816_304, 4_300_079_472),
    (GEMMA3_27B_IT, "gemma-3-27b", 27_009_346_304, 423_060_336, 27_432_406_640),
    (QWEN25_VL_7B, "qwen2.5-7b", 7_615_616_512, 676_550_144, 8_292_166_656),
    (QWEN2_VL_7B, "qwen2.5-7b", 7_615_616_512, 675_759_104, 8_291_375_616),
])
def test_multimodal_configs_plan_the_language_model_and_count_the_vision_tower(
        registry, arch, tmp_path, cfg, builtin, text_params, vision, total):
    p = tmp_path / "config.json"
    p.write_text(json.dumps(cfg))
    m, _ = resolve(registry, str(p))
    assert m.params == text_params == arch(builtin).params
    assert m.extra_params == vision and m.params + m.extra_params == total
    assert (m.num_kv_heads, m.head_dim, m.sliding_layers) == (arch(builtin).num_kv_heads, arch(builtin).head_dim,
                                                              arch(builtin).sliding_layers)
    assert any(f"{vision:,} parameters" in n for n in m.notes)


def test_text_only_gemma3_config_gets_the_same_defaults(registry, arch, tmp_path):
    p = tmp_path / "config.json"
    p.write_text(json.dumps(GEMMA3_4B_IT["text_config"]))
    assert resolve(registry, str(p))[0].params == arch("gemma-3-4b").params


def test_llava_text_config_fills_llama_defaults_and_counts_clip(registry, tmp_path):
    cfg = {"model_type": "llava", "projector_hidden_act": "gelu", "vision_feature_layer": -2,
           "text_config": {"model_type": "llama", "vocab_size": 32064, "max_position_embeddings": 4096},
           "vision_config": {"model_type": "clip_vision_model", "hidden_size": 1024, "intermediate_size": 4096,
                             "num_hidden_layers": 24, "num_attention_heads": 16, "image_size": 336,
                             "patch_size": 14, "projection_dim": 768}}       # llava-hf/llava-1.5-7b-hf
    p = tmp_path / "config.json"
    p.write_text(json.dumps(cfg))
    m = resolve(registry, str(p))[0]
    assert (m.hidden_size, m.num_layers, m.intermediate_size, m.vocab_size) == (4096, 32, 11008, 32064)
    # CLIP ViT-L/14-336 (modeling_clip.py: class token, 577 positions, 24 layers, pre/post LayerNorm)
    # + LlavaMultiModalProjector (1024->4096->4096 with biases); the Hub shows 7.06B in all
    assert m.extra_params == 303_507_456 + 20_979_712
    assert round((m.params + m.extra_params) / 1e9, 2) == 7.06


def test_vision_parameters_come_from_the_safetensors_headers_when_present(registry, tmp_path):
    folder = tmp_path / "mm"
    folder.mkdir()
    cfg = {"model_type": "gemma3", "text_config": {"hidden_size": 64, "intermediate_size": 128,
                                                   "num_hidden_layers": 1, "num_attention_heads": 2,
                                                   "num_key_value_heads": 1, "head_dim": 32, "vocab_size": 100},
           "vision_config": {"model_type": "siglip_vision_model"}}
    (folder / "config.json").write_text(json.dumps(cfg))
    write_safetensors(folder / "model.safetensors", {"model.language_model.embed_tokens.weight": ("BF16", [100, 64]),
                                                      "model.vision_tower.vision_model.x.weight": ("BF16", [10, 7]),
                                                      "model.multi_modal_projector.w": ("BF16", [3])})
    m, _ = resolve(registry, str(folder))
    assert m.extra_params == 73


def test_llama4_is_refused_in_one_line(registry, tmp_path):
    p = tmp_path / "config.json"
    p.write_text(json.dumps({"model_type": "llama4", "text_config": {"model_type": "llama4_text"}}))
    with pytest.raises(InputError, match="llama4.*not supported"):
        resolve(registry, str(p))


def test_unknown_vision_tower_is_reported_not_counted(registry, tmp_path):
    p = tmp_path / "config.json"
    p.write_text(json.dumps({"model_type": "mistral3", "text_config": {**TINY, "model_type": "mistral"},
                             "vision_config": {"model_type": "pixtral"}}))
    m, _ = resolve(registry, str(p))
    assert m.extra_params == 0 and any("vision tower not counted" in n for n in m.notes)


# ---- the Hub (a fake huggingface_hub module) ---------------------------------------------------------------------

def fake_hub(monkeypatch, tmp_path, behaviour):
    mod = types.ModuleType("huggingface_hub")
    calls = []

    def hf_hub_download(repo_id, filename, **kw):
        calls.append(filename)
        return behaviour(repo_id, filename)
    mod.hf_hub_download = hf_hub_download
    monkeypatch.setitem(sys.modules, "huggingface_hub", mod)
    monkeypatch.setattr(sources, "_hub_reachable", lambda: True)
    return calls


def _err(name, status=None, base=Exception):
    cls = type(name, (base,), {})
    e = cls(f"{name} for the test")
    if status:
        e.response = types.SimpleNamespace(status_code=status)
    return e


def test_not_cached_and_offline_is_one_clear_line(registry, tmp_path, monkeypatch):
    def offline(repo_id, filename):
        raise _err("LocalEntryNotFoundError", base=FileNotFoundError)
    fake_hub(monkeypatch, tmp_path, offline)
    with pytest.raises(InputError) as e:
        resolve(registry, "acme/not-cached")
    msg = str(e.value)
    assert msg == (f"--model: acme/not-cached is not in the local Hugging Face cache (HF_HUB_CACHE="
                   f"{tmp_path / 'empty-cache'}) and the Hub cannot be reached; download its config.json or pass "
                   f"a path")


def test_hf_hub_offline_does_not_call_the_hub(registry, tmp_path, monkeypatch):
    calls = fake_hub(monkeypatch, tmp_path, lambda r, f: pytest.fail("the Hub was called"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(InputError, match="not in the local Hugging Face cache.*HF_HUB_OFFLINE is set"):
        resolve(registry, "acme/x")
    assert calls == []


def test_an_unreachable_hub_fails_at_once_without_calling_the_client(registry, tmp_path, monkeypatch):
    calls = fake_hub(monkeypatch, tmp_path, lambda r, f: pytest.fail("the Hub was called"))
    monkeypatch.setattr(sources, "_hub_reachable", lambda: False)
    with pytest.raises(InputError, match="not in the local Hugging Face cache .* the Hub cannot be reached;"):
        resolve(registry, "acme/x")
    assert calls == []


def test_without_huggingface_hub_the_error_says_how_to_install_it(registry):
    with pytest.raises(InputError, match=r"huggingface_hub is not installed: pip install 'llm-hw-planner\[hub\]'"):
        resolve(registry, "acme/x")


@pytest.mark.parametrize("error", [_err("GatedRepoError", 403), _err("HfHubHTTPError", 401)])
def test_gated_models_say_a_token_is_needed(registry, tmp_path, monkeypatch, error):
    def gated(repo_id, filename):
        raise error
    fake_hub(monkeypatch, tmp_path, gated)
    rc, out, err = run(["estimate", "--model", "meta-llama/Llama-Guard-4-12B"])
    assert rc == 2 and err.count("\n") == 1
    assert "token is needed" in err and "huggingface-cli login" in err and "HF_TOKEN" in err


def test_hub_download_fetches_only_config_and_index(registry, tmp_path, monkeypatch):
    files = {"config.json": json.dumps(LLAMA_8B),
             "model.safetensors.index.json": json.dumps({"metadata": {"total_size": 16_060_522_496},
                                                         "weight_map": {}})}

    def download(repo_id, filename):
        p = tmp_path / "dl" / filename
        p.parent.mkdir(exist_ok=True)
        p.write_text(files[filename])
        return str(p)
    calls = fake_hub(monkeypatch, tmp_path, download)
    arch, note = resolve(registry, "acme/llama-8b-finetune")
    assert calls == ["config.json", "model.safetensors.index.json"]
    assert "downloaded from the Hugging Face Hub" in note
    assert arch.params == 8_030_261_248 and arch.stored_weight_bytes == 16_060_522_496


def test_unknown_names_still_get_suggestions(registry):
    with pytest.raises(InputError, match="did you mean.*qwen2.5-7b"):
        resolve(registry, "qwen2.5-7")


# ---- hostile input through the CLI: exit 2, one line -------------------------------------------------------------

def _one_line_exit_2(argv):
    rc, out, err = run(argv)
    assert rc == 2 and err.startswith("error: --model") and err.count("\n") == 1, err
    return err


def test_dev_zero_is_refused():
    assert "not a regular file" in _one_line_exit_2(["estimate", "--model", "/dev/zero"])


def test_a_directory_named_like_a_file_is_refused(tmp_path):
    (tmp_path / "x.json").mkdir()
    assert "is a directory" in _one_line_exit_2(["estimate", "--model", str(tmp_path / "x.json")])


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_is_refused_without_blocking(tmp_path):
    os.mkfifo(tmp_path / "config.json")
    assert "not a regular file" in _one_line_exit_2(["estimate", "--model", str(tmp_path / "config.json")])


def test_oversized_config_and_safetensors_header_are_refused(tmp_path):
    big = tmp_path / "config.json"
    big.write_text(" " * (4 * 2**20 + 10))
    assert "larger than 4 MiB" in _one_line_exit_2(["estimate", "--model", str(big)])
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(TINY))
    (folder / "model.safetensors").write_bytes(struct.pack("<Q", 2**40) + b"{}")
    assert "over the 100 MB limit" in _one_line_exit_2(["estimate", "--model", str(folder)])
    (folder / "model.safetensors").write_bytes(struct.pack("<Q", 1000) + b"{}")
    assert "download is incomplete" in _one_line_exit_2(["estimate", "--model", str(folder)])


def test_missing_path_is_one_line(tmp_path):
    assert "no file or folder" in _one_line_exit_2(["estimate", "--model", str(tmp_path / "nope.gguf")])


def test_cli_notes_say_where_the_model_came_from(tmp_path):
    kv, tensors = tiny_gguf_model()
    p = tmp_path / "tiny.gguf"
    write_gguf(p, kv, tensors)
    rc, out, err = run(["estimate", "--model", str(p), "--json"])
    assert rc == 0, err
    a = json.loads(out)["assumptions"]
    assert a[0] == f"architecture from the GGUF header of {p}" and a[1].startswith("GGUF Q4_K_M")


def test_instruct_and_chat_releases_resolve_to_their_base_built_in(registry):
    """-Instruct / -it / -chat releases keep the base model's shapes; an unrelated id does not match."""
    for hub_id, built_in in [("Qwen/Qwen2.5-7B-Instruct", "qwen2.5-7b"), ("google/gemma-2-9b-it", "gemma-2-9b"),
                             ("meta-llama/Llama-2-7b-chat-hf", "llama-2-7b")]:
        arch, note = registry.resolve(hub_id)
        assert arch.name == built_in and "same architecture" in note
    from planner.sources import builtin_by_source
    assert builtin_by_source("mistralai/Mistral-7B-Instruct-v0.2", registry) is None   # v0.2 is not built in
