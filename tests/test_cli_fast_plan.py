"""`plan` and `plan capacity` without pydantic (issue 20): the command line validates the request with the option
table's plain validators (tests/test_cli_fast.py), plans with planner.core (the code planner.api.run_plan runs), and
dumps the result with planner.core.result_json, which reads the result models' description in planner/options.json.
Whatever it prints is byte for byte what planner.api's result models print; whatever it refuses, it refuses with
planner.api's one-line error."""
import copy
import io
import json
import math
import re
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from planner import api, cli, core
from planner.errors import InputError

CHEAP_4090 = ("gpus:\n  - {name: rtx-4090, vendor: nvidia, memory_gb: 24, bandwidth_gbps: 1008, bf16_tflops: 165, "
              "tdp_w: 450, form: pcie, slot_width: 3, price: 10, as_of: '2026-11-23', source: test}\n")

PLANS = [
    "--model 70b --method qlora --budget 200000",                   # the README's headline
    "--model 8b --method lora",
    "--model 8b --method full --budget 50000 --objective time --tokens 1e9",
    "--model 1b --method pretrain --deadline 14d",
    "--model 70b --method qlora --budget 100",                      # no plan fits: the budget binds
    "--model 8b --rate 2 --ttft 1",
    "--model 8b --users 16 --itl 0.05",
    "--model 70b --rate 1 --ttft 2 --years 5 --pue 1.2 --currency EUR",
    "--model 8b --method lora --currency EUR --budget 20k",
    "--model 8b --method lora --have 2xrtx-3090",
    "--model 8b --include rtx-4090,a100-80gb-pcie --allow-used --deadline none",
    "--model 8b --exclude rtx-4090 --alternatives 0",
    "--model 8b --method qlora --alternatives 1",
    "--model 8b --method qlora --alternatives 2 --objective time --budget 30k",
    "--model 8b --method lora --have desktop-am5 --alternatives 3",
    "--model mixtral-8x7b --engine vllm --requests 100000",
    "--model 8b --method full --force-offload optimizer --zero 3 --currency eur",
    "--model 8b --rate 5 --ttft 0.0001",                            # no plan fits: no card meets the target
    "--model 8b --method qlora --deadline 36h",
    "--model 70b --method full --deadline 1h --budget 10000",       # no plan fits: the deadline binds
    "--model 8b --rate 1 --utilization 0.5 --maintenance 0.05 --residual 0.5 --electricity 0.2",
    "--model 8b --method inference --have 2xrtx-3090 --rate 1",
    "--model 8b --method lora --max-machines 1 --require-nvlink",
    "--model 8b --method lora --no-savers --min-headroom 0.1",
    "--model 8b --method lora --examples 5k --epochs 2 --tokens-per-example 1k",
    "--model 70b --engine vllm --parallel tensor",
    "--model 8b --method lora --gpus 2",
    "--model 8b --catalog CHEAP",                                   # a catalogue file overriding a card's price
]


def _argv(line: str, tmp_path) -> list[str]:
    if "CHEAP" in line:
        (tmp_path / "cheap.yaml").write_text(CHEAP_4090)
        line = line.replace("CHEAP", str(tmp_path / "cheap.yaml"))
    return ["plan", *line.split()]


def _without_solve_time(text: str) -> str:
    """The one value two runs of a plan do not share: the solver's wall time."""
    return re.sub(r'"solve_seconds": [0-9.e-]+', '"solve_seconds": _', text)


@pytest.mark.parametrize("line", PLANS)
def test_plan_json_is_planner_apis_byte_for_byte(line, tmp_path, monkeypatch):
    argv = _argv(line, tmp_path)
    a = cli.build_parser().parse_args(argv + ["--json"])
    assert cli.fast_request(a, "plan") is not None                   # the fast path reads the request
    planned, plan_dict = [], core.plan_dict

    def spied(req, files=True):
        planned.append(plan_dict(req, files))
        return planned[-1]
    monkeypatch.setattr(core, "plan_dict", spied)
    out = io.StringIO()
    code = cli.main(argv + ["--json"], out=out)
    # the dict the command planned, dumped here and by pydantic: the same text, solve time included
    d = planned[0][0]
    assert core.result_json(d, "PlanResult") is not None             # ... and dumps it without pydantic
    assert out.getvalue() == api.dumps(api.PlanResult.model_validate(d))
    # and what planner.api plans for the same request: the same text, but for the solver's wall time
    result = api.run_plan(cli.request_of(a, api.PlanRequest))
    assert _without_solve_time(out.getvalue()) == _without_solve_time(api.dumps(result))
    assert code == (0 if result.feasible else 3)


def test_a_request_the_fast_path_leaves_to_pydantic_plans_the_same():
    argv = ["plan", "--model", "8b", "--method", "lora", "--alternatives", "+1", "--json"]     # int("+1"): pydantic's
    a = cli.build_parser().parse_args(argv)
    assert cli.fast_request(a, "plan") is None
    out = io.StringIO()
    assert cli.main(argv, out=out) == 0
    expected = api.dumps(api.plan(model="8b", method="lora", alternatives=1))
    assert _without_solve_time(out.getvalue()) == _without_solve_time(expected)


