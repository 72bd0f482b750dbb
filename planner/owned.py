"""Hardware the user already has (`--have NAME`, repeatable): cards, host platforms and whole machines.

`2xrtx-3090`, `2 x rtx-3090`, `rtx-3090`, `desktop-am5`, `mac-studio-m4-max-128gb`: a count (default 1) and a
catalogue name (`plan catalog`). Owned items cost nothing; a plan buys only what is missing. Parsed once, at the
edge; decisions (configs/solver) and `plan capacity` read the same `Owned`.
"""
from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field

from planner.catalog import Catalog
from planner.errors import InputError

MAX_OWNED = 4096                     # per name: more cards than any plan considers (--max-gpus is at most 4096)
_ITEM = re.compile(r"^\s*(?:(\d{1,6})\s*[x*]\s*)?([a-z0-9][a-z0-9._+-]*)\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Owned:
    gpus: dict[str, int] = field(default_factory=dict)        # catalogue GPU name (lower case) -> count
    platforms: dict[str, int] = field(default_factory=dict)   # catalogue platform name (lower case) -> count

    def __bool__(self) -> bool:
        return bool(self.gpus or self.platforms)

    def describe(self) -> str:
        parts = [f"{n} x {k}" for k, n in {**self.gpus, **self.platforms}.items()]
        return ", ".join(parts) if parts else "nothing"


def parse_have(items: list[str] | tuple[str, ...] | None, catalog: Catalog) -> Owned:
    """`--have` values -> Owned; an unknown name or a bad count is a one-line InputError naming the fix."""
    gpus: dict[str, int] = {}
    platforms: dict[str, int] = {}
    for text in items or ():
        m = _ITEM.match(str(text))
        if not m:
            raise InputError(f"--have: {str(text)[:60]!r} is not [COUNTx]NAME (e.g. 2xrtx-3090, desktop-am5)")
        count, name = int(m.group(1) or 1), m.group(2).lower()
        if not 1 <= count <= MAX_OWNED:
            raise InputError(f"--have: count {count} for {name!r} must be between 1 and {MAX_OWNED}")
        if name in catalog.gpus:
            gpus[name] = gpus.get(name, 0) + count
        elif name in catalog.platforms:
            platforms[name] = platforms.get(name, 0) + count
        else:
            close = difflib.get_close_matches(name, list(catalog.gpus) + list(catalog.platforms), n=3, cutoff=0.5)
            hint = f"; did you mean {', '.join(close)}?" if close else "; see `plan catalog`"
            raise InputError(f"--have: unknown GPU, platform or machine {name!r}{hint}")
        if max(gpus.get(name, 0), platforms.get(name, 0)) > MAX_OWNED:
            raise InputError(f"--have: more than {MAX_OWNED} of {name!r}")
    return Owned(gpus, platforms)
