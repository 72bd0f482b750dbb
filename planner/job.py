"""The job a plan is timed for: how much work, stated in every answer, overridable.

Fine-tuning: `--examples` x `--tokens-per-example` x `--epochs` tokens. `--seq-len` is the *longest* example
(the window memory is sized for), not every example's length: instruction datasets average a few hundred
tokens per example, so a job of "10,000 examples x seq_len x 3 epochs" would be 4-60x too large. The count
assumes the trainer does not train on padding: packing (TRL `SFTConfig(packing=True)`), padding-free batches
(`padding_free=True`) or a micro-batch of 1 all process exactly the examples' tokens.

Pre-training: 20 tokens per parameter (Chinchilla) unless `--tokens`. Serving: 10,000 requests unless
`--requests`. There is no default deadline (see planner/decision.py for how a plan is chosen without one).
"""
from __future__ import annotations

from dataclasses import dataclass

from planner.architecture import Architecture
from planner.errors import InputError
from planner.workload import Workload

CHINCHILLA_TOKENS_PER_PARAM = 20          # Hoffmann et al. 2022, compute-optimal tokens per parameter
DEFAULT_EXAMPLES = 10_000
DEFAULT_EPOCHS = 3.0                      # HF Trainer's num_train_epochs default (TrainingArguments)
DEFAULT_REQUESTS = 10_000
# Tokens per example of common instruction datasets (dataset cards' byte counts at ~4 bytes per token, the
# usual English BPE ratio): timdettmers/openassistant-guanaco (the QLoRA paper's dataset), Llama-2 format
# copy gpjt/openassistant-guanaco-llama2-format: 20,912,557 bytes / 9,846 examples = 2,124 bytes ~ 530 tokens;
# vicgalle/alpaca-gpt4: 88,566,301 bytes / 52,002 examples, half of it the concatenated `text` column =
# ~850 bytes ~ 210 tokens. The default takes the longer of the two, rounded: 512 tokens.
DEFAULT_TOKENS_PER_EXAMPLE = 512


@dataclass(frozen=True)
class JobSize:
    """The amount of work a plan's time and energy are for: training tokens or requests served."""
    kind: str                     # pretrain | fine-tune | serve
    tokens: int | None = None
    requests: int | None = None
    examples: int | None = None
    epochs: float | None = None
    default: bool = True          # chosen by the planner, not the user
    tokens_per_example: int | None = None
    seq_len: int | None = None    # the longest example (memory is sized for it)

    def describe(self) -> str:
        src = "default job" if self.default else "job"
        if self.kind == "serve":
            return f"{src}: serve {self.requests:,} requests"
        if self.kind == "pretrain":
            return f"{src}: pre-train on {self.tokens:,} tokens" + (
                f" (Chinchilla: {CHINCHILLA_TOKENS_PER_PARAM} x parameters)" if self.default else "")
        if self.examples:
            return (f"{src}: fine-tune on {self.examples:,} examples x {self.tokens_per_example:,} tokens "
                    f"(up to {self.seq_len:,}) x {self.epochs:g} epochs = {self.tokens / 1e6:,.1f} M tokens")
        return f"{src}: fine-tune on {self.tokens:,} tokens"

    def to_dict(self) -> dict:
        return {"kind": self.kind, "tokens": self.tokens, "requests": self.requests, "examples": self.examples,
                "epochs": self.epochs, "tokens_per_example": self.tokens_per_example, "seq_len": self.seq_len,
                "default": self.default, "description": self.describe()}


def default_training_tokens(arch: Architecture, w: Workload) -> int | None:
    """Pre-training with no token count given: the Chinchilla rule of ~20 tokens per parameter."""
    return CHINCHILLA_TOKENS_PER_PARAM * arch.params if w.method == "pretrain" else None


def job_size(arch: Architecture, w: Workload, tokens: int | None = None, examples: int | None = None,
             epochs: float | None = None, requests: int | None = None,
             tokens_per_example: int | None = None) -> JobSize:
    """What the user asked for, else the stated default for the method. An example is never longer than
    --seq-len (the trainer truncates it there)."""
    if not w.training:
        return JobSize("serve", requests=requests or DEFAULT_REQUESTS, default=requests is None)
    if w.method == "pretrain":
        return JobSize("pretrain", tokens=tokens or default_training_tokens(arch, w), default=tokens is None)
    if tokens:
        return JobSize("fine-tune", tokens=tokens, default=False)
    n, e = examples or DEFAULT_EXAMPLES, epochs or DEFAULT_EPOCHS
    if n * e < 1:                   # less than one example seen: a job of 0 tokens, planned as if free
        raise InputError(f"--epochs: {n:,} examples x {e:g} epochs is less than one example; the job must train "
                         "on at least one sequence (raise --epochs or --examples)")
    per = min(tokens_per_example or DEFAULT_TOKENS_PER_EXAMPLE, w.seq_len)
    return JobSize("fine-tune", tokens=int(n * e * per), examples=n, epochs=e,
                   default=examples is None and epochs is None and tokens_per_example is None,
                   tokens_per_example=per, seq_len=w.seq_len)


def energy_kwh(power_w: float, seconds: float | None) -> float | None:
    """Energy of the job at the machines' rated power (TDP), kWh."""
    return None if seconds is None else power_w * seconds / 3.6e6
