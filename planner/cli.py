"""Command line: `plan --model 70b --method qlora --budget 200000`, `plan estimate ...`, `plan catalog`, ...

Data flows one way: parse and validate the input -> estimate -> solve -> render. Bad input exits 2 with a
one-line error; no plan fitting exits 3.
"""
from __future__ import annotations

import argparse
import contextlib
import copy
import json
import math
import os
import re
import sys
import types

from planner.errors import InputError, shown
from planner.values import utf8
from planner.workload import WorkloadError

SUBCOMMANDS = ("estimate", "catalog", "models", "scenario", "plan", "completion", "serve", "schema", "mcp",
               "capacity")


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2 (argparse prints usage + error otherwise)
        raise InputError(message)


class _Help(argparse.RawDescriptionHelpFormatter):
    pass


def add_request_options(p: argparse.ArgumentParser, options) -> None:
    """One CLI option per field of a planner.api request model (`options`: the model's entries of the option table,
    planner/options.json, or the model itself): --the-field-name (or its declared flag), its description as help,
    its default shown, its closed set of values as the metavar. Values are passed on as typed and validated as the
    model does, so the CLI, the web API and MCP give the same one-line errors."""
    if not isinstance(options, list):
        from planner import api
        options = api.options_of(options)
    for o in options:
        name, flags, help_text = o["name"], o["flags"], o["help"]
        if o["kind"] == "no-switch":           # a switch that is on unless --no-NAME
            p.add_argument("--no-" + flags[0].removeprefix("--"), dest=name, action="store_false",
                           default=argparse.SUPPRESS, help=help_text)
        elif o["kind"] == "switch":
            p.add_argument(*flags, dest=name, action="store_true", default=argparse.SUPPRESS, help=help_text)
        elif o["kind"] == "optional-switch":
            g = p.add_mutually_exclusive_group()
            g.add_argument(*flags, dest=name, action="store_const", const=True, default=argparse.SUPPRESS,
                           help=help_text)
            g.add_argument("--no-" + flags[0].removeprefix("--"), dest=name, action="store_const", const=False,
                           default=argparse.SUPPRESS)
        else:
            p.add_argument(*flags, dest=name, required=o["required"], default=argparse.SUPPRESS,
                           action="append" if o["kind"] == "repeated" else "store", metavar=o["metavar"],
                           help=help_text)


def request_of(a: argparse.Namespace, model):
    from planner import api
    return api.request(model, {k: v for k, v in vars(a).items() if k in model.model_fields})


class Request(types.SimpleNamespace):
    """A request the fast path validated: every option of the command as an attribute, defaults filled in."""


INT = re.compile(r"-?(0|[1-9][0-9]{0,17})")                           # what int() and pydantic both read alike
FLOAT = re.compile(r"-?(0|[1-9][0-9]{0,17})(\.[0-9]{1,17})?([eE]-?[0-9]{1,3})?")


def fast_request(a: argparse.Namespace, command: str) -> Request | None:
    """The command's request from parsed arguments, validated without pydantic: the option table's plain validators
    (planner/values.py) and a strict reading of numbers. None whenever anything is in doubt (a value it does not
    read unambiguously, an error): the caller then validates with planner.api, whose one-line errors are the
    contract (tests/test_cli_fast.py checks that whatever this accepts equals the pydantic request)."""
    from planner import core, values
    given = vars(a)
    out = {}
    for o in core.option_table()["commands"][command]:
        name = o["name"]
        if name not in given:
            if o["required"]:
                return None
            out[name] = copy.copy(o["default"])             # a list default is the request's own
            continue
        v = given[name]
        try:
            if o["check"] is not None:
                if o["check"]["validator"] == "unknown":
                    return None
                v = values.check_of(o["check"])(v)
            v = _strict(v, o)
        except (ValueError, TypeError, OverflowError):
            return None
        if v is _DOUBT:
            return None
        out[name] = v
    return Request(**out)


_DOUBT = object()


def _text(v) -> bool:
    """Text pydantic takes as it is (planner.values.utf8)."""
    return isinstance(v, str) and utf8(v)


