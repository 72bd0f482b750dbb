"""Plans an expert would sign (issue 16): a realistic stated job, a stated decision rule with a headroom floor,
memory savers before more cards, stacks only where they run, and the bugs found by reading plans."""
import io
import json
import math
from types import SimpleNamespace

import pytest

from planner import decision
from planner.catalog import load_catalog
from planner.cli import main
from planner.configs import Constraints, usable_bytes
from planner.data import builtin_registry
from planner.job import DEFAULT_TOKENS_PER_EXAMPLE, job_size
from planner.software import card_refuses
from planner.solver import candidates, plan
from planner.workload import Workload

reg = builtin_registry()
CATALOG = load_catalog()


def run_json(*args) -> tuple[int, dict]:
    out = io.StringIO()
    code = main(list(args) + ["--json"], out=out, err=io.StringIO())
    return code, json.loads(out.getvalue())


def headroom_of(p) -> float:
    return min(r["headroom_bytes"] / r["usable_bytes"] for r in p.per_gpu)


# ---- 1. the job ---------------------------------------------------------------------------------------------

def test_a_fine_tuning_job_counts_tokens_per_example_not_the_window():
    arch = reg.models["llama-3.1-8b"]
    for seq in (2048, 8192, 32768):
        job = job_size(arch, Workload(method="lora", seq_len=seq))
        assert job.tokens == 10_000 * 3 * DEFAULT_TOKENS_PER_EXAMPLE      # not 10,000 x seq x 3
        assert job.seq_len == seq and "512 tokens" in job.describe()
    assert job_size(arch, Workload(method="lora"), tokens_per_example=1000).tokens == 30_000_000
    # an example is never longer than the window the trainer truncates it to
    assert job_size(arch, Workload(method="lora", seq_len=256), tokens_per_example=1000).tokens == 7_680_000


def test_tokens_per_example_flag_changes_the_job_and_is_stated():
    code, d = run_json("--model", "1b", "--method", "lora", "--tokens-per-example", "300")
    assert code == 0 and d["job"]["tokens"] == 9_000_000 and d["job"]["tokens_per_example"] == 300
    assert not d["job"]["default"]


# ---- 2. the decision, stated --------------------------------------------------------------------------------

def test_there_is_no_hidden_deadline():
    assert Constraints().deadline is None
    res = plan(reg.models["llama-3.1-8b"], Workload(method="lora"), CATALOG, Constraints(budget=20_000))
    assert res.deadline_s is None and res.decision["rule"] == decision.RULE


def test_the_decision_is_in_the_first_lines_and_in_json():
    out = io.StringIO()
    assert main(["--model", "70b", "--method", "qlora", "--budget", "200000"], out=out) == 0
    first = out.getvalue().splitlines()[:3]
    assert first[0].startswith("Default job: fine-tune on 10,000 examples x 512 tokens")
    assert first[1].startswith("Recommended ") and "Cheapest:" in first[1] and "Fastest within the budget" in first[1]
    assert first[2].startswith("rule: no deadline given")
    code, d = run_json("--model", "70b", "--method", "qlora", "--budget", "200000")
    assert set(d["decision"]) == {"rule", "text"}


def test_a_user_deadline_or_objective_overrides_the_rule():
    arch, wl = reg.models["llama-3.1-8b"], Workload(method="lora")
    cheapest = plan(arch, wl, CATALOG, Constraints(budget=100_000, objective="cost"))
    fastest = plan(arch, wl, CATALOG, Constraints(budget=100_000, objective="time"))
    ruled = plan(arch, wl, CATALOG, Constraints(budget=100_000))
    assert cheapest.plan.total_cost <= ruled.plan.total_cost <= fastest.plan.total_cost
    assert fastest.plan.time_s <= ruled.plan.time_s <= cheapest.plan.time_s
    assert cheapest.decision["rule"].startswith("--objective cost")
    dl = plan(arch, wl, CATALOG, Constraints(budget=100_000, deadline_s=3600))
    assert dl.plan.time_s <= 3600 and "deadline" in dl.decision["rule"]


