"""MLX (Apple silicon, mlx-lm): generation and LoRA / QLoRA / full fine-tuning, as mx.get_peak_memory() sees it.

MLX allocates from unified memory through its own buffer cache; mlx-lm reports mx.get_peak_memory() ("Peak
memory" after generate, "Peak mem" in the training log), the high-water mark of live arrays. There is no CUDA
context; Metal's working-set limit (about 75% of RAM by default) is the planner's business (the card's usable
memory). MLX evaluates lazily, so only what a graph's evaluated outputs need is ever materialised.

Generation (mlx_lm/generate.py generate_step, mlx_lm/models/cache.py KVCache):
  weights      MLX affine quantisation (group 64, 16-bit scale + bias: 4.5 / 8.5 bits) or 16-bit
  KV cache     model dtype, grown in steps of 256 tokens per sequence (KVCache.step); growing concatenates a
               new step, so one layer's K and V exist twice for a moment; --kv-bits 8|4: QuantizedKVCache
  prefill      the prompt runs in chunks of prefill_step_size = 2048 tokens; only the cache state is
               evaluated (the chunk's logits are never computed), so the working set is one layer's
               activations for one chunk; mx.fast.scaled_dot_product_attention does not materialise scores
  decode       logits for the last position only
Training (mlx_lm/lora.py, mlx_lm/tuner/{trainer,utils,lora}.py):
  LoRA adapters on every linear layer of the last num_layers = 16 blocks (rank 8 by default), lora_a/lora_b
  created by mx.random.uniform / mx.zeros: float32; Adam keeps m and v like the parameter (fp32);
  only the last 16 blocks are differentiated, so only they keep activations for the backward pass;
  default_loss: cross_entropy on the model-dtype logits (no fp32 copy); --grad-checkpoint: mx.checkpoint per
  block keeps only block inputs. Full fine-tuning (--fine-tune-type full) trains the last 16 blocks in the model
  dtype (gradients and Adam states in that dtype too).
"""
from __future__ import annotations

import math

from planner.architecture import Architecture
from planner.errors import InputError
from planner.estimator.common import GiB, Estimate, _finish
from planner.estimator.kv_cache import kv_dtype, kv_elements_per_token_layer, sliding_layers
from planner.estimator.weights import MLX_BITS, lora_modules, serving_weight_bytes, stored_weights
from planner.workload import Workload

KV_STEP = 256                 # mlx_lm.models.cache.KVCache.step
PREFILL_STEP = 2048           # generate_step(prefill_step_size=2048)
NUM_LAYERS = 16               # mlx_lm.lora default --num-layers
MLX_HOST_PROCESS_BYTES = int(1.5 * GiB)   # Python + mlx + tokenizer (order of; unified memory, same pool)


def mlx_weights(arch: Architecture, precision: str) -> tuple[int, str]:
    p, stored = stored_weights(arch, precision, "mlx")
    if stored:
        return stored, f"{p} weights, exact bytes from the safetensors headers"
    if p in MLX_BITS or p in ("bf16", "fp16", "fp32"):
        return serving_weight_bytes(arch, p, "mlx")
    raise InputError(f"--engine mlx / --framework mlx-lm: --precision {p} is not an MLX format; use bf16, "
                     "fp16, int8 (MLX 8-bit) or int4 (MLX 4-bit, as mlx_lm.convert -q)")


def _compute_bytes(precision: str) -> int:
    return 4 if precision == "fp32" else 2


def estimate_mlx_inference(arch: Architecture, w: Workload) -> Estimate:
    b, s, n = w.batch_size, w.seq_len, w.new_tokens
    weights, how = mlx_weights(arch, w.precision)
    a_b = _compute_bytes(w.precision)
    kv_name, kv_b = kv_dtype("mlx", w.kv_cache_dtype, a_b)
    per_layer_tok = kv_elements_per_token_layer(arch, "mlx") * kv_b
    cells = math.ceil((s + n) / KV_STEP) * KV_STEP
    swa = sliding_layers(arch)                 # RotatingKVCache keeps the window on sliding layers
    window = min(cells, arch.sliding_window) if swa else 0
    kv = int(b * per_layer_tok * ((arch.num_layers - swa) * cells + swa * window))
    grow = int(b * per_layer_tok * cells)      # one layer's K and V while a new step is concatenated
    h = arch.hidden_size
    f = arch.expert_intermediate_size * arch.experts_per_token if arch.is_moe else arch.intermediate_size
    chunk = b * min(s, PREFILL_STEP)
    # one block at a time: the residual and normed input, q/k/v/attention output, gate, up and their product
    per_token = a_b * (2 * h + arch.q_dim + 2 * arch.kv_dim + arch.attn_out_dim)
    per_token = max(per_token, a_b * (2 * h + 3 * f))
    prefill = chunk * per_token
    decode = b * (a_b * (2 * h + 3 * f) + arch.vocab_size * (a_b + 4 + 4))   # logits, fp32 log-probs, probs
    activations = max(prefill, decode) + grow
    breakdown = {"weights": weights, "gradients": 0, "optimizer_states": 0, "activations": activations,
                 "kv_cache": kv}
    peak = sum(breakdown.values())
    assumptions = [
        f"MLX / mlx-lm generate (modelled from mlx-lm's code, not measured by this project): {how}",
        f"KV cache {kv_name} in {KV_STEP}-token steps: {b} x {cells} tokens"
        + (f"; {swa} sliding-window layers keep {window}" if swa else ""),
        f"prompt processed in chunks of {PREFILL_STEP} tokens (lazy evaluation: no logits for the prompt)",
        "memory is mx.get_peak_memory() (live arrays); MLX's buffer cache comes on top until reused",
    ]
    est = _finish(arch, w, breakdown, peak, peak, 0, "decode" if decode > prefill else "prefill", 0, assumptions,
                  offloaded=0)
    _unified(est)
    return est


