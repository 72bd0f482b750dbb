"""Entries read from YAML files, validated as pydantic's lax mode validated them, without importing pydantic.

An entry is a dataclass declared with @entry: each field gets one plain check, built once from its annotation (int,
float, bool, str, a Literal of strings, a list of one of those, another entry, each maybe `| None`) and its limits
(`limits(default, gt=0, le=10_000)`: pydantic's Field(ge, gt, le, lt, pattern, min_length)). Cls(**fields) or
Cls.from_dict(data) validates, fills defaults, refuses unknown keys and then applies the entry's own rules (_rules:
pydantic's model_validator(mode="after")). What pydantic's lax mode converted, the checks convert ("24", 24.0 and
b"24" -> 24 for an int; True -> 1; "yes", 1 and 1.0 -> True; bytes -> text), and what it refused, they refuse with
its error type and message and the field's path as its error's loc (EntryError). tests/test_catalog_entries.py checks
this against the pydantic models the catalogue's entries were.
"""
from __future__ import annotations

import math
import re
import types
import typing
from dataclasses import MISSING, dataclass, field, fields
from typing import Literal, Union

from planner.values import one_of, utf8

I64 = 2**63                 # pydantic-core reads a float as an i64 to make an int (and a bool) of it
MAX_INT_DIGITS = 4300       # Python's int(str) limit, which pydantic-core (jiter) applies to integer text
# Rust's char::is_whitespace (Unicode White_Space), what pydantic-core's str::trim strips; Python's str.strip would
# also strip the separators \x1c-\x1f
RUST_WHITESPACE = ("\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009"
                   "\u200a\u2028\u2029\u202f\u205f\u3000")
JSON_INT = re.compile(r"-?(?:0|[1-9][0-9]*)", re.ASCII)          # what jiter reads as an integer (fullmatch)
LONG_INT = re.compile(r"-?[1-9][0-9]{%d}" % MAX_INT_DIGITS)       # an integer of more digits than that (a prefix)
# Rust's f64::from_str, which pydantic-core parses floats with: no underscores, no hex, ASCII digits only
RUST_FLOAT = re.compile(r"[+-]?(?:inf|infinity|nan|(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:e[+-]?[0-9]+)?)",
                        re.ASCII | re.IGNORECASE)
FALSE_TEXT, TRUE_TEXT = {"0", "f", "n", "no", "off", "false"}, {"1", "t", "y", "on", "yes", "true"}

# pydantic's message for each kind of fault it names
MESSAGES = {
    "missing": "Field required",
    "extra_forbidden": "Extra inputs are not permitted",
    "int_type": "Input should be a valid integer",
    "int_parsing": "Input should be a valid integer, unable to parse string as an integer",
    "int_from_float": "Input should be a valid integer, got a number with a fractional part",
    "int_parsing_size": "Unable to parse input string as an integer, exceeded maximum size",
    "float_type": "Input should be a valid number",
    "float_parsing": "Input should be a valid number, unable to parse string as a number",
    "finite_number": "Input should be a finite number",
    "bool_type": "Input should be a valid boolean",
    "bool_parsing": "Input should be a valid boolean, unable to interpret input",
    "string_type": "Input should be a valid string",
    "string_unicode": "Input should be a valid string, unable to parse raw data as a unicode string",
    "list_type": "Input should be a valid list",
}
BOUNDS = {"gt": ("greater_than", "greater than"), "ge": ("greater_than_equal", "greater than or equal to"),
          "lt": ("less_than", "less than"), "le": ("less_than_equal", "less than or equal to")}


class EntryError(ValueError):
    """An entry refused. loc: the path to the field at fault as pydantic's error gave it (('memory_gb',),
    ('nvlink', 'width'), ('supports', 2); () when the entry's fields contradict each other); kind: pydantic's error
    type (missing, greater_than, literal_error, value_error, ...); value: what was refused. str(e) is the message a
    user reads; e.msg is pydantic's own (an entry rule's begins 'Value error, ')."""

    def __init__(self, message: str, loc: tuple = (), kind: str = "value_error", value=None):
        super().__init__(message)
        self.loc, self.kind, self.value = tuple(loc), kind, value

    @property
    def msg(self) -> str:
        return f"Value error, {self}" if self.kind == "value_error" else str(self)

    def within(self, *outer) -> EntryError:
        """The same fault, its path under `outer` (a field name, a list index)."""
        return EntryError(str(self), outer + self.loc, self.kind, self.value)


def _refuse(kind: str, value, message: str | None = None):
    raise EntryError(message or MESSAGES[kind], (), kind, value)


