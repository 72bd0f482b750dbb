"""planner.api: the typed core every front end adapts. Its results are the JSON of record (`--json`), its request
models are the CLI's options, and `plan schema` describes both."""
import io
import json
import math
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from planner import api
from planner.cli import build_parser, main
from planner.errors import InputError

ROOT = Path(__file__).resolve().parent.parent


def cli(argv):
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def without_solve_time(d):
    return {k: v for k, v in d.items() if k != "solve_seconds"}


def test_the_readme_headline_from_python_equals_the_cli_json():
    result = api.plan(model="70b", method="qlora", budget=200000)
    code, out, _ = cli(["--model", "70b", "--method", "qlora", "--budget", "200000", "--json"])
    assert code == 0
    assert without_solve_time(result.model_dump(mode="json")) == without_solve_time(json.loads(out))
    assert result.feasible and result.plan.total_cost == json.loads(out)["plan"]["total_cost"]


@pytest.mark.parametrize("argv", [
    ["--model", "70b", "--method", "qlora", "--budget", "100"],                 # no plan fits
    ["--model", "8b", "--method", "lora", "--tokens", "1e9", "--objective", "time", "--budget", "50000"],
    ["--model", "8b", "--deadline", "none", "--allow-used", "--include", "rtx-4090,a100-80gb-pcie"],
    ["--model", "mixtral-8x7b", "--engine", "vllm", "--requests", "100000"],
    ["--model", "8b", "--method", "full", "--force-offload", "optimizer", "--zero", "3", "--currency", "eur"],
    ["--model", "8b", "--rate", "2", "--ttft", "1"],                            # plan.serving, cost_per_mtok, tco
    ["--model", "70b", "--rate", "1", "--ttft", "2", "--years", "5", "--pue", "1.2"],  # rented on other cards
])
def test_the_cli_prints_the_result_models_dump_and_it_validates_against_the_schema(argv):
    code, out, _ = cli(argv + ["--json"])
    assert code in (0, 3)
    printed = json.loads(out)
    # the dump of the model validated from the printed JSON is the printed JSON again, key for key
    again = api.PlanResult.model_validate(printed)
    assert again.model_dump(mode="json") == printed
    assert list(again.model_dump(mode="json")) == list(printed)
    assert printed["schema_version"] == api.SCHEMA_VERSION
    declared_everywhere(again)
    jsonschema = pytest.importorskip("jsonschema")
    code, schema_text, _ = cli(["schema", "plan"])
    assert code == 0
    jsonschema.validate(printed, json.loads(schema_text))


def declared_everywhere(model, where="result"):
    """Every key of the JSON of record is a declared field (extra keys are tolerated only while a change lands)."""
    assert not model.model_extra or isinstance(model, api.ScenarioRow), f"{where}: undeclared {list(model.model_extra)}"
    for name in type(model).model_fields:
        value = getattr(model, name)
        items = value if isinstance(value, list) else list(value.values()) if isinstance(value, dict) else [value]
        for i, item in enumerate(items):
            if isinstance(item, api._Result):
                declared_everywhere(item, f"{where}.{name}[{i}]")


SERVING_CASES = [
    dict(model="8b", method="inference", rate=2, ttft=1),
    dict(model="8b", users=16),
    dict(model="70b", rate=1, years=5, pue=1.2, currency="eur"),
    dict(model="70b", rate=1, ttft=2, years=5, pue=1.2),             # the same cards rent nowhere: others priced
    dict(model="8b", method="lora", budget=50000),                   # training: no serving, cost per token or TCO
    dict(model="8b", rate=2, ttft=1, budget=100),                    # no plan; the cheapest that fits is served
    dict(model="8b", rate=5, ttft=0.0001),                           # no plan: no card meets the target
]


@pytest.mark.parametrize("options", SERVING_CASES)
def test_serving_cost_per_token_and_tco_are_typed_and_their_json_is_the_solvers_dicts_unchanged(options):
    from planner.render import plan_json
    result = api.plan(**options)
    res, notes, catalog, _ = result._result
    produced = dict(plan_json(res, notes, catalog), schema_version=api.SCHEMA_VERSION)   # the one key models add
    # the typed models drop, reorder and coerce nothing: the text is the solver's dicts' text, key for key
    dumped = api.PlanResult.model_validate(produced).model_dump(mode="json")
    assert json.dumps(dumped, indent=1) == json.dumps(produced, indent=1)
    assert json.dumps(result.model_dump(mode="json"), indent=1) == json.dumps(produced, indent=1)
    declared_everywhere(result)
    p = result.plan or (result.alternatives[0] if result.alternatives else None)
    if options.get("method") == "lora":
        assert (p.serving, p.cost_per_mtok, p.tco) == (None, None, None)
    elif p is not None:
        assert isinstance(p.serving, api.Serving) and isinstance(p.cost_per_mtok, api.CostPerMtok)
        assert (p.serving.load.rate_rps, p.serving.load.users) == (options.get("rate"), options.get("users"))
        assert p.serving.targets.ttft_s == options.get("ttft") and p.tco.years == options.get("years", 3.0)
        assert p.cost_per_mtok.rent_provider is None or p.cost_per_mtok.rent_provider.gpus
    else:
        assert not result.feasible and result.binding


