"""Scenario files, sweeps, overrides, multi-workload purchases and procurement proposals."""
import csv
import io
import json
from pathlib import Path

import pytest

from planner.cli import main
from planner.scenario import run_scenario

SCENARIOS = sorted((Path(__file__).parent.parent / "scenarios").glob("*.yaml"))


def run(*argv):
    out = io.StringIO()
    return main(list(argv), out=out), out.getvalue()


def write(tmp_path, text, name="s.yaml"):
    p = tmp_path / name
    p.write_text(text)
    return str(p)


def test_at_least_five_example_scenarios_all_plan():
    assert len(SCENARIOS) >= 5
    for path in SCENARIOS:
        sc, rows = run_scenario(str(path))
        assert rows and any(r["feasible"] for r in rows), path.name


def test_sweep_is_a_cartesian_product(tmp_path):
    f = write(tmp_path, """
workloads: [{model: llama-3.2-1b, method: lora}]
sweep: {seq_len: [512, 1024, 2048], lora_rank: [8, 64]}
""")
    _, rows = run_scenario(f)
    assert len(rows) == 6
    assert {(r["seq_len"], r["lora_rank"]) for r in rows} == {(s, r) for s in (512, 1024, 2048) for r in (8, 64)}


def test_longer_context_never_cheaper(tmp_path):
    f = write(tmp_path, """
workloads: [{model: llama-3.1-8b, method: inference, concurrency: 16}]
constraints: {objective: cost}
sweep: {seq_len: [1024, 8192, 32768]}
""")
    _, rows = run_scenario(f)
    costs = [r["cost"] for r in rows]
    assert costs == sorted(costs)


def test_price_override_changes_the_answer(tmp_path):
    base = write(tmp_path, "workloads: [{model: llama-3.1-8b, method: lora}]\nconstraints: {objective: cost}\n",
                 "a.yaml")
    cheap = write(tmp_path, "workloads: [{model: llama-3.1-8b, method: lora}]\nconstraints: {objective: cost}\n"
                            "catalog: {price_change: {rtx-6000-ada: 1}}\n", "b.yaml")
    assert "rtx-6000-ada " not in run_scenario(base)[1][0]["hardware"]
    assert "rtx-6000-ada " in run_scenario(cheap)[1][0]["hardware"]


def test_concurrent_needs_at_least_as_much_as_sequential(tmp_path):
    f = write(tmp_path, """
workloads:
  - {name: ft, model: llama-3.1-8b, method: lora, gradient_checkpointing: true}
  - {name: chat, model: llama-3.1-8b, method: inference, concurrency: 8}
constraints: {include: [rtx-4090, rtx-a6000, h100-pcie]}
sweep: {mode: [sequential, concurrent]}
""")
    _, rows = run_scenario(f)
    seq, conc = rows
    assert conc["cost"] >= seq["cost"]


def test_json_and_csv_outputs(tmp_path):
    f = write(tmp_path, "workloads: [{model: 1b}]\nsweep: {batch_size: [1, 4]}\n")
    code, text = run("scenario", f, "--json")
    assert code == 0 and len(json.loads(text)["variants"]) == 2
    code, text = run("scenario", f, "--csv")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert code == 0 and len(rows) == 2 and "cost" in rows[0]


@pytest.mark.parametrize("text,fragment", [
    ("workloads: [{model: 1b, methd: lora}]\n", "line 1"),
    ("workloads:\n  - model: 1b\n    batch_size: -3\n", "line 3"),
    ("workloads: [{model: 1b}]\nsweep: {colour: [red]}\n", "unknown field 'colour'"),
    ("workloads: [{model: nonsense-model}]\n", "unknown model"),
    ("workloads: [{model: 1b}]\ncatalog: {price_change: {rtx-9999: '-10%'}}\n", "unknown GPU"),
    ("workloads: [{model: 1b}\n", "malformed YAML"),
    ("name: empty\n", "workloads"),
    ("workloads: [{model: 1b}]\nconstraints:\n  deadline: soon\n", "line 3"),        # plan's validators
    ("workloads: [{model: 1b}]\nconstraints:\n  budget: 100\n  max_gpus: 0\n", "line 4"),   # plan's ranges
    ("workloads: [{model: 8b}]\nconstraints:\n  rate_rps: 2000000\n", "line 3"),
    ("workloads: [{model: 1b}]\nsweep: {margin: [0.1, 0.95]}\n", "line 2"),
])
def test_bad_scenarios_get_one_line_errors(tmp_path, capsys, text, fragment):
    f = write(tmp_path, text)
    code, _ = run("scenario", f)
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and fragment in err and "s.yaml" in err