def _cf(cost, hours, headroom=0.3, machines=1, cards=1):
    need = 1000 * (1 - headroom)
    return SimpleNamespace(cost=cost, time_s=hours * 3600, usable_bytes=1000, need_bytes=need, part_configs=[],
                           hosting=SimpleNamespace(count=machines), count=cards)


def _pick(cfs):
    return decision.pick(cfs, cost=lambda cf: cf.cost)[0]


def test_rule_buys_speed_only_while_it_beats_its_price_by_half_again():
    slow, bargain, proportional = _cf(3000, 100), _cf(5000, 20), _cf(50000, 2)
    # 5x faster for 1.7x the price: worth it; then 10x faster for 10x the price: not
    assert _pick([slow, bargain, proportional]) is bargain
    # a step that only matches its price (more of the same hardware) is not taken
    assert _pick([slow, _cf(6000, 50)]) is slow


def test_rule_buys_proportional_speed_while_the_job_takes_over_a_week():
    weeks, days = _cf(3000, 1000), _cf(30000, 100)          # 10x faster for 10x the price
    assert _pick([weeks, days]) is days
    assert _pick([weeks, _cf(30000, 120)]) is weeks        # less than proportional: not even then


def test_rule_takes_one_card_over_two_at_proportional_speed():
    two, one = _cf(4100, 10.4, cards=2), _cf(5050, 7.5, cards=1)   # 1.4x faster for 1.2x the price, one card
    assert _pick([two, one]) is one
    assert _pick([_cf(4100, 10.4, cards=2), _cf(5050, 9.9, cards=4)]) is not None


def test_rule_stops_once_the_job_fits_in_a_working_day():
    quick, quicker = _cf(2000, 6), _cf(2100, 1)      # 6x faster for 5% more: but 6 hours is already enough
    assert _pick([quick, quicker]) is quick


def test_rule_prefers_ten_percent_headroom_and_one_machine():
    tight, roomy = _cf(1000, 10, headroom=0.06), _cf(1200, 10, headroom=0.2)
    assert _pick([tight, roomy]) is roomy
    assert _pick([tight]) is tight                                   # 6% is above the floor: still a plan
    cluster, box = _cf(1000, 10, machines=2), _cf(1500, 12, machines=1)
    assert _pick([cluster, box]) is box


@pytest.mark.parametrize("name,kw", [("llama-3.1-8b", dict(method="full")), ("llama-3.1-70b", dict(method="qlora")),
                                     ("llama-3.1-8b", dict(method="inference", batch_size=16, seq_len=8192)),
                                     ("qwen2.5-7b", dict(method="lora", seq_len=4096))])
@pytest.mark.parametrize("objective", ["auto", "cost", "time"])
def test_no_mode_recommends_a_plan_under_the_headroom_floor(name, kw, objective):
    """`--objective time` accepted 0.6% headroom; the floor now holds in every mode, for every plan shown."""
    res = plan(reg.models[name], Workload(**kw), CATALOG, Constraints(budget=300_000, objective=objective,
                                                                       allow_used=True))
    assert res.feasible
    for p in [res.plan] + res.alternatives + res.frontier:
        assert headroom_of(p) >= decision.HEADROOM_FLOOR - 1e-9, p.gpus


def test_lowering_the_floor_is_allowed_and_warned_about():
    arch, wl = reg.models["llama-3.1-8b"], Workload(method="lora")
    res = plan(arch, wl, CATALOG, Constraints(include=["rtx-5090"], savers=False, min_headroom=0, objective="cost"))
    assert res.feasible
    if headroom_of(res.plan) < 0.05:
        assert res.warnings and "below 5%" in res.warnings[0]


# ---- 3. savers before spending ------------------------------------------------------------------------------

def test_8b_lora_at_32k_fits_with_savers_and_names_them():
    arch, wl = reg.models["llama-3.1-8b"], Workload(method="lora", seq_len=32768)
    bare = plan(arch, wl, CATALOG, Constraints(savers=False, budget=100_000))
    assert not bare.feasible                       # today's answer: "no GPU in the catalogue can run this"
    res = plan(arch, wl, CATALOG, Constraints(budget=100_000))
    assert res.feasible and res.plan.config.savers
    d = res.plan.to_dict()
    assert d["savers"] and all(d["savers_off"][n].startswith("--") for n in d["savers"])


