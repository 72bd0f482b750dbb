"""`plan estimate --json` without pydantic (issue 20; `plan` and `plan capacity`: tests/test_cli_fast_plan.py): the
command line reads planner.api's request models through a generated option table (planner/options.json) and
validates with the same plain validators (planner/values.py); whatever it accepts is exactly the pydantic request,
whatever it refuses gets planner.api's one-line error, and its JSON is byte for byte planner.api's."""
import io
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner import api, cli, core
from planner.errors import InputError

REPO = Path(__file__).resolve().parent.parent


def test_the_option_table_is_what_the_request_models_declare():
    assert core.OPTIONS_FILE.read_text(encoding="utf-8") == api.options_text(), \
        "planner/options.json is out of date with planner/api.py: run `python -m planner.api --write-options`"


def test_the_option_table_ships_in_the_wheel():
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert "options.json" in pyproject["tool"]["setuptools"]["package-data"]["planner"]
    assert core.OPTIONS_FILE.parent == Path(api.__file__).parent


def test_every_request_field_is_an_option_of_its_command():
    table = core.option_table()["commands"]
    for kind, model in api.REQUESTS.items():
        assert [o["name"] for o in table[kind]] == list(model.model_fields)
    described = core.option_table()["result_models"]
    assert list(described["EstimateResult"]["fields"]) == list(api.EstimateResult.model_fields)


# ---------------------------------------------------------------------------------------------------
# The fast path accepts only what pydantic accepts, with the same values

WORDS = ["", " ", "x", "none", "None", "auto", "inf", "-inf", "nan", "1e400", "0x10", "1_000", "+5", "007", ".5",
         "5.", "1e-400", "٣", "\udcff", "a,b", " a , ,b ", "k", "1.5k", "8K", " 8k ", "200k", "2G", "1.5M", "36h",
         "14d", "2w", "1e3", "-0", "0", "-5", "3.0", "9" * 30, "true", "fp7", "sdpa ", "LoRA", "Infer"]


def _value(draw, o: dict):
    """A value for option o as a user might type it: its own words in any case and spacing, numbers, suffixes,
    aliases, and junk."""
    choices = list(WORDS)
    check = o["check"] or {}
    if check.get("validator") == "closed":
        choices += [str(v) for v in check["values"]] + list(check["aliases"])
    word = draw(st.one_of(st.sampled_from(choices), st.integers(-3, 70000).map(str),
                          st.floats(allow_nan=True, allow_infinity=True).map(repr), st.text(max_size=6)))
    case = draw(st.sampled_from([str, str.upper, str.title]))
    pad = draw(st.sampled_from(["", " ", "\t"]))
    return pad + case(word) if "\udcff" not in word else word


@st.composite
def command_lines(draw):
    command = draw(st.sampled_from(["estimate", "estimate", "plan", "capacity"]))
    argv = [command, "--model", draw(st.sampled_from(["8b", "70b", "mixtral-8x7b"]))]
    for o in draw(st.lists(st.sampled_from(core.option_table()["commands"][command]), max_size=6, unique_by=id)):
        flag = draw(st.sampled_from(o["flags"]))
        if o["kind"] in ("switch", "optional-switch") and draw(st.booleans()):
            argv.append(flag)
        elif o["kind"] in ("no-switch", "optional-switch"):
            argv.append("--no-" + o["flags"][0].removeprefix("--"))
        elif o["kind"] == "switch":
            argv.append(flag)
        else:
            for _ in range(draw(st.integers(1, 2)) if o["kind"] == "repeated" else 1):
                argv.append(f"{flag}={_value(draw, o)}")
    return argv


def _typed(d: dict) -> dict:
    """Values with their types (3 and 3.0 print differently in JSON; so do 0.0 and -0.0)."""
    return {k: (type(v).__name__, repr(v)) for k, v in d.items()}


