"""How an option's text becomes its value: the plain validators of planner.api's request fields (closed sets,
counts with k/M/G suffixes, positive numbers, durations, name lists), free of pydantic so that the command line's
fast path (planner/cli.py) applies the very same functions that planner.api wraps in pydantic's BeforeValidator.

Each validator takes what a front end passed (text, a number, None) and returns the value or raises ValueError
with the message the user sees after the option's flag.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from planner.errors import shown


def utf8(text: str) -> bool:
    """Whether text is valid Unicode, as pydantic reads text: a lone surrogate (how a terminal's undecodable bytes
    arrive) is not, and pydantic refuses it."""
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


def one_of(choices: tuple) -> str:
    """'a', 'b' or 'c' (pydantic's wording of a Literal's values)."""
    quoted = [repr(c) for c in choices]
    return quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"


@dataclass(frozen=True)
class Cli:
    """How a request field appears outside Python (kept in the field's Annotated metadata).

    flag: the CLI spelling when it is not --the-field-name; aliases: other accepted spellings;
    local_file: the value names a file on the machine that runs the planner, so the web API and MCP refuse it;
    metavar: the placeholder in --help."""
    flag: str | None = None
    aliases: tuple[str, ...] = ()
    local_file: bool = False
    metavar: str | None = None


def reject_bool(v):
    if isinstance(v, bool):
        raise ValueError(f"expected a value, got {str(v).lower()}")
    return v


def closed_check(values: tuple, aliases: dict[str, str] | None = None):
    """A check for a closed set of values: case-insensitive, aliases mapped, close matches suggested. The check
    carries its parameters (.spec) so the option table (planner/options.json) can name it."""
    aliases = aliases or {}
    by_text = {str(v): v for v in values}

    def check(v):
        if v is None:
            return v
        reject_bool(v)
        text = str(v).strip().lower()
        text = aliases.get(text, text)
        if text in by_text:
            return by_text[text]
        import difflib                  # only for an error: kept off the command's start-up
        close = difflib.get_close_matches(text, list(by_text) + list(aliases), n=3, cutoff=0.5)
        hint = f"; did you mean {' or '.join(close)}?" if close else ""
        raise ValueError(f"{shown(str(v))} is not one of {', '.join(by_text)}{hint}")
    check.spec = {"validator": "closed", "values": list(values), "aliases": dict(aliases)}
    return check


SUFFIXES = {"k": 1e3, "m": 1e6, "g": 1e9}          # 200k USD, 1.5M examples, 2G tokens (SI, case-insensitive)
BINARY_SUFFIXES = {"k": 1024, "m": 1024**2}      # sequence lengths: "8k context" is 8,192 tokens (Llama, Qwen cards)
SUFFIX_TABLES = {"si": SUFFIXES, "binary": BINARY_SUFFIXES}     # the option table names a count's suffixes
MIN_DEADLINE_DAYS = 1 / 86400                    # one second: shorter only divides the job into overflowing numbers


def scaled(text: str, suffixes: dict) -> float:
    """'200k' -> 200000.0, '1.5M' -> 1500000.0, '2e9' -> 2e9; ValueError otherwise."""
    t = text.strip()
    scale = suffixes.get(t[-1:].lower())
    return float(t[:-1]) * scale if scale else float(t)


def positive_float(v):
    """A positive finite number (a budget, a token count): 200000, 2e5 or 200k."""
    if v is None:
        return v
    reject_bool(v)
    try:
        value = scaled(v, SUFFIXES) if isinstance(v, str) else float(v)
    except (TypeError, ValueError, OverflowError):
        raise ValueError(f"expected a number such as 200000, 200k or 1.5M, got {shown(v)}") from None
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"must be a positive finite number, got {shown(str(v))}")
    return value


def count_check(suffixes: dict):
    """A check for a whole count given as text with k/M/G suffixes (8k, 1.5M); numbers pass on as they are."""
    example = "8192 or 8k" if suffixes is BINARY_SUFFIXES else "10000 or 10k"

    def check(v):
        if not isinstance(v, str):
            return v
        try:
            value = scaled(v, suffixes)
        except ValueError:
            raise ValueError(f"expected a whole number such as {example}, got {shown(v)}") from None
        if not math.isfinite(value) or value != int(value):
            raise ValueError(f"expected a whole number, got {shown(v)}")
        return int(value)
    check.spec = {"validator": "count", "suffixes": next(k for k, t in SUFFIX_TABLES.items() if t is suffixes)}
    return check


def duration_days(v):
    """14d, 36h, 2w, a number of days, or none (no deadline: infinity)."""
    if v is None:
        return v
    reject_bool(v)
    if isinstance(v, (int, float)):
        value = float(v)
    else:
        t = str(v).strip().lower()
        if t in ("none", "no", "off"):
            return math.inf                               # explicitly no deadline
        scale = {"d": 1.0, "h": 1 / 24, "w": 7.0}.get(t[-1:], None)
        try:
            value = float(t[:-1]) * scale if scale is not None else float(t)
        except ValueError:
            raise ValueError(f"expected a duration like 14d, 36h, 2w or none, got {shown(str(v))}") from None
    if math.isnan(value) or value <= 0:
        raise ValueError(f"must be a positive duration, got {shown(str(v))}")
    if value < MIN_DEADLINE_DAYS:
        raise ValueError(f"must be at least one second (e.g. 36h or 14d), got {shown(str(v))}")
    return value


def names(v):
    """A list of names: repeated and/or comma-separated ('a100,h100' or ['a100', 'h100'])."""
    if v is None:
        return []
    items = v if isinstance(v, (list, tuple)) else [v]
    out = []
    for item in items:
        if not isinstance(item, str):
            raise ValueError(f"expected names, got {shown(item)}")
        out += [x.strip() for x in item.split(",") if x.strip()]
    return out


positive_float.spec = {"validator": "positive_float"}
duration_days.spec = {"validator": "duration_days"}
names.spec = {"validator": "names"}
PLAIN = {"positive_float": positive_float, "duration_days": duration_days, "names": names}


def check_of(spec: dict):
    """The check an option table entry names ({"validator": "closed", "values": [...], ...})."""
    kind = spec["validator"]
    if kind == "closed":
        return closed_check(tuple(spec["values"]), spec["aliases"])
    if kind == "count":
        return count_check(SUFFIX_TABLES[spec["suffixes"]])
    return PLAIN[kind]


# Workload fields whose option is spelled otherwise (planner.core.workload_of: --zero -> zero_stage, --n-cpu-moe ->
# cpu_moe_layers); every other field's option is --the-field-name
RENAMED_FLAGS = {"zero_stage": "--zero", "cpu_moe_layers": "--n-cpu-moe"}


def default_flag(name: str) -> str:
    """The option of a field no request model declares: 'batch_size' -> '--batch-size', 'zero_stage' -> '--zero'."""
    return RENAMED_FLAGS.get(name, "--" + name.replace("_", "-"))


def error_of(e) -> tuple[dict, str | None]:
    """(the error as pydantic's errors()[0] dict, the field at fault or None) of a pydantic ValidationError or a
    refused Workload (planner.workload.WorkloadError names its field and kind of fault as pydantic did)."""
    errors = getattr(e, "errors", None)
    if callable(errors):
        err = errors()[0]
        return err, (str(err["loc"][0]) if err["loc"] else None)
    return {"msg": str(e), "type": e.kind, "input": e.value}, e.field


def error_message(err: dict, flag: str | None, known: list[str] = ()) -> str:
    """The one-line message of one pydantic error (ValidationError.errors()[0], a plain dict) for option `flag`."""
    msg = err["msg"].removeprefix("Value error, ")
    if err.get("type") == "literal_error":
        msg = f"got {shown(err.get('input'))}; {msg.lower()}"
    if err.get("type") == "extra_forbidden":
        import difflib
        close = difflib.get_close_matches((flag or "").lstrip("-"), list(known), n=2, cutoff=0.6)
        msg = "not an option of this command" + (f"; did you mean --{' or --'.join(close)}?" if close
                                                  else " (see --help)")
    return f"{flag or 'input'}: {msg}"
