"""The command line contract: JSON fields, exit codes, one-line errors, never a traceback."""
import io
import json
import subprocess
import sys

import pytest

from planner.cli import main


def run(*argv):
    out = io.StringIO()
    code = main(list(argv), out=out)
    return code, out.getvalue()


def test_estimate_json_contract():
    code, text = run("estimate", "--model", "llama-3.1-8b", "--method", "qlora", "--batch-size", "2", "--json")
    assert code == 0
    d = json.loads(text)
    for key in ("peak_allocated_bytes", "total_bytes", "breakdown", "params", "trainable_params", "cpu_ram_bytes",
                "model", "assumptions"):
        assert key in d
    assert d["model"] == "llama-3.1-8b" and d["params"] == 8_030_261_248
    assert d["total_bytes"] > d["peak_allocated_bytes"] > d["breakdown"]["weights"]


def test_plan_json_contract():
    code, text = run("--model", "70b", "--method", "qlora", "--budget", "200000", "--json")
    assert code == 0
    d = json.loads(text)
    assert d["feasible"] is True
    assert {i["kind"] for i in d["plan"]["items"]} <= {"gpu", "host", "ram", "bridge", "network"}
    assert d["plan"]["currency"] == "USD" and d["plan"]["total_cost"] > 0 and d["plan"]["strategy"]
    assert "peak_allocated_bytes" in d["estimate"] and isinstance(d["alternatives"], list)
    assert any("llama-3.1-70b" in n for n in d["notes"])          # which model the alias stood for


def test_gpt2_pretraining_plan_fits_its_1024_positions():
    """GPT-2 124M on 10B tokens: a plan on a few cards, sized at the 1,024 tokens its position table holds (the
    default --seq-len cut, and said)."""
    code, text = run("--model", "gpt2", "--method", "pretrain", "--tokens", "10000000000", "--json")
    assert code == 0
    d = json.loads(text)
    assert d["feasible"] is True and d["estimate"]["params"] == 124_439_808
    assert "micro-batch 1 x 1024 tokens" in " ".join(d["estimate"]["assumptions"])
    assert any("cut to 1,024" in n for n in d["notes"]) and any("50,304" in n for n in d["notes"])
    assert d["job"]["tokens"] == 10**10 and 0 < d["plan"]["time_s"] < 30 * 86400
    assert d["estimate"]["total_bytes"] < 16 * 2**30                # 124M parameters fit any card of 16 GB


def test_infeasible_plan_exits_3_with_min_budget():
    code, text = run("--model", "70b", "--method", "qlora", "--budget", "500", "--json")
    assert code == 3
    d = json.loads(text)
    assert d["feasible"] is False and d["binding"] == "budget" and d["min_budget"] > 500


def test_terminal_output_shows_units_currency_and_price_date():
    code, text = run("--model", "8b", "--method", "lora", "--budget", "20000", "--currency", "EUR")
    assert code == 0
    assert "EUR" in text and "GiB" in text and "prices as of" in text


@pytest.mark.parametrize("argv,fragment", [
    (["--model", "llama-9000", "--budget", "1"], "unknown model"),
    (["--model", "8b", "--batch-size", "0"], "--batch-size"),
    (["--model", "8b", "--seq-len", "-5"], "--seq-len"),
    (["--model", "8b", "--precision", "fp7"], "--precision"),
    (["--model", "8b", "--budget", "-10"], "--budget"),
    (["--model", "8b", "--currency", "XYZ"], "--currency"),
    (["--model", "8b", "--exclude", "rtx-9090"], "--exclude"),
    (["--model", "8b", "--method", "full", "--precision", "nf4"], "qlora"),
    (["estimate", "--model", "8b", "--method", "full", "--zero", "9"], "--zero"),
    (["--model", "8b", "--frobnicate"], "unrecognized"),
    (["--model", "8b", "--budget", "nan"], "--budget"),
    (["--model", "8b", "--method", "full", "--tokens", "inf"], "--tokens"),
    (["--model", "8b", "--method", "full", "--deadline", "soon"], "--deadline"),
    (["--model", "gpt2", "--method", "pretrain", "--seq-len", "4096"], "learned positions"),
    (["estimate", "--model", "gpt2", "--seq-len", "1000", "--new-tokens", "100"], "1,024 learned positions"),
])
def test_bad_input_is_one_line_and_exit_2(argv, fragment, capsys):
    code, _ = run(*argv)
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert len(err.splitlines()) == 1 and fragment in err and "Traceback" not in err


def test_broken_catalogue_names_file_entry_and_field(tmp_path, capsys):
    bad = tmp_path / "mine.yaml"
    bad.write_text("gpus:\n  - {name: my-card, vendor: nvidia, memory_gb: -4, bandwidth_gbps: 1, bf16_tflops: 1,"
                   " tdp_w: 100, form: pcie, price: 10, as_of: '2026-01-01', source: me}\n")
    code, _ = run("--model", "8b", "--catalog", str(bad))
    err = capsys.readouterr().err
    assert code == 2 and "mine.yaml" in err and "my-card" in err and "memory_gb" in err
    bad.write_text("gpus: [unclosed\n")
    code, _ = run("--model", "8b", "--catalog", str(bad))
    assert code == 2 and "malformed YAML" in capsys.readouterr().err


def test_catalogue_override_changes_the_plan(tmp_path):
    cheap = tmp_path / "cheap.yaml"
    cheap.write_text("gpus:\n  - {name: rtx-4090, vendor: nvidia, memory_gb: 24, bandwidth_gbps: 1008, "
                     "bf16_tflops: 165, tdp_w: 450, form: pcie, slot_width: 3, price: 10, as_of: '2026-11-23', "
                     "source: test}\n")
    code, text = run("--model", "8b", "--catalog", str(cheap), "--json")
    assert code == 0 and "rtx-4090" in json.loads(text)["plan"]["gpus"]


def test_config_json_model(tmp_path):
    cfg = tmp_path / "config.json"
    cfg.write_text(json.dumps({"model_type": "qwen2", "hidden_size": 896, "intermediate_size": 4864,
                               "num_hidden_layers": 24, "num_attention_heads": 14, "num_key_value_heads": 2,
                               "vocab_size": 151936, "tie_word_embeddings": True}))
    code, text = run("estimate", "--model", str(cfg), "--json")
    assert code == 0 and json.loads(text)["params"] == 494_032_768


def test_console_script_runs_from_any_directory(tmp_path):
    r = subprocess.run([sys.executable, "-m", "planner.cli", "catalog", "--json"], cwd=tmp_path,
                       capture_output=True, text=True)
    assert r.returncode == 0 and "rtx-3060-12gb" in r.stdout


@pytest.mark.parametrize("argv", [
    ["plan", "--model", "70b", "--method", "qlora", "--budget", "200000", "--json"],
    ["estimate", "--model", "8b", "--method", "lora", "--gpus", "2", "--zero", "3"],
    ["capacity", "--have", "2xrtx-3090", "--model", "8b"],
    ["catalog", "--json"], ["models"], ["schema", "plan"], ["scenario", "x.yaml", "--csv"],
])
def test_the_parser_built_for_one_command_reads_it_as_the_whole_parser_does(argv):
    """main builds only the command it runs (start-up); what it reads must not change."""
    from planner.cli import build_parser
    assert vars(build_parser(argv[0]).parse_args(argv)) == vars(build_parser().parse_args(argv))
