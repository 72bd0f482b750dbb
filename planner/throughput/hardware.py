"""What the time model needs of a card: achievable matmul, attention, fp32 and memory rates, and its host link.

Peak figures come from the catalogue (planner/catalog.py, datasheets); the fraction of peak a real kernel
reaches is a property of the card's generation and software backend, taken from published kernel benchmarks
(cited per entry). Fitted stack efficiencies (presets.py) multiply on top of these.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from planner.memo import per_object

# Fraction of the datasheet dense BF16 tensor rate that the best-shaped torch.matmul reaches ("Maximum
# Achievable Matmul FLOPS", stas00/ml-engineering compute/accelerator/README.md, measured with mamf-finder.py):
# A100 SXM 271.2/312 = 86.9%, H100 SXM 794.5/989 = 80.3%, B200 1745/2250 = 77.6%, MI300X 781.9/1300 = 60.1%.
# GeForce/workstation, RDNA, Apple and Strix Halo are not in that table: assumed (say so in the time basis).
# Keyed by generation; these are kernel ceilings, not stack efficiencies (presets.py multiplies on top).
GEMM_EFFICIENCY = {
    "hopper": 0.80, "blackwell": 0.776, "ampere": 0.87, "cdna3": 0.60,
    "ada": 0.85, "volta": 0.8, "grace-blackwell": 0.776, "cdna4": 0.60, "rdna3": 0.6, "rdna4": 0.6,
    "strix-halo": 0.6, "apple-m1": 0.7, "apple-m2": 0.7, "apple-m3": 0.7, "apple-m4": 0.7, "default": 0.75,
}
MEASURED_GEMM_GENERATIONS = ("hopper", "blackwell", "ampere", "cdna3")
# FlashAttention-2 forward+backward as a fraction of the dense 16-bit peak: 50-73% forward and 40-63% backward on
# A100 (Dao 2023, FlashAttention-2, section 4.1); "only 35% utilization on H100" (Shah et al. 2024,
# FlashAttention-3, abstract). Other cards: the A100 figure's lower end.
FLASH_EFFICIENCY = {"hopper": 0.35, "blackwell": 0.35, "default": 0.5}
# Fraction of the datasheet memory bandwidth that streaming kernels (copies, elementwise, dequantisation)
# reach: ~80-90% in STREAM-like tests on HBM and GDDR (NVIDIA nvbandwidth / babelstream reports).
BANDWIDTH_EFFICIENCY = 0.8
# Non-tensor FP32 rate when the catalogue gives none: GeForce/workstation cards have FP32 at half their
# FP32-accumulate tensor rate (Ampere/Ada/Blackwell GeForce whitepapers: 3090 35.6 vs 71, 4090 82.6 vs 165);
# data-centre tensor-core parts are ~1/15 (H100 SXM 67 vs 989; A100 19.5 vs 312).
FP32_RATIO_CONSUMER, FP32_RATIO_DATACENTRE = 0.5, 1 / 15
# Host link (PCIe) one direction, GB/s of the raw lane rate: gen3 0.985, gen4 1.97, gen5 3.94 per lane;
# copies reach ~80% of it (cudaMemcpy pinned host<->device on x16 gen4: ~25 of 31.5 GB/s).
PCIE_LANE_GBPS = {3: 0.985, 4: 1.97, 5: 3.94}
PCIE_COPY_EFFICIENCY = 0.8


@dataclass(frozen=True)
class Card:
    name: str
    vendor: str
    generation: str
    bf16_tflops: float
    bandwidth_gbps: float
    fp32_tflops: float
    host_link_gbps: float         # PCIe one direction, achievable (unified memory: the memory bandwidth)
    unified: bool
    p2p: bool                      # GPU-to-GPU copies over PCIe without staging in host memory
    fp8_tflops: float = 0.0        # dense FP8 tensor rate (0: no FP8 tensor cores)

    @property
    def gemm_flops(self) -> float:
        """Achievable dense 16-bit matmul FLOP/s."""
        return self.bf16_tflops * 1e12 * GEMM_EFFICIENCY.get(self.generation, GEMM_EFFICIENCY["default"])

    @property
    def fp8_flops(self) -> float:
        """Achievable dense FP8 matmul FLOP/s (the 16-bit rate where the card has no FP8 tensor cores)."""
        if not self.fp8_tflops:
            return self.gemm_flops
        return self.fp8_tflops * 1e12 * GEMM_EFFICIENCY.get(self.generation, GEMM_EFFICIENCY["default"])

    @property
    def flash_flops(self) -> float:
        return self.bf16_tflops * 1e12 * FLASH_EFFICIENCY.get(self.generation, FLASH_EFFICIENCY["default"])

    @property
    def fp32_flops(self) -> float:
        return self.fp32_tflops * 1e12 * GEMM_EFFICIENCY["default"]

    @property
    def bytes_per_s(self) -> float:
        return self.bandwidth_gbps * 1e9 * BANDWIDTH_EFFICIENCY


def _pcie_gbps(text: str | None) -> float:
    """'4.0 x16' -> achievable GB/s one direction; unknown -> gen4 x16."""
    m = re.match(r"\s*(\d)(?:\.\d)?\s*x\s*(\d+)", text or "")
    gen, lanes = (int(m.group(1)), int(m.group(2))) if m else (4, 16)
    return PCIE_LANE_GBPS.get(gen, PCIE_LANE_GBPS[4]) * lanes * PCIE_COPY_EFFICIENCY


# Cards already made, per catalogue GPU object (held, so its id is not reused): a plan asks once per configuration
_BY_OBJECT: dict[int, tuple[object, Card]] = {}


def card_of(g) -> Card:
    """A catalogue GPU (planner.catalog.GPU) as the time model sees it (made once per GPU object)."""
    return per_object(_BY_OBJECT, g, _card_of)


def physical(card: Card) -> tuple:
    """What a card computes with: every field but its name (regional price variants of a card share it)."""
    return tuple(v for k, v in card.__dict__.items() if k != "name")


def _card_of(g) -> Card:
    """A catalogue GPU (planner.catalog.GPU) as the time model sees it."""
    consumer = g.vendor in ("nvidia", "amd", "intel") and not getattr(g, "ecc", False)
    fp32 = getattr(g, "fp32_tflops", None) or g.bf16_tflops * (
        FP32_RATIO_CONSUMER if consumer or g.form == "unified" else FP32_RATIO_DATACENTRE)
    unified = g.form == "unified"
    link = g.bandwidth_gbps * BANDWIDTH_EFFICIENCY if unified else _pcie_gbps(getattr(g, "pcie", None))
    # NVIDIA disables PCIe peer-to-peer on GeForce cards (NCCL then stages through host memory: P2P/SHM);
    # professional and data-centre cards keep it
    p2p = not (g.vendor == "nvidia" and not getattr(g, "ecc", False))
    # FP8 tensor cores run at twice the 16-bit rate on Ada, Hopper, Blackwell and CDNA3 (datasheets)
    fp8 = getattr(g, "fp8_tflops", None) or (2 * g.bf16_tflops if getattr(g, "fp8", False) else 0.0)
    return Card(g.name, g.vendor, g.generation or "default", g.bf16_tflops, g.bandwidth_gbps, fp32, link,
                unified, p2p, fp8)