def test_8b_qlora_at_8k_fits_one_4090():
    res = plan(reg.models["llama-3.1-8b"], Workload(method="qlora", seq_len=8192), CATALOG,
               Constraints(include=["rtx-4090"]))
    assert res.feasible and res.plan.gpus == {"rtx-4090": 1}


def test_savers_respect_the_users_explicit_choices():
    arch = reg.models["llama-3.1-8b"]
    wl = Workload(method="lora", seq_len=8192, gradient_checkpointing=False, attention="sdpa", loss="full")
    cands = candidates(arch, wl, CATALOG, Constraints(budget=100_000))
    for cf in cands.configs:
        assert "gradient checkpointing" not in cf.savers and "flash attention" not in cf.savers
        assert "fused loss" not in cf.savers and not cf.workload.gradient_checkpointing


def test_the_cli_adds_gradient_checkpointing_only_when_not_asked_otherwise():
    code, d = run_json("--model", "8b", "--method", "lora", "--seq-len", "32768", "--no-gradient-checkpointing",
                       "--framework", "hf")
    assert d["plan"] is None or "gradient checkpointing" not in d["plan"]["savers"]


# ---- 6. bugs ------------------------------------------------------------------------------------------------

def test_vllm_memory_utilization_is_taken_once():
    g = CATALOG.gpus["rtx-4090"]
    assert usable_bytes(g, 0.05, "vllm", 0.9) == usable_bytes(g, 0.05)
    res = plan(reg.models["qwen2.5-7b"], Workload(engine="vllm", batch_size=8), CATALOG,
               Constraints(include=["rtx-4090"], savers=False, min_headroom=0, objective="cost"))
    assert res.plan.gpus == {"rtx-4090": 1}        # it bought two


def test_require_nvlink_does_not_pair_a_card_that_fits_alone():
    res = plan(reg.models["llama-3.1-8b"], Workload(method="lora"), CATALOG,
               Constraints(include=["rtx-a6000"], require_nvlink=True, savers=False, objective="cost"))
    assert res.plan.gpus == {"rtx-a6000": 1}
    assert not any(i.kind == "bridge" for i in res.plan.items)


def test_estimate_with_an_fsdp_stack_on_several_gpus_shards_by_default():
    out = io.StringIO()
    assert main(["estimate", "--model", "70b", "--method", "lora", "--framework", "hf-fsdp", "--gpus", "8",
                 "--json"], out=out) == 0
    d = json.loads(out.getvalue())
    assert d["workload"]["zero_stage"] == 3 and not any("NO_SHARD" in a for a in d["assumptions"])
    out = io.StringIO()
    main(["estimate", "--model", "8b", "--method", "lora", "--gpus", "8", "--json"], out=out)
    assert json.loads(out.getvalue())["workload"]["zero_stage"] == 0          # DeepSpeed: no ZeRO unless asked


@pytest.mark.parametrize("machine", ["dgx-spark-128gb", "framework-desktop-ai-max-395-128gb"])
def test_non_apple_unified_machines_are_not_described_as_apple(machine):
    code, d = run_json("--model", "8b", "--method", "lora", "--include", machine)
    assert code == 0
    text = json.dumps(d["estimate"]["assumptions"]) + d["plan"]["stack"]
    assert "Apple" not in text and "MPS" not in text and "Metal" not in text


def test_vllm_only_on_the_generations_it_documents():
    assert card_refuses("vllm", "nvidia", "volta")
    assert card_refuses("vllm", "amd", "rdna2")
    assert not card_refuses("vllm", "amd", "cdna3") and not card_refuses("vllm", "amd", "strix-halo")
    code, d = run_json("--model", "8b", "--engine", "vllm", "--include", "framework-desktop-ai-max-395-128gb")
    assert code == 0 and "ROCm 7.0.2" in d["plan"]["stack"]


