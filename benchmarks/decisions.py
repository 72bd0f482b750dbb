"""Practitioner questions, answered the way `plan` answers them: one line per question with the purchase, its
cost, time, headroom, savers and machines, and the decision text. Run: python benchmarks/decisions.py [--json]

The questions are the kind an ML infrastructure engineer is asked (issue 16): hobbyist to lab to enterprise,
owned hardware, long context, serving, other currencies. Reading the answers is the check; tests/test_decisions.py
pins the properties (one machine, headroom floor, savers, owned parts at 0).
"""
from __future__ import annotations

import io
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from planner.cli import main  # noqa: E402

QUESTIONS = [
    ("hobbyist, 2,500 USD and a desktop: QLoRA an 8B",
     "--model 8b --method qlora --budget 2500 --have desktop-am5"),
    ("hobbyist, 2,500 USD, desktop and used cards allowed: QLoRA an 8B",
     "--model 8b --method qlora --budget 2500 --have desktop-am5 --allow-used"),
    ("8B QLoRA at 8k context on the 4090 I have",
     "--model 8b --method qlora --seq-len 8192 --have rtx-4090 --have desktop-am5 --include rtx-4090"),
    ("8B LoRA at 32k context, 20,000 USD",
     "--model 8b --method lora --seq-len 32768 --budget 20000"),
    ("70B QLoRA, 200,000 USD (the README's first line)",
     "--model 70b --method qlora --budget 200000"),
    ("70B LoRA, 300,000 USD",
     "--model 70b --method lora --budget 300000"),
    ("70B QLoRA in one box, 50,000 USD",
     "--model 70b --method qlora --budget 50000 --max-machines 1"),
    ("lab with 2 x RTX A6000 in a workstation: full fine-tune of an 8B, what to add (30,000 USD)",
     "--model 8b --method full --budget 30000 --have 2xrtx-a6000 --have workstation-trx50"),
    ("4 x RTX 3090 rig: serve a 70B (AWQ) to 8 users",
     "--model 70b --engine vllm --precision awq --batch-size 8 --include rtx-3090 --allow-used --gpus 4"),
    ("serve an 8B to 16 concurrent users, 1,000,000 requests within a week",
     "--model 8b --engine vllm --batch-size 16 --requests 1000000 --deadline 7d --allow-used"),
    ("university lab in Taiwan: 70B QLoRA with 3,000,000 TWD",
     "--model 70b --method qlora --budget 3000000 --currency TWD"),
    ("EU startup: full fine-tune of an 8B with 40,000 EUR",
     "--model 8b --method full --budget 40000 --currency EUR"),
    ("pre-train a 1B on 20B tokens, 150,000 USD",
     "--model 1b --method pretrain --tokens 2e10 --budget 150000"),
    ("Mac person: QLoRA a 32B with 6,000 USD",
     "--model 32b --method qlora --budget 6000"),
]


def answer(args: str) -> dict:
    out = io.StringIO()
    code = main(args.split() + ["--json"], out=out, err=io.StringIO())
    d = json.loads(out.getvalue())
    p = d.get("plan")
    row = {"code": code, "decision": (d.get("decision") or {}).get("text") or d.get("reason")}
    if p:
        row.update(cost=p["total_cost"], currency=p["currency"], time_h=None if p["time_s"] is None else
                   round(p["time_s"] / 3600, 1), gpus=p["gpus"], hosts=p["hosts"], strategy=p["strategy"],
                   stack=p["stack"], savers=p["savers"], machines=len(p["machines"]),
                   headroom=round(min(m["headroom_bytes"] / m["usable_bytes"] for m in p["memory"]), 3),
                   owned=[f'{i["count"]} x {i["name"]}' for i in p["items"] if i["owned"] and i["kind"] != "ram"],
                   rent=None if not p["rent"] else {k: p["rent"].get(k) for k in ("gpu", "count", "job_cost",
                                                                                     "same_cards")})
    return row


def main_(argv: list[str]) -> int:
    rows = [(q, a, answer(a)) for q, a in QUESTIONS]
    if "--json" in argv:
        print(json.dumps([{"question": q, "args": a, **r} for q, a, r in rows], indent=1))
        return 0
    for i, (q, a, r) in enumerate(rows, 1):
        print(f"{i:2}. {q}\n    plan {a}")
        if r.get("gpus"):
            print(f"    -> {r['gpus']} in {r['hosts'] or 'the machine'} ({r['machines']} machine(s)), "
                  f"{r['cost']:,.0f} {r['currency']}, {r['time_h']} h, headroom {r['headroom']:.0%}, "
                  f"{r['strategy']}; stack {r['stack'][:60]}; savers {r['savers'] or '-'}"
                  + (f"; owned {r['owned']}" if r["owned"] else ""))
        print(f"    {r['decision']}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main_(sys.argv[1:]))
