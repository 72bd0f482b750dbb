"""Training stacks as presets of mechanisms (data, not fudge factors).

A `Stack` says which dtype each tensor family has, which attention kernel and loss run by default, how
--zero is realised (DeepSpeed ZeRO, FSDP1, FSDP2) and where checkpoints live. Every preset follows the code of
the stack it names (cited per field). The Workload's own mechanism fields (--attention, --loss,
--activation-offload, --grad-accum) override the preset; `resolve` returns the mechanisms in force.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from planner.workload import Workload


@dataclass(frozen=True)
class Stack:
    name: str
    summary: str
    # QLoRA: peft prepare_model_for_kbit_training casts every non-quantised parameter (embeddings, norms,
    # lm_head) to fp32, so the residual stream and every layer output are fp32
    kbit_upcast: bool = False
    # bytes per LoRA adapter parameter (peft autocast_adapter_dtype=True keeps adapters in fp32)
    adapter_bytes: int = 4
    # the attention the stack runs when --attention auto: "sdpa" (torch SDPA picks flash/efficient/math from
    # the dtypes) or "flash" (FlashAttention-2 / SDPA flash, bf16 q/k/v, no score matrix)
    attention: str = "sdpa"
    # Gemma-2's attention logit soft-capping needs eager attention in transformers (SDPA cannot soft-cap)
    eager_for_softcap: bool = True
    # loss when --loss auto: full (fp32 logits of every token), chunked (one chunk's fp32 logits at a time),
    # fused (linear + cross-entropy fused: no vocab-sized tensor per token)
    loss: str = "full"
    loss_chunks: int = 8                   # chunked: number of chunks (torchtune CEWithChunkedOutputLoss)
    loss_chunk_tokens: int = 0             # chunked: fixed tokens per chunk instead (litgpt: 128); 0 = use chunks
    loss_upcast: bool = True               # chunked CE upcasts each chunk to fp32 (torchtune) or runs in bf16 (litgpt)
    # chunked: the per-chunk cross-entropy is torch.compile'd (torchtune compile_loss): the fused kernel saves only a
    # log-sum-exp per token and writes the 16-bit gradient directly; eager chunks each save their log-softmax output
    loss_compiled: bool = False
    # how --zero N is realised across GPUs: deepspeed (ZeRO-1/2/3), fsdp1 (FlatParameter units),
    # fsdp2 (per-parameter DTensor sharding, torchtune / accelerate fsdp_version 2)
    sharding: str = "deepspeed"
    # embeddings and lm_head in their own FSDP units (torchtune custom_sharded_layers, left commented out in its
    # configs, so no preset sets it) instead of the root unit, which stays unsharded from forward to end of backward
    shard_embeddings: bool = False
    # accelerate wraps FSDP gradient accumulation in no_sync(): unsharded gradients of every micro-batch
    no_sync_accum: bool = False
    # fsdp_qlora train.py turns no_sync on when CPU offload meets gradient accumulation ("Required for
    # use_cpu_offload and gradient_accumulation_steps > 1"): unsharded gradients stay on the GPU
    no_sync_with_offload: bool = False
    # checkpoints (decoder-layer inputs) are copied to host RAM and back for backward
    activation_offload: bool = False
    # the training loop keeps the model output (fp32 logits) referenced through backward
    # (fsdp_qlora train.py: `output = model(...); loss = output.loss; loss.backward()`); HF Trainer's
    # compute_loss returns only the loss, torchtune `del logits` before backward
    holds_logits: bool = False
    # bitsandbytes < 0.43.2 MatMul4Bit saved the input of every 4-bit linear (`ctx.tensors = (A, B)`, removed by
    # bitsandbytes PR #1270, July 2024); the stacks whose published figures ran on it keep that behaviour
    bnb_saves_inputs: bool = False
    # hand-written autograd functions for the LoRA'd projections, RMSNorm and RoPE (unsloth kernels/fast_lora.py
    # LoRA_MLP saves X, e, g; LoRA_QKV and LoRA_W save X; fast_rms_layernorm saves X and 1/rms; Fast_RoPE saves
    # cos/sin only): no fp32 copies, no per-adapter input copies
    fused_lora_kernels: bool = False
    # the model runs under torch.compile: AOTAutograd's min-cut partitioner recomputes pointwise ops in backward;
    # SwiGLU then saves the gate and up outputs only (SiLU and the product are recomputed). RMSNorm is kept as in
    # eager (its mean is a reduction, which the partitioner does not recompute: ban_recompute_reductions)
    compiled: bool = False
    # torch.optim.AdamW(fused=True): no foreach temporaries in step()
    fused_optimizer: bool = False
    # full fine-tuning recipes shard tok_embeddings and output as their own FSDP units (torchtune
    # llama3_1/8B_full.yaml, 70B_full.yaml: custom_sharded_layers ['tok_embeddings', 'output']; not the LoRA configs)
    shard_embeddings_full: bool = False
    # single-device full fine-tuning steps each parameter in a post-accumulate-grad hook during backward and frees
    # its gradient at once (torchtune full_finetune_single_device, optimizer_in_bwd: True in its configs): no
    # model-sized gradient set, no separate step
    optimizer_in_backward: bool = False
    # LoRA dropout in the stack's default recipe (peft LoraConfig and torchtune/unsloth default to 0): "" none,
    # "module" one nn.Dropout per adapted module (peft), "fused" one per fused qkv linear (litgpt LoRAQKVLinear)
    lora_dropout: str = ""
    # LitGPT materialises the whole model in 16-bit on the GPU while loading the checkpoint: on one device
    # fabric.init_module(empty_init=False) builds every layer in bf16 before bitsandbytes quantises it on load
    # (lightning BitsandbytesPrecision), and under FSDP fabric.load_raw loads the state dict inside
    # _get_full_state_dict_context (all parameters gathered on every rank). Its reported peak is the whole run's
    # torch.cuda.max_memory_allocated, so that moment counts.
    loads_full_16bit: bool = False
    # FSDP1 is built with sync_module_states=True from a model only rank 0 loaded (fsdp_qlora train.py low_memory,
    # its default: "sync_module_states=args['low_memory']"; accelerate fsdp_cpu_ram_efficient_loading, which sets
    # sync_module_states, peft's FSDP-QLoRA recipe): the load moment in training.py
    sync_module_states: bool = False
    # selective activation checkpointing (--activation-checkpointing selective): "op" = torchtitan's per-op policy
    # (torchtitan/distributed/activation_checkpoint.py _apply_op_sac, torchtune training.apply_selective_activation_
    # checkpointing ported from it): inside every decoder layer the outputs of matmuls and attention are saved,
    # "except every second mm", everything else (norms, RoPE, SiLU, products) recomputed in backward
    selective_policy: str = "op"
    # the full-vocabulary loss is torch.compile'd together with the model (torchtitan components/loss.py @e7c0cae,
    # 2025-06: build_cross_entropy_loss "Compiling the loss function with torch.compile" when training.compile): one
    # fused kernel keeps the 16-bit logits and a log-sum-exp and writes a 16-bit gradient, no fp32 copies. An
    # explicit --loss full keeps the eager loss (torchtitan @9dec370, Dec 2024, left loss_fn uncompiled).
    compile_loss: bool = False

    def with_workload(self, w: Workload) -> "Stack":
        """The preset with the Workload's explicit mechanism choices applied on top (made once per choice)."""
        key = (self, w.attention, w.loss, w.activation_offload, w.compile, w.optimizer_in_backward)
        hit = _WITH_WORKLOAD.get(key)
        if hit is None:
            if len(_WITH_WORKLOAD) >= 4096:
                _WITH_WORKLOAD.clear()
            hit = _WITH_WORKLOAD[key] = self._with(w)
        return hit

    def _with(self, w: Workload) -> "Stack":
        s = self
        if w.attention in ("flash", "sdpa", "eager"):
            s = replace(s, attention=w.attention, eager_for_softcap=False)
        if w.loss != "auto":
            s = replace(s, loss=w.loss, compile_loss=False)
        if w.activation_offload:
            s = replace(s, activation_offload=True)
        if w.compile is not None:
            s = replace(s, compiled=w.compile)
        if w.optimizer_in_backward is not None:
            s = replace(s, optimizer_in_backward=w.optimizer_in_backward)
        return s


