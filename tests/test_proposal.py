"""Proposals say what the terminal and the JSON say: every number in the memory section is the per-card figure
of plan.memory from the same run, for the three plan shapes (one card, multi-card training, a layer split)."""
import html
import io
import json
import re

import pytest

from planner.cli import main

GiB = 2**30
SHAPES = {
    "single card": ["--model", "8b", "--method", "lora", "--include", "rtx-5090"],
    "multi-card training": ["--model", "70b", "--method", "full", "--gradient-checkpointing", "--budget", "5000000"],
    "layer-split inference": ["--model", "70b", "--batch-size", "8", "--seq-len", "8192", "--include",
                              "rtx-6000-ada"],
}


def _run(args, proposal):
    out = io.StringIO()
    code = main(args + ["--json", "--proposal", str(proposal)], out=out)
    assert code == 0
    return json.loads(out.getvalue())


def _memory_rows_md(text: str) -> list[list[str]]:
    section = text.split("### Memory per card", 1)[1].split("\n### ", 1)[0]
    rows = [ln for ln in section.splitlines() if ln.startswith("| ") and not ln.startswith("| GPU")]
    return [[c.strip() for c in ln.strip("|").split("|")] for ln in rows]


def _memory_rows_html(text: str) -> list[list[str]]:
    section = text.split("<h3>Memory per card", 1)[1].split("</table>", 1)[0]
    rows = re.findall(r"<tr>(.*?)</tr>", section)[1:]
    return [[html.unescape(c) for c in re.findall(r"<td>(.*?)</td>", r)] for r in rows]


@pytest.mark.parametrize("shape", list(SHAPES))
@pytest.mark.parametrize("suffix", [".md", ".html"])
def test_memory_section_matches_the_json_of_the_same_run(tmp_path, shape, suffix):
    path = tmp_path / f"proposal{suffix}"
    d = _run(SHAPES[shape], path)
    text = path.read_text()
    rows = _memory_rows_md(text) if suffix == ".md" else _memory_rows_html(text)
    memory = d["plan"]["memory"]
    assert len(rows) == len(memory)
    for row, m in zip(rows, memory):
        assert row[0] == m["gpu"] and int(row[1]) == m["count"]
        assert row[2:5] == [f"{m['need_bytes'] / GiB:,.2f}", f"{m['usable_bytes'] / GiB:,.2f}",
                            f"{m['headroom_bytes'] / GiB:,.2f}"]
    # the summary quotes the fullest card's need and usable memory, never the whole model "per GPU"
    fullest = max(memory, key=lambda m: m["need_bytes"] / m["usable_bytes"])
    assert f"{fullest['need_bytes'] / GiB:,.2f} GiB" in text
    if shape == "layer-split inference":
        assert sum(m["count"] for m in memory) > 1
        assert "before the layer split" in text
        assert "each decode step reads the weights" in text and "6 x parameters" not in text


def test_no_plan_no_proposal_and_exit_3(tmp_path, capsys):
    path = tmp_path / "p.md"
    code = main(["--model", "70b", "--method", "qlora", "--budget", "100", "--proposal", str(path)], out=io.StringIO())
    assert code == 3 and not path.exists()
    assert "no proposal written" in capsys.readouterr().err


@pytest.mark.parametrize("target,fragment", [("dir", "directory"), ("x.pdf", ".md or .html")])
def test_proposal_path_is_refused_before_planning(tmp_path, capsys, target, fragment):
    path = tmp_path if target == "dir" else tmp_path / target
    code = main(["--model", "8b", "--proposal", str(path)], out=io.StringIO())
    err = capsys.readouterr().err
    assert code == 2 and fragment in err and len(err.strip().splitlines()) == 1


def test_proposal_is_written_atomically(tmp_path):
    path = tmp_path / "p.md"
    path.write_text("old")
    _run(SHAPES["single card"], path)
    assert path.read_text().startswith("# Hardware proposal")
    assert [p.name for p in tmp_path.iterdir()] == ["p.md"]          # no temporary file left behind
