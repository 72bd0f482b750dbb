"""`plan mcp`: a real MCP client (the official SDK) talks to the server over stdio, as an AI assistant would."""
import io
import json
import sys

import pytest

from planner.cli import main

mcp = pytest.importorskip("mcp", reason="the [mcp] extra is not installed")


def cli_json(argv):
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv) + ["--json"], out=out, err=err)
    return code, json.loads(out.getvalue())


async def _session_calls():
    from mcp.client.session import ClientSession
    from mcp.client.stdio import StdioServerParameters, stdio_client
    params = StdioServerParameters(command=sys.executable, args=["-m", "planner.cli", "mcp"])
    async with stdio_client(params) as (read, write):
        async with ClientSession(read, write) as session:
            await session.initialize()
            listed = await session.list_tools()
            plan = await session.call_tool("plan", {"model": "70b", "method": "qlora", "budget": 200000})
            estimate = await session.call_tool("estimate", {"model": "8b", "method": "lora", "batch_size": 2})
            bad = await session.call_tool("plan", {"model": "70b", "method": "sideways"})
            refused = await session.call_tool("plan", {"model": "70b", "proposal": "/tmp/x.md"})
            return listed, plan, estimate, bad, refused


def test_plan_mcp_lists_the_tools_and_answers_what_the_cli_answers():
    import anyio
    listed, plan, estimate, bad, refused = anyio.run(_session_calls)
    tools = {t.name: t for t in listed.tools}
    assert {"plan", "estimate", "capacity", "catalog"} <= set(tools)
    schema = tools["plan"].input_schema
    assert schema["required"] == ["model"] and "batch_size" in schema["properties"]
    assert "proposal" not in schema["properties"] and "catalog" not in schema["properties"]

    code, expected = cli_json(["--model", "70b", "--method", "qlora", "--budget", "200000"])
    assert code == 0 and not plan.is_error
    answered = json.loads(plan.content[0].text)
    assert answered == plan.structured_content
    drop = lambda d: {k: v for k, v in d.items() if k != "solve_seconds"}   # noqa: E731 - the solver's wall time
    assert drop(answered) == drop(expected)

    code, expected = cli_json(["estimate", "--model", "8b", "--method", "lora", "--batch-size", "2"])
    assert json.loads(estimate.content[0].text) == expected

    assert bad.is_error and bad.content[0].text.startswith("error: --method:")
    assert refused.is_error and "--proposal" in refused.content[0].text