def _strict(v, o: dict):
    """v read as the option's type when unambiguous, else _DOUBT."""
    t = o["type"]
    if v is None:
        return v if o["optional"] else _DOUBT
    if isinstance(v, bool):
        return v if t == "bool" else _DOUBT
    if t == "int":
        if isinstance(v, int):
            return v if abs(v) < 2**53 else _DOUBT
        return int(v) if isinstance(v, str) and INT.fullmatch(v) else _DOUBT
    if t == "float":
        if isinstance(v, str):
            if not FLOAT.fullmatch(v):
                return _DOUBT
            v = float(v)
        elif isinstance(v, int):
            v = float(v)
        if not isinstance(v, float) or (not math.isfinite(v) and not (o["allow_inf_nan"] and math.isinf(v))):
            return _DOUBT
        return v
    if t == "str":
        return v if _text(v) else _DOUBT
    if t == "list":
        return v if isinstance(v, list) and all(_text(x) for x in v) else _DOUBT
    if t == "literal":
        return v if o["check"] is not None and o["check"]["validator"] == "closed" else _DOUBT
    return _DOUBT


COMMANDS_EPILOG = """other commands:
  plan estimate ...        peak GPU memory and system RAM of one configuration
  plan scenario FILE       plan a what-if scenario file (workloads, constraints, sweeps)
  plan capacity --have 2xrtx-3090 --model 70b   what cards you have can serve (context, users, tokens/s)
  plan catalog             the hardware catalogue, prices and rental rates
  plan models              built-in models and size aliases
  plan completion SHELL    print a bash or zsh completion script
  plan serve               a local web page and JSON API (OpenAPI at /docs)
  plan schema KIND         JSON Schema of plan|estimate|capacity|scenario|catalog|models --json output
  plan mcp                 a Model Context Protocol server on stdio for AI assistants

exit status: 0 a plan was found, 2 bad input, 3 no plan fits, 1 internal error"""


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The whole command line (completion scripts, help), or with `only` one command's options filled in: the other
    commands are named without theirs (a CLI run parses one command; building the plan, estimate and capacity
    option sets it does not use cost `plan estimate` ~15 ms)."""
    from planner import __version__, core
    table = core.option_table()

    def wanted(name: str) -> bool:
        return only is None or only == name

    root = _Parser(prog="plan", description="What hardware to buy (GPUs, hosts, system RAM) to run an LLM "
                   "workload, what it costs and how long the job takes.", epilog=COMMANDS_EPILOG,
                   formatter_class=argparse.RawDescriptionHelpFormatter)
    root.add_argument("--version", action="version", version=f"plan (llm-hw-planner) {__version__}")
    sub = root.add_subparsers(dest="command", parser_class=_Parser)
    pp = sub.add_parser("plan", prog="plan", help="find the hardware (the default command: `plan --model ...`)",
                        description="Find the cheapest hardware that runs the workload (the default command).",
                        epilog=COMMANDS_EPILOG, formatter_class=_Help)
    if wanted("plan"):
        add_request_options(pp, table["commands"]["plan"])
        pp.add_argument("--json", action="store_true", help="print one JSON document and nothing else")
    pe = sub.add_parser("estimate", help="peak GPU memory and system RAM of one configuration",
                        formatter_class=_Help)
    if wanted("estimate"):
        add_request_options(pe, table["commands"]["estimate"])
        pe.add_argument("--json", action="store_true", help="print one JSON document and nothing else")
    pcap = sub.add_parser("capacity", help="what hardware you have can serve: context, users, tokens/s, rate",
                          formatter_class=_Help)
    if wanted("capacity"):
        add_request_options(pcap, table["commands"]["capacity"])
        pcap.add_argument("--json", action="store_true", help="print one JSON document and nothing else")
    pc = sub.add_parser("catalog", help="list the hardware catalogue")
    pc.add_argument("--catalog", action="append", default=[])
    pc.add_argument("--json", action="store_true")
    ps = sub.add_parser("scenario", help="plan a what-if scenario file (workloads, constraints, sweeps)")
    ps.add_argument("file")
    fmt = ps.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true")
    fmt.add_argument("--csv", action="store_true")
    pm = sub.add_parser("models", help="list built-in models and size aliases")
    pm.add_argument("--json", action="store_true")
    pcomp = sub.add_parser("completion", help="print a shell completion script")
    pcomp.add_argument("shell", type=_choice_of("shell", ("bash", "zsh")))
    pw = sub.add_parser("serve", help="a local web page and JSON API over the same planner")
    pw.add_argument("--host", default="127.0.0.1", help="address to listen on (default: this machine only)")
    pw.add_argument("--port", type=int, default=8000, help="0 picks a free port")
    pw.add_argument("--open", action="store_true", help="open the page in the default browser")
    pw.add_argument("--workers", type=int, default=None,
                    help="processes that plan in parallel (default: one per core)")
    psch = sub.add_parser("schema", help="print the JSON Schema of a command's --json output (and its request)")
    psch.add_argument("kind", type=_choice_of("kind", tuple(dict.fromkeys(("plan", "estimate", "capacity",
                                                                             "scenario", *table["results"])))))
    sub.add_parser("mcp", help="a Model Context Protocol server on stdio (tools: plan, estimate, capacity, "
                   "catalog) for AI assistants")
    return root


def _workload(a: argparse.Namespace, **override):
    """The Workload of parsed CLI arguments (benchmarks/published.py and tests go through the real parser)."""
    from planner import api
    model = api.REQUESTS.get(a.command, api.PlanRequest)
    return api.workload_of(request_of(a, model), **override)


def _resolve_model(name: str):
    """(architecture, notes) of a --model value: planner.api.resolve_model."""
    from planner import api
    return api.resolve_model(name)


def _choice_of(name: str, values: tuple[str, ...]):
    """An argparse type for a closed set of words (subcommand arguments such as the shell or schema kind)."""
    def parse(text: str) -> str:
        v = text.strip().lower()
        if v in values:
            return v
        raise argparse.ArgumentTypeError(f"{shown(text)} is not one of {', '.join(values)}")
    parse.__name__ = name
    return parse


def dumped(d: dict, model: str) -> dict:
    """planner.api's result model `model` (e.g. "PlanResult") validated from d, as model_dump(mode="json") gives it:
    planner.core.result_json reads it without pydantic, and pydantic does when that is in doubt."""
    from planner import core
    doc = core.result_json(d, model)
    if doc is None:
        from planner import api
        doc = getattr(api, model).model_validate(d).model_dump(mode="json")
    return doc


def _print_json(doc: dict, out) -> None:
    out.write(json.dumps(doc, indent=1) + "\n")                     # as planner.api.dumps


def _request(a, command: str):
    """The command's request: the fast path's, or planner.api's when it is in doubt (with its one-line errors)."""
    req = fast_request(a, command)
    if req is None:
        from planner import api
        req = request_of(a, api.REQUESTS[command])
    return req