def test_plan_schema_describes_the_serving_cost_per_token_and_tco_keys():
    code, out, _ = cli(["schema", "plan"])
    assert code == 0
    doc = json.loads(out)

    def model_of(prop):
        ref = next(a["$ref"] for a in prop["anyOf"] if "$ref" in a)
        return doc["$defs"][ref.split("/")[-1]]["properties"]
    plan = doc["$defs"]["PlanDetail"]["properties"]
    serving, cost, tco = model_of(plan["serving"]), model_of(plan["cost_per_mtok"]), model_of(plan["tco"])
    assert "time to first token" in serving["ttft_s"]["description"]
    assert "inter-token latency" in serving["itl_s"]["description"]
    at_load = doc["$defs"][serving["at_load"]["$ref"].split("/")[-1]]["properties"]
    assert set(at_load) == {"rate_rps", "users", "ttft_s", "itl_s", "tokens_per_s"}
    assert "cheapest" in cost["api"]["description"] and "usd_per_mtok_output" in doc["$defs"]["ApiCost"]["properties"]
    assert {"years", "pue", "capex", "annual_total"} <= set(tco)
    for name in ("Serving", "ServingAtLoad", "ServingLoad", "LatencyTargets", "CostPerMtok", "RentProvider",
                 "ApiCost", "Tco", "TcoSources"):
        for field, prop in doc["$defs"][name]["properties"].items():
            assert prop.get("description"), f"{name}.{field}"


def test_estimate_catalog_models_and_scenario_results_are_their_cli_json():
    code, out, _ = cli(["estimate", "--model", "8b", "--method", "lora", "--batch-size", "2", "--json"])
    assert code == 0
    assert api.estimate(model="8b", method="lora", batch_size=2).model_dump(mode="json") == json.loads(out)
    code, out, _ = cli(["catalog", "--json"])
    assert code == 0 and api.catalog().model_dump(mode="json") == json.loads(out)
    code, out, _ = cli(["models", "--json"])
    assert code == 0 and api.models().model_dump(mode="json") == json.loads(out)
    path = str(ROOT / "scenarios" / "lora-and-serving-on-the-same-cards.yaml")
    code, out, _ = cli(["scenario", path, "--json"])
    assert code in (0, 3)
    result = api.scenario(path)
    assert result.model_dump(mode="json") == json.loads(out)
    for row in json.loads(out)["variants"]:        # swept options keep their place, first in each row
        assert list(api.ScenarioRow.model_validate(row).model_dump(mode="json")) == list(row)


def test_every_cli_option_of_plan_and_estimate_is_a_request_field_and_back():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command").choices
    for command, model in (("plan", api.PlanRequest), ("estimate", api.EstimateRequest)):
        dests = {a.dest for a in sub[command]._actions} - {"help", "json"}
        assert dests == set(model.model_fields), command


def test_option_values_may_be_typed_or_text_and_give_the_same_request():
    typed = api.request(api.PlanRequest, {"model": "8b", "budget": 2e5, "deadline": 1.5, "include": ["a", "b"],
                                          "zero": 2, "method": "LoRA"})
    text = api.request(api.PlanRequest, {"model": "8b", "budget": "200000", "deadline": "36h", "include": "a, b",
                                         "zero": "2", "method": "lora"})
    assert typed == text
    assert api.request(api.PlanRequest, {"model": "8b", "deadline": "none"}).deadline == math.inf


@pytest.mark.parametrize("options, flag", [
    ({"model": "8b", "batch_size": True}, "--batch-size"),             # JSON true is not 1
    ({"model": "8b", "budget": -5}, "--budget"),
    ({"model": "8b", "budget": "nan"}, "--budget"),
    ({"model": "8b", "method": "sideways"}, "--method"),
    ({"model": "8b", "frobnicate": 1}, "--frobnicate"),
    ({"model": "8b", "bugdet": 1}, "--bugdet"),                        # "did you mean --budget?"
    ({"model": "8b", "deadline": "soon"}, "--deadline"),
])
def test_bad_options_raise_one_line_input_errors_naming_the_flag(options, flag):
    with pytest.raises(InputError) as e:
        api.plan(**options)
    assert str(e.value).startswith(flag + ":") and "\n" not in str(e.value)
    assert e.value.field == flag.lstrip("-")


