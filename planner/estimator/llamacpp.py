"""llama.cpp / Ollama: GPU and host memory of llama-server (or llama-cli) serving a GGUF model.

What llama.cpp allocates, buffer by buffer (the lines it logs at start-up):
  model buffer   "CUDA0 model buffer size": the tensors of the layers on the GPU, at their GGUF types.
                 -ngl N puts the output layer and the last N - 1 repeating layers on the GPU
                 (llama-model.cpp: i_gpu_start = n_layer + 1 - N); token_embd always stays in host memory
                 (the input layer runs get_rows on the CPU: "CPU buffer size"). A tied embedding is loaded
                 twice: on the CPU as input and on the GPU as the output layer (TENSOR_DUPLICATED).
  KV cache       "CUDA0 KV buffer size" = n_ctx x (n_embd_k_gqa + n_embd_v_gqa) x type size, for each layer
                 whose KV lives on the GPU (the offloaded layers; -nkvo off). n_ctx covers every parallel
                 slot (-np) and is padded to 256 cells; sliding-window layers (iSWA) keep
                 n_swa x slots + n_ubatch cells.
  compute buffer "CUDA0 compute buffer size": ggml-alloc's high-water mark of the worst-case graph
                 (n_ubatch = 512 tokens, n_outputs = n_ubatch, all n_ctx cells visible), reused op by op.
                 Its peak is the largest of: the logits (n_vocab x n_ubatch fp32 + the normed hidden
                 state), the attention of one layer (without flash attention the fp32 KQ scores
                 n_kv x n_ubatch x n_head, softmaxed in place, plus the fp32 KQ mask n_kv x n_ubatch; with
                 flash attention only the fp16 mask), and one FFN (gate, up in fp32).
                 Derived and checked against published logs (validation/engine-cases.json).
  CUDA context   the CUDA runtime + cuBLAS of a ggml process (no PyTorch): modelled, not measured.
"""
from __future__ import annotations

import math

from planner.architecture import Architecture
from planner.errors import InputError
from planner.estimator.common import GiB, Estimate, _finish
from planner.estimator.gguf import FTYPE_DEFAULT, gguf_model
from planner.estimator.weights import stored_weights
from planner.estimator.kv_cache import kv_dtype, kv_elements_per_token_layer, recurrent_state_bytes, sliding_layers
from planner.workload import Workload

N_UBATCH = 512                 # llama-server / llama-cli default -ub
KV_PAD = 256                   # llama_kv_cache cell padding
LLAMACPP_CUDA_CONTEXT_BYTES = int(0.35 * GiB)  # CUDA runtime + cuBLAS handle of a ggml process (modelled)
LLAMACPP_HOST_PROCESS_BYTES = int(0.5 * GiB)   # llama-server itself: vocab, sampler, HTTP (order of)
F32 = 4


def gguf_float_type(precision: str) -> str:
    if precision in ("fp16", "fp16-mixed"):
        return "f16"
    if precision in ("bf16", "bf16-mixed"):
        return "bf16"
    if precision == "fp32":
        return "f32"
    raise InputError(f"--engine llama.cpp loads GGUF files: --precision {precision} has no GGUF form; use a "
                     f"GGUF type ({', '.join(FTYPE_DEFAULT)}) or fp16/bf16")


def model_parts(arch: Architecture, precision: str) -> tuple[int, int, list[int], str]:
    """(token_embd, output, per-layer bytes, description) of the GGUF file, exact stored bytes when known."""
    emb, out, layers, _, how = model_parts_with_experts(arch, precision)
    return emb, out, layers, how


def model_parts_with_experts(arch: Architecture, precision: str) -> tuple[int, int, list[int], list[int], str]:
    """model_parts plus each layer's routed-expert bytes (ffn_*_exps, part of the layer's bytes)."""
    if precision in FTYPE_DEFAULT:
        m = gguf_model(arch, precision)
        emb, out, layers, total = m.token_embd, m.output, list(m.layers), m.total
        experts = list(m.experts) or [0] * arch.num_layers
        how = f"GGUF {precision.upper()} ({', '.join(f'{n} {t}' for t, n in sorted(m.types.items(), key=lambda kv: -kv[1]))})"
    else:
        t = gguf_float_type(precision)
        b = {"f16": 2, "bf16": 2, "f32": 4}[t]
        h, V = arch.hidden_size, arch.vocab_size
        emb = V * h * b
        out = V * h * b + 4 * h                 # output.weight, or the duplicated token_embd when tied
        per_layer = (arch.params - arch.embedding_params - h) * b // arch.num_layers
        layers = [per_layer] * arch.num_layers
        per_moe = arch.routed_expert_params * b // max(arch.moe_layers, 1) if arch.is_moe else 0
        experts = [per_moe if arch.is_moe and i >= arch.dense_layers else 0 for i in range(arch.num_layers)]
        total = emb + sum(layers) + (0 if arch.tie_embeddings else V * h * b) + 4 * h
        how = f"GGUF {t.upper()}"
    _, stored = stored_weights(arch, precision, "llama.cpp")
    if stored:
        k = stored / total                                       # the file's exact tensor bytes
        emb, out, layers = int(emb * k), int(out * k), [int(x * k) for x in layers]
        experts = [int(x * k) for x in experts]
        how += ", scaled to the file's exact tensor bytes"
    return emb, out, layers, experts, how


