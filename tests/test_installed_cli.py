"""The installed `plan` command, run as a user runs it: a subprocess whose stdout is piped.

In-process tests cannot see what native libraries print on file descriptor 1 (HiGHS logs there, banner
first, unless planner/milp.py turns its output off before it runs), so every machine-readable output is produced here by the console script and
parsed whole: one JSON document, or one rectangular CSV, and nothing else.
"""
import csv
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SCENARIOS = sorted((REPO / "scenarios").glob("*.yaml"))
PLAN = shutil.which("plan", path=str(Path(sys.executable).parent)) or shutil.which("plan")

pytestmark = pytest.mark.skipif(PLAN is None, reason="the console script is not installed (pip install .)")


def run(*args, timeout=120):
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "PLANNER_DEBUG")}
    return subprocess.run([PLAN, *args], capture_output=True, text=True, timeout=timeout, env=env,
                          cwd=REPO, stdin=subprocess.DEVNULL)


def one_json_document(text: str) -> dict:
    doc = json.loads(text)                         # raises on any foreign line before or after
    assert isinstance(doc, dict)
    return doc


@pytest.mark.parametrize("args", [
    ["--model", "70b", "--method", "qlora", "--budget", "200000", "--json"],
    ["--model", "8b", "--method", "inference", "--batch-size", "8", "--json"],
    ["--model", "70b", "--method", "qlora", "--budget", "500", "--json"],          # no plan: exit 3, still JSON
    ["estimate", "--model", "8b", "--method", "lora", "--json"],
    ["catalog", "--json"],
    ["models", "--json"],
])
def test_json_outputs_are_exactly_one_document(args):
    r = run(*args)
    assert r.returncode in (0, 3), r.stderr
    d = one_json_document(r.stdout)
    assert "Traceback" not in r.stderr
    if args[0] == "--model":
        assert "feasible" in d and "job" in d and "frontier" in d


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_every_shipped_scenario_gives_clean_json_and_csv(path):
    r = run("scenario", str(path), "--json")
    assert r.returncode in (0, 3), r.stderr
    assert one_json_document(r.stdout)["variants"]
    r = run("scenario", str(path), "--csv")
    assert r.returncode in (0, 3), r.stderr
    rows = list(csv.reader(io.StringIO(r.stdout)))
    assert len(rows) >= 2 and len({len(row) for row in rows}) == 1     # rectangular: a header and equal rows


def test_a_closed_pipe_ends_quietly():
    r = subprocess.run(f"'{PLAN}' models | head -1; exit ${{PIPESTATUS[0]}}", shell=True, executable="/bin/bash",
                       capture_output=True, text=True, timeout=60, cwd=REPO)
    assert r.returncode == 0 and r.stderr == "" and len(r.stdout.splitlines()) == 1


def test_help_shows_the_default_commands_options_with_defaults_and_values():
    r = run("--help")
    assert r.returncode == 0
    for text in ("--model", "--budget", "--method", "qlora", "default: 2048", "plan estimate", "exit status"):
        assert text in r.stdout, text


def test_version():
    r = run("--version")
    assert r.returncode == 0 and r.stdout.startswith("plan (llm-hw-planner) ")


def test_bad_value_gets_a_suggestion_on_one_line():
    r = run("--model", "8b", "--method", "qlroa")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
    assert "--method" in r.stderr and "did you mean qlora" in r.stderr


def test_completion_script():
    r = run("completion", "bash")
    assert r.returncode == 0 and "complete" in r.stdout and "--budget" in r.stdout