def test_missing_scenario_file(capsys):
    code, _ = run("scenario", "/nonexistent/x.yaml")
    assert code == 2 and "not found" in capsys.readouterr().err


@pytest.mark.parametrize("suffix", ["md", "html"])
def test_proposal_is_self_contained_and_matches_the_run(tmp_path, suffix):
    target = tmp_path / f"proposal.{suffix}"
    code, text = run("--model", "70b", "--method", "qlora", "--budget", "200000", "--proposal", str(target),
                     "--json")
    assert code == 0
    plan = json.loads(text)["plan"]
    doc = target.read_text()
    assert f"{plan['total_cost']:,.0f}" in doc
    for name in plan["gpus"]:
        assert name in doc
    for heading in ("Summary", "Bill of materials", "Alternatives", "Time to result", "Risks", "Assumptions"):
        assert heading in doc
    assert "as of" in doc
    if suffix == "html":
        assert "<svg" in doc and "http" not in doc.replace("http://www.w3.org/2000/svg", "")


def test_proposal_bad_path_fails_before_planning(capsys):
    code, _ = run("--model", "1b", "--proposal", "/nonexistent-dir/p.md")
    assert code == 2 and "does not exist" in capsys.readouterr().err
    code, _ = run("--model", "1b", "--proposal", "p.pdf")
    assert code == 2


def test_sweep_rows_equal_planning_each_variant_alone(tmp_path):
    """The optimised path (candidates shared by budget, a cheapest unbudgeted plan reused where it fits, a
    process pool) gives exactly the rows of planning every variant on its own, in the sweep's order."""
    from planner.catalog import load_catalog
    from planner.files import read_yaml
    from planner.scenario import Scenario, _constraints, _jobs, apply_overrides, expand, row_of
    from planner.solver import plan_jobs
    f = write(tmp_path, """
workloads: [{name: ft, model: llama-3.1-8b, method: lora}]
constraints: {budget: 20000}
sweep:
  seq_len: [1024, 4096]
  budget: [1500, 3000, 6000, 20000, 200000]
  price_change.rtx-4090: ["-30%", "0%", "+30%"]
""")
    _, fast = run_scenario(f, workers=2, parallel_from=2)
    raw, path = read_yaml(f, "scenario"), Path(f)
    base = load_catalog()
    slow = []
    for values, variant in expand(raw, path):
        sc = Scenario.model_validate(variant)
        res = plan_jobs(_jobs(sc, path), apply_overrides(base, sc.catalog, path), _constraints(sc), alternatives=0)
        slow.append(row_of(values, res, sc.constraints.currency.upper()))
    assert fast == slow
    assert any(r["feasible"] for r in fast) and not all(r["feasible"] for r in fast)


def test_enormous_sweeps_are_refused_up_front(tmp_path, capsys):
    values = "[" + ", ".join(str(v) for v in range(20)) + "]"
    fields = ["seq_len", "batch_size", "lora_rank", "new_tokens", "budget", "max_gpus", "margin", "ram_ratio",
              "price_change.rtx-4090", "electricity_usd_per_kwh"]
    f = write(tmp_path, "workloads: [{model: llama-3.2-1b, method: lora}]\nsweep:\n"
              + "".join(f"  {k}: {values}\n" for k in fields))
    import time
    t = time.perf_counter()
    code, _ = run("scenario", f)
    err = capsys.readouterr().err
    assert code == 2 and time.perf_counter() - t < 5
    assert "variants" in err and "limit" in err and len(err.strip().splitlines()) == 1


