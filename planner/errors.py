"""One exception type for bad input: the CLI prints its message on one line and exits 2; and `shown`, the one way
a user's value enters a message (bounded, control characters escaped)."""
from __future__ import annotations

import reprlib

MAX_SHOWN = 80                      # characters of a user's value quoted in a message


class InputError(ValueError):
    """A user-facing error: the message names the field and the fix."""


class _Bounded(reprlib.Repr):
    """reprlib visits only the first few items of each container and level, so an aliased YAML structure of
    millions of nodes (a billion-laughs document) is shown in bounded time and memory."""

    def __init__(self):
        super().__init__()
        self.maxlevel, self.maxlist, self.maxtuple, self.maxdict, self.maxset = 2, 4, 4, 3, 4
        self.maxstring, self.maxother, self.maxlong = MAX_SHOWN, MAX_SHOWN, 24

    def repr_int(self, x, level):
        if x.bit_length() > 256:        # repr of a huge int is quadratic (and refused past 4,300 digits)
            return f"<an integer of ~{int(x.bit_length() * 0.30103):,} digits>"
        return super().repr_int(x, level)


_BOUNDED = _Bounded()


def shown(value, limit: int = MAX_SHOWN) -> str:
    """repr(value) for a message: at most `limit` characters (an ellipsis marks the cut), containers cut after a
    few items, control characters (terminal escape codes, newlines) escaped."""
    try:
        text = _BOUNDED.repr(value)
    except Exception:                   # a value whose repr fails: its type is enough
        text = f"<{type(value).__name__}>"
    text = "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)
    return text if len(text) <= limit else text[:limit - 1] + "…"


def printable(text: str, limit: int | None = None) -> str:
    """A name from a file (GGUF metadata, config.json) made safe for a terminal: control characters (ESC, BEL,
    newlines, bidi overrides) removed, and cut at `limit` characters."""
    import unicodedata
    clean = "".join(ch for ch in str(text) if ch.isprintable() and unicodedata.category(ch) not in ("Cf",)).strip()
    return clean if limit is None or len(clean) <= limit else clean[:limit - 1] + "…"