def compute_buffer_bytes(arch: Architecture, n_kv: int, flash: bool, output_on_gpu: bool,
                         n_ub: int = N_UBATCH) -> int:
    """ggml-alloc's worst-case graph reservation on the GPU (see the module docstring)."""
    h = arch.hidden_size
    heads = arch.num_heads
    logits = (arch.vocab_size * n_ub * F32 + n_ub * h * F32) if output_on_gpu else 0
    # q, k, v and attention output of one layer at fp32: 4 hidden-sized tensors (MLA: its wider q)
    qkvo = 4 * n_ub * max(h, arch.q_dim) * F32
    if flash:
        attn = n_kv * n_ub * 2 + qkvo                              # fp16 KQ mask only
    else:
        attn = n_kv * n_ub * F32 * (heads + 1) + qkvo              # fp32 KQ (softmax in place) + fp32 mask
    f = arch.expert_intermediate_size * arch.experts_per_token if arch.is_moe else arch.intermediate_size
    ffn = n_ub * (3 * f + 2 * h) * F32
    return max(logits, attn, ffn)


def estimate_llamacpp(arch: Architecture, w: Workload, cuda_context: int) -> Estimate:
    b, s, n = w.batch_size, w.seq_len, w.new_tokens
    L = arch.num_layers
    precision, _ = stored_weights(arch, w.precision, "llama.cpp")    # a GGUF file is served as stored
    emb, out, layers, experts, how = model_parts_with_experts(arch, precision)
    # llama-model.cpp load_tensors: i_gpu_start = max(n_layer + 1 - n_gpu_layers, 0) over n_layer + 1 slots,
    # the output layer being the last: it goes to the GPU first, then the last ngl - 1 repeating layers
    # (llama.cpp before mid-2025 used n_layer - ngl: the output layer only when ngl > n_layer)
    ngl = L + 1 if w.gpu_layers is None else min(w.gpu_layers, L + 1)
    on_gpu = max(ngl - 1, 0)
    output_on_gpu = ngl >= 1
    gpu_layer_bytes = sum(layers[L - on_gpu:]) if on_gpu else 0
    cpu_layer_bytes = sum(layers[:L - on_gpu])
    # --n-cpu-moe N (common/arg.cpp): a tensor buffer-type override keeps blk.i.ffn_(up|down|gate)_exps of the first
    # N layers in host memory (--cpu-moe / -ot "exps=CPU": all of them); the rest of those layers stays offloaded
    cpu_moe = min(w.cpu_moe_layers, L)
    cpu_experts = sum(experts[i] for i in range(L - on_gpu, L) if i < cpu_moe)
    gpu_layer_bytes -= cpu_experts
    cpu_layer_bytes += cpu_experts
    model_gpu = gpu_layer_bytes + (out if output_on_gpu else 0)
    model_cpu = emb + cpu_layer_bytes + (0 if output_on_gpu else out)
    # KV cache: one cell per token of every slot (llama-server -np b -c b*(s+n))
    n_ctx = math.ceil(b * (s + n) / KV_PAD) * KV_PAD
    k_name, k_bytes = kv_dtype("llama.cpp", w.kv_cache_dtype)
    flash = w.attention != "eager"          # -fa auto: on where the CUDA kernels support it (current default)
    forced_fa = False
    if k_name in ("q8_0", "q4_0") and not flash:
        flash, forced_fa = True, True       # a quantised V cache needs flash attention
    per_cell_layer = kv_elements_per_token_layer(arch, "llama.cpp")
    swa = sliding_layers(arch)
    swa_cells = min(n_ctx, math.ceil((arch.sliding_window * b + N_UBATCH) / KV_PAD) * KV_PAD) if swa else 0

    def kv_layers(count: int) -> int:
        # the first layers are on the CPU; sliding layers (and a hybrid's recurrent layers) are spread through the
        # model; recurrent layers keep n_seq_max f32 states (llama_memory_recurrent, "RS buffer") instead of cells
        sl = round(swa * count / L) if L else 0
        rec = round(arch.linear_attn_layers * count / L) if L else 0
        state = recurrent_state_bytes(arch, "llama.cpp", b) * rec // max(arch.linear_attn_layers, 1)
        return int(per_cell_layer * k_bytes * ((count - sl - rec) * n_ctx + sl * swa_cells)) + state

    kv_gpu = kv_layers(on_gpu)
    kv_cpu = kv_layers(L) - kv_gpu
    # the output matmul runs on the GPU even with the output layer on the CPU: ggml's scheduler offloads
    # large-batch matmuls of host weights to the GPU (op_offload, on by default)
    compute = compute_buffer_bytes(arch, n_ctx, flash, True) if ngl else 0
    if flash and k_name in ("q8_0", "q4_0") and on_gpu:
        # CUDA flash attention dequantises one layer's quantised K and V to fp16 in ggml's CUDA pool
        compute += n_ctx * per_cell_layer * 2
    N = w.gpus
    if N > 1 and ngl:
        # --split-mode layer (default): consecutive layers and their KV on each GPU (-ts proportional);
        # every GPU reserves its own compute buffer. Per GPU: the largest share.
        model_gpu = math.ceil(model_gpu / N)
        kv_gpu = math.ceil(kv_gpu / N)
    ctx = min(cuda_context, LLAMACPP_CUDA_CONTEXT_BYTES) if ngl else 0
    breakdown = {"weights": model_gpu, "gradients": 0, "optimizer_states": 0, "activations": 0,
                 "kv_cache": kv_gpu, "compute_buffer": compute}
    peak = sum(breakdown.values())
    assumptions = [
        f"llama.cpp (modelled from its buffer allocation and published start-up logs, not measured by this "
        f"project): {how}",
        f"-ngl {ngl if w.gpu_layers is not None else 'all'}: {on_gpu}/{L} repeating layers"
        f"{' + the output layer' if output_on_gpu else ''} on the GPU; token embeddings in host memory",
        f"KV cache {k_name}: {n_ctx} cells ({b} slot(s) x {s}+{n} tokens, padded to {KV_PAD})"
        + (f"; {swa} sliding-window layers keep {swa_cells} cells" if swa else ""),
        f"compute buffer for n_ubatch {N_UBATCH}, flash attention {'on' if flash else 'off'}"
        + (" (required by the quantised V cache)" if forced_fa else ""),
    ] + ([f"{N} GPUs, layers split (llama.cpp --split-mode layer)"] if N > 1 else [])
    if ctx:
        assumptions.append(f"CUDA runtime of a ggml process ~{ctx / GiB:.2f} GiB (modelled, no PyTorch)")
    est = _finish(arch, w, breakdown, peak, peak, ctx, "serving", 0, assumptions, offloaded=0)
    _replace_context_note(est, ctx)
    # Host memory: what llama.cpp keeps on the CPU (mmap'd weights are page cache), the KV of CPU layers,
    # the pinned CUDA_Host compute buffer (about n_ubatch x n_embd x a few floats) and the process itself
    host_compute = N_UBATCH * arch.hidden_size * F32 * 3
    est.cpu_ram_bytes = int(model_cpu + kv_cpu + host_compute + LLAMACPP_HOST_PROCESS_BYTES)
    if cpu_moe:
        est.assumptions.append(f"--n-cpu-moe {cpu_moe}: {cpu_experts / GiB:.2f} GiB of routed experts stay in host "
                               "RAM (their matmuls run on the CPU)")
    if model_cpu + kv_cpu:
        est.assumptions.append(f"host RAM: {model_cpu / GiB:.2f} GiB of weights (mmap) and {kv_cpu / GiB:.2f} GiB "
                               "of KV cache stay on the CPU")
    return est


def _replace_context_note(est: Estimate, ctx: int) -> None:
    """common._finish describes PyTorch's measured CUDA context; engines without PyTorch say what they pay."""
    est.assumptions = [a for a in est.assumptions if not a.startswith(("CUDA context", "Apple unified memory"))]
    if not ctx:
        est.assumptions.append("no CUDA context (Apple unified memory or no GPU layers)")
