"""Model architectures: the shapes that decide memory, parsed from Hugging Face config.json files.

One `Architecture` describes a decoder-only transformer (dense or mixture-of-experts, grouped-query or
multi-head latent attention). Parameter counts are exact for the families we parse: they follow the
modules transformers builds (`modeling_llama.py`, `modeling_qwen2.py`, `modeling_gemma2.py`, ...).
"""
from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from functools import cached_property
from pathlib import Path

from planner.errors import InputError, shown


@dataclass(frozen=True)
class Architecture:
    name: str
    family: str                      # config.json model_type
    hidden_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    intermediate_size: int           # dense MLP width (dense layers of MoE models too)
    vocab_size: int
    tie_embeddings: bool
    qkv_bias: bool = False
    qk_norm: str = "none"            # none | head (RMSNorm over head_dim) | full (over all heads, OLMoE)
    norms_per_layer: int = 2         # Gemma 2/3 have 4 (pre/post attention and feed-forward)
    norm_has_bias: bool = False      # LayerNorm with bias (phi-2 style); RMSNorm has none
    o_bias: bool = False             # bias on the attention output projection (gpt-oss attention_bias)
    attention_sinks: bool = False    # gpt-oss: one learned sink logit per attention head (GptOssAttention.sinks)
    gated_mlp: bool = True           # SwiGLU/GeGLU: gate, up, down
    # learned absolute position table, max_position_embeddings x hidden (GPT-2 GPT2Model.wpe); RoPE models have none
    learned_positions: bool = False
    # Mixture of experts
    num_experts: int = 0
    experts_per_token: int = 0
    expert_intermediate_size: int = 0
    shared_expert_intermediate_size: int = 0  # total width of always-on shared experts
    shared_expert_gate: bool = False  # Qwen2-MoE's sigmoid gate on the shared expert
    dense_layers: int = 0            # leading dense layers before the MoE layers (DeepSeek first_k_dense_replace)
    router_bias: bool = False        # DeepSeek-V3 e_score_correction_bias; gpt-oss router bias (one per expert)
    expert_bias: bool = False        # gpt-oss: gate_up_proj_bias (2 x width) and down_proj_bias (hidden) per expert
    # Multi-head latent attention (DeepSeek-V2/V3)
    q_lora_rank: int = 0
    kv_lora_rank: int = 0
    qk_rope_head_dim: int = 0
    qk_nope_head_dim: int = 0
    v_head_dim: int = 0
    # Sliding-window attention: window size and how many layers use it
    sliding_window: int = 0
    sliding_layers: int = 0
    max_position_embeddings: int = 0
    # Hybrid linear-attention layers (Qwen3-Next Gated DeltaNet, transformers modeling_qwen3_next.py): layers with a
    # fixed-size recurrent state per sequence instead of a KV cache. The count and the DeltaNet shapes.
    linear_attn_layers: int = 0
    linear_num_key_heads: int = 0
    linear_num_value_heads: int = 0
    linear_key_head_dim: int = 0
    linear_value_head_dim: int = 0
    linear_conv_kernel: int = 0
    attn_output_gate: bool = False   # Qwen3-Next gated attention: q_proj also emits a sigmoid gate (2 x q_dim)
    mtp_layers: int = 0              # multi-token-prediction layers shipped with the model (not in `params`)
    # Cross-attention layers (Llama 3.2 Vision, transformers modeling_mllama.py MllamaCrossAttentionDecoderLayer):
    # layers among num_layers whose q attends to K/V projected from the vision encoder's states, not from the text. They
    # cache those image tokens' K/V (nothing that grows with the text) and are skipped when a request has no image
    # (MllamaTextModel.forward; vLLM mllama.py skip_cross_attention when max_encoder_seq_len == 0)
    cross_attn_layers: int = 0
    extra_embedding_rows: int = 0    # input-embedding rows beyond vocab_size (mllama: nn.Embedding(vocab_size + 8, h))
    # What the weights on disk are (planner/sources.py fills these when it reads a model folder or a GGUF)
    stored_weight_bytes: int = 0     # exact bytes of the stored weights, vision tower included (GGUF tensor
                                     # infos, safetensors headers or index total_size); 0 = unknown
    stored_format: str = ""          # precision hint of the stored weights: bf16, fp16, fp32, fp8, nf4, fp4, int8,
                                     # awq, gptq, int4 (compressed-tensors), or the llama.cpp type (q4_k_m, q8_0, ...)
    extra_params: int = 0            # parameters outside the language model that load on the GPU too
                                     # (vision tower and projector); not in `params`
    source: str = ""
    notes: tuple[str, ...] = field(default_factory=tuple)

    def __hash__(self) -> int:
        """The dataclass hash of the fields, computed once per object: an architecture is in every cache key of
        a plan (estimates, timings, configurations), hashed hundreds of times per plan."""
        h = self.__dict__.get("_hash")
        if h is None:
            h = hash(tuple(getattr(self, f.name) for f in fields(self) if (f.compare if f.hash is None else f.hash)))
            object.__setattr__(self, "_hash", h)
        return h

    def __getstate__(self) -> dict:
        """Pickled without what is cached per object (the hash: string hashes differ between processes,
        PYTHONHASHSEED)."""
        return {k: v for k, v in self.__dict__.items() if not k.startswith("_")}

    # ---- derived shapes -------------------------------------------------------------------------
    @property
    def is_moe(self) -> bool:
        return self.num_experts > 0

    @property
    def is_mla(self) -> bool:
        return self.kv_lora_rank > 0

    @property
    def moe_layers(self) -> int:
        return self.num_layers - self.dense_layers if self.is_moe else 0

    @property
    def q_dim(self) -> int:
        """Width of the attention's query projection output (heads x head_dim)."""
        if self.is_mla:
            return self.num_heads * (self.qk_nope_head_dim + self.qk_rope_head_dim)
        return self.num_heads * self.head_dim

    @property
    def kv_dim(self) -> int:
        """Width of one of K or V per token per layer (GQA: kv_heads x head_dim)."""
        return self.num_kv_heads * self.head_dim

    @property
    def attn_out_dim(self) -> int:
        return self.num_heads * (self.v_head_dim if self.is_mla else self.head_dim)

    @property
    def full_attention_layers(self) -> int:
        """Self-attention layers, whose KV cache grows with the text (all of them, except a hybrid's linear-attention
        layers and mllama's cross-attention layers)."""
        return self.num_layers - self.linear_attn_layers - self.cross_attn_layers

    @property
    def linear_conv_dim(self) -> int:
        """Channels of the DeltaNet's causal conv1d: q, k (key heads) and v (value heads)."""
        return (2 * self.linear_num_key_heads * self.linear_key_head_dim
                + self.linear_num_value_heads * self.linear_value_head_dim)

    @property
    def recurrent_state_elements(self) -> tuple[int, int]:
        """(recurrent, conv) state elements per sequence per linear-attention layer (vLLM MambaStateShapeCalculator
        gated_delta_net_state_shape: temporal (num_v_heads, head_k_dim, head_v_dim), conv (kernel - 1, conv_dim);
        transformers Qwen3NextDynamicCache holds the same two tensors)."""
        if not self.linear_attn_layers:
            return 0, 0
        return (self.linear_num_value_heads * self.linear_key_head_dim * self.linear_value_head_dim,
                (self.linear_conv_kernel - 1) * self.linear_conv_dim)

    def layer_is_linear_attention(self, i: int) -> bool:
        """Hybrids place one full-attention layer after every (interval - 1) linear ones (Qwen3-Next: 3:1)."""
        if not self.linear_attn_layers:
            return False
        interval = self.num_layers // max(self.full_attention_layers, 1)
        return (i + 1) % interval != 0

    def linear_attention_linears(self) -> list[tuple[str, int, int]]:
        """(name, in, out) of a Gated DeltaNet block's projections (Qwen3NextGatedDeltaNet)."""
        h = self.hidden_size
        kd = self.linear_num_key_heads * self.linear_key_head_dim
        vd = self.linear_num_value_heads * self.linear_value_head_dim
        return [("in_proj_qkvz", h, 2 * kd + 2 * vd), ("in_proj_ba", h, 2 * self.linear_num_value_heads),
                ("out_proj", vd, h)]

    def _linear_attn_params(self) -> int:
        """Projections + conv1d weight (no bias) + dt_bias and A_log per value head + the gated RMSNorm (head_v_dim)."""
        return (sum(i * o for _, i, o in self.linear_attention_linears()) + self.linear_conv_dim * self.linear_conv_kernel
                + 2 * self.linear_num_value_heads + self.linear_value_head_dim)

    def attention_linears(self) -> list[tuple[str, int, int]]:
        """(name, in_features, out_features) of each linear layer in one attention block."""
        h = self.hidden_size
        if self.is_mla:
            qk_head = self.qk_nope_head_dim + self.qk_rope_head_dim
            out = []
            if self.q_lora_rank:
                out += [("q_a_proj", h, self.q_lora_rank), ("q_b_proj", self.q_lora_rank, self.num_heads * qk_head)]
            else:
                out += [("q_proj", h, self.num_heads * qk_head)]
            out += [("kv_a_proj_with_mqa", h, self.kv_lora_rank + self.qk_rope_head_dim),
                    ("kv_b_proj", self.kv_lora_rank, self.num_heads * (self.qk_nope_head_dim + self.v_head_dim)),
                    ("o_proj", self.num_heads * self.v_head_dim, h)]
            return out
        q_out = self.q_dim * (2 if self.attn_output_gate else 1)
        return [("q_proj", h, q_out), ("k_proj", h, self.kv_dim), ("v_proj", h, self.kv_dim),
                ("o_proj", self.q_dim, h)]

    def mlp_linears(self, width: int) -> list[tuple[str, int, int]]:
        h = self.hidden_size
        if self.gated_mlp:
            return [("gate_proj", h, width), ("up_proj", h, width), ("down_proj", width, h)]
        return [("up_proj", h, width), ("down_proj", width, h)]

    # ---- parameter counts -------------------------------------------------------------------------
    def _attention_params(self) -> int:
        p = sum(i * o for _, i, o in self.attention_linears())
        if self.qkv_bias:
            p += self.q_dim + 2 * self.kv_dim
        if self.o_bias:
            p += self.hidden_size
        if self.attention_sinks:
            p += self.num_heads
        if self.qk_norm == "head":
            p += 2 * self.head_dim
        elif self.qk_norm == "full":
            p += self.q_dim + self.kv_dim
        if self.is_mla:  # RMSNorms on the compressed q and kv (modeling_deepseek_v3.py)
            p += self.q_lora_rank + self.kv_lora_rank
        return p

    def _cross_attn_extra_params(self) -> int:
        """What a cross-attention layer has beyond a self-attention layer of the same shapes: q_norm and k_norm
        (RMSNorm over head_dim) and the two tanh gates cross_attn_attn_gate, cross_attn_mlp_gate (one scalar each)."""
        return 2 * self.head_dim + 2

    @property
    def cross_attn_params(self) -> int:
        """Parameters of the cross-attention layers (attention, MLP, norms, gates): the weights a text-only request
        does not touch."""
        if not self.cross_attn_layers:
            return 0
        layer = (self._attention_params() + self.norms_per_layer * self._norm_params()
                 + self._mlp_params(self.intermediate_size) + self._cross_attn_extra_params())
        return self.cross_attn_layers * layer

    def _mlp_params(self, width: int) -> int:
        p = sum(i * o for _, i, o in self.mlp_linears(width))
        if not self.gated_mlp and self.norm_has_bias:
            p += width + self.hidden_size
        return p

    def _expert_params(self) -> int:
        """One routed expert: its MLP and, for gpt-oss, its biases (GptOssExperts gate_up_proj_bias, down_proj_bias)."""
        f = self.expert_intermediate_size
        p = self._mlp_params(f)
        if self.expert_bias:
            p += (2 * f if self.gated_mlp else f) + self.hidden_size
        return p

    def _moe_params(self) -> int:
        h = self.hidden_size
        p = self.num_experts * self._expert_params() + self.num_experts * h  # router
        if self.shared_expert_intermediate_size:
            p += self._mlp_params(self.shared_expert_intermediate_size)
        if self.shared_expert_gate:
            p += h
        if self.router_bias:
            p += self.num_experts
        return p

    def _norm_params(self) -> int:
        return self.hidden_size * (2 if self.norm_has_bias else 1)

    @cached_property
    def params(self) -> int:
        """Exact number of parameters of AutoModelForCausalLM (tied embeddings counted once)."""
        h, v = self.hidden_size, self.vocab_size
        per_layer_common = self._attention_params() + self.norms_per_layer * self._norm_params()
        dense = self.num_layers - self.moe_layers
        total = dense * (per_layer_common + self._mlp_params(self.intermediate_size))
        total += self.moe_layers * (per_layer_common + self._moe_params())
        if self.linear_attn_layers:       # hybrids: those layers have a DeltaNet block instead of attention
            total += self.linear_attn_layers * (self._linear_attn_params() - self._attention_params())
        total += self.cross_attn_layers * self._cross_attn_extra_params()
        total += (v + self.extra_embedding_rows) * h + self.position_params + self._norm_params()   # embeddings
        if not self.tie_embeddings:
            total += v * h                                 # lm_head
        return total

    @cached_property
    def active_params(self) -> int:
        """Parameters touched per token (MoE: top-k experts), for FLOP counts."""
        if not self.is_moe:
            return self.params
        unused = self.num_experts - self.experts_per_token
        return self.params - self.moe_layers * unused * self._expert_params()

    @property
    def position_params(self) -> int:
        """The learned position table (GPT-2 wpe: n_positions x n_embd); 0 for rotary models."""
        return self.max_position_embeddings * self.hidden_size if self.learned_positions else 0

    @property
    def embedding_params(self) -> int:
        """Input embedding (its extra rows too), untied lm_head and a learned position table: the weights outside
        the decoder layers besides the final norm (the root FSDP unit, llama.cpp's non-layer tensors)."""
        return ((self.vocab_size * (1 if self.tie_embeddings else 2) + self.extra_embedding_rows) * self.hidden_size
                + self.position_params)

    @property
    def routed_expert_params(self) -> int:
        """Weights of the routed experts. transformers 5 stores them as fused 3-D parameters, not nn.Linear
        modules, so bitsandbytes leaves them unquantised (measured: OLMoE int4 weights stay 13.4 GB)."""
        return self.moe_layers * self.num_experts * self._expert_params()

    @property
    def uses_sliding_cache(self) -> bool:
        """Gemma 2/3 configs declare per-layer types, so the cache keeps only the window on sliding layers;
        Mistral's config does not: transformers 5 keeps every token (measured: Mistral-7B at 16k)."""
        return (self.family.startswith("gemma") or self.family == "gpt_oss") and self.sliding_layers > 0

    def linear_layers(self, include_routed_experts: bool = True) -> tuple[tuple[str, int, int, int], ...]:
        """(name, in, out, count over the whole model) of every transformer-block linear layer.

        These are what LoRA targets with target_modules='all-linear' and what bitsandbytes quantises
        (lm_head is excluded by both). MoE expert weights count once per expert. Computed once per object (the
        estimator reads it several times per estimate, a plan makes hundreds), as `params` is.
        """
        return self._all_linear if include_routed_experts else self._dense_linear

    @cached_property
    def _all_linear(self) -> tuple[tuple[str, int, int, int], ...]:
        return tuple(self._linear_layers(True))

    @cached_property
    def _dense_linear(self) -> tuple[tuple[str, int, int, int], ...]:
        return tuple(self._linear_layers(False))

    def _linear_layers(self, include_routed_experts: bool) -> list[tuple[str, int, int, int]]:
        out: dict[tuple[str, int, int], int] = {}

        def add(items, n):
            for name, i, o in items:
                out[(name, i, o)] = out.get((name, i, o), 0) + n

        add(self.attention_linears(), self.full_attention_layers + self.cross_attn_layers)
        if self.linear_attn_layers:
            add(self.linear_attention_linears(), self.linear_attn_layers)
        dense = self.num_layers - self.moe_layers
        add(self.mlp_linears(self.intermediate_size), dense)
        if self.is_moe:
            if include_routed_experts:
                add(self.mlp_linears(self.expert_intermediate_size), self.moe_layers * self.num_experts)
            add([("router", self.hidden_size, self.num_experts)], self.moe_layers)
            if self.shared_expert_intermediate_size:
                add(self.mlp_linears(self.shared_expert_intermediate_size), self.moe_layers)
        return [(n, i, o, c) for (n, i, o), c in out.items()]

    @property
    def kv_bytes_per_token(self) -> int:
        """K and V elements cached per token over all layers (multiply by the cache dtype's bytes).

        MLA: transformers' DeepseekV3 caches the decompressed per-head K (nope+rope) and V, not the
        latent; vLLM and SGLang cache the latent (kv_lora_rank + rope dim). We follow transformers.
        """
        if self.is_mla:
            per_layer = self.num_heads * (self.qk_nope_head_dim + self.qk_rope_head_dim + self.v_head_dim)
        else:
            per_layer = 2 * self.kv_dim
        return per_layer * self.full_attention_layers


