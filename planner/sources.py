"""Where a model comes from: turn what the user typed after --model into an Architecture plus facts about
the stored weights.

Accepted forms (tried in this order after the built-in names and size aliases):

* a Hugging Face id whose config a built-in model was taken from (`meta-llama/Llama-3.1-8B`);
* a path: a model folder (config.json + safetensors headers), a `.gguf` file (only its header is read, so a
  prefix of the file is enough), or a `config.json`;
* `ORG/NAME` in the local Hugging Face cache (no network), else fetched from the Hub when `huggingface_hub`
  is installed and `HF_HUB_OFFLINE` is not set (only config.json and model.safetensors.index.json).

Everything here is pure parsing with bounded reads: config.json <= 4 MiB, a safetensors JSON header
<= 100 MB, GGUF metadata <= 64 MiB with at most 100,000 tensors and key/value pairs. Non-regular files
(devices, FIFOs) and directories where a file is expected are refused with a one-line InputError.
"""
from __future__ import annotations

import json
import logging
import os
import re
import socket
import stat
import struct
from dataclasses import dataclass, field, replace
from math import prod
from pathlib import Path
from urllib.parse import urlsplit

from planner.architecture import MAX_DIM, MLLAMA_CROSS_ATTENTION_LAYERS, Architecture, from_config
from planner.errors import InputError, printable, shown
from planner.files import open_regular

MAX_CONFIG_BYTES = 4 * 2**20
MAX_SAFETENSORS_HEADER = 100_000_000
MAX_GGUF_METADATA = 64 * 2**20
MAX_GGUF_ITEMS = 100_000             # tensors, and key/value pairs
MAX_GGUF_STRING = 16 * 2**20
MAX_GGUF_ARRAY = 2**24
MAX_SHARDS = 10_000
HF_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*$")
FIX = "pass a built-in name (`plan models`), ORG/NAME, a model folder, a .gguf file or a config.json"


# ---------------------------------------------------------------------------------------------------
# Bounded file access

def _open_regular(path: Path, what: str = "--model"):
    return open_regular(path, what, FIX)


def _read_bounded(path: Path, limit: int, what: str = "--model") -> bytes:
    with _open_regular(path, what) as f:
        data = f.read(limit + 1)
    if len(data) > limit:
        raise InputError(f"{what}: {path} is larger than {limit / 2**20:g} MiB, more than a config.json "
                         f"holds; pass the right file")
    return data


def read_json(path: Path, what: str = "--model", limit: int = MAX_CONFIG_BYTES) -> dict:
    """A JSON object from a file of at most `limit` bytes, every failure a one-line InputError."""
    data = _read_bounded(path, limit, what)
    try:
        obj = json.loads(data)
    except UnicodeDecodeError:
        raise InputError(f"{what}: {path} is not valid JSON (not UTF-8 text)") from None
    except json.JSONDecodeError as e:
        raise InputError(f"{what}: {path} is not valid JSON (line {e.lineno}: {e.msg})") from None
    except ValueError:                    # an integer of more than 4,300 digits (Python's int/str limit)
        raise InputError(f"{what}: {path} holds a number too long to be a model size (damaged file?)") from None
    except RecursionError:
        raise InputError(f"{what}: {path} is not valid JSON (nested too deeply)") from None
    if not isinstance(obj, dict):
        raise InputError(f"{what}: {path} must hold a JSON object (a Hugging Face config.json)")
    return obj


# Bounds on one tensor's shape (the same as for GGUF tensor infos): no weight has more than 8 dimensions, a
# dimension over 2^40 or more than 2^50 elements. Without them a 9 MiB shape list multiplied into a
# million-digit integer (quadratic: 437 s measured)
MAX_TENSOR_DIMS = 8
MAX_TENSOR_DIM = 2**40
MAX_TENSOR_NUMEL = 2**50
MAX_STORED_BYTES = 2**50            # a safetensors index's total_size: 1 PiB, far above any checkpoint


def _numel(shape: list, what: str) -> int:
    """Elements of a tensor from its shape list, every dimension an integer within the bounds above."""
    if len(shape) > MAX_TENSOR_DIMS:
        raise InputError(f"{what} has {len(shape):,} dimensions; at most {MAX_TENSOR_DIMS} (damaged file?)")
    n = 1
    for d in shape:
        if isinstance(d, bool) or not isinstance(d, int) or not 0 <= d <= MAX_TENSOR_DIM:
            raise InputError(f"{what}: shape dimension {shown(d)} is not an integer between 0 and 2^40")
        n *= d
        if n > MAX_TENSOR_NUMEL:
            raise InputError(f"{what} has more than 2^50 elements (damaged file?)")
    return n


