"""Units, dtypes, the per-process constants and the Estimate result every mechanism module shares."""
from __future__ import annotations

from dataclasses import dataclass, field

GiB = 1 << 30
# CUDA context + kernels loaded by torch 2.11/cu13 on an H100 (calibration/h100-measurements.json).
H100_CUDA_CONTEXT_BYTES = 1_152_188_416
DEFAULT_CUDA_CONTEXT_BYTES = H100_CUDA_CONTEXT_BYTES
# Per-process host memory of a torch + CUDA + transformers process (RSS of the measuring script, order of).
HOST_PROCESS_BYTES = 4 * GiB
# Hugging Face checkpoints are sharded at 5 GB; loading holds about one shard in host RAM.
CHECKPOINT_SHARD_BYTES = 5 * 10**9

BYTES = {"fp32": 4, "fp16": 2, "bf16": 2, "fp16-mixed": 2, "bf16-mixed": 2}


# ---------------------------------------------------------------------------------------------------
# Result

@dataclass
class Estimate:
    model: str
    params: int
    trainable_params: int
    breakdown: dict[str, int]            # bytes per component at the peak, per GPU
    peak_allocated_bytes: int            # torch.cuda.max_memory_allocated at the peak, per GPU
    reserved_bytes: int                  # + caching-allocator slack (torch.cuda.max_memory_reserved)
    cuda_context_bytes: int
    total_bytes: int                     # what nvidia-smi shows at the peak, per GPU
    cpu_ram_bytes: int                   # host RAM the job needs (all processes on one node)
    peak_phase: str
    gpus: int
    assumptions: list[str] = field(default_factory=list)
    kv_slack_bytes: int = 0              # part of the allocator slack that grows with the KV cache (inference)
    load_reserved_bytes: int = 0         # reserved at the end of model loading / wrapping (training; 0: not modelled)

    def to_dict(self) -> dict:
        return {
            "model": self.model, "params": self.params, "trainable_params": self.trainable_params,
            "gpus": self.gpus, "peak_phase": self.peak_phase,
            "peak_allocated_bytes": self.peak_allocated_bytes, "reserved_bytes": self.reserved_bytes,
            "cuda_context_bytes": self.cuda_context_bytes, "total_bytes": self.total_bytes,
            "total_gib": round(self.total_bytes / GiB, 2), "cpu_ram_bytes": self.cpu_ram_bytes,
            "breakdown": dict(self.breakdown), "assumptions": list(self.assumptions),
        }



def _finish(arch, w, breakdown, peak, reserved, cuda_context, phase, trainable, assumptions, offloaded,
            outside_allocator: int = 0) -> Estimate:
    """outside_allocator: device memory no torch allocator statistic sees (NCCL's communication buffers); it
    counts in total_bytes only."""
    N = w.gpus
    # Host RAM: one process per GPU, one checkpoint shard while loading, and whatever is offloaded
    cpu_ram = N * HOST_PROCESS_BYTES + CHECKPOINT_SHARD_BYTES + offloaded
    breakdown = {k: int(v) for k, v in breakdown.items()}
    breakdown["allocator_slack"] = int(reserved - peak)
    breakdown["cuda_context"] = cuda_context
    if outside_allocator:
        breakdown["nccl_buffers"] = int(outside_allocator)
    if cuda_context:
        assumptions.append(f"CUDA context {cuda_context / GiB:.2f} GiB per GPU (torch 2.11 / CUDA 13 on H100, measured)")
    else:
        assumptions.append("Apple unified memory: no CUDA context, Metal's working-set limit instead; the memory "
                           "model assumes PyTorch on MPS allocates like CUDA (not measured; MLX differs)")
    return Estimate(model=arch.name, params=arch.params, trainable_params=trainable, breakdown=breakdown,
                    peak_allocated_bytes=int(peak), reserved_bytes=int(reserved), cuda_context_bytes=cuda_context,
                    total_bytes=int(reserved + cuda_context + outside_allocator), cpu_ram_bytes=int(cpu_ram), peak_phase=phase,
                    gpus=N, assumptions=assumptions)


# vLLM's documented memory budget (docs.vllm.ai CacheConfig; shared/reference/estimators.md 8.1): it may use
# gpu_memory_utilization of the card; activations are profiled at max_num_batched_tokens (chunked prefill);