def cmd_estimate(a, out) -> int:
    """`--json` prints the estimate without pydantic when the fast path reads the request (planner.core builds
    the same dict planner.api.EstimateResult validates; tests/test_cli_fast.py checks the bytes agree)."""
    req = _request(a, "estimate")
    if a.json:
        from planner import core
        _print_json(dumped(core.estimate_dict(req), "EstimateResult"), out)
        return 0
    from planner import api
    from planner.render import console_for, render_estimate
    render_estimate(console_for(out), api.run_estimate(req), [])     # the notes are already the first assumptions
    return 0


def cmd_plan(a, out, err=None) -> int:
    """Without pydantic when the fast path reads the request: planner.core plans and dumps the result as
    planner.api.run_plan and PlanResult would (tests/test_cli_fast_plan.py checks the bytes agree)."""
    from planner import core
    req = _request(a, "plan")
    d, (res, notes, catalog, c) = core.plan_dict(req)
    doc = dumped(d, "PlanResult")              # the JSON of record, validated as planner.api.run_plan does
    if a.json:
        _print_json(doc, out)
    else:
        from planner.render import console_for, render_plan
        budget_text = f"(budget {req.budget:,.0f} {c.currency})" if req.budget else "(no budget given)"
        render_plan(console_for(out), res, notes, catalog, budget_text)
    if req.proposal and res.feasible:
        print(f"proposal written to {_one_line(req.proposal)}", file=err or sys.stderr)
    if req.proposal and not res.feasible:
        print(f"no proposal written to {req.proposal}: no plan fits ({res.binding})", file=err or sys.stderr)
    return 0 if res.feasible else 3


def cmd_capacity(a, out) -> int:
    from planner import core
    doc = dumped(core.capacity_dict(_request(a, "capacity")), "CapacityResult")
    if a.json:
        _print_json(doc, out)
    else:
        from planner.capacity import capacity_text
        out.write(capacity_text(doc) + "\n")
    return 0 if doc["fits"] else 3