def test_a_bare_model_name_is_never_read_as_a_file_when_files_are_off(tmp_path, monkeypatch):
    (tmp_path / "mymodel").mkdir()
    (tmp_path / "mymodel" / "config.json").write_text((ROOT / "calibration" / "configs" / "llama-3.1-8b.json")
                                                      .read_text())
    monkeypatch.chdir(tmp_path)
    assert api.run_estimate(api.request(api.EstimateRequest, {"model": "mymodel"})).params > 0   # the CLI may
    for name in ("mymodel", "./mymodel", "mymodel/config.json", "/etc/passwd"):
        with pytest.raises(InputError, match="--model"):
            api.run_estimate(api.request(api.EstimateRequest, {"model": name}), files=False)


@pytest.mark.parametrize("kind", ["plan", "estimate", "capacity", "scenario", "catalog", "models"])
def test_plan_schema_prints_a_versioned_json_schema_with_the_request(kind):
    code, out, _ = cli(["schema", kind])
    assert code == 0
    doc = json.loads(out)
    assert doc["schema_version"] == api.SCHEMA_VERSION and doc["type"] == "object"
    assert "schema_version" in doc["properties"]
    if kind in ("plan", "estimate", "capacity"):
        assert doc["request"]["required"] == ["model"]
        assert set(doc["request"]["properties"]["method"]["enum"]) >= {"inference", "pretrain", "full", "qlora"}


def test_schema_of_something_unknown_is_a_one_line_error():
    code, _, err = cli(["schema", "everything"])
    assert code == 2 and err.count("\n") == 1


@pytest.mark.parametrize("argv", [
    ["--have", "2xrtx-3090", "--model", "70b", "--engine", "llama.cpp", "--precision", "q4_k_m"],   # fits
    ["--have", "2xrtx-3090", "--model", "8b", "--ttft", "0.001", "--itl", "0.0001"],                # misses targets
])
def test_capacity_result_is_the_cli_json_with_its_keys_in_order(argv):
    code, out, _ = cli(["capacity", *argv, "--json"])
    assert code in (0, 3)
    printed = json.loads(out)
    options = {}
    for flag, value in zip(argv[::2], argv[1::2]):
        key = flag.lstrip("-").replace("-", "_")
        options[key] = [value] if key == "have" else value
    result = api.capacity(**options)
    assert result.model_dump(mode="json") == printed and list(result.model_dump(mode="json")) == list(printed)
    assert result.fits == (code == 0)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batch=st.integers(1, 64), seq=st.sampled_from([512, 2048, 8192]),
       method=st.sampled_from(["inference", "lora", "qlora", "full"]),
       budget=st.one_of(st.none(), st.floats(1e3, 1e6)))
def test_property_the_dump_of_any_plan_is_its_own_json_and_round_trips(batch, seq, method, budget):
    options = {"model": "8b", "method": method, "batch_size": batch, "seq_len": seq, "budget": budget,
               "alternatives": 1}
    result = api.plan(**options)
    dumped = result.model_dump(mode="json")
    text = api.dumps(result)
    assert json.loads(text) == dumped and text.count("\n{") == 0
    assert api.PlanResult.model_validate(dumped).model_dump(mode="json") == dumped


def test_an_option_is_one_field_the_cli_generates_its_flag_from():
    """What a new option looks like: a field with a description; the CLI's flag follows from its type."""
    from typing import Annotated, Optional

    from pydantic import Field
    import argparse
    from planner.cli import add_request_options

    class Request(api.WorkloadOptions):
        savers: bool = Field(True, description="add memory savers")
        have: Annotated[api.Names, api.Cli(metavar="[COUNTx]NAME")] = Field([], description="owned hardware")
        max_machines: Optional[int] = Field(None, description="at most this many machines")
    p = argparse.ArgumentParser()
    add_request_options(p, Request)
    a = p.parse_args(["--model", "8b", "--no-savers", "--have", "2xrtx-3090", "--have", "a,b",
                      "--max-machines", "1"])
    req = api.request(Request, vars(a))
    assert (req.savers, req.have, req.max_machines) == (False, ["2xrtx-3090", "a", "b"], 1)
    assert api.request(Request, vars(p.parse_args(["--model", "8b"]))).savers is True


@pytest.mark.parametrize("command", ["plan", "estimate", "capacity", "catalog", "scenario", "serve", "schema",
                                     "mcp", "completion"])
def test_every_commands_help_renders_from_the_generated_options(command, capsys):
    code, _, err = cli([command, "--help"])                 # argparse prints help on sys.stdout
    assert code == 0 and "usage:" in capsys.readouterr().out and err == ""