@pytest.mark.parametrize("line", [PLANS[0], PLANS[4], PLANS[5], PLANS[7], PLANS[14]])
def test_the_plan_table_reads_a_fast_request_as_a_pydantic_one(line, tmp_path):
    argv = _argv(line, tmp_path)
    out = io.StringIO()
    code = cli.main(argv, out=out)
    from planner.render import console_for, render_plan
    req = cli.request_of(cli.build_parser().parse_args(argv), api.PlanRequest)
    result = api.run_plan(req)
    res, notes, catalog, c = result._result
    expected = io.StringIO()
    render_plan(console_for(expected), res, notes, catalog,
                f"(budget {req.budget:,.0f} {c.currency})" if req.budget else "(no budget given)")
    solved_in = re.compile(r"solved in \d+ ms")
    assert solved_in.sub("", out.getvalue()) == solved_in.sub("", expected.getvalue())
    assert code == (0 if result.feasible else 3) and ("No plan fits" in out.getvalue()) == (not result.feasible)


@pytest.mark.parametrize("line", [
    "--model 8b --alternatives 11", "--model 8b --method lora --rate 2", "--model 8b --users 0",
    "--model 8b --method lora --tokens 0.5", "--model 8b --method lora --tokens 1e16", "--model 8b --rate 2 --users 3",
    "--model 8b --ttft 1", "--model 8b --utilization 1.5", "--model 8b --years 60", "--model 8b --pue 0.5",
    "--model 8b --residual 2", "--model 8b --maintenance -0.5", "--model 8b --zero 2",
    "--model 8b --method lora --examples 0", "--model 8b --requests 0", "--model 8b --rate 2e6",
    "--model 8b --method lora --tokens-per-example 0", "--model nosuch", "--model 8b --have 2xnosuch",
    "--model 8b --catalog /nonexistent.yaml", "--model 8b --include nosuch", "--model 8b --batch-size 0",
])
def test_bad_plan_options_get_planner_apis_one_line_error(line):
    argv = ["plan", *line.split(), "--json"]
    err = io.StringIO()
    code = cli.main(argv, out=io.StringIO(), err=err)
    with pytest.raises(InputError) as e:
        api.run_plan(cli.request_of(cli.build_parser().parse_args(argv), api.PlanRequest))
    assert code == 2 and err.getvalue() == f"error: {cli._one_line(str(e.value))}\n"


@pytest.mark.parametrize("argv", [
    ["--have", "2xrtx-3090", "--model", "70b", "--engine", "llama.cpp", "--precision", "q4_k_m"],   # fits
    ["--have", "2xrtx-3090", "--model", "8b", "--ttft", "0.001", "--itl", "0.0001"],                # misses targets
    ["--have", "mac-studio-m4-max-128gb", "--model", "70b"],
])
@pytest.mark.parametrize("json_flag", [["--json"], []])
def test_capacity_is_planner_apis_byte_for_byte(argv, json_flag):
    a = cli.build_parser().parse_args(["capacity", *argv])
    assert cli.fast_request(a, "capacity") is not None
    out = io.StringIO()
    code = cli.main(["capacity", *argv, *json_flag], out=out)
    result = api.run_capacity(cli.request_of(a, api.CapacityRequest))
    from planner.capacity import capacity_text
    expected = api.dumps(result) if json_flag else capacity_text(result.model_dump(mode="json")) + "\n"
    assert out.getvalue() == expected and code == (0 if result.fits else 3)


# ---------------------------------------------------------------------------------------------------
# The description of the result models: generated, complete, and read as pydantic reads the models

def test_every_result_model_the_commands_print_is_described_and_supported():
    table = core.option_table()["result_models"]
    assert {"PlanResult", "PlanDetail", "Alternative", "Rent", "MemoryRow", "Serving", "CostPerMtok", "Tco",
            "EstimateResult", "CapacityResult"} <= set(table)
    for name, m in table.items():
        assert m["unsupported"] is None, (name, m["unsupported"])   # else the command falls back to pydantic
        assert list(m["fields"]) == list(getattr(api, name).model_fields), name


def test_a_model_the_reader_cannot_follow_is_marked_so_and_left_to_pydantic():
    assert api._described(api.ScenarioRow)["unsupported"] == "model_serializers ['_swept_first']"
    table = {"Row": api._described(api.ScenarioRow)}
    with pytest.raises(core._Doubt):
        core._model({"feasible": True}, "Row", table)


def _pydantic_text(d, model: str):
    try:
        return json.dumps(getattr(api, model).model_validate(d).model_dump(mode="json"), indent=1)
    except ValidationError:
        return None


def _containers(d):
    """Every non-empty dict and list in a JSON document, the document itself first."""
    items = d.items() if isinstance(d, dict) else enumerate(d) if isinstance(d, list) else ()
    if d and items:
        yield d
    for _, v in items:
        yield from _containers(v)