def cmd_catalog(a, out) -> int:
    from planner import api
    result = api.run_catalog(a.catalog)
    if a.json:
        out.write(api.dumps(result))
        return 0
    from rich.table import Table                  # the tables only: `--json` never imports rich

    from planner.render import console_for
    cat = result._catalog
    software = {label: sw.model_dump() for label, sw in result.software.items()}
    t = Table(title=f"GPUs and machines: memory GB, bandwidth GB/s, dense bf16 TFLOPS (prices as of {cat.as_of})",
              title_justify="left")
    for col in ("name", "GB", "GB/s", "TFLOPS", "TDP W", "NVLink", "form", "cooling", "market", "price"):
        t.add_column(col, no_wrap=True)
    for g in cat.gpus.values():
        t.add_row(g.name, f"{g.memory_gb:g}", f"{g.bandwidth_gbps:g}", f"{g.bf16_tflops:g}", f"{g.tdp_w:g}",
                  f"{g.nvlink.width}-way" if g.nvlink else "-", g.form, g.cooling, g.market,
                  f"{g.price:,.0f} {g.currency}")
    c = console_for(out)
    c.print(t)
    t2 = Table(title="Host platforms (price without GPUs and RAM)", title_justify="left")
    for col in ("name", "forms", "GPUs", "cooling", "PSU W", "max RAM GB", "RAM", "RAM $/GB", "price"):
        t2.add_column(col)
    for p in cat.platforms.values():
        gpus = f"exactly {p.fixed_gpus}" if p.fixed_gpus else f"up to {p.max_gpus}"
        if p.gpus:
            gpus += " (" + ", ".join(p.gpus) + ")"
        t2.add_row(p.name, ",".join(p.forms), gpus, "server airflow" if p.passive_cooling else "active cards only",
                   f"{p.psu_w:g}", str(p.max_ram_gb), p.ram_type or "-", f"{p.ram_price_per_gb:g}",
                   f"{p.price:,.0f} {p.currency}")
    c.print(t2)
    if cat.rentals:
        t3 = Table(title="Cloud rentals (on-demand USD per GPU-hour)", title_justify="left")
        for col in ("gpu", "provider", "USD/GPU-h", "interconnect", "as of"):
            t3.add_column(col, no_wrap=col in ("gpu", "as of"))
        for name, rs in cat.rentals.items():
            for r in sorted(rs, key=lambda r: r.usd_per_gpu_hour):
                t3.add_row(name, r.provider, f"{r.usd_per_gpu_hour:.2f}", r.interconnect or "-", r.as_of)
        c.print(t3)
    if cat.api_prices:
        t4 = Table(title="Hosted APIs for the built-in open models (USD per million tokens, pay as you go)",
                   title_justify="left")
        for col in ("model", "provider", "in", "out", "provider's id", "as of"):
            t4.add_column(col, no_wrap=col in ("model", "as of"))
        for m in sorted(cat.api_prices):
            for a in cat.api_offers(m):
                t4.add_row(m, a.provider, f"{a.input_usd_per_mtok:.2f}", f"{a.output_usd_per_mtok:.2f}", a.model_id,
                           a.as_of)
        c.print(t4)
    for label, sw in software.items():
        c.print(f"{label}: training "
                + ", ".join(f"{k} ({'/'.join(v)})" for k, v in sw["training"].items())
                + "; serving " + ", ".join(sw["serving"]) + (f" - {sw['note']}" if sw["note"] else ""),
                highlight=False)
    c.print("exchange rates per USD (as of " + cat.rates_as_of + "): "
            + ", ".join(f"{k} {v:g}" for k, v in cat.rates.items()), highlight=False)
    return 0


def cmd_models(a, out) -> int:
    from planner import api
    from planner.data import builtin_registry
    reg = builtin_registry()
    if a.json:
        out.write(api.dumps(api.models()))
        return 0
    for k, m in reg.models.items():
        out.write(f"{k:22} {m.params / 1e9:8.2f}B  {m.family:12} {m.source}\n")
    out.write("aliases: " + ", ".join(f"{k}->{v}" for k, v in reg.aliases.items()) + "\n")
    return 0


def cmd_serve(a, out) -> int:
    from planner.web.server import serve
    return serve(a.host, a.port, open_browser=a.open, out=out, workers=a.workers)


def cmd_schema(a, out) -> int:
    from planner import api
    out.write(json.dumps(api.schema(a.kind), indent=1) + "\n")
    return 0


def cmd_mcp(a, out) -> int:
    from planner.mcp_server import run_stdio
    return run_stdio()