def test_unsloth_is_planned_with_ddp_only():
    arch, wl = reg.models["llama-3.1-70b"], Workload(method="qlora", framework="unsloth")
    cands = candidates(arch, wl, CATALOG, Constraints(budget=500_000, allow_used=True))
    assert cands.configs and all(cf.zero == 0 and cf.offload == "none" for cf in cands.configs)
    saver = candidates(reg.models["llama-3.1-8b"], Workload(method="lora"), CATALOG, Constraints())
    assert all(cf.zero == 0 for cf in saver.configs if cf.workload.framework == "unsloth")


def test_mlx_lm_lora_says_it_trains_the_last_16_blocks():
    res = plan(reg.models["llama-3.1-70b"], Workload(method="qlora"), CATALOG,
               Constraints(include=["mac-studio-m4-max-128gb"]))
    assert "last 16 blocks" in res.plan.stack


@pytest.mark.parametrize("name,kw,budget", [("llama-3.1-70b", dict(method="qlora"), 200_000),
                                            ("llama-3.1-8b", dict(method="full"), 300_000),
                                            ("llama-3.1-8b", dict(method="inference", batch_size=32), 100_000)])
def test_every_alternative_on_the_frontier_is_listed_there(name, kw, budget):
    res = plan(reg.models[name], Workload(**kw), CATALOG, Constraints(budget=budget), alternatives=10)
    front = {(round(f.total_cost, 2), f.time_s) for f in res.frontier}
    for a in res.alternatives:
        dominated = any(f.total_cost <= a.total_cost + 1e-6 and f.time_s <= a.time_s and
                        (f.total_cost, f.time_s) != (a.total_cost, a.time_s) for f in res.frontier)
        assert dominated or (round(a.total_cost, 2), a.time_s) in front, describe(a)


def describe(p):
    return f"{p.gpus} {p.total_cost} {p.time_s}"


def test_rent_line_names_the_cheapest_rental_when_the_card_has_none():
    arch, wl = reg.models["llama-3.1-70b"], Workload(method="qlora")
    first = plan(arch, wl, CATALOG, Constraints(budget=200_000))
    card = next(iter(first.plan.gpus))
    no_rental = CATALOG.replace(rentals={k: v for k, v in CATALOG.rentals.items() if k != card})
    res = plan(arch, wl, no_rental, Constraints(budget=200_000))
    assert next(iter(res.plan.gpus)) == card and no_rental.cheapest_rental(card) is None
    r = res.plan.rent
    assert r is not None and r["same_cards"] is False and r["job_cost"] > 0 and r["gpu"] != card
    out = io.StringIO()
    from planner.render import rent_line
    assert f"no rental offer for {card}" in rent_line(res.plan)


def test_objective_time_does_not_take_a_card_with_one_percent_headroom():
    """A fast card the job fills to 99% and a slower roomy one: the fastest plan is the roomy card's."""
    from planner.catalog import GPU, GiB, Catalog
    arch, wl = reg.models["llama-3.2-1b"], Workload(method="full", precision="bf16", seq_len=512)
    probe = candidates(arch, wl, CATALOG, Constraints(include=["h100-pcie"], savers=False, min_headroom=0,
                                                      max_gpus=1, allow_used=True))
    need = min(cf.need_bytes for cf in probe.configs if cf.count == 1)
    tight_gb = need / 0.99 / 0.95 / 0.99 / GiB                   # usable = need / 0.99: 1% headroom

    def card(name, gb, tflops):
        return GPU(name=name, vendor="nvidia", memory_gb=gb, bandwidth_gbps=1000, bf16_tflops=tflops, tdp_w=300,
                   form="pcie", slot_width=2, price=1000, as_of="2026-01-01", source="test")
    cat = Catalog(gpus={"fast": card("fast", tight_gb, 1000), "roomy": card("roomy", 80, 300)},
                  platforms={"desktop-am5": CATALOG.platforms["desktop-am5"]}, rates={"USD": 1.0},
                  as_of="2026-01-01", rates_as_of="2026-01-01", sources=[])
    res = plan(arch, wl, cat, Constraints(objective="time", savers=False, max_gpus=1))
    assert res.plan.gpus == {"roomy": 1}
    assert "fast" in res.rejected and "headroom floor" in res.rejected["fast"]
    asked = plan(arch, wl, cat, Constraints(objective="time", savers=False, max_gpus=1, min_headroom=0))
    assert asked.plan.gpus == {"fast": 1} and asked.warnings