def limits(default=MISSING, **bounds):
    """A field's default (none: required) and limits, pydantic's Field(default, gt=0, le=1, pattern=..., ...):
    kept in the dataclass field's metadata."""
    return field(default=default, metadata=bounds)


# ---------------------------------------------------------------------------------------------------
# Text, numbers and truth values as pydantic-core reads them

def _text(v, parsing: str) -> str | None:
    """The text of a str or bytes value (None for other values); undecodable bytes are a `parsing` fault."""
    if isinstance(v, str):
        if not utf8(v):
            _refuse("string_unicode", v)
        return v
    if isinstance(v, bytes):
        try:
            return v.decode("utf-8")
        except UnicodeDecodeError:
            _refuse(parsing, v)
    return None


def _strip_underscores(s: str) -> str | None:
    """'1_000' -> '1000'; None where underscores are absent, leading, trailing or doubled."""
    if s.startswith("_") or s.endswith("_") or "_" not in s or "__" in s:
        return None
    return s.replace("_", "")


def _strip_leading_zeros(s: str) -> str | None:
    """'007' -> '7', '00.0' -> '0.0', '0_0' -> '0'; None when the text does not begin as a number."""
    if not s:
        return None
    if s[0] != "0":
        return s if "1" <= s[0] <= "9" or s[0] == "-" else None
    for i in range(1, len(s)):
        c = s[i]
        if c == "0" or c == "_":
            continue
        if "1" <= c <= "9" or c == "-":
            return s[i:]
        return s[i - 1:] if c == "." else None
    return s[-1:]


def _clean_int(s: str) -> str | None:
    """pydantic-core's second reading of integer text (clean_int_str): whitespace, a plus sign, leading zeros, a
    fraction of zeros ('4.00') and underscores removed; None when nothing could be removed."""
    before = len(s)
    s = s.strip(RUST_WHITESPACE)
    if s.startswith("+"):
        if s[1:2] == "-":
            return None
        s = s[1:]
    negative = s.startswith("-")
    if negative:
        if s[1:2] in ("-", "+"):
            return None
        s = s[1:]
    s = _strip_leading_zeros(s)
    if s is None:
        return None
    dot = s.find(".")
    if dot >= 0 and len(s) > dot + 1 and s[dot + 1:].strip("0") == "":
        s = s[:dot]
    bare = _strip_underscores(s)
    if bare is not None:
        return "-" + bare if negative else bare
    if len(s) == before:
        return None
    return "-" + s if negative else s


def int_of_text(s: str, v) -> int:
    """An int from text as pydantic-core reads it: a JSON integer, or one after _clean_int."""
    if LONG_INT.match(s):
        _refuse("int_parsing_size", v)
    if JSON_INT.fullmatch(s):
        return int(s)
    s = _clean_int(s)
    if s is None or not JSON_INT.fullmatch(s) or len(s.lstrip("-")) > MAX_INT_DIGITS:
        _refuse("int_parsing", v)
    return int(s)


def int_of_float(x: float, v) -> int:
    """An int from a float: finite, whole and within an i64."""
    if math.isinf(x) or math.isnan(x):
        _refuse("finite_number", v)
    if not x.is_integer():
        _refuse("int_from_float", v)
    if not -I64 < x < I64:
        _refuse("int_parsing_size", v)
    return int(x)


def float_of_text(s: str, v) -> float:
    """A float from text as Rust parses it (after trimming whitespace), else with underscores removed."""
    t = s.strip(RUST_WHITESPACE)
    if not RUST_FLOAT.fullmatch(t):
        t = _strip_underscores(s)
        if t is None or not RUST_FLOAT.fullmatch(t):
            _refuse("float_parsing", v)
    return float(t)


def as_int(v) -> int:
    if type(v) is int:
        return v
    if isinstance(v, int):                      # bool included: True -> 1
        return int(v)
    if isinstance(v, float):
        return int_of_float(v, v)
    text = _text(v, "int_parsing")
    if text is None:
        _refuse("int_type", v)
    return int_of_text(text, v)


def as_float(v) -> float:
    if type(v) is float:
        x = v
    elif isinstance(v, (int, float)):           # bool included: True -> 1.0
        try:
            x = float(v)
        except OverflowError:                   # an int beyond the largest float
            _refuse("float_type", v)
    else:
        text = _text(v, "float_parsing")
        if text is None:
            _refuse("float_type", v)
        x = float_of_text(text, v)
    if math.isinf(x) or math.isnan(x):          # allow_inf_nan=False
        _refuse("finite_number", v)
    return x