@settings(max_examples=400, deadline=None)
@given(argv=command_lines())
def test_whatever_the_fast_path_accepts_is_the_pydantic_request(argv):
    try:
        a = cli.build_parser().parse_args(argv)
    except InputError:
        return                                         # argparse's own error, before any validation
    model = api.REQUESTS[a.command]
    fast = cli.fast_request(a, a.command)
    try:
        slow = cli.request_of(a, model)
    except InputError:
        assert fast is None, argv
        return
    if fast is not None:
        assert _typed(vars(fast)) == _typed(slow.model_dump()), argv


@settings(max_examples=150, deadline=None)
@given(argv=command_lines().filter(lambda argv: argv[0] == "estimate"))
def test_bad_estimate_options_get_planner_apis_one_line_error(argv):
    """The command's error is the one planner.api's validation gives (or argparse's, or the workload's)."""
    err = io.StringIO()
    code = cli.main(argv + ["--json"], out=io.StringIO(), err=err)
    try:
        req = cli.request_of(cli.build_parser().parse_args(argv), api.EstimateRequest)
        api.run_estimate(req)          # the model first, then the workload, as the command reads them
    except InputError as e:
        assert code == 2 and err.getvalue() == f"error: {cli._one_line(str(e))}\n", argv
        return
    assert code in (0, 2), (argv, err.getvalue())        # 2: the model's own limits (e.g. a GGUF-only option)


@pytest.mark.parametrize("argv", [
    ["--batch-size", "x"], ["--seq-len", "8.1k"], ["--precision", "fp7"], ["--method", "lora", "--zero", "9"],
    ["--gpus", "1e3"], ["--gpu-memory-utilization", "inf"], ["--lora-rank", "+5"], ["--lora-rank", " 5"],
])
def test_a_value_in_doubt_is_left_to_planner_api(argv):
    a = cli.build_parser().parse_args(["estimate", "--model", "8b", *argv])
    assert cli.fast_request(a, "estimate") is None


def test_the_fast_path_reads_suffixes_aliases_and_case_as_planner_api_does():
    argv = ["estimate", "--model", "8b", "--method", " Finetune", "--precision", "BFloat16", "--seq-len", "8K",
            "--new-tokens", "1k", "--gpus", "4", "--zero", "2", "--gpu-memory-utilization", "0.85",
            "--no-compile"]
    a = cli.build_parser().parse_args(argv)
    fast = cli.fast_request(a, "estimate")
    assert fast is not None and _typed(vars(fast)) == _typed(cli.request_of(a, api.EstimateRequest).model_dump())
    assert (fast.method, fast.precision, fast.seq_len, fast.new_tokens, fast.zero) == ("full", "bf16", 8192, 1024, 2)


# ---------------------------------------------------------------------------------------------------
# The JSON is planner.api's, byte for byte

CORPUS = [
    dict(model="8b", method="lora"),
    dict(model="llama-3.1-8b", method="qlora", batch_size=2, seq_len=4096, gradient_checkpointing=True),
    dict(model="70b", method="inference", gpus=4, engine="vllm", parallel="tensor"),
    dict(model="70b", method="inference", gpus=2, parallel="pipeline", batch_size=8, seq_len=8192),
    dict(model="mixtral-8x7b", method="lora", batch_size=2),
    dict(model="qwen3-30b-a3b", method="qlora", quantize_moe_experts=True),
    dict(model="qwen3-30b-a3b", method="inference", engine="llama.cpp", precision="q4_k_m", n_cpu_moe=10),
    dict(model="8b", method="inference", engine="llama.cpp", precision="q8_0", gpu_layers=20),
    dict(model="8b", method="inference", engine="llama.cpp", precision="iq2_xxs", kv_cache_dtype="q8_0"),
    dict(model="8b", method="inference", engine="sglang", mem_fraction_static=0.8, batch_size=16),
    dict(model="8b", method="inference", engine="vllm", kv_cache_dtype="fp8", gpu_memory_utilization=0.85),
    dict(model="8b", method="inference", engine="mlx", precision="int4"),
    dict(model="70b", method="full", gpus=8, framework="hf-fsdp", gradient_checkpointing=True),
    dict(model="8b", method="full", gpus=2, zero=3, offload="optimizer+params", optimizer="adamw8bit"),
    dict(model="8b", method="full", gpus=4, zero=2, offload="optimizer", grad_accum=4),
    dict(model="8b", method="pretrain", gpus=8, framework="torchtitan", compile=True),
    dict(model="8b", method="full", framework="torchtune", optimizer_in_backward=True, activation_checkpointing="selective",
         ac_every=2),
    dict(model="8b", method="lora", framework="unsloth", lora_rank=64, lora_targets="attention"),
    dict(model="70b", method="qlora", gpus=2, framework="fsdp-qlora", activation_offload=True),
    dict(model="8b", method="lora", framework="mlx-lm", precision="bf16"),
    dict(model="8b", method="lora", attention="eager", loss="chunked", precision="fp16"),
    dict(model="deepseek-v3", method="inference", engine="vllm", gpus=16, precision="fp8", speculative="mtp",
         speculative_tokens=2, pipeline_parallel=2),
    dict(model="gemma-3-27b", method="inference", seq_len=32768, new_tokens=1024),
    dict(model="qwen3-next-80b-a3b", method="inference", engine="vllm", gpus=4),
]