def _unified(est: Estimate) -> None:
    est.assumptions = [a for a in est.assumptions if not a.startswith(("CUDA context", "Apple unified memory"))]
    est.assumptions.append("unified memory: no CUDA context; Metal's working-set limit is checked by the planner")
    est.cpu_ram_bytes = int(MLX_HOST_PROCESS_BYTES)
    est.cuda_context_bytes = 0
    est.breakdown["cuda_context"] = 0


def _lora_trainable(arch: Architecture, w: Workload, layers: int) -> int:
    per_model = sum(w.lora_rank * (i + o) * c for _, i, o, c in lora_modules(arch, w.lora_targets))
    return per_model * layers // arch.num_layers


def _block_saved_per_token(arch: Architecture, w: Workload, a_b: int, full: bool) -> int:
    """Arrays one trained block keeps for its vector-Jacobian products, per token (model dtype)."""
    h = arch.hidden_size
    f = arch.expert_intermediate_size * arch.experts_per_token if arch.is_moe else arch.intermediate_size
    saved = 2 * h                                  # mx.fast.rms_norm inputs (2 norms)
    saved += h                                     # normed input of q/k/v (and of their adapters)
    saved += arch.q_dim + 2 * arch.kv_dim          # q, k, v after RoPE (attention VJP inputs)
    saved += arch.attn_out_dim                     # attention output = o_proj input
    saved += arch.attn_out_dim                     # SDPA output before the transpose/reshape copy
    saved += h                                     # normed MLP input
    saved += 4 * f                                 # gate, sigmoid(gate) for SiLU, up, product = down input
    total = a_b * saved
    if not full:                                   # x @ lora_a in fp32 (bf16 x fp32 promotes), kept for lora_b
        n_mods = len({name for name, *_ in lora_modules(arch, w.lora_targets)})
        total += 4 * w.lora_rank * n_mods
    return total


def estimate_mlx_training(arch: Architecture, w: Workload) -> Estimate:
    b, s = w.batch_size, w.seq_len
    full = w.full
    base_precision = w.precision if w.precision in MLX_BITS else ("bf16" if w.precision in (
        "bf16-mixed", "fp16-mixed") else w.precision)
    weights, how = mlx_weights(arch, base_precision)
    a_b = _compute_bytes(base_precision)
    # --method full means every block is trained (mlx_lm.lora --fine-tune-type full --num-layers -1); LoRA keeps
    # mlx-lm's recipe default of the last 16 blocks
    layers = arch.num_layers if full else min(NUM_LAYERS, arch.num_layers)
    if full:
        trainable = (arch.params - arch.embedding_params) * layers // arch.num_layers
        states = trainable * a_b * 2                  # Adam m, v like the parameter (model dtype)
        grads = trainable * a_b
        adapters = 0
    else:
        trainable = _lora_trainable(arch, w, layers)
        adapters = 4 * trainable                      # fp32 lora_a / lora_b
        states = 8 * trainable                        # Adam m, v in fp32
        grads = 4 * trainable
    T = b * s
    V = arch.vocab_size
    gc = bool(w.gradient_checkpointing)
    block = _block_saved_per_token(arch, w, a_b, full)
    if gc:
        saved = T * (layers * a_b * arch.hidden_size + block)   # block inputs + one block recomputed
    else:
        saved = T * layers * block
    # loss backward: the model-dtype logits (kept for the cross-entropy VJP), logsumexp's VJP
    # softmax(logits) x cotangent, take_along_axis's VJP (a zero (b, s, V) array scattered into) and
    # their sum, the logits' gradient: four (b, s, vocab) arrays in the model dtype at once
    logits = T * V * a_b * 4 + T * 4 * 2
    # attention backward (fast SDPA's VJP falls back to the unfused graph): scores and probabilities of one
    # block, transient
    attn_bwd = b * arch.num_heads * s * s * a_b * 2
    activations = saved + logits + attn_bwd
    breakdown = {"weights": weights + adapters, "gradients": grads, "optimizer_states": states,
                 "activations": activations, "kv_cache": 0}
    peak = sum(breakdown.values())
    assumptions = [
        f"mlx-lm {'full fine-tuning' if full else 'LoRA'} (modelled from mlx-lm's trainer, not measured by this "
        f"project): base {how}",
        f"last {layers} of {arch.num_layers} blocks trained"
        + ("" if full else f"; rank {w.lora_rank} adapters on {', '.join(w.lora_targets)} ({trainable:,} "
                           "parameters, fp32), Adam states fp32"),
        f"batch {b} x {s} tokens; cross-entropy on {'bf16' if a_b == 2 else 'fp32'} logits; "
        + ("--grad-checkpoint (mx.checkpoint per block)" if gc else "no gradient checkpointing"),
    ]
    est = _finish(arch, w, breakdown, peak, peak, 0, "loss backward", trainable, assumptions, offloaded=0)
    _unified(est)
    return est
