"""Throughput and time model: how fast a stack or engine runs a job on a card, as pure functions of
(architecture, workload, stack/engine preset, card, link). A small package of mechanisms beside the memory
estimator (planner/estimator/):

- training.py: a training step = forward + backward (+ recompute) as compute at the number format the stack
  uses, the stack's efficiency, QLoRA dequantisation, the optimizer step as bytes over bandwidth, offload
  traffic over PCIe, communication (comm.py) over the link really bought.
- comm.py: collective traffic per step (DDP/ZeRO/FSDP/tensor/pipeline) and the link it crosses.
- inference.py: prefill (compute-bound) and decode (bytes per step over bandwidth, active experts only,
  KV cache, per-token engine cost, a compute term at large batch, continuous-batching overhead) per engine.
- presets.py: stack and engine presets as data (efficiencies, fixed costs), each with its source.

Constants are fitted over many published or measured runs by benchmarks/throughput.py (validation/throughput-*.json),
never to a single case; tests fail when a constant drifts from what the data says.
"""