def as_bool(v) -> bool:
    if v is True or v is False:
        return v
    if isinstance(v, int):
        if not -I64 <= v < I64:
            _refuse("bool_type", v)
        number = v
    elif isinstance(v, float):
        if math.isinf(v) or math.isnan(v) or not v.is_integer() or not -I64 < v < I64:
            _refuse("bool_type", v)
        number = int(v)
    else:
        text = _text(v, "bool_parsing")
        if text is None:
            _refuse("bool_type", v)
        # pydantic compares ignoring ASCII case; no other letter lower-cases into these words
        if text.lower() in FALSE_TEXT:
            return False
        if text.lower() in TRUE_TEXT:
            return True
        _refuse("bool_parsing", v)
    if number in (0, 1):
        return number == 1
    _refuse("bool_parsing", v)


def as_str(v) -> str:
    """Text as it is (lone surrogates included, as pydantic kept them in an unconstrained string), or decoded bytes."""
    if type(v) is str:
        return v
    if isinstance(v, str):
        return str(v)
    if isinstance(v, (bytes, bytearray)):
        try:
            return bytes(v).decode("utf-8")
        except UnicodeDecodeError:
            _refuse("string_unicode", v)
    _refuse("string_type", v)


def _number_text(x) -> str:
    """A bound as pydantic's message writes it (Rust's formatting: 1e9 -> 1000000000)."""
    return str(int(x)) if isinstance(x, float) and x.is_integer() else str(x)


# ---------------------------------------------------------------------------------------------------
# One check per field, from its annotation and limits

# A value already of the field's type and within its bounds passes at once (most do); the rest take the full
# conversion. Missing bounds are infinite and every comparison strict there, so inf and NaN never pass at once.
_FAST = {("gt", "lt"): lambda t, lo, hi, slow: lambda v: v if type(v) is t and lo < v < hi else slow(v),
         ("gt", "le"): lambda t, lo, hi, slow: lambda v: v if type(v) is t and lo < v <= hi else slow(v),
         ("ge", "lt"): lambda t, lo, hi, slow: lambda v: v if type(v) is t and lo <= v < hi else slow(v),
         ("ge", "le"): lambda t, lo, hi, slow: lambda v: v if type(v) is t and lo <= v <= hi else slow(v)}


def _bounded(number: type, convert, meta) -> typing.Callable:
    """An int or float field's check: converted, then compared with its bounds."""
    tests = tuple((meta[k],) + BOUNDS[k] for k in ("gt", "ge", "lt", "le") if k in meta)
    compare = {"greater_than": lambda x, b: x > b, "greater_than_equal": lambda x, b: x >= b,
               "less_than": lambda x, b: x < b, "less_than_equal": lambda x, b: x <= b}
    checks = tuple((compare[kind], b, kind, f"Input should be {words} {_number_text(b)}") for b, kind, words in tests)

    def slow(v):
        x = convert(v)
        for ok, bound, kind, message in checks:
            if not ok(x, bound):
                _refuse(kind, v, message)
        return x
    low = next((k for k in ("gt", "ge") if k in meta), "gt")
    high = next((k for k in ("lt", "le") if k in meta), "lt")
    return _FAST[low, high](number, meta.get(low, -math.inf), meta.get(high, math.inf), slow)


def _constrained_str(meta) -> typing.Callable:
    pattern, least = meta.get("pattern"), meta.get("min_length")
    if pattern is None and least is None:
        return as_str
    # pydantic matches with Rust's regex, where $ is the end of the text (Python's $ also matches before a final \n)
    rx = re.compile(pattern[:-1] + r"\Z" if pattern.endswith("$") and not pattern.endswith(r"\$") else pattern) \
        if pattern is not None else None

    def check(v):
        s = as_str(v)
        if not utf8(s):
            _refuse("string_unicode", v)
        if least is not None and len(s) < least:
            _refuse("string_too_short", v, f"String should have at least {least} character{'s' * (least != 1)}")
        if rx is not None and not rx.search(s):
            _refuse("string_pattern_mismatch", v, f"String should match pattern '{pattern}'")
        return s
    return check


def _literal(choices: tuple) -> typing.Callable:
    by_text = {c: c for c in choices}
    message = "Input should be " + one_of(choices)

    def check(v):
        if isinstance(v, str):
            hit = by_text.get(v)
            if hit is not None:
                return hit
            if not utf8(v):
                _refuse("string_unicode", v)
        _refuse("literal_error", v, message)
    return check