def _argv(options: dict) -> list[str]:
    argv = ["estimate"]
    for k, v in options.items():
        flag = "--" + k.replace("_", "-")
        argv += [flag] if v is True else ["--no-" + flag[2:]] if v is False else [flag, str(v)]
    return argv + ["--json"]


@pytest.mark.parametrize("options", CORPUS, ids=lambda o: " ".join(f"{k}={v}" for k, v in o.items()))
def test_the_estimate_json_is_planner_apis_byte_for_byte(options):
    argv = _argv(options)
    assert cli.fast_request(cli.build_parser().parse_args(argv), "estimate") is not None    # no fallback taken
    out = io.StringIO()
    assert cli.main(argv, out=out) == 0
    assert out.getvalue() == api.dumps(api.estimate(**options))


def test_the_estimate_table_reads_a_fast_request_as_a_pydantic_one():
    a, b = io.StringIO(), io.StringIO()
    assert cli.main(["estimate", "--model", "8b", "--method", "lora"], out=a) == 0
    from planner.render import console_for, render_estimate
    render_estimate(console_for(b), api.estimate(model="8b", method="lora"), [])
    assert a.getvalue() == b.getvalue() and "GiB" in a.getvalue()


# ---------------------------------------------------------------------------------------------------
# What the command imports

def test_estimate_json_imports_neither_planner_api_nor_pydantic_beyond_the_workload():
    """Only planner.workload may still bring pydantic in (while Workload is a pydantic model)."""
    code = ("import sys; from planner.cli import main\n"
            "main(['estimate', '--model', '8b', '--method', 'lora', '--json'], out=open('/dev/null', 'w'))\n"
            "wl = sys.modules['planner.workload']\n"
            "print(sorted(m for m in ('planner.api', 'planner.catalog', 'planner.scenario', 'rich', 'yaml') "
            "if m in sys.modules), 'pydantic' in sys.modules and not hasattr(wl, 'BaseModel'))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.stdout.split() == ["[]", "False"], r.stderr


@pytest.mark.parametrize("kind", ["plan", "estimate", "capacity"])
def test_help_and_shell_completion_offer_every_option(kind, capsys):
    out = io.StringIO()
    assert cli.main(["completion", "bash"], out=out) == 0
    completes = {line.split("=(", 1)[0]: line.split("=(", 1)[1].rstrip(")").split()
                 for line in out.getvalue().splitlines() if line.endswith(")") and "_option_strings=(" in line}
    assert cli.main([kind, "--help"]) == 0
    help_text = capsys.readouterr().out
    for o in core.option_table()["commands"][kind]:
        flags = {"no-switch": [], "optional-switch": o["flags"]}.get(o["kind"], o["flags"])
        flags = flags + (["--no-" + o["flags"][0][2:]] if "switch" in o["kind"] and o["kind"] != "switch" else [])
        for flag in flags:
            assert flag in help_text and flag in completes[f"_shtab_plan_{kind}_option_strings"], flag
            if kind == "plan":                               # `plan --mo<TAB>`: the default command's options
                assert flag in completes["_shtab_plan_option_strings"], flag