_WITH_WORKLOAD: dict[tuple, Stack] = {}

STACKS: dict[str, Stack] = {
    # HF Trainer / TRL SFTTrainer with peft and bitsandbytes (what calibration/measure.py runs); --zero maps to
    # DeepSpeed ZeRO through transformers' integration (HF 'auto' buckets). peft/utils/other.py
    # prepare_model_for_kbit_training casts non-quantised params to fp32 (TRL calls it for QLoRA; ms-swift does not,
    # so its QLoRA keeps a bf16 stream); peft tuners_utils autocast_adapter_dtype keeps adapters fp32;
    # transformers attn_implementation defaults to sdpa; loss_utils.ForCausalLMLoss upcasts logits to fp32.
    "hf": Stack("hf", "HF Trainer/TRL + peft + bitsandbytes (DDP, or DeepSpeed ZeRO via --zero)",
                kbit_upcast=True, adapter_bytes=4, attention="sdpa", loss="full", sharding="deepspeed"),
    # accelerate FSDP (fsdp_version 1; --zero 3 FULL_SHARD, 2 SHARD_GRAD_OP); transformer_based_wrap puts each
    # decoder layer in a unit, embeddings / lm_head / final norm stay in the root unit. TRL skips
    # prepare_model_for_kbit_training for sharded QLoRA (quant storage in a float dtype), so no fp32 up-cast;
    # accelerate upcasts trainable params to fp32 under mixed precision; gradient accumulation runs in no_sync.
    "hf-fsdp": Stack("hf-fsdp", "HF Trainer/TRL under accelerate FSDP (root unit holds embeddings and lm_head)",
                     kbit_upcast=False, adapter_bytes=4, attention="sdpa", loss="full", sharding="fsdp1",
                     no_sync_accum=True, sync_module_states=True),
    # Answer.AI fsdp_qlora train.py: precision=bf16 loads the model in bf16 with bnb quant_storage=bf16 (4-bit
    # weights shard; no MixedPrecision policy needed), get_peft_model without kbit prep (peft of early 2024 moves
    # adapters to the base weight's dtype: bf16), optimizer states in the param dtype, FSDP FULL_SHARD with lambda + transformer wrap (root: embeddings, norm, lm_head),
    # attn_impl="sdpa" (flash on bf16), the model's own loss (labels=...: transformers' fp32 logits),
    # CPUOffload(offload_params=True) when use_cpu_offload; lora_dropout default 0.1.
    "fsdp-qlora": Stack("fsdp-qlora", "Answer.AI fsdp_qlora train.py (bf16, FSDP FULL_SHARD, bf16 quant storage)",
                        kbit_upcast=False, adapter_bytes=2, attention="flash", loss="full", sharding="fsdp1",
                        holds_logits=True, bnb_saves_inputs=True, no_sync_with_offload=True, lora_dropout="module",
                        sync_module_states=True),
    # torchtune recipes (configs at 30b8519, the README's memory tables): bf16 everywhere (dtype: bf16, LoRA params
    # bf16, no up-cast), SDPA (flash on bf16), CEWithChunkedOutputLoss(num_output_chunks=8): the output projection
    # returns 8 bf16 chunks, each upcast to fp32 inside a compiled cross-entropy, so only one chunk's logits gradient
    # is live at a time; compile: True (the configuration of the published tables: model and loss compiled);
    # torch.optim.AdamW fused: True; FSDP2 fully_shard per decoder layer, then on the root (training.shard_model: the
    # root keeps tok_embeddings, norm and output and is not resharded after forward; custom_sharded_layers only in
    # the full fine-tuning configs); optimizer_in_bwd: True in the single-device full fine-tuning configs.
    "torchtune": Stack("torchtune", "torchtune recipes (bf16, chunked CE x8, FSDP2)",
                       kbit_upcast=False, adapter_bytes=2, attention="flash", loss="chunked", loss_chunks=8,
                       loss_upcast=True, loss_compiled=True, sharding="fsdp2", compiled=True, fused_optimizer=True,
                       shard_embeddings_full=True, optimizer_in_backward=True),
    # LitGPT finetune/lora.py: precision bf16-true (weights, LoRA and activations bf16), SDPA (flash),
    # model(input_ids, lm_head_chunk_size=128) + utils.chunked_cross_entropy: the lm_head runs on 128-token chunks
    # and cross_entropy on each bf16 chunk (no up-cast): every chunk's bf16 logits and bf16 log-softmax stay
    # saved until backward (4 B x vocab per token); lora_dropout = 0.05; Fabric FSDPStrategy for several GPUs.
    "litgpt": Stack("litgpt", "LitGPT (bf16-true, lm_head + CE in 128-token chunks, FSDP)",
                    kbit_upcast=False, adapter_bytes=2, attention="flash", loss="chunked", loss_chunk_tokens=128,
                    loss_upcast=False, sharding="fsdp1", bnb_saves_inputs=True, lora_dropout="fused",
                    loads_full_16bit=True),
    # Unsloth: 4-bit base with bf16 compute and no up-cast of the rest (its prepare_model_for_kbit_training only
    # casts LoRA A/B to fp32: "Also must be in float32!"), FlashAttention-2 / xformers, fused linear
    # cross-entropy (no full logits), use_gradient_checkpointing="unsloth" offloads each checkpoint to host RAM.
    "unsloth": Stack("unsloth", "Unsloth (bf16 compute, fp32 LoRA, fused CE, checkpoints offloaded to host)",
                     kbit_upcast=False, adapter_bytes=4, attention="flash", eager_for_softcap=False, loss="fused",
                     sharding="deepspeed", activation_offload=True, fused_lora_kernels=True),
    # torchtitan (pytorch/torchtitan @9dec370, the Dec 2024 Llama 3.1 benchmarks; train_configs/llama3_8b.toml):
    # parallelize_llama.apply_fsdp: FSDP2 fully_shard per TransformerBlock, then the root (tok_embeddings, norm,
    # output) with reshard_after_forward=True, so only the output projection is gathered again for the loss;
    # fp32 parameters under MixedPrecisionPolicy(param_dtype=bf16, reduce_dtype=fp32) (16 bytes/param of states,
    # as DeepSpeed bf16); SDPA flash with is_causal (no mask); train.py loss_fn =
    # cross_entropy(pred.flatten(0, 1).float(), labels) then `del pred` before backward: full fp32 logits;
    # activation_checkpoint mode "selective", selective_ac_option "op" by default (_apply_ac_to_transformer_block);
    # training.compile compiles each TransformerBlock; from 2025 it compiles the loss too (compile_loss below).
    "torchtitan": Stack("torchtitan", "torchtitan (FSDP2 per block, bf16 compute / fp32 params, selective op AC)",
                        kbit_upcast=False, adapter_bytes=2, attention="flash", loss="full", sharding="fsdp2",
                        shard_embeddings=True, selective_policy="op", compile_loss=True),
    # Axolotl (src/axolotl/loaders/model.py ModelLoader._configure_embedding_dtypes, 2025): prepare_model_for_kbit_
    # training up-casts, then every module named *norm* and the embedding modules (embed_tokens, lm_head) are
    # converted back to cfg.torch_dtype (bf16) "for flash-attn compatibility" when an adapter or flash attention is
    # used, so the stream stays bf16 (unlike the hf preset's fp32 up-cast); peft keeps adapters fp32; the example
    # configs set flash_attention: true and (2025+) the CutCrossEntropyPlugin (no logits materialised: --loss fused);
    # multi-GPU via accelerate FSDP or DeepSpeed (--zero) as in the hf presets.
    "axolotl": Stack("axolotl", "Axolotl (HF Trainer + peft; norms/embeddings back to bf16 after kbit prep, "
                     "flash attention, Cut Cross Entropy)",
                     kbit_upcast=False, adapter_bytes=4, attention="flash", loss="fused", sharding="deepspeed"),
}


def resolve(w: Workload) -> tuple[Stack, list[str]]:
    """The stack preset for w.framework with w's explicit mechanisms applied, and notes on the choice."""
    notes = []
    base = STACKS.get(w.framework)
    if base is None:                    # e.g. mlx-lm training: modelled with the hf mechanisms
        notes.append(f"framework {w.framework}: no training preset, modelled with the hf stack's mechanisms")
        base = STACKS["hf"]
    return base.with_workload(w), notes