# ---------------------------------------------------------------------------------------------------
# Parsing config.json

def _get(cfg: dict, *names, default=None):
    for n in names:
        if n in cfg and cfg[n] is not None:
            return cfg[n]
    return default


SUPPORTED_TYPES = ("llama", "mistral", "mixtral", "qwen2", "qwen2_moe", "qwen3", "qwen3_moe", "gemma", "gemma2",
                   "gemma3", "gemma3_text", "phi3", "olmoe", "deepseek_v3", "deepseek_v2", "qwen3_next", "gpt_oss",
                   "qwen", "mllama_text_model", "mllama", "qwen3_5_moe_text", "qwen3_5_moe", "gpt2", "mpt")
# Qwen3-Next's hybrid decoder. Qwen3.5/3.6 MoE (transformers modular_qwen3_5_moe.py) reuses its attention, sparse MoE
# block and decoder layer; its Qwen3_5GatedDeltaNet splits in_proj_qkvz / in_proj_ba into in_proj_qkv, in_proj_z,
# in_proj_b, in_proj_a of the same total shapes (modular_qwen3_5.py), so the parameter counts are the same formulas
QWEN_HYBRID = ("qwen3_next", "qwen3_5_moe_text", "qwen3_5_moe")
# MllamaTextConfig default cross_attention_layers (configuration_mllama.py; the 11B's layout)
MLLAMA_CROSS_ATTENTION_LAYERS = [3, 8, 13, 18, 23, 28, 33, 38]


