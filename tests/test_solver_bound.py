"""Candidates bounded by the budget (solver.candidates(bounded=True), what `plan` uses) give exactly the plan that
every configuration gives: within the budget the same configurations survive pruning, and whatever looks past the
budget (the cheapest plan when nothing fits, renting dearer cards, no affordable card at all) widens them."""
import pytest

from planner.api import builtin_catalog
from planner.configs import Constraints, clear_caches
from planner.data import builtin_registry
from planner.render import plan_json
from planner.serving import ServingSpec
from planner.solver import candidates, decide
from planner.workload import Workload

CASES = [
    # (model, workload, constraints)
    ("llama-3.1-8b", dict(method="lora", gradient_checkpointing=True, seq_len=4096, batch_size=4), dict(budget=20_000)),
    ("llama-3.1-8b", dict(method="lora", lora_rank=64), dict(budget=3_000)),                      # a tight budget
    ("llama-3.1-8b", dict(method="lora"), dict(budget=100)),                                      # nothing fits
    ("llama-3.1-70b", dict(method="qlora"), dict(budget=200_000)),
    ("llama-3.1-70b", dict(method="qlora"), dict(budget=200_000, objective="time")),
    ("llama-3.1-70b", dict(method="full", gradient_checkpointing=True), dict(budget=400_000)),     # budget binds
    ("llama-3.1-70b", dict(method="full", gradient_checkpointing=True),
     dict(budget=5e6, deadline_s=86400.0, tokens=1_000_000_000)),
    ("llama-3.2-1b", dict(method="pretrain", batch_size=8),
     dict(budget=50_000, tokens=20_000_000_000, deadline_s=14 * 86400.0)),                        # deadline binds
    ("llama-3.1-8b", dict(method="inference", batch_size=16), dict(budget=10_000, currency="EUR")),
    ("llama-3.1-70b", dict(method="inference"),
     dict(budget=60_000, serving=ServingSpec(5.0, None, None, None))),                            # rent_instead
    ("llama-3.1-70b", dict(method="inference"),
     dict(budget=8_000, serving=ServingSpec(20.0, None, 2.0, None))),
]


def _plan(model, workload, constraints, bounded):
    arch, notes = builtin_registry().resolve(model)
    catalog = builtin_catalog()
    c = Constraints(**constraints)
    res = decide(candidates(arch, Workload(**workload), catalog, c, bounded=bounded), catalog, c)
    out = plan_json(res, [], catalog)
    out.pop("solve_seconds")
    return out


@pytest.mark.parametrize("model,workload,constraints", CASES)
def test_bounded_candidates_give_the_plan_all_candidates_give(model, workload, constraints):
    clear_caches()
    everything = _plan(model, workload, constraints, bounded=False)
    clear_caches()
    bounded_cold = _plan(model, workload, constraints, bounded=True)
    bounded_warm = _plan(model, workload, constraints, bounded=True)       # configurations timed on demand, kept
    assert bounded_cold == everything
    assert bounded_warm == everything
    assert _plan(model, workload, constraints, bounded=False) == everything   # the rest timed after the bound


def test_a_bounded_plan_times_only_what_the_budget_can_buy():
    from planner import configs
    arch, _ = builtin_registry().resolve("llama-3.1-8b")
    catalog = builtin_catalog()
    wl = Workload(method="lora", gradient_checkpointing=True)
    clear_caches()
    timed = []
    real = configs.time_config

    def counting(*args):
        timed.append(args[2])
        return real(*args)

    configs.time_config = counting
    try:
        cands = candidates(arch, wl, catalog, Constraints(budget=20_000), bounded=True)
        n_bounded = len(timed)
        assert cands.configs and all(cf.hosting.cost_usd <= 20_000 * (1 + 1e-9) + 1e-6 for cf in timed)
        candidates(arch, wl, catalog, Constraints(budget=20_000))
    finally:
        configs.time_config = real
    assert len(timed) > 2 * n_bounded          # the rest were timed only when asked for


@pytest.mark.parametrize("model,workload,constraints", CASES[:8])
def test_a_configuration_costs_at_least_its_cards(model, workload, constraints):
    """What lets a bounded plan leave configurations unhoused (configs._least_card_usd): every machine pays its host,
    its cards, RAM and bridges, none negative, so a configuration's housing costs at least count x the card's price."""
    arch, _ = builtin_registry().resolve(model)
    catalog = builtin_catalog()
    c = Constraints(**{k: v for k, v in constraints.items() if k != "budget"})
    clear_caches()
    from planner import configs
    assert candidates(arch, Workload(**workload), catalog, c).configs
    housed = [cf for card in configs._CARD_CONFIGS.values() for cf, _, _, _ in card.items if cf.hosting is not None]
    assert len(housed) > 20
    for cf in housed:
        if not cf.gpu.is_machine:
            assert cf.hosting.cost_usd >= cf.count * catalog.gpu_price_usd(cf.gpu) * (1 - 1e-12)