def test_every_workload_option_of_the_cli_is_a_scenario_field_and_plans_alike(tmp_path):
    """planner.api declares each option once: the memory options reach scenarios under the same names, and a
    scenario variant plans what the CLI plans with the same flags."""
    from planner import api
    from planner.scenario import WorkloadSpec
    assert set(api.WorkloadOptions.model_fields) <= set(WorkloadSpec.model_fields)
    f = write(tmp_path, """
workloads: [{model: llama-3.1-8b, method: full, framework: torchtitan}]
constraints: {budget: 200000}
sweep: {activation_checkpointing: [full, selective]}
""")
    _, rows = run_scenario(f)
    for row in rows:
        code, out = run("--model", "llama-3.1-8b", "--method", "full", "--framework", "torchtitan", "--budget",
                        "200000", "--activation-checkpointing", row["activation_checkpointing"], "--alternatives",
                        "0", "--json")
        d = json.loads(out)
        assert row["feasible"] == d["feasible"]
        if d["feasible"]:
            assert row["cost"] == d["plan"]["total_cost"]
    bad = write(tmp_path, "workloads: [{model: llama-3.1-8b, activation_checkpointing: sometimes}]\n", "bad.yaml")
    code, _ = run("scenario", bad)
    assert code == 2


# The constraint names scenario files had before they were generated from plan's options (all still accepted)
OLD_CONSTRAINT_KEYS = ["budget", "rate_rps", "users", "ttft_s", "itl_s", "years", "utilization", "pue", "maintenance",
                       "residual", "currency", "max_gpus", "include", "exclude", "allow_used", "zero", "offload",
                       "ram_ratio", "margin", "require_nvlink", "deadline_days", "objective", "min_headroom", "have",
                       "max_machines", "savers", "tokens_per_example", "force_offload", "examples", "epochs"]


def test_scenario_constraints_are_plans_options_under_their_names_and_the_old_names():
    from planner import api
    from planner.scenario import CONSTRAINT_KEYS, ConstraintSpec
    assert set(OLD_CONSTRAINT_KEYS) <= set(CONSTRAINT_KEYS)
    for name, field in ConstraintSpec.model_fields.items():          # each one is plan's option of that name
        option = api.PlanRequest.model_fields[name]
        assert field.default == option.default and field.description.startswith(option.description), name
    # values read as the CLI reads them: text with suffixes, comma-separated lists, durations
    given = {"budget": "200k", "deadline": "36h", "include": "rtx-4090, a100-80gb-pcie", "zero": "2",
             "examples": "10k", "epochs": 2, "ttft": "0.5", "users": "16", "offload": "optimizer"}
    spec = ConstraintSpec.model_validate(given)
    req = api.request(api.PlanRequest, dict(given, model="8b"))
    assert {k: getattr(spec, k) for k in given} == {k: getattr(req, k) for k in given}
    assert (spec.budget, spec.deadline, spec.include) == (200000.0, 1.5, ["rtx-4090", "a100-80gb-pcie"])
    old = ConstraintSpec.model_validate({"deadline_days": 1.5, "rate_rps": 5, "ttft_s": 1, "itl_s": 0.05,
                                         "objective": "auto", "offload": None})
    new = ConstraintSpec.model_validate({"deadline": "36h", "rate": 5, "ttft": 1, "itl": 0.05})
    assert old == new and new.objective is None and new.offload == "none"


def test_a_scenario_reads_budget_and_deadline_as_the_cli_does(tmp_path):
    f = write(tmp_path, """
workloads: [{model: llama-3.2-1b, method: lora}]
constraints: {budget: 5k, deadline: 36h, objective: cost}
""")
    _, rows = run_scenario(f)
    code, out = run("--model", "llama-3.2-1b", "--method", "lora", "--budget", "5k", "--deadline", "36h",
                    "--objective", "cost", "--alternatives", "0", "--json")
    d = json.loads(out)
    assert rows[0]["feasible"] == d["feasible"] and rows[0]["cost"] == d["plan"]["total_cost"]
    old = write(tmp_path, """
workloads: [{model: llama-3.2-1b, method: lora}]
constraints: {budget: 5000, deadline_days: 1.5, objective: cost}
""", "old.yaml")
    assert run_scenario(old)[1] == rows


def test_a_swept_constraint_replaces_the_files_value_under_either_name(tmp_path):
    f = write(tmp_path, """
workloads: [{model: llama-3.2-1b, method: pretrain}]
constraints: {deadline: 14d}
sweep: {deadline_days: [0.0001, 14]}
""")
    _, rows = run_scenario(f)
    assert [r["deadline_days"] for r in rows] == [0.0001, 14]
    assert not rows[0]["feasible"] and rows[0]["binding"] == "deadline" and rows[1]["feasible"]
