"""Engine presets as data: what each inference engine achieves of a card's peaks, and what it costs per step.

One preset per engine; within it, values per backend (cuda: NVIDIA, rocm: AMD, metal: Apple). Each number is
fitted by benchmarks/throughput_inference.py over the published cases in validation/throughput-inference.json
(never one case) and tests/test_throughput_inference.py fails when a constant drifts from what that fit prints.
A backend without enough published cases takes the engine's CUDA value (`fitted` says which are fitted). The
presets stand for current releases: runs of superseded software (CURRENT_SOFTWARE_SINCE) are scored, not fitted.

Mechanisms the fields stand for (read from the engines' code):
- decode_bandwidth_efficiency: share of peak memory bandwidth a decode step's weight and KV-cache reads reach
  (llama.cpp's mul_mat_vec_q / MMVQ kernels, vLLM's Marlin/cutlass GEMMs + paged attention, MLX's qmv kernels,
  PyTorch's cuBLAS GEMV in HF generate()).
- step_overhead_s: fixed time per decode step besides the matmuls: graph launch, sampling, the host round trip
  (llama.cpp and vLLM replay CUDA graphs: ggml-cuda.cu cuda graph support, vLLM's CUDAGraphRunner; MLX builds
  and evaluates a lazy graph per token).
- layer_overhead_s: per layer and step: eager PyTorch launches every kernel of every layer from Python (HF
  generate()); zero for the engines that capture graphs.
- seq_overhead_s: per sequence and step: continuous-batching scheduler, block tables, sampler and detokeniser
  (vLLM's Scheduler.schedule and the output processor run on the CPU every step).
- prefill_efficiency: share of the number format's matmul peak (see matmul_peak_tflops) a prompt's forward
  reaches; also used for the compute side of a large decode batch (the same GEMM kernels at large M).
- prefill_chunk_tokens: tokens one forward takes of a prompt (llama.cpp n_ubatch = 512; vLLM V1
  max_num_batched_tokens = 8192 with chunked prefill on; TensorRT-LLM max_num_tokens = 8192; MLX prefill_step_size =
  2048; HF: the whole prompt).
- max_seqs: sequences one replica batches at most (vLLM max_num_seqs = 256; TensorRT-LLM max_batch_size = 2048; llama-server --parallel default 4
  since b5000-era `-np auto`; mlx_lm.server batches one request; HF generate(): the batch given).
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class EnginePreset:
    name: str
    decode_bandwidth_efficiency: dict[str, float]
    step_overhead_s: dict[str, float]
    prefill_efficiency: dict[str, float]
    layer_overhead_s: float = 0.0
    seq_overhead_s: dict[str, float] = field(default_factory=dict)
    prefill_chunk_tokens: int = 2048
    max_seqs: int = 256
    continuous_batching: bool = False
    # per layer and step for bitsandbytes weights in HF generate(): dequantise nf4/int8 before each matmul
    # (medians of the nf4 and int8 generate() cases in calibration/)
    quant_layer_overhead_s: dict[str, float] = field(default_factory=dict)
    fitted: dict[str, int] = field(default_factory=dict)    # backend -> published cases the fit used
    source: str = ""

    def bandwidth_efficiency(self, backend: str) -> float:
        return self.decode_bandwidth_efficiency.get(backend, self.decode_bandwidth_efficiency["cuda"])

    def step_overhead(self, backend: str) -> float:
        return self.step_overhead_s.get(backend, self.step_overhead_s["cuda"])

    def prefill(self, backend: str) -> float:
        return self.prefill_efficiency.get(backend, self.prefill_efficiency["cuda"])

    def seq_overhead(self, backend: str) -> float:
        return self.seq_overhead_s.get(backend, self.seq_overhead_s.get("cuda", 0.0))


# The software generation each preset stands for, per (published stack, backend): the date from which a stack's
# releases are what a buyer runs now. Published runs of older software (a case's `software_date`, validation/README.md,
# before it) are scored by benchmarks/throughput_inference.py but not fitted on, and benchmarks/throughput.py
# leaves them out of the planner's time basis (coverage.json), naming how many it left out.
# - vLLM on ROCm: vllm-project/vllm PR #19440 ("[ROCm][V1] Adding ROCm to the list of plaforms using V1 by default",
#   2025-06-10) made the V1 engine ROCm's default. V1 reached ROCm only in February 2025 (PR #12790, "[ROCm][V1] Add
#   intial ROCm support to V1"), so earlier ROCm runs used the V0 engine, and they predate the AITER kernels AMD
#   integrated in vLLM 0.9.x (rocm.blogs.amd.com, "Accelerated LLM Inference on AMD Instinct GPUs with vLLM 0.9.x and
#   ROCm"). Runs of releases from before that date are scored apart.
CURRENT_SOFTWARE_SINCE: dict[tuple[str, str], str] = {("vllm", "rocm"): "2025-06-10"}


def superseded_since(stack: str, backend: str, software_date: str | None) -> str:
    """The date from which (stack, backend) software is current when `software_date` (ISO) is older; '' when the
    software is current or its date unknown (nothing says it is superseded)."""
    since = CURRENT_SOFTWARE_SINCE.get((stack, backend), "")
    return since if since and software_date and str(software_date) < since else ""


# FITTED-CONSTANTS-BEGIN (benchmarks/throughput_inference.py --write rewrites this block)
ENGINES: dict[str, EnginePreset] = {
    "transformers": EnginePreset(
        "transformers", {"cuda": 0.575},
        {"cuda": 0.0},
        {"cuda": 0.5},
        layer_overhead_s=0.0009, seq_overhead_s={}, prefill_chunk_tokens=1073741824, max_seqs=65536,
        continuous_batching=False, fitted={'measured_h100_generate': 39}, quant_layer_overhead_s={"int4": 0.0012, "int8": 0.0045, "nf4": 0.0012},
        source="fit over the H100 generate() measurements in calibration/ by benchmarks/throughput_inference.py"),
    "vllm": EnginePreset(
        "vllm", {"cuda": 0.729},
        {"cuda": 0.0},
        {"cuda": 0.4, "rocm": 0.147},
        layer_overhead_s=0.0, seq_overhead_s={}, prefill_chunk_tokens=8192, max_seqs=256,
        continuous_batching=True, fitted={'decode_cuda': 3, 'batched_compute_rocm': 4},
        source="fit over validation/throughput-inference.json and serving-cases.json by benchmarks/throughput_inference.py"),
    "tensorrt-llm": EnginePreset(
        "tensorrt-llm", {"cuda": 0.729},
        {"cuda": 0.0},
        {"cuda": 0.326},
        layer_overhead_s=0.0, seq_overhead_s={}, prefill_chunk_tokens=8192, max_seqs=2048,
        continuous_batching=True, fitted={'batched_compute_cuda': 12},
        source="fit over validation/throughput-inference.json and serving-cases.json by benchmarks/throughput_inference.py"),
    "llama.cpp": EnginePreset(
        "llama.cpp", {"cuda": 0.91, "metal": 0.785},
        {"cuda": 0.00412, "metal": 0.00589},
        {"cuda": 0.174, "metal": 0.615},
        layer_overhead_s=0.0, seq_overhead_s={}, prefill_chunk_tokens=512, max_seqs=4,
        continuous_batching=True, fitted={'decode_cuda': 20, 'decode_metal': 4, 'prefill_cuda': 11, 'prefill_metal': 3},
        source="fit over validation/throughput-inference.json and serving-cases.json by benchmarks/throughput_inference.py"),
    "mlx": EnginePreset(
        "mlx", {"cuda": 0.7, "metal": 0.7},
        {"cuda": 0.0},
        {"cuda": 0.4, "metal": 0.68},
        layer_overhead_s=0.0, seq_overhead_s={}, prefill_chunk_tokens=2048, max_seqs=1,
        continuous_batching=False, fitted={'prefill_metal_all_engines': 4},
        source="fit over validation/throughput-inference.json and serving-cases.json by benchmarks/throughput_inference.py"),
}
# FITTED-CONSTANTS-END