def _int(value, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InputError(f"{what}: expected a non-negative integer, got {shown(value)}")
    return value


# ---------------------------------------------------------------------------------------------------
# safetensors headers: 8-byte little-endian length, then a JSON object {name: {dtype, shape, data_offsets}}

VISION_PREFIXES = ("vision_tower", "vision_model", "visual", "multi_modal_projector", "mm_projector")
FLOAT_DTYPES = {"F64", "F32", "F16", "BF16", "F8_E4M3", "F8_E5M2"}
DTYPE_HINT = {"F32": "fp32", "F16": "fp16", "BF16": "bf16", "F8_E4M3": "fp8", "F8_E5M2": "fp8", "F64": "fp64"}


@dataclass
class WeightFacts:
    """What the safetensors headers (or the shard index) say about the stored weights."""
    files: int = 0
    stored_bytes: int = 0
    numel: int = 0                   # elements of every tensor (packed quantised tensors: not parameters)
    vision_numel: int = 0
    vision_float: bool = True        # every vision tensor is a float type (so its elements are parameters)
    bytes_by_dtype: dict[str, int] = field(default_factory=dict)
    missing_shards: int = 0
    from_index_only: bool = False    # bytes from model.safetensors.index.json's total_size, no headers

    @property
    def main_dtype(self) -> str:
        return max(self.bytes_by_dtype, key=self.bytes_by_dtype.get) if self.bytes_by_dtype else ""


def _is_vision(name: str) -> bool:
    parts = name.split(".")
    return parts[0] in VISION_PREFIXES or (parts[0] == "model" and len(parts) > 1 and parts[1] in VISION_PREFIXES)


def read_safetensors_header(path: Path, facts: WeightFacts) -> None:
    """Add one file's tensors to `facts`, reading only its 8-byte length and JSON header."""
    with _open_regular(path) as f:
        size = os.fstat(f.fileno()).st_size
        head = f.read(8)
        if len(head) < 8:
            raise InputError(f"--model: {path} is not a safetensors file (shorter than 8 bytes)")
        n = struct.unpack("<Q", head)[0]
        if n > MAX_SAFETENSORS_HEADER:
            raise InputError(f"--model: {path}: safetensors header of {n:,} bytes is over the 100 MB limit "
                             f"(not a safetensors file?)")
        if n > size - 8:
            raise InputError(f"--model: {path}: safetensors header of {n:,} bytes runs past the end of the file "
                             f"({size:,} bytes); the download is incomplete")
        raw = f.read(n)
    try:
        header = json.loads(raw)
    except (ValueError, RecursionError):  # UnicodeDecodeError and JSONDecodeError are ValueErrors, as is an
        # integer of more than 4,300 digits
        raise InputError(f"--model: {path}: the safetensors header is not valid JSON (a damaged file?)") from None
    if not isinstance(header, dict):
        raise InputError(f"--model: {path}: the safetensors header is not a JSON object")
    what = f"--model: {path}"
    for name, t in header.items():
        if name == "__metadata__":
            continue
        if not isinstance(t, dict) or not isinstance(t.get("shape"), list) or not isinstance(t.get("dtype"), str):
            raise InputError(f"{what}: tensor {shown(name)} has no dtype/shape in the safetensors header")
        off = t.get("data_offsets")
        if not (isinstance(off, list) and len(off) == 2):
            raise InputError(f"{what}: tensor {shown(name)} has no data_offsets in the safetensors header")
        begin, end = _int(off[0], f"{what}: {name} data_offsets"), _int(off[1], f"{what}: {name} data_offsets")
        if end < begin:
            raise InputError(f"{what}: tensor {shown(name)} ends before it begins (data_offsets {off})")
        numel = _numel(t["shape"], f"{what}: tensor {shown(name)}")
        nbytes = end - begin
        facts.stored_bytes += nbytes
        facts.numel += numel
        facts.bytes_by_dtype[t["dtype"]] = facts.bytes_by_dtype.get(t["dtype"], 0) + nbytes
        if _is_vision(name):
            facts.vision_numel += numel
            facts.vision_float &= t["dtype"] in FLOAT_DTYPES
    facts.files += 1


def _shard_name_ok(name) -> bool:
    return isinstance(name, str) and name.endswith(".safetensors") and "/" not in name and "\\" not in name \
        and name not in (".", "..")


def read_weight_facts(folder: Path) -> WeightFacts | None:
    """Safetensors facts for a model folder: the index's shards, else model.safetensors; None if neither."""
    index = folder / "model.safetensors.index.json"
    if index.exists():
        idx = read_json(index, limit=64 * 2**20)
        wm = idx.get("weight_map")
        if not isinstance(wm, dict):
            raise InputError(f"--model: {index} has no weight_map")
        shards = sorted(set(wm.values()))
        if len(shards) > MAX_SHARDS or not all(_shard_name_ok(s) for s in shards):
            raise InputError(f"--model: {index}: weight_map must name at most {MAX_SHARDS} .safetensors files "
                             f"inside the folder")
        facts = WeightFacts()
        for s in shards:
            if (folder / s).exists():
                read_safetensors_header(folder / s, facts)
            else:
                facts.missing_shards += 1
        if facts.files == 0:            # a cache or folder with only the index: its total_size is exact bytes
            meta = idx.get("metadata")
            total = meta.get("total_size") if isinstance(meta, dict) else None
            if isinstance(total, float) and total.is_integer():       # 1.6e10 as some writers put it
                total = int(total)
            if isinstance(total, int) and not isinstance(total, bool) and 0 < total <= MAX_STORED_BYTES:
                return WeightFacts(stored_bytes=total, from_index_only=True, missing_shards=len(shards))
            if total is not None:
                raise InputError(f"--model: {index}: metadata.total_size must be a byte count between 1 and "
                                 f"2^50, got {shown(total)}")
            return None
        return facts
    single = folder / "model.safetensors"
    if single.exists():
        facts = WeightFacts()
        read_safetensors_header(single, facts)
        return facts
    return None


# ---------------------------------------------------------------------------------------------------
# quantization_config -> precision hint

def quantization_hint(q) -> str:
    """bitsandbytes nf4/fp4/int8, awq, gptq, fp8 (quant_method fp8 or compressed-tensors float 8-bit), ..."""
    if not isinstance(q, dict):
        return ""
    method = str(q.get("quant_method", "")).lower()
    if method == "bitsandbytes" or "load_in_4bit" in q or "load_in_8bit" in q:
        if q.get("load_in_4bit"):
            return str(q.get("bnb_4bit_quant_type") or "fp4").lower()
        return "int8" if q.get("load_in_8bit") else "bitsandbytes"
    if method in ("awq", "gptq", "fp8", "mxfp4", "hqq", "eetq", "aqlm", "bitnet"):
        return method
    if method == "modelopt":                     # NVIDIA ModelOpt checkpoints: quant_algo NVFP4 or FP8
        algo = str(q.get("quant_algo") or (q.get("quantization") or {}).get("quant_algo") or "").lower()
        return {"nvfp4": "nvfp4", "fp8": "fp8"}.get(algo, "modelopt")
    if method == "compressed-tensors":
        for group in (q.get("config_groups") or {}).values():
            w = (group or {}).get("weights") or {}
            bits, kind = w.get("num_bits"), str(w.get("type", "")).lower()
            if bits == 8 and kind == "float":
                return "fp8"
            if bits in (4, 8) and kind == "int":
                return f"int{bits}"
            if bits == 4 and kind == "float":
                # compressed-tensors' NVFP4 preset: 4-bit float, tensor_group strategy, group_size 16
                return "nvfp4" if w.get("group_size") == 16 else "fp4"
        return "compressed-tensors"
    return method


# ---------------------------------------------------------------------------------------------------
# Hugging Face config.json: multimodal wrappers and the defaults real configs leave out

# transformers/models/gemma3/configuration_gemma3.py, Gemma3TextConfig.__init__ defaults (the 4B-it and 27B-it
# config.json files omit some of them); layer_types defaults to 5 sliding : 1 full (sliding_window_pattern 6).
GEMMA3_TEXT_DEFAULTS = {"vocab_size": 262_208, "hidden_size": 2304, "intermediate_size": 9216,
                        "num_hidden_layers": 26, "num_attention_heads": 8, "num_key_value_heads": 4, "head_dim": 256,
                        "max_position_embeddings": 131_072, "tie_word_embeddings": True, "sliding_window": 4096,
                        "sliding_window_pattern": 6}
# transformers/models/llama/configuration_llama.py, LlamaConfig.__init__ defaults (llava-hf text_config omits them)
LLAMA_DEFAULTS = {"vocab_size": 32000, "hidden_size": 4096, "intermediate_size": 11008, "num_hidden_layers": 32,
                  "num_attention_heads": 32, "max_position_embeddings": 2048, "tie_word_embeddings": False}
QWEN_VL = ("qwen2_vl", "qwen2_5_vl", "qwen2_vl_text", "qwen2_5_vl_text")
# transformers/models/mllama/configuration_mllama.py, MllamaTextConfig.__init__ defaults (a config.json saved by
# transformers >= 4.47 omits them: the 90B-Vision's text_config lists only cross_attention_layers, hidden_size,
# intermediate_size, num_attention_heads, num_hidden_layers and rope_scaling)
MLLAMA_TEXT_DEFAULTS = {"vocab_size": 128256, "hidden_size": 4096, "intermediate_size": 14336, "num_hidden_layers": 40,
                        "num_attention_heads": 32, "num_key_value_heads": 8, "max_position_embeddings": 131072,
                        "tie_word_embeddings": False,
                        "cross_attention_layers": list(MLLAMA_CROSS_ATTENTION_LAYERS)}


def text_config(cfg: dict) -> dict:
    """The language model's config, flattened out of a multimodal wrapper, with documented defaults filled."""
    top = cfg.get("model_type")
    if top in ("llama4", "llama4_text") or (cfg.get("text_config") or {}).get("model_type") == "llama4_text":
        raise InputError("config.json: model_type 'llama4' (Llama 4: MoE layers interleaved with dense ones "
                         "by interleave_moe_layer_step, a shared expert, chunked attention) is not supported yet")
    tc = cfg.get("text_config")
    if isinstance(tc, dict) and "hidden_size" not in cfg or isinstance(tc, dict) and top in ("gemma3", *QWEN_VL):
        text = dict(tc)
        if "tie_word_embeddings" not in text and "tie_word_embeddings" in cfg:
            text["tie_word_embeddings"] = cfg["tie_word_embeddings"]
        if top == "gemma3" and not text.get("model_type"):
            text["model_type"] = "gemma3_text"
        if top in QWEN_VL and not text.get("model_type"):
            text["model_type"] = top
        if top == "mllama" and not text.get("model_type"):
            text["model_type"] = "mllama_text_model"
    elif top in QWEN_VL:                        # Qwen2-VL / Qwen2.5-VL keep the text sizes at the top level
        text = {k: v for k, v in cfg.items() if k != "vision_config"}
    elif top == "gemma3_text":                  # a text-only Gemma 3 config may omit the same defaults
        text = dict(cfg)
    else:
        return cfg
    mt = text.get("model_type")
    if mt in ("gemma3_text", "gemma3"):
        text = {**GEMMA3_TEXT_DEFAULTS, **{k: v for k, v in text.items() if v is not None}}
        text["model_type"] = "gemma3_text"
    elif mt == "llama":
        text = {**LLAMA_DEFAULTS, **{k: v for k, v in text.items() if v is not None}}
    elif mt in QWEN_VL:                         # the text model is Qwen2's (q/k/v biases): modeling_qwen2_vl.py
        text["model_type"] = "qwen2"
    elif mt == "mllama_text_model":
        text = {**MLLAMA_TEXT_DEFAULTS, **{k: v for k, v in text.items() if v is not None}}
    return text


def _vision_sizes(vc: dict, defaults: dict, need: tuple[str, ...], kind: str) -> dict:
    v = {**defaults, **{k: val for k, val in vc.items() if val is not None}}
    for k in need:
        if not isinstance(v.get(k), int) or isinstance(v.get(k), bool) or not 0 < v[k] <= MAX_DIM:
            raise InputError(f"config.json: vision_config.{k} is missing or not a positive integer up to "
                             f"{MAX_DIM:,} ({kind})")
    for k, d in defaults.items():             # the optional sizes (patch_size, mlp_ratio, ...) in range too
        x = v[k]
        if isinstance(d, (int, float)) and not isinstance(d, bool) and (
                not isinstance(x, (int, float)) or isinstance(x, bool) or not 0 < x <= MAX_DIM):
            raise InputError(f"config.json: vision_config.{k} must be a positive number up to {MAX_DIM:,} ({kind})")
    return v


# Defaults: transformers siglip/configuration_siglip.py SiglipVisionConfig, clip/configuration_clip.py CLIPVisionConfig
SIGLIP_DEFAULTS = {"hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12, "num_channels": 3,
                   "image_size": 224, "patch_size": 16, "vision_use_head": True}
CLIP_DEFAULTS = {"hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12, "num_channels": 3,
                 "image_size": 224, "patch_size": 32}
VIT_NEED = ("hidden_size", "intermediate_size", "num_hidden_layers", "num_channels", "image_size", "patch_size")


def _vit_layers(h: int, i: int, n: int) -> int:
    """n encoder layers of modeling_siglip.py / modeling_clip.py: 2 LayerNorms, q/k/v/out and fc1/fc2 with biases."""
    return n * (2 * 2 * h + 4 * (h * h + h) + 2 * h * i + i + h)


# transformers mllama/configuration_mllama.py MllamaVisionConfig.__init__ defaults (supported_aspect_ratios: the 8
# layouts of up to max_num_tiles = 4 tiles)
MLLAMA_VISION_DEFAULTS = {"hidden_size": 1280, "intermediate_size": 5120, "num_hidden_layers": 32,
                          "num_global_layers": 8, "num_channels": 3, "image_size": 448, "patch_size": 14,
                          "max_num_tiles": 4, "vision_output_dim": 7680}
MLLAMA_ASPECT_RATIOS = 8
# transformers qwen3_5/modular_qwen3_5.py Qwen3_5VisionConfig.__init__ defaults (Qwen3.5 MoE: the same class)
QWEN3_5_VISION_DEFAULTS = {"in_channels": 3, "patch_size": 16, "temporal_patch_size": 2, "spatial_merge_size": 2,
                           "num_position_embeddings": 2304}


def _mllama_vision(vc: dict, text_hidden: int) -> int:
    """modeling_mllama.py MllamaVisionModel + MllamaForConditionalGeneration.multi_modal_projector, tensor by tensor."""
    v = _vision_sizes(vc, MLLAMA_VISION_DEFAULTS, tuple(MLLAMA_VISION_DEFAULTS), "Mllama")
    ratios = vc.get("supported_aspect_ratios")
    if ratios is not None and not (isinstance(ratios, list) and 0 < len(ratios) <= MAX_DIM):
        raise InputError(f"config.json: vision_config.supported_aspect_ratios must be a list of tile layouts, got "
                         f"{shown(ratios)}")
    ids = (len(ratios) if ratios else MLLAMA_ASPECT_RATIOS) + 1    # max_aspect_ratio_id + 1 embedding rows
    h, i, tiles = v["hidden_size"], v["intermediate_size"], v["max_num_tiles"]
    patches = (v["image_size"] // v["patch_size"]) ** 2 + 1        # + the class token
    p = v["num_channels"] * v["patch_size"] ** 2 * h               # patch_embedding: Conv2d, bias=False
    p += h                                                         # class_embedding
    p += 1 + patches * h + ids * tiles * patches * h               # gated_positional_embedding: gate, embedding,
                                                                   # tile_embedding
    p += 2 * (ids * tiles * h + 1)                                 # pre/post_tile_positional_embedding + gates
    p += 2 * 2 * h                                                 # layernorm_pre, layernorm_post (LayerNorm)
    layer = 4 * h * h + (h * i + i) + (i * h + h) + 2 * 2 * h      # q/k/v/o (no bias), fc1/fc2 (bias), 2 LayerNorms
    p += (v["num_hidden_layers"] + v["num_global_layers"]) * layer + 2 * v["num_global_layers"]  # global: gate_attn/ffn
    return p + v["vision_output_dim"] * text_hidden + text_hidden  # multi_modal_projector: Linear(bias=True)


def _qwen3_5_vision(vc: dict) -> int:
    """qwen3_5/modular_qwen3_5.py Qwen3_5VisionModel: Qwen3-VL's vision transformer (qwen3_vl/modeling_qwen3_vl.py)
    without its deepstack mergers."""
    v = _vision_sizes(vc, QWEN3_5_VISION_DEFAULTS, ("depth", "hidden_size", "intermediate_size", "out_hidden_size"),
                      "Qwen3.5")
    h, i, m, out = v["hidden_size"], v["intermediate_size"], v["spatial_merge_size"] ** 2, v["out_hidden_size"]
    patch = v["in_channels"] * v["temporal_patch_size"] * v["patch_size"] ** 2 * h + h   # Conv3d, bias=True
    pos = v["num_position_embeddings"] * h                                                # pos_embed: nn.Embedding
    block = 2 * 2 * h + (3 * h * h + 3 * h) + (h * h + h) + (h * i + i) + (i * h + h)     # LayerNorms, qkv, proj, MLP
    merger = 2 * h + (m * h) ** 2 + m * h + m * h * out + out      # LayerNorm(h), linear_fc1 (mh -> mh), linear_fc2
    return patch + pos + v["depth"] * block + merger


def vision_params(cfg: dict, text_hidden: int) -> tuple[int, str]:
    """(parameters of the vision tower + projector from vision_config, how they were counted); (0, why) if unknown."""
    vc = cfg.get("vision_config")
    if not isinstance(vc, dict):
        return 0, ""
    top, vmt = cfg.get("model_type"), vc.get("model_type")
    if top == "mllama":
        return _mllama_vision(vc, text_hidden), "Mllama vision encoder (local + gated global layers) and projector"
    if top in ("qwen3_5", "qwen3_5_moe"):
        if vc.get("deepstack_visual_indexes"):
            return 0, "vision tower not counted: a Qwen3.5 vision_config with deepstack layers is not modelled"
        return _qwen3_5_vision(vc), "Qwen3.5 vision transformer and merger"
    if top == "qwen2_5_vl":                     # modeling_qwen2_5_vl.py: Qwen2_5_VisionTransformerPretrainedModel
        v = _vision_sizes(vc, {"in_channels": 3, "patch_size": 14, "temporal_patch_size": 2, "spatial_merge_size": 2},
                          ("depth", "hidden_size", "intermediate_size", "out_hidden_size"), "Qwen2.5-VL")
        h, i, m = v["hidden_size"], v["intermediate_size"], v["spatial_merge_size"] ** 2
        patch = v["in_channels"] * v["temporal_patch_size"] * v["patch_size"] ** 2 * h
        block = 2 * h + (3 * h * h + 3 * h) + (h * h + h) + 3 * h * i + 2 * i + h   # RMSNorms, qkv, proj, gated MLP
        merger = h + (m * h) ** 2 + m * h + m * h * v["out_hidden_size"] + v["out_hidden_size"]
        return patch + v["depth"] * block + merger, "Qwen2.5-VL vision transformer and merger"
    if top == "qwen2_vl":                       # modeling_qwen2_vl.py: Qwen2VisionTransformerPretrainedModel
        v = _vision_sizes(vc, {"in_channels": 3, "patch_size": 14, "temporal_patch_size": 2, "spatial_merge_size": 2,
                               "mlp_ratio": 4}, ("depth", "embed_dim", "hidden_size"), "Qwen2-VL")
        e, m, out = v["embed_dim"], v["spatial_merge_size"] ** 2, v["hidden_size"]
        f = int(e * v["mlp_ratio"])
        patch = v["in_channels"] * v["temporal_patch_size"] * v["patch_size"] ** 2 * e
        block = 4 * e + (3 * e * e + 3 * e) + (e * e + e) + (e * f + f) + (f * e + e)  # LayerNorms, qkv, proj, MLP
        merger = 2 * e + (m * e) ** 2 + m * e + m * e * out + out
        return patch + v["depth"] * block + merger, "Qwen2-VL vision transformer and merger"
    if vmt == "siglip_vision_model" or (vmt is None and top == "gemma3"):
        v = _vision_sizes(vc, SIGLIP_DEFAULTS, VIT_NEED, "SigLIP")
        h, i = v["hidden_size"], v["intermediate_size"]
        n_pos = (v["image_size"] // v["patch_size"]) ** 2
        p = v["num_channels"] * v["patch_size"] ** 2 * h + h + n_pos * h      # patch conv (bias) + positions
        p += _vit_layers(h, i, v["num_hidden_layers"]) + 2 * h                  # + post_layernorm
        if v.get("vision_use_head"):                                            # attention-pooling head
            p += h + (3 * h * h + 3 * h) + (h * h + h) + 2 * h + 2 * h * i + i + h
        kind = "SigLIP vision tower"
    elif vmt == "clip_vision_model":
        v = _vision_sizes(vc, CLIP_DEFAULTS, VIT_NEED, "CLIP")
        h, i = v["hidden_size"], v["intermediate_size"]
        n_pos = (v["image_size"] // v["patch_size"]) ** 2 + 1
        p = h + v["num_channels"] * v["patch_size"] ** 2 * h + n_pos * h      # class token, patch conv, positions
        p += 2 * h + _vit_layers(h, i, v["num_hidden_layers"]) + 2 * h         # pre- and post-LayerNorm
        kind = "CLIP vision tower"
    else:
        return 0, f"vision tower not counted: vision_config model_type {vmt!r} is not one of siglip, clip, " \
                  f"qwen2_vl, qwen2_5_vl, mllama, qwen3_5"
    if top == "gemma3":                         # Gemma3MultiModalProjector: projection matrix + RMSNorm
        return p + h * text_hidden + h, kind + " and Gemma 3 projector"
    if top == "llava":                          # LlavaMultiModalProjector: linear_1, GELU, linear_2 (biases)
        bias = bool(cfg.get("multimodal_projector_bias", True))
        return p + h * text_hidden + text_hidden ** 2 + (2 * text_hidden if bias else 0), kind + " and LLaVA projector"
    return p, kind + " (its projector is not counted)"


# ---------------------------------------------------------------------------------------------------
# Building the Architecture from a config (+ weights facts)

def _gb(n: int) -> str:
    return f"{n / 1e9:.2f} GB"


def from_hf(cfg: dict, name: str, source: str, weights: WeightFacts | None = None) -> Architecture:
    """An Architecture (language model) with the stored-weights facts and the vision tower's parameters.

    A hostile or damaged config (a dict where a number belongs, a missing family field) is one InputError."""
    try:
        return _from_hf(cfg, name, source, weights)
    except InputError:
        raise
    except KeyError as e:
        raise InputError(f"config.json: missing field {e.args[0]!r} (needed for model_type "
                         f"{cfg.get('model_type')!r})") from None
    except (TypeError, ValueError, AttributeError, ZeroDivisionError, OverflowError) as e:
        raise InputError(f"config.json: a field holds an unusable value ({e})") from None


def _from_hf(cfg: dict, name: str, source: str, weights: WeightFacts | None) -> Architecture:
    text = text_config(cfg)
    arch = from_config(text, name=name, source=source)
    notes: list[str] = []
    qcfg = cfg.get("quantization_config") or text.get("quantization_config")
    hint = quantization_hint(qcfg)
    extra, how = vision_params(cfg, arch.hidden_size) if "vision_config" in cfg else (0, "")
    if weights and weights.vision_numel and weights.vision_float:
        extra, how = weights.vision_numel, "exact, from the safetensors headers"
    if extra:
        notes.append(f"vision tower and projector: {extra:,} parameters besides the language model's ({how}); "
                     f"they load on the GPU too")
    elif how:
        notes.append(how)
    stored = 0
    if weights:
        stored = weights.stored_bytes
        hint = hint or DTYPE_HINT.get(weights.main_dtype, weights.main_dtype.lower())
        if weights.from_index_only:
            notes.append(f"{_gb(stored)} of weights (total_size of model.safetensors.index.json; shards not read)")
        else:
            dtypes = ", ".join(sorted(weights.bytes_by_dtype, key=weights.bytes_by_dtype.get, reverse=True))
            text_numel = weights.numel - weights.vision_numel
            what = f"safetensors: {_gb(stored)} of weights ({dtypes}) in {weights.files} file(s)"
            if weights.missing_shards:
                what += f"; {weights.missing_shards} shard(s) listed in the index are missing, not counted"
            if hint in ("", "bf16", "fp16", "fp32", "fp64") and not weights.missing_shards:
                what += f", {weights.numel:,} parameters (exact, from the headers)"
                if abs(text_numel - arch.params) > 0.001 * arch.params:
                    what += f"; the config computes {arch.params:,} for the language model"
            notes.append(what)
    if not hint:
        dt = str(text.get("torch_dtype") or text.get("dtype") or cfg.get("torch_dtype") or cfg.get("dtype") or "")
        hint = {"bfloat16": "bf16", "float16": "fp16", "float32": "fp32"}.get(dt, "")
    elif qcfg:
        notes.append(f"stored quantised: {hint} (quantization_config)")
    return replace(arch, stored_weight_bytes=stored, stored_format=hint, extra_params=extra, notes=tuple(notes))


def load_json_file(path: Path) -> Architecture:
    cfg = read_json(path)
    given = cfg.get("_name_or_path")
    given = printable(given, 120) if isinstance(given, str) else ""      # the file's text: no terminal escapes
    name = (given or path.parent.name) if path.name == "config.json" else path.stem
    return from_hf(cfg, name=printable(name or path.stem, 120) or "model", source=str(path))


def load_folder(folder: Path, name: str | None = None, source: str | None = None) -> Architecture:
    cfg_path = folder / "config.json"
    if not cfg_path.exists():
        ggufs = sorted(p.name for p in folder.glob("*.gguf"))[:3]
        hint = f"; for a GGUF pass the file, e.g. {folder / ggufs[0]}" if ggufs else ""
        raise InputError(f"--model: {cfg_path} not found (a model folder needs its config.json){hint}")
    cfg = read_json(cfg_path)
    weights = read_weight_facts(folder)
    return from_hf(cfg, name=name or printable(folder.resolve().name, 120) or "model", source=source or str(cfg_path),
                   weights=weights)


# ---------------------------------------------------------------------------------------------------
# GGUF: header, metadata key/values and tensor infos (https://github.com/ggml-org/ggml/blob/master/docs/gguf.md)

# ggml type -> (block size in elements, bytes per block): ggml/src/ggml.c type_traits, as gguf-py 0.19.0's
# GGML_QUANT_SIZES lists them. Hand-written rather than depending on the `gguf` package (which pulls in
# requests and tqdm) for a table fixed by the file format.
QK_K = 256
GGML_TYPES: dict[int, tuple[str, int, int]] = {
    0: ("F32", 1, 4), 1: ("F16", 1, 2), 2: ("Q4_0", 32, 18), 3: ("Q4_1", 32, 20), 6: ("Q5_0", 32, 22),
    7: ("Q5_1", 32, 24), 8: ("Q8_0", 32, 34), 9: ("Q8_1", 32, 40),
    10: ("Q2_K", QK_K, 2 + 2 + QK_K // 16 + QK_K // 4), 11: ("Q3_K", QK_K, 2 + QK_K // 4 + QK_K // 8 + 12),
    12: ("Q4_K", QK_K, 2 + 2 + QK_K // 2 + 12), 13: ("Q5_K", QK_K, 2 + 2 + QK_K // 2 + QK_K // 8 + 12),
    14: ("Q6_K", QK_K, 2 + QK_K // 2 + QK_K // 4 + QK_K // 16), 15: ("Q8_K", QK_K, 4 + QK_K + QK_K // 8),
    16: ("IQ2_XXS", QK_K, 2 + QK_K // 4), 17: ("IQ2_XS", QK_K, 2 + QK_K // 4 + QK_K // 32),
    18: ("IQ3_XXS", QK_K, 2 + QK_K // 4 + QK_K // 8), 19: ("IQ1_S", QK_K, 2 + QK_K // 8 + QK_K // 16),
    20: ("IQ4_NL", 32, 18), 21: ("IQ3_S", QK_K, 2 + QK_K // 4 + QK_K // 8 + QK_K // 32 + 4),
    22: ("IQ2_S", QK_K, 2 + QK_K // 4 + QK_K // 16), 23: ("IQ4_XS", QK_K, 2 + 2 + QK_K // 2 + QK_K // 64),
    24: ("I8", 1, 1), 25: ("I16", 1, 2), 26: ("I32", 1, 4), 27: ("I64", 1, 8), 28: ("F64", 1, 8),
    29: ("IQ1_M", QK_K, QK_K // 8 + QK_K // 16 + QK_K // 32), 30: ("BF16", 1, 2),
    34: ("TQ1_0", QK_K, 2 + 4 * 13), 35: ("TQ2_0", QK_K, 2 + 64), 39: ("MXFP4", 32, 17), 40: ("NVFP4", 64, 36),
    41: ("Q1_0", 128, 18),
}
# general.file_type: llama_ftype in llama.h (gguf-py LlamaFileType), MOSTLY_ dropped and lower-cased
FILE_TYPES = {0: "f32", 1: "f16", 2: "q4_0", 3: "q4_1", 7: "q8_0", 8: "q5_0", 9: "q5_1", 10: "q2_k", 11: "q3_k_s",
              12: "q3_k_m", 13: "q3_k_l", 14: "q4_k_s", 15: "q4_k_m", 16: "q5_k_s", 17: "q5_k_m", 18: "q6_k",
              19: "iq2_xxs", 20: "iq2_xs", 21: "q2_k_s", 22: "iq3_xs", 23: "iq3_xxs", 24: "iq1_s", 25: "iq4_nl",
              26: "iq3_s", 27: "iq3_m", 28: "iq2_s", 29: "iq2_m", 30: "iq4_xs", 31: "iq1_m", 32: "bf16",
              36: "tq1_0", 37: "tq2_0", 38: "mxfp4_moe", 39: "nvfp4", 40: "q1_0"}
# GGUF value types: (struct format, size) for the fixed-size ones; 8 = string, 9 = array
GGUF_SCALARS = {0: ("<B", 1), 1: ("<b", 1), 2: ("<H", 2), 3: ("<h", 2), 4: ("<I", 4), 5: ("<i", 4), 6: ("<f", 4),
                7: ("<?", 1), 10: ("<Q", 8), 11: ("<q", 8), 12: ("<d", 8)}
KEEP_ARRAY = 4096                    # arrays longer than this keep only their length (tokens, merges, scores)


class _Truncated(Exception):
    pass


class _Reader:
    """Sequential reads from a file prefix, growing the buffer on demand up to MAX_GGUF_METADATA bytes."""

    def __init__(self, f, path: Path):
        self.f, self.path, self.buf, self.pos, self.eof = f, path, b"", 0, False

    def need(self, n: int) -> None:
        end = self.pos + n
        if end <= len(self.buf):
            return
        if end > MAX_GGUF_METADATA:
            raise InputError(f"--model: {self.path}: GGUF metadata larger than {MAX_GGUF_METADATA // 2**20} MiB "
                             f"(refused; not a model file?)")
        if not self.eof:
            want = min(max(end, 2 * len(self.buf), 2**20), MAX_GGUF_METADATA) - len(self.buf)
            chunk = self.f.read(want)
            self.eof = len(chunk) < want
            self.buf += chunk
        if end > len(self.buf):
            raise _Truncated()

    def take(self, n: int) -> bytes:
        self.need(n)
        out = self.buf[self.pos:self.pos + n]
        self.pos += n
        return out

    def unpack(self, fmt: str, size: int):
        self.need(size)
        v = struct.unpack_from(fmt, self.buf, self.pos)[0]
        self.pos += size
        return v

    def string(self, limit: int = MAX_GGUF_STRING, decode: bool = True):
        n = self.unpack("<Q", 8)
        if n > limit:
            raise InputError(f"--model: {self.path}: a GGUF string of {n:,} bytes is over the limit (damaged file?)")
        raw = self.take(n)
        return raw.decode("utf-8", "replace") if decode else None

    def value(self, vtype: int, depth: int = 0):
        if vtype in GGUF_SCALARS:
            return self.unpack(*GGUF_SCALARS[vtype])
        if vtype == 8:
            return self.string()
        if vtype == 9 and depth < 3:
            etype, count = self.unpack("<I", 4), self.unpack("<Q", 8)
            if count > MAX_GGUF_ARRAY:
                raise InputError(f"--model: {self.path}: a GGUF array of {count:,} items is over the limit")
            if count > KEEP_ARRAY:              # keep the length only; skip the items without decoding
                if etype in GGUF_SCALARS:
                    self.need(count * GGUF_SCALARS[etype][1])
                    self.pos += count * GGUF_SCALARS[etype][1]
                elif etype == 8:
                    for _ in range(count):
                        self.string(decode=False)
                else:
                    raise InputError(f"--model: {self.path}: unsupported GGUF array of type {etype}")
                return _Length(count)
            return [self.value(etype, depth + 1) for _ in range(count)]
        raise InputError(f"--model: {self.path}: unknown GGUF value type {vtype} (damaged file?)")


@dataclass(frozen=True)
class _Length:
    """A long GGUF array of which only the length was kept."""
    n: int

    def __len__(self):
        return self.n


@dataclass
class GGUFHeader:
    version: int
    metadata: dict
    tensors: list[tuple[str, tuple[int, ...], int]]     # (name, dims ne0..ne(n-1), ggml type)
    header_bytes: int

    def tensor_bytes(self, dims: tuple[int, ...], gtype: int, name: str = "") -> int:
        if gtype not in GGML_TYPES:
            raise InputError(f"--model: GGUF tensor {shown(name)} has unknown ggml type {gtype}")
        _, block, size = GGML_TYPES[gtype]
        n = prod(dims)
        if dims and dims[0] % block:
            raise InputError(f"--model: GGUF tensor {shown(name)}: row of {dims[0]} elements is not a multiple of "
                             f"the {GGML_TYPES[gtype][0]} block ({block})")
        return n // block * size

    @property
    def weight_bytes(self) -> int:
        return sum(self.tensor_bytes(d, t, n) for n, d, t in self.tensors)

    @property
    def numel(self) -> int:
        return sum(prod(d) for _, d, _ in self.tensors)


def read_gguf_header(path: Path) -> GGUFHeader:
    """Parse a GGUF header (v2/v3): key/values and tensor infos; the tensor data need not be present."""
    with _open_regular(path) as f:
        r = _Reader(f, path)
        try:
            magic = r.take(4)
            if magic != b"GGUF":
                raise InputError(f"--model: {path} is not a GGUF file (it starts with {magic!r}, not b'GGUF')")
            version = r.unpack("<I", 4)
            if version not in (2, 3):
                big = struct.unpack(">I", struct.pack("<I", version))[0]
                extra = " (a big-endian file?)" if big in (2, 3) else ""
                raise InputError(f"--model: {path}: GGUF version {version} is not supported{extra}; "
                                 f"versions 2 and 3 are (convert it with a current llama.cpp)")
            n_tensors, n_kv = r.unpack("<Q", 8), r.unpack("<Q", 8)
            if n_tensors > MAX_GGUF_ITEMS or n_kv > MAX_GGUF_ITEMS:
                raise InputError(f"--model: {path}: {n_tensors:,} tensors and {n_kv:,} key/value pairs; "
                                 f"more than {MAX_GGUF_ITEMS:,} is refused (damaged file?)")
            meta: dict = {}
            for _ in range(n_kv):
                key = r.string(limit=65535)
                meta[key] = r.value(r.unpack("<I", 4))
            tensors = []
            for _ in range(n_tensors):
                name = r.string(limit=65535)
                n_dims = r.unpack("<I", 4)
                if not 1 <= n_dims <= 8:
                    raise InputError(f"--model: {path}: GGUF tensor {shown(name)} has {n_dims} dimensions (damaged file?)")
                dims = tuple(r.unpack("<Q", 8) for _ in range(n_dims))
                if any(d > 2**40 for d in dims) or prod(dims) > 2**50:
                    raise InputError(f"--model: {path}: GGUF tensor {shown(name)} has an impossible shape {dims}")
                gtype = r.unpack("<I", 4)
                r.unpack("<Q", 8)                                   # offset into the data section: not needed
                tensors.append((name, dims, gtype))
        except _Truncated:
            raise InputError(f"--model: {path}: the GGUF header is cut off after {len(r.buf):,} bytes; pass the "
                             f"whole file or a prefix that holds all its metadata and tensor infos") from None
    return GGUFHeader(version=version, metadata=meta, tensors=tensors, header_bytes=r.pos)


GGUF_ARCH = {"llama": "llama", "mistral": "mistral", "qwen2": "qwen2", "qwen2moe": "qwen2_moe", "qwen3": "qwen3",
             "qwen3moe": "qwen3_moe", "gemma": "gemma", "gemma2": "gemma2", "gemma3": "gemma3_text", "phi3": "phi3",
             "olmoe": "olmoe", "deepseek2": "deepseek_v3"}


def _uniform(meta: dict, key: str, default=None):
    """A per-model number that some GGUFs store per layer (an array): accept it when every layer agrees."""
    v = meta.get(key, default)
    if isinstance(v, list):
        if v and all(x == v[0] for x in v):
            return v[0]
        raise InputError(f"--model: GGUF {key} differs between layers ({shown(v[:4])}...); per-layer shapes are not "
                         f"supported")
    return v


def gguf_config(h: GGUFHeader, path: Path) -> dict:
    """A Hugging Face-style config dict from the GGUF metadata, for `from_config`."""
    m = h.metadata
    arch = m.get("general.architecture")
    if arch == "clip":
        raise InputError(f"--model: {path} is a vision projector (mmproj) GGUF; pass the language model's .gguf")
    if not isinstance(arch, str) or arch not in GGUF_ARCH:
        raise InputError(f"--model: {path}: GGUF architecture {shown(arch)} is not supported; supported: "
                         f"{', '.join(GGUF_ARCH)}")

    def get(key, default=None, required=False):
        v = _uniform(m, f"{arch}.{key}", default)
        if required and v is None:
            raise InputError(f"--model: {path}: GGUF metadata lacks {arch}.{key} (needed to size the model)")
        return v

    names = {n: d for n, d, _ in h.tensors}
    vocab = names["token_embd.weight"][1] if len(names.get("token_embd.weight", ())) == 2 else None
    if vocab is None:
        tokens = m.get("tokenizer.ggml.tokens")
        if tokens is not None and not isinstance(tokens, (list, _Length)):
            raise InputError(f"--model: {path}: GGUF tokenizer.ggml.tokens must be an array of strings, got "
                             f"{shown(tokens)}")
        vocab = len(tokens) if tokens is not None else get("vocab_size", required=True)
    heads = get("attention.head_count", required=True)
    cfg = {"model_type": GGUF_ARCH[arch], "hidden_size": get("embedding_length", required=True),
           "num_hidden_layers": get("block_count", required=True), "num_attention_heads": heads,
           "num_key_value_heads": get("attention.head_count_kv", heads),
           "intermediate_size": get("feed_forward_length", required=True), "vocab_size": vocab,
           "tie_word_embeddings": "output.weight" not in names,
           "max_position_embeddings": get("context_length", 0)}
    if get("attention.key_length") and arch != "deepseek2":
        cfg["head_dim"] = get("attention.key_length")
    sw = get("attention.sliding_window")
    if sw:
        cfg["sliding_window"] = sw
        pattern = m.get(f"{arch}.attention.sliding_window_pattern")
        if isinstance(pattern, list) and len(pattern) == cfg["num_hidden_layers"]:   # per layer: true = sliding
            cfg["layer_types"] = ["sliding_attention" if x else "full_attention" for x in pattern]
        elif arch == "gemma3":                   # every n-th layer global; llama.cpp's Gemma 3 default is 6
            cfg["sliding_window_pattern"] = pattern if isinstance(pattern, int) and pattern > 0 else 6
    n_exp = get("expert_count", 0) or 0
    if n_exp:
        used = get("expert_used_count", required=True)
        if arch == "llama":
            cfg.update(model_type="mixtral", num_local_experts=n_exp, num_experts_per_tok=used)
        elif arch in ("qwen2moe", "qwen3moe", "olmoe"):
            cfg.update(num_experts=n_exp, num_experts_per_tok=used,
                       moe_intermediate_size=get("expert_feed_forward_length", cfg["intermediate_size"]))
            if arch == "qwen2moe":
                cfg["shared_expert_intermediate_size"] = get("expert_shared_feed_forward_length", 0)
        elif arch == "deepseek2":
            rope = get("rope.dimension_count", required=True)
            key_len = get("attention.key_length_mla") or get("attention.key_length", required=True)
            v_len = get("attention.value_length_mla") or get("attention.value_length", required=True)
            v3 = any(n.endswith("exp_probs_b.bias") for n in names) or get("expert_gating_func") == 2
            cfg.update(model_type="deepseek_v3" if v3 else "deepseek_v2", n_routed_experts=n_exp,
                       num_experts_per_tok=used, n_shared_experts=get("expert_shared_count", 0),
                       moe_intermediate_size=get("expert_feed_forward_length", required=True),
                       first_k_dense_replace=get("leading_dense_block_count", 0),
                       q_lora_rank=get("attention.q_lora_rank", 0),
                       kv_lora_rank=get("attention.kv_lora_rank", required=True),
                       qk_rope_head_dim=rope, qk_nope_head_dim=key_len - rope, v_head_dim=v_len)
    for k, v in cfg.items():
        if k in ("model_type", "layer_types", "tie_word_embeddings"):
            continue
        if isinstance(v, bool) or not isinstance(v, int):      # a GGUF bool is no layer count
            raise InputError(f"--model: {path}: GGUF metadata for {k} is {shown(v)}, not an integer")
    return cfg


def load_gguf(path: Path) -> Architecture:
    h = read_gguf_header(path)
    cfg = gguf_config(h, path)
    # general.name is the file author's text: control characters (terminal escapes) never reach the output
    name = printable(m, 120) if isinstance(m := h.metadata.get("general.name"), str) else ""
    arch = from_config(cfg, name=name or printable(path.stem, 120) or "model", source=str(path))
    wbytes = h.weight_bytes
    ft = h.metadata.get("general.file_type")
    if isinstance(ft, int) and not isinstance(ft, bool) and ft in FILE_TYPES:
        fmt = {"f32": "fp32", "f16": "fp16"}.get(FILE_TYPES[ft], FILE_TYPES[ft])
    else:                                       # no file type: the type holding most bytes
        by: dict[str, int] = {}
        for n, d, t in h.tensors:
            by[GGML_TYPES[t][0]] = by.get(GGML_TYPES[t][0], 0) + h.tensor_bytes(d, t, n)
        fmt = max(by, key=by.get).lower() if by else ""
        fmt = {"f32": "fp32", "f16": "fp16"}.get(fmt, fmt)
    notes = [f"GGUF {fmt.upper()}, {_gb(wbytes)} of weights (exact, from tensor infos); {h.numel:,} parameters"]
    if abs(h.numel - arch.params) > 0.01 * arch.params:
        notes.append(f"the GGUF holds {h.numel:,} parameters, the architecture computes {arch.params:,}")
    if arch.family.startswith("gemma3") or h.metadata.get(f"{h.metadata.get('general.architecture')}.vision"):
        notes.append("a vision projector (mmproj) GGUF, if used, is a separate file and is not counted")
    return replace(arch, stored_weight_bytes=wbytes, stored_format=fmt, notes=tuple(notes))


# ---------------------------------------------------------------------------------------------------
# The Hugging Face cache and Hub

def hf_cache_dir() -> tuple[Path, str]:
    """The hub cache directory and how it was chosen (HF_HUB_CACHE, else HF_HOME/hub, else ~/.cache)."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser(), "HF_HUB_CACHE"
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "hub", "HF_HOME/hub"
    return Path("~/.cache/huggingface/hub").expanduser(), "default"


def cached_snapshot(repo_id: str) -> Path | None:
    """The snapshot folder of repo_id's main revision in the local cache, if it holds a config.json."""
    cache, _ = hf_cache_dir()
    org, name = repo_id.split("/", 1)
    repo = cache / f"models--{org}--{name}"
    try:
        if not repo.is_dir() and cache.is_dir():    # the Hub ignores case; the cache folder keeps the id's case
            want = repo.name.lower()
            repo = next((p for i, p in enumerate(cache.iterdir()) if i < 100_000 and p.name.lower() == want), repo)
        if not repo.is_dir():
            return None
        ref = repo / "refs" / "main"
        if ref.is_file() and ref.stat().st_size <= 256:
            commit = ref.read_text(errors="replace").strip()
            snap = repo / "snapshots" / commit
            if re.fullmatch(r"[0-9a-fA-F]{6,64}", commit) and (snap / "config.json").is_file():
                return snap
        snaps = [p for p in (repo / "snapshots").glob("*") if (p / "config.json").is_file()]
        return max(snaps, key=lambda p: (p / "config.json").stat().st_mtime) if snaps else None
    except OSError:
        return None


def _truthy(v: str | None) -> bool:
    return (v or "").strip().lower() in ("1", "true", "yes", "on")


def _not_reachable(repo_id: str, registry, why: str = "") -> InputError:
    cache, _ = hf_cache_dir()
    env = f"HF_HUB_CACHE={cache}"
    hint = ""
    close = _close_sources(repo_id, registry)
    if close:
        hint = f"; built-in models with a similar id: {', '.join(close)}"
    return InputError(f"--model: {repo_id} is not in the local Hugging Face cache ({env}) and the Hub cannot be "
                      f"reached{why}; download its config.json or pass a path{hint}")


def _hub_reachable(timeout: float = 3.0) -> bool:
    """A quick TCP connect to the Hub endpoint, so an offline machine fails at once rather than after
    huggingface_hub's five retries (about 25 s). Behind a proxy we cannot tell, so we try the download."""
    if any(os.environ.get(v) for v in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy")):
        return True
    url = urlsplit(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    try:
        with socket.create_connection((url.hostname or "huggingface.co",
                                       url.port or (80 if url.scheme == "http" else 443)), timeout=timeout):
            return True
    except (OSError, ValueError):
        return False


def fetch_from_hub(repo_id: str, registry) -> Architecture:
    """Download only config.json (and model.safetensors.index.json if the repository has one)."""
    if _truthy(os.environ.get("HF_HUB_OFFLINE")):
        raise _not_reachable(repo_id, registry, " (HF_HUB_OFFLINE is set)")
    try:
        import huggingface_hub
    except ImportError:
        raise _not_reachable(repo_id, registry, " (huggingface_hub is not installed: "
                                                "pip install 'llm-hw-planner[hub]')") from None
    if not _hub_reachable():
        raise _not_reachable(repo_id, registry)
    disabled = logging.root.manager.disable
    logging.disable(logging.WARNING)            # its retry warnings would break the one-line error
    try:
        try:
            cfg_path = Path(huggingface_hub.hf_hub_download(repo_id=repo_id, filename="config.json"))
        except Exception as e:  # noqa: BLE001 - every Hub failure becomes one line
            raise _hub_error(e, repo_id, registry) from None
        index = None
        try:
            index = Path(huggingface_hub.hf_hub_download(repo_id=repo_id, filename="model.safetensors.index.json"))
        except Exception:  # noqa: BLE001 - single-file checkpoints have no index
            pass
    finally:
        logging.disable(disabled)
    weights = None
    if index is not None:
        idx = read_json(index, limit=64 * 2**20)
        total = (idx.get("metadata") or {}).get("total_size")
        if isinstance(total, int) and not isinstance(total, bool) and total > 0:
            weights = WeightFacts(stored_bytes=total, from_index_only=True)
    return from_hf(read_json(cfg_path), name=repo_id, source=f"{repo_id} (Hugging Face Hub)", weights=weights)


def _hub_error(e: Exception, repo_id: str, registry) -> InputError:
    names = {c.__name__ for c in type(e).__mro__}
    status = getattr(getattr(e, "response", None), "status_code", None)
    token = "run `huggingface-cli login` (`hf auth login`) or set HF_TOKEN, and accept the licence on the model's page"
    if "LocalEntryNotFoundError" in names or "OfflineModeIsEnabled" in names:
        return _not_reachable(repo_id, registry)
    if "GatedRepoError" in names:
        return InputError(f"--model: {repo_id} is gated on the Hugging Face Hub: a token is needed; {token}")
    if "RepositoryNotFoundError" in names:
        return InputError(f"--model: {repo_id} was not found on the Hugging Face Hub (check the spelling; a private "
                          f"repository needs a token: {token})")
    if status in (401, 403):
        return InputError(f"--model: {repo_id}: the Hugging Face Hub refused access ({status}): a token is "
                          f"needed; {token}")
    if "EntryNotFoundError" in names or status == 404:
        return InputError(f"--model: {repo_id} has no config.json on the Hugging Face Hub (a GGUF-only repository? "
                          f"download the .gguf and pass its path)")
    return _not_reachable(repo_id, registry, f" ({type(e).__name__})")


# ---------------------------------------------------------------------------------------------------
# Entry point

def _source_id(source: str) -> str:
    first = source.split()[0] if source.split() else ""
    return first if HF_ID.match(first) else ""


def _builtin_ids(registry) -> dict[str, str]:
    """Hugging Face id (lower case) -> built-in name, read from the entries without building them."""
    out = {}
    for k in registry.models:
        src = registry.models.source_of(k) if hasattr(registry.models, "source_of") else registry.models[k].source
        if _source_id(src):
            out.setdefault(_source_id(src).lower(), k)
    return out


# Fine-tuned releases keep the base model's config.json shapes (Meta's -Instruct, Google's -it, Qwen's -Instruct)
_VARIANT = re.compile(r"-(instruct|it|chat|hf|base)(?=-|$)")


def builtin_by_source(repo_id: str, registry) -> str | None:
    """The built-in taken from this Hub id, or from its base model when the id names an instruct/chat release
    of the same organisation and name (the same architecture)."""
    ids = _builtin_ids(registry)
    want = repo_id.strip().lower()
    if want in ids:
        return ids[want]
    base = _VARIANT.sub("", want)
    return next((k for i, k in ids.items() if _VARIANT.sub("", i) == base), None)


def _close_sources(repo_id: str, registry) -> list[str]:
    import difflib
    ids = _builtin_ids(registry)
    base = re.sub(r"-(instruct|it|chat)(?=-|$)", "", repo_id.lower())
    close = [ids[i] for i in difflib.get_close_matches(base, list(ids), n=3, cutoff=0.85)]
    return close


def _looks_like_path(text: str) -> bool:
    low = text.lower()
    return (low.endswith((".json", ".gguf")) or text.startswith((".", "/", "~", "\\")) or "\\" in text
            or text.count("/") > 1 or bool(re.match(r"^[A-Za-z]:", text)))


def load_path(p: Path, typed: str) -> tuple[Architecture, str]:
    """(architecture, where it came from) for a model folder, a GGUF file or a JSON config."""
    try:
        st = p.stat()
    except FileNotFoundError:
        raise InputError(f"--model: no file or folder {shown(typed)}; {FIX}") from None
    except OSError as e:
        raise InputError(f"--model: cannot read {shown(typed)}: {e.strerror}") from None
    except ValueError:                            # a NUL byte in the name
        raise InputError(f"--model: {shown(typed)} is not a usable file name (it holds a NUL byte)") from None
    low = p.name.lower()
    if stat.S_ISDIR(st.st_mode):
        if low.endswith((".json", ".gguf")):
            raise InputError(f"--model: {p} is a directory where a file is expected; pass the file itself or the "
                             f"model folder")
        return load_folder(p), f"config from the model folder {p}"
    if not stat.S_ISREG(st.st_mode):
        raise InputError(f"--model: {p} is not a regular file (a device, FIFO or socket); {FIX}")
    if low.endswith(".safetensors"):
        raise InputError(f"--model: {p} holds weights only; pass the folder that holds it and its config.json")
    if not low.endswith((".gguf", ".json")):    # no extension (e.g. an Ollama blob): sniff the first bytes
        with _open_regular(p) as f:
            head = f.read(4)
        if head == b"GGUF":
            low += ".gguf"
        elif head.lstrip()[:1] == b"{":
            low += ".json"
        else:
            raise InputError(f"--model: {p} is neither a GGUF file nor a JSON config; {FIX}")
    if low.endswith(".gguf"):
        return load_gguf(p), f"architecture from the GGUF header of {p}"
    return load_json_file(p), f"config from {p}"


def resolve(name: str, registry, files: bool = True) -> tuple[Architecture, str | None] | None:
    """(architecture, note) for what the user typed, or None when it names nothing we could look for.
    files=False: a name is never read as a path (a server must not open files its client names)."""
    text = name.strip()
    if not text:
        return None
    if not files and (_looks_like_path(text) or text.startswith(("/", ".", "~", "\\")) or ".." in text
                      or "\\" in text):
        raise InputError("--model: file paths are not accepted here; upload the config.json or GGUF file instead")
    is_id = bool(HF_ID.match(text))
    if is_id and (hit := builtin_by_source(text, registry)):
        exact = text.lower() in _builtin_ids(registry)
        return registry.models[hit], (f"'{text}' taken as built-in {hit} (its config.json is catalogued)" if exact
                                      else f"'{text}' taken as built-in {hit} (a release of the same architecture)")
    try:
        p = Path(text).expanduser()
    except RuntimeError:                        # ~name of no such user (or no home): the name as typed
        p = Path(text)
    try:
        exists = p.exists()
    except (OSError, ValueError):
        exists = False
    if files and (exists or _looks_like_path(text)):
        return load_path(p, text)
    if is_id:
        snap = cached_snapshot(text)
        if snap is not None:
            arch = load_folder(snap, name=text, source=f"{text} (local Hugging Face cache)")
            return arch, f"config from the local Hugging Face cache: {snap / 'config.json'}"
        arch = fetch_from_hub(text, registry)
        return arch, f"config.json of {text} downloaded from the Hugging Face Hub"
    return None