def _list_of(item, choices: tuple = ()) -> typing.Callable:
    """A list of items; choices: the item's Literal values, for a quick pass of a list of them."""
    choices = frozenset(choices)

    def check(v):
        if type(v) is list and choices and all(type(x) is str and x in choices for x in v):
            return list(v)
        if isinstance(v, (str, bytes, bytearray, dict)):
            _refuse("list_type", v)
        try:
            items = v if type(v) is list else list(v)
        except TypeError:
            _refuse("list_type", v)
        out = []
        for i, x in enumerate(items):
            try:
                out.append(item(x))
            except EntryError as e:
                raise e.within(i) from None
        return out
    return check


def _nested(cls) -> typing.Callable:
    def check(v):
        if isinstance(v, dict):
            return cls.from_dict(v)
        if isinstance(v, cls):
            return v
        _refuse("model_type", v, f"Input should be a valid dictionary or instance of {cls.__name__}")
    return check


def check_of(kind, meta) -> typing.Callable:
    """The check of a field annotated `kind` with limits `meta`."""
    if typing.get_origin(kind) in (Union, types.UnionType):
        args = typing.get_args(kind)
        inner = check_of(next(a for a in args if a is not type(None)), meta) if len(args) == 2 else None
        if inner is None or type(None) not in args:
            raise TypeError(f"no check for {kind}")
        return lambda v: None if v is None else inner(v)
    if typing.get_origin(kind) is Literal:
        return _literal(typing.get_args(kind))
    if typing.get_origin(kind) is list:
        item = typing.get_args(kind)[0]
        return _list_of(check_of(item, {}), typing.get_args(item) if typing.get_origin(item) is Literal else ())
    if isinstance(kind, type) and issubclass(kind, Entry):
        return _nested(kind)
    if kind is int or kind is float:
        return _bounded(kind, as_int if kind is int else as_float, meta)
    if kind is bool:
        return as_bool
    if kind is str:
        return _constrained_str(meta)
    raise TypeError(f"no check for {kind}")


# ---------------------------------------------------------------------------------------------------
# Entries

_ABSENT = object()


class Entry:
    """A validated dataclass (see the module's docstring): Cls(**fields) or Cls.from_dict(data) validates;
    e.replace(**changes) copies without validating (pydantic's model_copy(update=...)); e.as_dict() gives the
    fields (pydantic's model_dump())."""
    _checks: tuple = ()         # (name, default or MISSING, default factory or None, check), in field order
    _names: frozenset = frozenset()

    def __init__(self, /, **given):
        self._load(given)

    @classmethod
    def from_dict(cls, data: dict):
        obj = cls.__new__(cls)
        obj._load(data)
        return obj

    def _load(self, given: dict) -> None:
        values = self.__dict__                  # the fields only, in order: value keys read it (planner/configs.py)
        get, found = given.get, 0
        for name, default, factory, check in self._checks:
            v = get(name, _ABSENT)
            if v is not _ABSENT:
                found += 1
                try:
                    values[name] = check(v)
                except EntryError as e:
                    raise e.within(name) from None
            elif factory is not None:
                values[name] = factory()
            elif default is MISSING:
                raise EntryError(MESSAGES["missing"], (name,), "missing", given)
            else:
                values[name] = default          # defaults are not validated (pydantic's validate_default=False)
        if found < len(given):
            unknown = next(k for k in given if k not in self._names)
            raise EntryError(MESSAGES["extra_forbidden"], (unknown,), "extra_forbidden", given[unknown])
        self._rules()

    def _rules(self) -> None:
        """The entry's rules between fields (pydantic's model_validator(mode="after")): raise EntryError(message);
        may fill defaults that depend on other fields."""

    def replace(self, **changes):
        """A shallow copy with `changes` applied, not validated."""
        unknown = [k for k in changes if k not in self._names]
        if unknown:
            raise TypeError(f"{type(self).__name__} has no field {unknown[0]!r}")
        new = object.__new__(type(self))
        new.__dict__.update(self.__dict__)
        new.__dict__.update(changes)
        return new

    def as_dict(self) -> dict:
        """The fields in order, nested entries as dicts and lists copied."""
        return {k: v.as_dict() if isinstance(v, Entry) else list(v) if type(v) is list else v
                for k, v in self.__dict__.items()}


def entry(cls):
    """Make cls (an Entry subclass) a dataclass whose fields are validated by one check each. The class keeps its own
    docstring (None when it has none: dataclass would write its signature there; `plan schema` shows docstrings)."""
    doc = cls.__dict__.get("__doc__")
    cls = dataclass(init=False)(cls)
    cls.__doc__ = doc
    hints = typing.get_type_hints(cls)
    cls._checks = tuple((f.name, f.default, None if f.default_factory is MISSING else f.default_factory,
                         check_of(hints[f.name], f.metadata)) for f in fields(cls))
    cls._names = frozenset(f.name for f in fields(cls))
    return cls
