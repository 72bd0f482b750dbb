"""`plan mcp`: the planner as Model Context Protocol tools on stdio, for AI assistants (Claude Desktop, IDE agents).

Tools: plan, estimate, capacity and catalog. Each tool's input schema
is the JSON Schema of planner.api's request model, and its result is the JSON of record, the same document
`plan ... --json` prints (also as structured content with the result model's schema). Options that name files
to write or catalogues to load (--proposal, --catalog) are not offered; a model may still be a local folder or
file, since the server runs as the user who started it.

Uses the official MCP Python SDK (`pip install 'llm-hw-planner[mcp]'`).
"""
from __future__ import annotations

import sys

from planner import api
from planner.errors import InputError

DESCRIPTIONS = {
    "plan": "Find the cheapest hardware (GPUs, hosts, system RAM) that runs an LLM training or inference workload "
            "within a budget and deadline, with the cost-time frontier, alternatives and rent-vs-buy. Give at least "
            "model (e.g. '70b', 'meta-llama/Llama-3.1-8B') and method (inference, lora, qlora, full, pretrain).",
    "estimate": "Peak GPU memory per card and system RAM of one configuration (model, method, batch, sequence "
                "length, GPUs, ZeRO stage, offload), component by component.",
    "capacity": "Serving capacity: how much hardware serves a request rate or user count within latency targets.",
    "catalog": "The hardware catalogue: GPUs and machines with memory, bandwidth, price; host platforms; cloud "
               "rental rates; which software stacks run on which hardware; exchange rates.",
}


def _input_schema(model) -> dict:
    schema = model.model_json_schema()
    for name, field in model.model_fields.items():
        if api.cli_meta(field).local_file:
            schema["properties"].pop(name, None)
    return schema


def tools() -> dict[str, tuple[dict, object]]:
    """name -> (input schema, function taking the arguments dict and returning a result model)."""
    out: dict[str, tuple[dict, object]] = {}
    for kind in ("plan", "estimate", "capacity"):
        model = api.REQUESTS.get(kind)
        runner = api.RUNNERS.get(kind)
        if model is None or runner is None:
            continue

        def call(arguments: dict, model=model, runner=runner):
            refused = [k for k in arguments if k in model.model_fields
                       and api.cli_meta(model.model_fields[k]).local_file]
            if refused:
                raise InputError(f"{api.flag_of(refused[0], model)}: not an option of the MCP tools")
            return runner(api.request(model, arguments))
        out[kind] = (_input_schema(model), call)
    out["catalog"] = ({"type": "object", "properties": {}, "additionalProperties": False},
                      lambda arguments: api.run_catalog())
    return out


def build_server():
    import anyio
    import mcp_types as types
    from mcp.server.lowlevel import Server

    from planner import __version__
    table = tools()

    async def list_tools(ctx, params):
        return types.ListToolsResult(tools=[
            types.Tool(name=name, description=DESCRIPTIONS[name], input_schema=schema,
                       output_schema=api.schema_of(name))
            for name, (schema, _) in table.items()])

    async def call_tool(ctx, params):
        entry = table.get(params.name)
        if entry is None:
            return _error(types, f"unknown tool {params.name!r}; tools: {', '.join(table)}")
        try:
            result = await anyio.to_thread.run_sync(entry[1], dict(params.arguments or {}))
        except InputError as e:
            return _error(types, f"error: {e}")
        document = result.model_dump(mode="json")
        return types.CallToolResult(content=[types.TextContent(type="text", text=api.dumps(result))],
                                    structured_content=document)

    return Server("llm-hw-planner", version=__version__,
                  instructions="Plan GPUs and machines for LLM training or inference: call plan (or estimate for "
                               "one configuration's memory). Results are the JSON `plan --json` prints.",
                  on_list_tools=list_tools, on_call_tool=call_tool)


def _error(types, message: str):
    return types.CallToolResult(content=[types.TextContent(type="text", text=message)], is_error=True)


def run_stdio() -> int:
    try:
        import anyio
        from mcp.server.stdio import stdio_server
    except ImportError:
        raise InputError("plan mcp needs the MCP SDK: pip install 'llm-hw-planner[mcp]'") from None
    server = build_server()

    async def main():
        async with stdio_server() as (read_stream, write_stream):
            await server.run(read_stream, write_stream, server.create_initialization_options())
    anyio.run(main)
    return 0


if __name__ == "__main__":
    sys.exit(run_stdio())
