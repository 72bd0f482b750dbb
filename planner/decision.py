"""How a plan is chosen when the user gives no deadline and no --objective: a stated rule, not a hidden limit.

THE RULE (printed in the first lines of every answer and in JSON `decision.rule`):
1. Only plans within the budget whose fullest card keeps at least HEADROOM_FLOOR (5%) of its usable memory
   free are ever recommended (the estimator's own error reaches -4%/+6% on measured runs, README); among
   them, plans keeping HEADROOM_PREFERRED (10%) are preferred when any exists, and one machine is preferred
   to several when one machine can run the job.
2. Start from the cheapest such plan. Move to a faster one only while it is worth it: a faster plan is worth
   its price when it is at least SPEED_FOR_PRICE (1.5) times as fast per multiple of the price (twice the
   price must buy at least three times the speed). More of the same hardware gives at most proportional
   speed and can be bought later; the margin keeps the choice from flipping on the time model's error.
   Of the faster plans worth it, the cheapest is taken, and the walk repeats from there.
   A step to fewer cards (less to shard, no collectives to tune) needs only proportional speed: 1 x for 1 x.
3. While the plan takes longer than LONG_S (a week), speed at the same price per speed is worth it too
   (SPEED_FOR_PRICE_LONG = 1): a job that blocks iteration for weeks is worth proportional spending.
4. Never beyond a plan that already finishes the job within ENOUGH_S (8 hours, a working day or a night):
   a one-off job gains little from finishing sooner.

A user deadline (`--deadline`) picks the cheapest plan that meets it; `--objective cost` the cheapest plan,
`--objective time` the fastest within the budget. The headroom floor holds in every mode unless lowered
with `--min-headroom`.
"""
from __future__ import annotations

import math

HEADROOM_FLOOR = 0.05
HEADROOM_PREFERRED = 0.10
SPEED_FOR_PRICE = 1.5
SPEED_FOR_PRICE_LONG = 1.0
LONG_S = 7 * 86400.0
ENOUGH_S = 8 * 3600.0

RULE = ("no deadline given: the cheapest plan within the budget with >= 10% memory headroom (5% at least), on "
        "one machine when one can run the job, upgraded to a faster plan only while 1 x more money buys >= 1.5 x "
        "more speed (>= 1 x for fewer cards or while the job takes over a week), and not beyond a plan that "
        "finishes within 8 hours")
RULE_DEADLINE = "the cheapest plan within the budget that finishes the job by the deadline (>= {floor:.0%} headroom)"
RULE_COST = "--objective cost: the cheapest plan within the budget (>= {floor:.0%} headroom)"
RULE_TIME = "--objective time: the fastest plan within the budget (>= {floor:.0%} headroom)"


def headroom(cf) -> float:
    """Share of usable memory left free on the fullest card of a configuration (several jobs: the tightest)."""
    parts = cf.part_configs or [cf]
    return min((p.usable_bytes - p.need_bytes) / p.usable_bytes if p.usable_bytes > 0 else -1.0 for p in parts)


def above_floor(cf, floor: float) -> bool:
    """The configuration leaves at least `floor` (--min-headroom) of its fullest card free (float rounding aside)."""
    return headroom(cf) >= floor - 1e-12


def _time(cf) -> float:
    return cf.time_s if cf.time_s is not None else math.inf


def _pareto(configs, cost) -> list:
    out = []
    for cf in sorted(configs, key=lambda x: (cost(x), _time(x))):
        if not out or _time(cf) < _time(out[-1]) * (1 - 1e-9):
            out.append(cf)
    return out


def pick(configs: list, cost, value=None) -> tuple[object | None, str]:
    """The configuration the rule recommends among `configs` (already within the budget and above the
    headroom floor), and why, in words. cost(cf): what the user pays; value(cf): what the hardware is worth,
    owned parts included, which the speed-for-price steps compare (default: cost)."""
    value = value or cost
    if not configs:
        return None, ""
    pool, why = list(configs), []
    roomy = [cf for cf in pool if headroom(cf) >= HEADROOM_PREFERRED]
    if roomy:
        pool = roomy
    else:
        why.append(f"no plan keeps {HEADROOM_PREFERRED:.0%} headroom, so the best below it is taken")
    one = [cf for cf in pool if cf.hosting is None or cf.hosting.count == 1]
    if one and len(one) < len(pool):
        pool = one
        why.append("one machine")
    front = _pareto(pool, cost)
    cur = front[0]
    why.append("the cheapest" + (" such plan" if len(why) else " plan"))
    while _time(cur) > ENOUGH_S:
        def need(q) -> float:
            fewer = getattr(q, "count", 1) < getattr(cur, "count", 1)
            return SPEED_FOR_PRICE_LONG if _time(cur) > LONG_S or fewer else SPEED_FOR_PRICE
        better = [q for q in front if _time(q) < _time(cur) and value(q) > 0
                  and (_time(cur) / _time(q)) >= need(q) * (value(q) / max(value(cur), 1e-9))]
        if not better:
            break
        nxt = min(better, key=lambda q: (cost(q), _time(q)))
        why.append(f"then {_time(cur) / _time(nxt):.1f}x faster for {value(nxt) / max(value(cur), 1e-9):.1f}x "
                   "the price")
        cur = nxt
    if _time(cur) <= ENOUGH_S and cur is not front[-1]:
        why.append("it finishes within 8 hours, so nothing faster is bought")
    elif cur is not front[-1]:
        why.append("no faster plan's speed-up is worth its price (1.5x speed per 1x price; 1x for fewer cards or "
                   "a job over a week)")
    return cur, "; ".join(why)