def _size(cfg: dict, key: str, default=None, positive: bool = False) -> int:
    """A whole-number field of config.json. JSON booleans are not sizes (`true` is not 1 layer), nor are
    strings or fractions; 4096.0 is accepted as some writers store it."""
    v = cfg.get(key)
    if v is None:
        if default is None:
            raise InputError(f"config.json: missing field {key!r} (needed to size the model)")
        return default
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    if isinstance(v, bool) or not isinstance(v, int):
        raise InputError(f"config.json: {key} must be a whole number, got {shown(v)}")
    if positive and v <= 0:
        raise InputError(f"config.json: {key} must be positive, got {shown(v)}")
    return v


def from_config(cfg: dict, name: str, source: str = "") -> Architecture:
    """Build an Architecture from a Hugging Face config.json dictionary."""
    if "text_config" in cfg and "hidden_size" not in cfg:      # multimodal wrappers (Gemma 3, Llama 4 ...)
        cfg = {**cfg["text_config"], "tie_word_embeddings": cfg.get("tie_word_embeddings",
                                                                    cfg["text_config"].get("tie_word_embeddings"))}
    mt = cfg.get("model_type")
    if mt not in SUPPORTED_TYPES:
        raise InputError(f"config.json: model_type {shown(mt)} is not supported; supported: {', '.join(SUPPORTED_TYPES)}")
    if mt == "gpt2":
        # GPT2Config's own names (configuration_gpt2.py attribute_map: hidden_size = n_embd, num_hidden_layers =
        # n_layer, num_attention_heads = n_head, max_position_embeddings = n_positions; n_inner None = 4 x n_embd)
        if _get(cfg, "add_cross_attention", default=False):
            raise InputError("config.json: GPT-2 with add_cross_attention (an encoder-decoder block) is not supported")
        names = {"hidden_size": "n_embd", "num_hidden_layers": "n_layer", "num_attention_heads": "n_head",
                 "max_position_embeddings": "n_positions", "intermediate_size": "n_inner"}
        cfg = {**cfg, **{k: cfg[n] for k, n in names.items() if cfg.get(n) is not None}}
    if mt == "mpt":
        # MPTConfig's own names (llm-foundry configuration_mpt.py: d_model, n_heads, n_layers, expansion_ratio,
        # max_seq_len; defaults vocab_size 50368, learned_pos_emb True, no_bias False, tie_word_embeddings True)
        attn = cfg.get("attn_config") or {}
        if not isinstance(attn, dict):
            raise InputError(f"config.json: attn_config must be an object, got {shown(attn)}")
        if (attn.get("attn_type") or "multihead_attention") != "multihead_attention" or _get(attn, "qk_ln", default=False):
            raise InputError("config.json: MPT with grouped-query attention or qk_ln is not supported")
        if ((cfg.get("ffn_config") or {}).get("ffn_type") or "mptmlp") != "mptmlp":
            raise InputError("config.json: MPT with an ffn_type other than mptmlp (plain GELU MLP) is not supported")
        d_model = _size(cfg, "d_model", default=2048, positive=True)
        ratio = _get(cfg, "expansion_ratio", default=4)
        if isinstance(ratio, bool) or not isinstance(ratio, (int, float)) or ratio <= 0:
            raise InputError(f"config.json: expansion_ratio must be a positive number, got {shown(ratio)}")
        cfg = {**cfg, "hidden_size": d_model, "num_hidden_layers": _size(cfg, "n_layers", default=24, positive=True),
               "num_attention_heads": _size(cfg, "n_heads", default=16, positive=True),
               "vocab_size": _size(cfg, "vocab_size", default=50368, positive=True),
               # ffn.py MPTMLP: up_proj d_model -> int(expansion_ratio * d_model) unless ffn_hidden_size is given
               "intermediate_size": _size(cfg, "ffn_hidden_size", default=int(ratio * d_model), positive=True),
               "max_position_embeddings": _size(cfg, "max_seq_len", default=2048, positive=True)}
    missing = [n for n in ("hidden_size", "num_hidden_layers", "num_attention_heads", "vocab_size")
               if cfg.get(n) is None]
    if missing:
        raise InputError(f"config.json: missing field {missing[0]!r} (needed to size the model)")
    h = _size(cfg, "hidden_size", positive=True)
    L = _size(cfg, "num_hidden_layers", positive=True)
    a = _size(cfg, "num_attention_heads", positive=True)     # divides hidden_size below
    v = _size(cfg, "vocab_size", positive=True)
    k = _size(cfg, "num_key_value_heads", default=a, positive=True)
    d = _size(cfg, "head_dim", default=h // a)
    f = _size(cfg, "intermediate_size", default=4 * h)
    if mt in ("qwen3_5_moe_text", "qwen3_5_moe") and "intermediate_size" not in cfg:
        # every layer is MoE: Qwen3_5MoeTextConfig deletes intermediate_size; the width of the (absent) dense MLP is
        # taken as the experts' so that no shape is made up
        f = _size(cfg, "moe_intermediate_size")
    if mt == "qwen":
        # First-generation Qwen (trust_remote_code modeling_qwen.py): QWenAttention's fused c_attn [h, 3 x heads x
        # kv_channels] with bias, c_proj without; QWenMLP's w1, w2 [h, intermediate_size // 2] and c_proj
        # [intermediate_size // 2, h]: the config's intermediate_size is the two SwiGLU branches together
        if not _get(cfg, "no_bias", default=True):
            raise InputError("config.json: Qwen with no_bias false (biases on c_proj and the MLP) is not supported")
        d = _size(cfg, "kv_channels", default=h // a)
        f = _size(cfg, "intermediate_size", default=8 * h) // 2
        k = a                                                  # no grouped-query attention in Qwen 1
    gemma = mt.startswith("gemma")
    # GPT-2's config.json leaves tie_word_embeddings out: PretrainedConfig's default (True) ties lm_head to wte
    tie = bool(_get(cfg, "tie_word_embeddings", default=gemma or mt in ("gpt2", "mpt")))
    kw: dict = dict(name=name, family=mt, hidden_size=h, num_layers=L, num_heads=a, num_kv_heads=k, head_dim=d,
                    intermediate_size=f, vocab_size=v, tie_embeddings=tie,
                    max_position_embeddings=_size(cfg, "max_position_embeddings", default=0), source=source)
    if mt in ("qwen2", "qwen2_moe", "qwen"):
        kw["qkv_bias"] = True
    if mt == "gpt2":
        # modeling_gpt2.py: GPT2Attention c_attn Conv1D(3h) and c_proj Conv1D(h) with biases; GPT2MLP c_fc / c_proj
        # with biases around a plain GELU; ln_1, ln_2, ln_f nn.LayerNorm (weight + bias); wte + wpe, lm_head tied
        kw.update(qkv_bias=True, o_bias=True, norm_has_bias=True, gated_mlp=False, learned_positions=True)
    if mt == "mpt":
        # modeling_mpt.py MPTBlock: fused Wqkv (3 x d_model) and out_proj, norm_1 / norm_2 LayerNorm, MPTMLP up_proj /
        # GELU / down_proj; norm_f; wte shared with the output. no_bias (default False) drops every bias, the LayerNorms'
        # too (MPTModel.__init__ register_parameter('bias', None)); wpe (max_seq_len x d_model) exists only with
        # learned_pos_emb (default True), which configuration_mpt.py turns off when attn_config alibi or rope is on
        bias = not bool(_get(cfg, "no_bias", default=False))
        alibi = bool(_get(attn, "alibi", default=False)) or bool(_get(attn, "rope", default=False))
        kw.update(qkv_bias=bias, o_bias=bias, norm_has_bias=bias, gated_mlp=False,
                  learned_positions=bool(_get(cfg, "learned_pos_emb", default=True)) and not alibi)
    if mt in ("qwen3", "qwen3_moe", "gemma3", "gemma3_text") or mt in QWEN_HYBRID:
        kw["qk_norm"] = "head"
    if mt == "olmoe":
        kw["qk_norm"] = "full"
    if mt in ("gemma2", "gemma3", "gemma3_text"):
        kw["norms_per_layer"] = 4
    if bool(_get(cfg, "attention_bias", default=False)) and mt not in ("qwen2", "qwen2_moe", "qwen"):
        kw["qkv_bias"] = True
    # Sliding windows: Mistral v0.1 everywhere; Gemma 2 every other layer; Gemma 3 5 local : 1 global
    sw = _size(cfg, "sliding_window", default=0)
    if sw and mt == "mistral":
        kw.update(sliding_window=sw, sliding_layers=L)
    elif sw and mt == "gemma2":
        kw.update(sliding_window=sw, sliding_layers=(L + 1) // 2)
    elif sw and mt in ("gemma3", "gemma3_text"):
        types = cfg.get("layer_types")
        if types is not None and not isinstance(types, list):
            raise InputError(f"config.json: layer_types must be a list of attention types, got {shown(types)}")
        n_local = sum(t == "sliding_attention" for t in types) if types else L - L // _size(
            cfg, "sliding_window_pattern", default=6, positive=True)
        kw.update(sliding_window=sw, sliding_layers=n_local)
    elif sw and mt == "gpt_oss":
        # GptOssConfig: layer_types alternate sliding_attention / full_attention (sliding on even layers)
        types = cfg.get("layer_types")
        if types is not None and not isinstance(types, list):
            raise InputError(f"config.json: layer_types must be a list of attention types, got {shown(types)}")
        n_local = sum(t == "sliding_attention" for t in types) if types else (L + 1) // 2
        kw.update(sliding_window=sw, sliding_layers=n_local)
    elif sw and mt in ("qwen2", "qwen3") and _get(cfg, "use_sliding_window", default=False):
        kw.update(sliding_window=sw, sliding_layers=L - _size(cfg, "max_window_layers", default=0))
    # Mixture of experts
    if mt == "mixtral":
        kw.update(num_experts=_size(cfg, "num_local_experts"), experts_per_token=_size(cfg, "num_experts_per_tok"),
                  expert_intermediate_size=f)
    if mt == "gpt_oss":
        # transformers modular_gpt_oss.py: GptOssAttention q/k/v/o_proj with bias=attention_bias and a `sinks`
        # parameter per head; GptOssTopKRouter weight [E, h] + bias [E]; GptOssExperts gate_up_proj [E, h, 2I] +
        # gate_up_proj_bias [E, 2I], down_proj [E, I, h] + down_proj_bias [E, h] (every layer MoE)
        bias = bool(_get(cfg, "attention_bias", default=True))
        kw.update(num_experts=_size(cfg, "num_local_experts"),
                  experts_per_token=_size(cfg, "num_experts_per_tok", default=None) if "num_experts_per_tok" in cfg
                  else _size(cfg, "experts_per_token"),
                  expert_intermediate_size=f, qkv_bias=bias, o_bias=bias, attention_sinks=True, router_bias=True,
                  expert_bias=True)
    if mt in ("mllama_text_model", "mllama"):
        # transformers modeling_mllama.py MllamaTextModel: embed_tokens = nn.Embedding(vocab_size + 8, h) (lm_head stays
        # vocab_size); layer i is a MllamaCrossAttentionDecoderLayer when i is in cross_attention_layers (the
        # self-attention layer's q/k/v/o, MLP and two norms, plus q_norm/k_norm and two tanh gates), else a Llama layer
        cross = _get(cfg, "cross_attention_layers", default=MLLAMA_CROSS_ATTENTION_LAYERS)
        if (not isinstance(cross, list) or len(set(map(str, cross))) != len(cross) or not all(
                isinstance(i, int) and not isinstance(i, bool) and 0 <= i < L for i in cross)):
            raise InputError(f"config.json: cross_attention_layers must be a list of distinct layer indices below "
                             f"num_hidden_layers ({L}), got {shown(cross)}")
        kw.update(cross_attn_layers=len(cross), extra_embedding_rows=8)
    if mt in QWEN_HYBRID:
        # Gated DeltaNet layers between full-attention ones: layer_types, or every full_attention_interval-th layer
        # full (Qwen3NextConfig: "linear_attention" unless (i + 1) % interval == 0)
        types = cfg.get("layer_types")
        if types is not None and not isinstance(types, list):
            raise InputError(f"config.json: layer_types must be a list of attention types, got {shown(types)}")
        interval = _size(cfg, "full_attention_interval", default=4, positive=True)
        n_linear = sum(t == "linear_attention" for t in types) if types else sum(
            (i + 1) % interval != 0 for i in range(L))
        kw.update(linear_attn_layers=n_linear, attn_output_gate=True,
                  linear_num_key_heads=_size(cfg, "linear_num_key_heads"),
                  linear_num_value_heads=_size(cfg, "linear_num_value_heads"),
                  linear_key_head_dim=_size(cfg, "linear_key_head_dim"),
                  linear_value_head_dim=_size(cfg, "linear_value_head_dim"),
                  linear_conv_kernel=_size(cfg, "linear_conv_kernel_dim", default=4))
    mtp = _size(cfg, "num_nextn_predict_layers", default=0) or _size(cfg, "mtp_num_hidden_layers", default=0)
    if mtp:
        kw["mtp_layers"] = mtp
    if mt in ("qwen2_moe", "qwen3_moe", "olmoe") or mt in QWEN_HYBRID:
        kw.update(num_experts=_size(cfg, "num_experts"), experts_per_token=_size(cfg, "num_experts_per_tok"),
                  expert_intermediate_size=_size(cfg, "moe_intermediate_size", default=f))
        if mt == "qwen2_moe" or mt in QWEN_HYBRID:
            kw.update(shared_expert_intermediate_size=_size(cfg, "shared_expert_intermediate_size", default=0),
                      shared_expert_gate=True)
        step = _size(cfg, "decoder_sparse_step", default=1)
        mlp_only = _get(cfg, "mlp_only_layers", default=[]) or []
        if step != 1 or mlp_only:
            raise InputError("config.json: MoE models with dense layers interleaved (decoder_sparse_step or "
                             "mlp_only_layers) are not supported yet")
    elif mt in ("deepseek_v3", "deepseek_v2"):
        n_shared = _size(cfg, "n_shared_experts", default=0)
        fe = _size(cfg, "moe_intermediate_size")
        kw.update(num_experts=_size(cfg, "n_routed_experts"), experts_per_token=_size(cfg, "num_experts_per_tok"),
                  expert_intermediate_size=fe, shared_expert_intermediate_size=n_shared * fe,
                  dense_layers=_size(cfg, "first_k_dense_replace", default=0),
                  router_bias=(mt == "deepseek_v3"),
                  q_lora_rank=_size(cfg, "q_lora_rank", default=0), kv_lora_rank=_size(cfg, "kv_lora_rank"),
                  qk_rope_head_dim=_size(cfg, "qk_rope_head_dim"), qk_nope_head_dim=_size(cfg, "qk_nope_head_dim"),
                  v_head_dim=_size(cfg, "v_head_dim"),
                  head_dim=_size(cfg, "qk_nope_head_dim") + _size(cfg, "qk_rope_head_dim"))
    arch = Architecture(**kw)
    for fname in ("hidden_size", "num_layers", "num_heads", "num_kv_heads", "head_dim", "vocab_size"):
        if getattr(arch, fname) <= 0:
            raise InputError(f"config.json: {fname} must be positive, got {getattr(arch, fname)}")
    _check_sizes(arch)
    if arch.num_heads % arch.num_kv_heads:
        raise InputError(f"config.json: num_attention_heads ({a}) must be a multiple of num_key_value_heads ({k})")
    return arch


MAX_DIM = 10**7        # no real model has a width, count or vocabulary above ten million
SHAPE_FIELDS = ("hidden_size", "num_layers", "num_heads", "num_kv_heads", "head_dim", "intermediate_size",
                "vocab_size", "num_experts", "experts_per_token", "expert_intermediate_size",
                "shared_expert_intermediate_size", "dense_layers", "q_lora_rank", "kv_lora_rank", "qk_rope_head_dim",
                "qk_nope_head_dim", "v_head_dim", "sliding_window", "sliding_layers", "max_position_embeddings")
CONFIG_NAME = {"num_layers": "num_hidden_layers", "num_heads": "num_attention_heads",
               "num_kv_heads": "num_key_value_heads", "experts_per_token": "num_experts_per_tok",
               "expert_intermediate_size": "moe_intermediate_size", "dense_layers": "first_k_dense_replace",
               "sliding_layers": "the sliding-window layers (layer_types, sliding_window_pattern or "
                                 "max_window_layers)", "cross_attn_layers": "cross_attention_layers"}


def _check_sizes(arch: Architecture) -> None:
    """Every size in range (negative, zero or astronomical ones only overflow or mislead the estimate)."""
    for fname in SHAPE_FIELDS:
        v = getattr(arch, fname)
        if not 0 <= v <= MAX_DIM:
            got = f"{v:,}" if abs(v) < 10**15 else f"a number of {len(str(abs(v)))} digits"
            raise InputError(f"config.json: {CONFIG_NAME.get(fname, fname)} must be between 0 and {MAX_DIM:,}, "
                             f"got {got}")
    if arch.intermediate_size <= 0:
        raise InputError(f"config.json: intermediate_size must be positive, got {arch.intermediate_size}")
    if arch.num_experts or arch.experts_per_token:
        if not 1 <= arch.experts_per_token <= arch.num_experts:
            raise InputError(f"config.json: num_experts_per_tok ({arch.experts_per_token}) must be between 1 and "
                             f"the number of experts ({arch.num_experts})")
        if arch.expert_intermediate_size <= 0:
            raise InputError("config.json: moe_intermediate_size (the experts' width) must be positive, got "
                             f"{arch.expert_intermediate_size}")
    for fname in ("dense_layers", "sliding_layers", "cross_attn_layers"):
        if getattr(arch, fname) > arch.num_layers:
            raise InputError(f"config.json: {CONFIG_NAME[fname]} ({getattr(arch, fname)}) exceeds "
                             f"num_hidden_layers ({arch.num_layers})")


def load_config_file(path: str | Path) -> Architecture:
    """A config.json file (bounded read; multimodal wrappers and omitted defaults: planner/sources.py)."""
    from planner.sources import load_json_file
    return load_json_file(Path(path))


# ---------------------------------------------------------------------------------------------------
# The built-in registry (catalog/models.yaml)

@dataclass(frozen=True)
class Registry:
    models: "BuiltinModels"
    aliases: dict[str, str]

    def resolve(self, name: str, files: bool = True) -> tuple[Architecture, str | None]:
        """Return (architecture, note); the note says which model an alias stands for or where a model came from.

        Order: built-in name or alias -> a built-in's Hugging Face id -> a path (model folder, .gguf, .json)
        -> ORG/NAME from the local Hugging Face cache, then the Hub (planner/sources.py).
        files=False (the web API, MCP): the name is never looked up as a path on this machine."""
        key = name.strip().lower()
        if key in self.models:
            return self.models[key], None
        if key in self.aliases:
            target = self.aliases[key]
            return self.models[target], f"'{name}' taken as {target} (the representative model of that size)"
        from planner import sources
        found = sources.resolve(name, self, files=files)
        if found is not None:
            return found
        choices = list(self.models) + list(self.aliases)
        close = difflib.get_close_matches(key, choices, n=4, cutoff=0.5)
        hint = f"; did you mean {', '.join(close)}?" if close else "; run `plan models` for the list"
        raise InputError(f"--model: unknown model {shown(name)}{hint} (or ORG/NAME, a model folder, a .gguf file or "
                         f"a config.json)")


class BuiltinModels(Mapping):
    """The built-in architectures by name, each built from its models.yaml entry on first use, so start-up does
    not pay for 40 models to plan one. The stated `params` is checked against the computed count then."""

    def __init__(self, entries: dict[str, dict]):
        self._entries = entries
        self._built: dict[str, Architecture] = {}

    def __getitem__(self, key: str) -> Architecture:
        arch = self._built.get(key)
        if arch is None:
            entry = self._entries[key]
            arch = from_config(dict(entry["config"]), name=entry["name"], source=entry.get("source", ""))
            if "params" in entry and entry["params"] != arch.params:
                raise InputError(f"models.yaml: {entry['name']}: computed {arch.params:,} parameters but the entry "
                                 f"states {entry['params']:,}")
            # a multimodal entry keeps its vision_config: the tower and projector load beside the language model
            # (Architecture.extra_params), counted as sources.vision_params counts a model folder's
            extra = 0
            if "vision_config" in entry["config"]:
                from planner.sources import vision_params
                extra, _ = vision_params(dict(entry["config"]), arch.hidden_size)
            if "extra_params" in entry and entry["extra_params"] != extra:
                raise InputError(f"models.yaml: {entry['name']}: computed {extra:,} vision-tower parameters but the "
                                 f"entry states {entry['extra_params']:,}")
            # stored_format: how the published checkpoint stores the weights (gpt-oss: mxfp4); the serving engines load
            # it as stored when --precision is left at the inference default (estimator/weights.py stored_weights)
            arch = self._built[key] = replace(arch, notes=tuple(entry.get("notes", [])), extra_params=extra,
                                              stored_format=str(entry.get("stored_format", "")))
        return arch

    def __iter__(self):
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def source_of(self, key: str) -> str:
        """The entry's source (a Hugging Face id first) without building the architecture."""
        return str(self._entries[key].get("source", ""))


def load_registry(data: dict) -> Registry:
    entries = {}
    for name, entry in (data.get("models") or {}).items():
        if not isinstance(entry, dict) or not isinstance(entry.get("config"), dict):
            raise InputError(f"models.yaml: {name}: expected a mapping with a 'config' mapping")
        entries[str(name).lower()] = {**entry, "name": str(name)}
    aliases = {str(k).lower(): str(v).lower() for k, v in (data.get("aliases") or {}).items()}
    for a, target in aliases.items():
        if target not in entries:
            raise InputError(f"models.yaml: alias {a!r} points to unknown model {target!r}")
    return Registry(models=BuiltinModels(entries), aliases=aliases)