ODD_VALUES = [None, 0, 3, -1, 3.0, 2.5, -0.0, math.inf, -math.inf, math.nan, True, False, "", "x", "\udcff", 2**60,
              2.0**60, 1e300, [], [1, 2.0], (1, 2), [math.nan], {}, {"a": 1}, {"a": math.inf}, {1: 2}, "fine-tune",
              "pretrain"]


@st.composite
def damaged(draw, doc: dict):
    """doc with a few values replaced, keys deleted or added (extra keys, a null the serializer omits when unset)."""
    doc = copy.deepcopy(doc)
    for _ in range(draw(st.integers(1, 3))):
        where = draw(st.sampled_from(list(_containers(doc))))
        key = draw(st.sampled_from(sorted(where, key=str)) if isinstance(where, dict)
                   else st.integers(0, len(where) - 1))
        old = where[key]
        action = draw(st.sampled_from(["replace", "retype", "delete", "add"]))
        if action == "retype" and type(old) in (int, float):
            where[key] = float(old) if type(old) is int else int(old) if math.isfinite(old) else old
        elif action == "delete" and isinstance(where, dict):
            del where[key]
        elif action == "add" and isinstance(where, dict):
            where[draw(st.sampled_from(["extra", "_private", "job", "cheapest", "schema_version"]))] = \
                copy.deepcopy(draw(st.sampled_from(ODD_VALUES)))
        else:
            where[key] = copy.deepcopy(draw(st.sampled_from(ODD_VALUES)))
    return doc


def _documents():
    """Plan, estimate and capacity dicts as planner.core builds them, with serving, rent, TCO, alternatives, owned
    machines, a plan that does not fit, and capacity that does and does not."""
    plans = [core.plan_dict(cli.request_of(cli.build_parser().parse_args(["plan", *line.split()]),
                                           api.PlanRequest))[0]
             for line in (PLANS[0], PLANS[4], PLANS[7], PLANS[14])]
    estimates = [core.estimate_dict(api.request(api.EstimateRequest, {"model": "8b", "method": "lora"}))]
    capacities = [core.capacity_dict(api.request(api.CapacityRequest, options)) for options in (
        {"model": "70b", "have": ["2xrtx-3090"], "engine": "llama.cpp", "precision": "q4_k_m"},
        {"model": "8b", "have": ["2xrtx-3090"], "ttft": 0.001, "itl": 0.0001})]
    return [(d, "PlanResult") for d in plans] + [(d, "EstimateResult") for d in estimates] + \
        [(d, "CapacityResult") for d in capacities]


DOCUMENTS = []


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_the_reader_dumps_any_dict_as_pydantic_does_or_leaves_it_to_pydantic(data):
    """Whatever result_json returns is pydantic's dump of the same dict; where pydantic refuses the dict, the reader
    returns None (the command then validates with pydantic and reports its error)."""
    if not DOCUMENTS:
        DOCUMENTS.extend(_documents())
    d, model = data.draw(st.sampled_from(DOCUMENTS))
    d = data.draw(damaged(d))
    fast, slow = core.result_json(d, model), _pydantic_text(d, model)
    if slow is None:
        assert fast is None
    elif fast is not None:
        assert json.dumps(fast, indent=1) == slow


@pytest.mark.parametrize("index", range(7))
def test_the_reader_dumps_the_undamaged_documents_itself(index):
    if not DOCUMENTS:
        DOCUMENTS.extend(_documents())
    d, model = DOCUMENTS[index]
    assert json.dumps(core.result_json(d, model), indent=1) == _pydantic_text(d, model)


def test_the_reader_converts_numbers_as_pydantic_does():
    row = {"gpu": "a", "count": 2.0, "need_bytes": 1, "usable_bytes": 2, "headroom_bytes": 1}
    assert core.result_json(row, "MemoryRow") == {"gpu": "a", "count": 2, "need_bytes": 1, "usable_bytes": 2,
                                                  "headroom_bytes": 1}                    # int field: 2.0 is 2
    assert core.result_json(dict(row, job=None), "MemoryRow")["job"] is None           # given null: kept
    assert core.result_json(dict(row, count=2.5), "MemoryRow") is None                 # pydantic refuses it
    assert core.result_json(dict(row, extra=math.inf), "MemoryRow")["extra"] is None   # undeclared: JSON's null
    assert core.result_json(dict(row, count=True), "MemoryRow") is None                # in doubt: pydantic decides


# ---------------------------------------------------------------------------------------------------
# What the command imports

def _imported_by(argv: list[str]) -> list[str]:
    code = ("import sys; from planner.cli import main\n"
            f"main({argv!r}, out=open('/dev/null', 'w'))\n"
            "print(sorted(m for m in ('planner.api', 'pydantic') if m in sys.modules))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return eval(r.stdout)


HEADLINE = ["--model", "70b", "--method", "qlora", "--budget", "200000", "--json"]


def test_the_headline_plan_never_imports_planner_api():
    assert "planner.api" not in _imported_by(HEADLINE)
    assert "planner.api" not in _imported_by(HEADLINE[:-1])                          # the table too


def test_the_headline_plan_imports_neither_planner_api_nor_pydantic():
    assert _imported_by(HEADLINE) == []
