"""Collective traffic of data-parallel training and the link it crosses.

Bytes each GPU sends per optimizer step, from parameter and gradient bytes (Rajbhandari et al. 2020, ZeRO,
section 7: DDP and ZeRO-1/2 move 2 x the gradient bytes per step, ZeRO-3 3 x the model bytes), and the
achievable one-direction bandwidth of the slowest link those collectives cross.
"""
from __future__ import annotations

from dataclasses import dataclass

from planner.throughput.hardware import Card

# NCCL bus bandwidth as a fraction of the one-direction link rate: nccl-tests all_reduce_perf on 8 x H100 SXM
# reaches ~360-390 GB/s busbw of NVLink 4's 450 GB/s per direction (NVIDIA NCCL tests README and DGX H100 reports);
# the same fraction is assumed for bridges, PCIe and networks.
NCCL_EFFICIENCY = 0.8
# NCCL without PCIe peer-to-peer (GeForce cards) stages every transfer through pinned host memory (the SHM
# transport: a device-to-host and a host-to-device copy per hop), halving the one-direction rate.
SHM_FACTOR = 0.5
DEFAULT_NODE_NETWORK_GBITS = 100.0    # a machine's network when the platform names none (one 100 GbE port)


@dataclass(frozen=True)
class Link:
    kind: str            # none | nvlink | pcie | network | unified
    gbps: float          # achievable GB/s per GPU, one direction, for collectives (0: no traffic)
    detail: str = ""

    def seconds(self, nbytes: float) -> float:
        return 0.0 if nbytes <= 0 or self.gbps <= 0 else nbytes / (self.gbps * 1e9)


def nvlink_link(card: Card, bidirectional_gbps: float) -> Link:
    """NVIDIA quotes NVLink per GPU as the sum of both directions (H100: 900 GB/s = 450 each way)."""
    return Link("nvlink", bidirectional_gbps / 2 * NCCL_EFFICIENCY, "NVLink")


def pcie_link(card: Card, lanes: int | None = None) -> Link:
    gbps = card.host_link_gbps * ((lanes / 16) if lanes else 1.0)
    if not card.p2p:
        return Link("pcie", gbps * NCCL_EFFICIENCY * SHM_FACTOR, "PCIe (no peer-to-peer: staged in host memory)")
    return Link("pcie", gbps * NCCL_EFFICIENCY, "PCIe peer-to-peer")


def network_link(node_gbits: float, intra: Link) -> Link:
    """Across machines NCCL's rings cross each node's network once per channel: the node's total NIC bandwidth
    (all its ports) bounds the bus bandwidth, and never beats the link inside the machine."""
    gbps = min(node_gbits / 8 * NCCL_EFFICIENCY, intra.gbps if intra.gbps > 0 else float("inf"))
    return Link("network", gbps, f"{node_gbits:g} Gb/s network per machine")


def data_parallel_bytes(zero: int, gpus: int, grad_bytes: float, param_bytes: float, weight_bytes: float,
                        micro_batches: int) -> tuple[float, float]:
    """(bytes per optimizer step that overlap with backward, bytes per micro-batch that overlap with compute)
    each GPU sends. A ring collective sends (N-1)/N of its buffer per GPU per pass; all-reduce is two passes.

    zero 0 (DDP): all-reduce of the gradients once per step (no_sync during accumulation).
    zero 1/2: reduce-scatter of the gradients, then all-gather of the updated 16-bit trainable parameters.
    zero 3 / FSDP FULL_SHARD: all-gather of the weights in forward and again in backward, and a
    reduce-scatter of each micro-batch's gradients."""
    if gpus <= 1:
        return 0.0, 0.0
    ring = (gpus - 1) / gpus
    if zero == 0:
        return 2 * grad_bytes * ring, 0.0
    if zero in (1, 2):
        return (grad_bytes + param_bytes) * ring, 0.0
    return 0.0, (2 * weight_bytes + grad_bytes) * ring