def _pydantic_error(e: BaseException) -> bool:
    """A pydantic ValidationError that reached the command (pydantic is only imported where it is used)."""
    pydantic = sys.modules.get("pydantic")
    return pydantic is not None and isinstance(e, pydantic.ValidationError)


def _validation_message(e) -> str:
    from planner.core import flag_of              # the declared flags, without importing planner.api
    from planner.values import error_of
    err, name = error_of(e)
    msg, kind, value = err["msg"].removeprefix("Value error, "), err.get("type"), err.get("input")
    field = flag_of(name) if name else "input"
    if kind == "literal_error":
        msg = f"got {shown(value)}; {msg.lower()}"
    return f"{field}: {msg}"


MAX_MESSAGE = 2000          # characters of an error line: values in it are cut by errors.shown; this is the backstop


def _one_line(text: str) -> str:
    """Messages echo the user's text (argparse: `unrecognized arguments: ...`, paths): a newline or other
    control character in it is shown escaped, so the error stays one line, and the line is bounded."""
    line = "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text[:MAX_MESSAGE * 2])
    return line if len(line) <= MAX_MESSAGE else line[:MAX_MESSAGE - 1] + "…"


def plan_choices() -> dict[str, list]:
    """The allowed values of the planning command's closed-set options (planner.api.options without the
    precision groups and defaults)."""
    from planner import api
    return {k: v for k, v in api.options().items() if k not in ("precision_groups", "defaults")}


def completion_parser() -> argparse.ArgumentParser:
    """The parser shells complete from: the commands, and at the top level the default command's options
    (`plan --mo<TAB>` is `plan plan --model`), which argparse alone keeps under the hidden `plan` subcommand."""
    from planner import core
    root = build_parser()
    add_request_options(root, core.option_table()["commands"]["plan"])
    parsers = [root] + [sp for act in root._actions if isinstance(act, argparse._SubParsersAction)
                        for sp in act.choices.values()]
    for parser in parsers:                      # closed sets (--method {inference,...}) complete their values
        for act in parser._actions:
            if act.choices is None and isinstance(act.metavar, str) and act.metavar.startswith("{"):
                act.choices = act.metavar.strip("{}").split(",")
    return root


def cmd_completion(a, out) -> int:
    import shtab
    out.write(shtab.complete(completion_parser(), shell=a.shell) + "\n")
    return 0


def main(argv: list[str] | None = None, out=None, err=None) -> int:
    """Run one command; `out` receives the result, `err` the one-line error (the web page passes buffers)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    out = out or sys.stdout
    err = err or sys.stderr
    if argv in (["-h"], ["--help"]):
        argv = ["plan", "--help"]                 # the default command's options, other commands in the epilog
    elif argv and argv[0] not in SUBCOMMANDS and argv[0] not in ("-h", "--help", "--version"):
        argv = ["plan"] + argv
    if not argv:
        argv = ["plan", "--help"]
    try:
        a = build_parser(argv[0] if argv[0] in SUBCOMMANDS else None).parse_args(argv)
        if a.command == "scenario":
            from planner.scenario import cmd_scenario
            return cmd_scenario(a, out)
        if a.command == "plan":
            return cmd_plan(a, out, err)
        return {"estimate": cmd_estimate, "catalog": cmd_catalog, "models": cmd_models,
                "completion": cmd_completion, "serve": cmd_serve, "schema": cmd_schema,
                "mcp": cmd_mcp, "capacity": cmd_capacity}[a.command](a, out)
    except InputError as e:
        print(f"error: {_one_line(str(e))}", file=err)
        return 2
    except WorkloadError as e:
        print(f"error: {_one_line(_validation_message(e))}", file=err)
        return 2
    except SystemExit as e:                       # --help and --version
        return e.code if isinstance(e.code, int) else 0
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # the reader went away (`plan models | head -1`): end quietly, as Unix tools do
        with contextlib.suppress(OSError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        return 0
    except Exception as e:  # a bug, not bad input: still one line, the traceback on request
        if _pydantic_error(e):
            print(f"error: {_one_line(_validation_message(e))}", file=err)
            return 2
        if os.environ.get("PLANNER_DEBUG"):
            raise
        print(f"error: internal error ({type(e).__name__}: {e}); rerun with PLANNER_DEBUG=1 and report it",
              file=err)
        return 1


if __name__ == "__main__":
    sys.exit(main())