# ---- 4. owned hardware --------------------------------------------------------------------------------------

def test_have_a_desktop_buys_only_a_card():
    code, d = run_json("--model", "8b", "--method", "qlora", "--have", "desktop-am5", "--budget", "2500")
    assert code == 0
    items = d["plan"]["items"]
    assert [i["kind"] for i in items if i["owned"]] == ["host", "ram"]
    assert all(i["subtotal"] == 0 for i in items if i["owned"])
    assert d["plan"]["total_cost"] == sum(i["subtotal"] for i in items) <= 2500
    assert "uses what you have: 1 x desktop-am5" in d["decision"]["text"]


def test_have_cards_plans_what_to_add_beside_them():
    code, d = run_json("--model", "8b", "--method", "full", "--have", "2xrtx-a6000", "--include", "rtx-a6000",
                       "--objective", "cost", "--gpus", "4")
    assert code == 0
    gpu = {i["owned"]: i["count"] for i in d["plan"]["items"] if i["kind"] == "gpu"}
    assert gpu == {True: 2, False: 2}                      # two owned, two bought


def test_have_in_a_scenario_and_the_web_api(tmp_path):
    from planner.scenario import run_scenario
    f = tmp_path / "s.yaml"
    f.write_text("workloads: [{model: llama-3.1-8b, method: qlora}]\n"
                 "constraints: {budget: 2500, have: [desktop-am5]}\n")
    _, rows = run_scenario(str(f))
    assert rows[0]["feasible"] and rows[0]["cost"] <= 2500
    from planner import api
    from planner.web.server import accepted_options, work
    assert "have" in accepted_options("plan")
    options = {"model": "8b", "method": "qlora", "have": ["desktop-am5"], "budget": 2500}
    status, payload = work("plan", options)              # what POST /api/plan runs
    assert status == 200
    assert json.loads(payload) == api.plan(**options).model_dump(mode="json") | {
        "solve_seconds": json.loads(payload)["solve_seconds"]}


def test_an_unknown_owned_name_is_a_one_line_error():
    out, err = io.StringIO(), io.StringIO()
    assert main(["--model", "8b", "--have", "rtx-9999"], out=out, err=err) == 2
    assert err.getvalue().count("\n") == 1 and "--have" in err.getvalue()


# ---- 5. machines people build -------------------------------------------------------------------------------

def test_four_3090s_go_in_an_open_frame_rig_not_a_4u_server():
    res = plan(reg.models["llama-3.1-70b"], Workload(engine="vllm", precision="awq", batch_size=8), CATALOG,
               Constraints(include=["rtx-3090"], allow_used=True, gpus=4))
    assert res.plan.hosts == {"open-frame-epyc": 1}
    assert res.plan.total_cost < 8_000                     # not the 29,832 USD 4U server


def test_max_machines_one_is_a_box():
    res = plan(reg.models["llama-3.1-70b"], Workload(method="full", gradient_checkpointing=True), CATALOG,
               Constraints(budget=2_000_000, max_machines=1))
    assert res.feasible and len(res.plan.machines) == 1
    for p in res.frontier + res.alternatives:
        assert len(p.machines) == 1


def test_independent_serving_replicas_pay_no_cluster_network():
    res = plan(reg.models["llama-3.1-8b"], Workload(engine="vllm", batch_size=16), CATALOG,
               Constraints(include=["rtx-3090"], allow_used=True, gpus=4, objective="cost"))
    assert res.feasible and "replicas" in res.plan.strategy
    assert not any(i.kind == "network" for i in res.plan.items)


def test_platforms_carry_network_bandwidth():
    for p in CATALOG.platforms.values():
        assert p.nic_gbps_per_gpu or p.network_gbps, p.name
