"""Reading and writing user files safely: bounded sizes, regular files only, YAML without alias bombs,
and atomic writes.

Every user-named file goes through here, so hostile input (a huge file, /dev/zero, a FIFO, a directory,
a billion-laughs YAML) is refused in bounded time and memory with a one-line InputError.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
import tempfile
from pathlib import Path

from planner.errors import InputError, shown

MAX_TEXT_BYTES = 8 * 2**20          # 8 MiB: far above any real config.json, catalogue or scenario file
MAX_YAML_ALIASES = 200              # anchors reused more often than this look like a billion-laughs bomb
MAX_YAML_DEPTH = 40                 # nesting deeper than any scenario needs
MAX_YAML_NODES = 200_000



def open_regular(path: str | Path, what: str, fix: str = "pass a file"):
    """Open a regular file for reading - without blocking on a FIFO (O_NONBLOCK), checked on the open
    descriptor (no race with a swapped path) - or raise a one-line InputError naming `what` and `fix`."""
    p = Path(path)
    try:
        fd = os.open(p, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise InputError(f"{what}: {str(p)!r} not found; {fix}") from None
    except IsADirectoryError:
        raise InputError(f"{what}: {str(p)!r} is a directory where a file is expected; {fix}") from None
    except OSError as e:
        raise InputError(f"{what}: cannot read {str(p)!r}: {e.strerror}") from None
    except ValueError:                            # a NUL byte in the name
        raise InputError(f"{what}: {str(p)!r} is not a usable file name (it holds a NUL byte)") from None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        kind = "a directory where a file is expected" if stat.S_ISDIR(st.st_mode) else \
            "not a regular file (a device, FIFO or socket)"
        raise InputError(f"{what}: {str(p)!r} is {kind}; {fix}")
    return os.fdopen(fd, "rb")


def read_text(path: str | Path, what: str, limit: int = MAX_TEXT_BYTES) -> str:
    """The text of a regular file no larger than `limit` bytes; anything else is a one-line InputError."""
    with open_regular(path, what) as f:
        data = f.read(limit + 1)              # never more than the limit, whatever size the file claims
    if len(data) > limit:
        raise InputError(f"{what}: {str(path)!r} is larger than the {limit / 2**20:.0f} MiB limit for this kind "
                         "of file")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise InputError(f"{what}: {str(path)!r} is not UTF-8 text (byte {e.start})") from None


def _check_yaml_shape(text: str, what: str, where: str) -> None:
    """Walk the event stream (no objects built) and refuse alias bombs and absurd nesting. An alias stands for
    its anchor's whole subtree, so values are counted as the loader would build them: 200 aliases of a list that
    itself holds aliases expand to millions of values (8 levels of 8 aliases: 16 million) without ever passing
    the alias count."""
    import yaml
    aliases = depth = 0
    expanded = 0                            # values the loaded document holds, aliases expanded
    sizes: dict[str, int] = {}              # anchor -> values in its subtree, aliases expanded
    open_anchors: list[tuple[str | None, int]] = []     # collections being read: (anchor, `expanded` at start)
    loader = getattr(yaml, "CLoader", yaml.Loader)
    for event in yaml.parse(text, Loader=loader):
        if isinstance(event, yaml.AliasEvent):
            aliases += 1
            if aliases > MAX_YAML_ALIASES:
                raise InputError(f"{what}: {where} uses more than {MAX_YAML_ALIASES} YAML aliases; "
                                 "write the values out instead")
            expanded += sizes.get(event.anchor, 1)
        elif isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            depth += 1
            if depth > MAX_YAML_DEPTH:
                raise InputError(f"{what}: {where} nests deeper than {MAX_YAML_DEPTH} levels")
            open_anchors.append((event.anchor, expanded))
            expanded += 1
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            depth -= 1
            anchor, start = open_anchors.pop()
            if anchor is not None:
                sizes[anchor] = expanded - start
        elif isinstance(event, yaml.ScalarEvent):
            expanded += 1
            if event.anchor is not None:
                sizes[event.anchor] = 1
        if expanded > MAX_YAML_NODES:
            raise InputError(f"{what}: {where} holds more than {MAX_YAML_NODES:,} YAML values (aliases "
                             "expanded); write the values out instead")


def _check_keys(data, what: str, where: str, path: str = "") -> None:
    """Mapping keys are names (fields, GPUs, currencies): a number, date or null key (`1:`, `2026-01-01:`,
    `~:`) is refused with where it is, instead of failing later where names are compared or sorted. The
    document is bounded by _check_yaml_shape, so the walk is too."""
    if isinstance(data, dict):
        for k, v in data.items():
            if not isinstance(k, str):
                raise InputError(f"{what}: {where}: key {shown(k)} at {path or 'the top level'} is not a name; "
                                 "quote it (\"{k}\": ...)".replace("{k}", shown(k, 20)))
            _check_keys(v, what, where, f"{path}.{k}" if path else k)
    elif isinstance(data, list):
        for i, v in enumerate(data):
            _check_keys(v, what, where, f"{path}[{i}]")


def parse_yaml(text: str, what: str, where: str) -> dict:
    """Parse YAML text into a mapping, turning every failure into a one-line InputError. libyaml's C loader
    when PyYAML was built with it (several times faster than the pure-Python one)."""
    import yaml                         # only when a file is parsed: cached built-ins never need it
    try:
        _check_yaml_shape(text, what, where)
        data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise InputError(f"{what}: {where}{line}: malformed YAML ({problem})") from None
    except RecursionError:
        raise InputError(f"{what}: {where} nests too deeply") from None
    if data is None:
        raise InputError(f"{what}: {where} is empty")
    _check_keys(data, what, where)
    if not isinstance(data, dict):
        raise InputError(f"{what}: {where} must be a mapping at the top level")
    return data


CACHE_FORMAT = "llm-hw-planner yaml cache 2"


def read_yaml(path: str | Path, what: str, cache: bool | str = False) -> dict:
    """A YAML mapping. cache=True (the built-in catalogue and models, trusted files read on every start): the
    parsed data is kept as JSON beside the user's cache, keyed by the file's path, size and mtime, because
    parsing YAML costs ~100 ms of a 300 ms start while JSON loads in a few. cache="content" (user files such as
    a --catalog price list): keyed by the path and a digest of the bytes, so an edit is never missed even
    within one timestamp tick; the file is still read (bounded) every time, only the parse is saved. The
    cache's first line holds a SHA-256 of the rest: a cache cut short, edited or overwritten is detected and
    rebuilt from the YAML; older caches of the same path are removed when a new one is written."""
    if not cache:
        return parse_yaml(read_text(path, what), what, str(path))
    text = None
    if cache == "content":
        text = read_text(path, what)
        cached = _yaml_cache_path(Path(path), hashlib.sha1(text.encode("utf-8")).hexdigest()[:20])
    else:
        cached = _yaml_cache_path(Path(path))
    if cached is not None:
        data = _read_cache(cached)
        if data is not None:
            return data
    data = parse_yaml(text if text is not None else read_text(path, what), what, str(path))
    if cached is not None:
        with contextlib.suppress(OSError, TypeError, ValueError, InputError):
            cached.parent.mkdir(parents=True, exist_ok=True)
            body = json.dumps(data)
            write_atomic(cached, f"{CACHE_FORMAT} {hashlib.sha256(body.encode()).hexdigest()}\n{body}", "cache")
            # earlier versions of the same file are stale: remove them
            prefix = cached.name[:cached.name.index("-", len(Path(path).stem) + 1) + 1]
            for old in cached.parent.glob(glob_escape(prefix) + "*.json"):
                if old != cached:
                    old.unlink(missing_ok=True)
    return data


def glob_escape(text: str) -> str:
    """A literal for Path.glob (a file name may hold [, ] or *)."""
    import glob
    return glob.escape(text)


def _read_cache(cached: Path) -> dict | None:
    """The cached mapping, or None when the file is missing, of another format or does not match its digest."""
    with contextlib.suppress(OSError, ValueError, UnicodeDecodeError, RecursionError):
        raw = cached.read_text(encoding="utf-8")
        head, _, body = raw.partition("\n")
        fmt, _, digest = head.rpartition(" ")
        if fmt != CACHE_FORMAT or hashlib.sha256(body.encode()).hexdigest() != digest:
            return None
        data = json.loads(body)
        if isinstance(data, dict):
            return data
    return None


def _yaml_cache_path(path: Path, content: str | None = None) -> Path | None:
    """<cache>/<stem>-<path digest>-<size>-<mtime>.v2.json, or -<content digest>.v2.json when one is given."""
    if os.environ.get("PLANNER_NO_CACHE"):
        return None
    try:
        st = path.stat()
    except OSError:
        return None
    root = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "llm-hw-planner"
    digest = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:16]
    version = content if content is not None else f"{st.st_size}-{st.st_mtime_ns}"
    return root / f"{path.stem}-{digest}-{version}.v2.json"


def check_writable(path: str | Path, what: str, suffixes: tuple[str, ...]) -> Path:
    """Fail before any work when `path` cannot become one of `suffixes`: a directory, a missing parent,
    no permission or an unknown extension."""
    p = Path(path)
    if "\x00" in str(path):
        raise InputError(f"{what}: {str(path)!r} is not a usable file name (it holds a NUL byte)")
    if p.is_dir():
        raise InputError(f"{what}: {str(path)!r} is a directory; name a file inside it")
    if p.suffix.lower() not in suffixes:
        raise InputError(f"{what}: {str(path)!r} must end in {' or '.join(suffixes)}")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise InputError(f"{what}: directory {str(parent)!r} does not exist")
    if p.exists() and not p.is_file():
        raise InputError(f"{what}: {str(path)!r} exists and is not a regular file")
    if not os.access(parent, os.W_OK) or (p.exists() and not os.access(p, os.W_OK)):
        raise InputError(f"{what}: cannot write {str(path)!r} (permission denied)")
    return p


def _new_file_mode() -> int:
    """The mode open() would give a new file: 0o666 less the umask (read from /proc, where Linux shows it, so
    no thread sees the umask changed; else set and restored)."""
    with contextlib.suppress(OSError, ValueError):
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return 0o666 & ~int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


def write_atomic(path: str | Path, text: str, what: str) -> None:
    """Write to a temporary file beside `path`, then rename: readers see the old or the new file, never half.
    An existing file keeps its permissions (a 0600 proposal stays private); a new one gets the umask's."""
    p = Path(path)
    tmp = None
    try:
        try:
            mode = stat.S_IMODE(os.stat(p).st_mode)
        except FileNotFoundError:
            mode = _new_file_mode()
        fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent if str(p.parent) else ".")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, p)
    except OSError as e:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        raise InputError(f"{what}: cannot write {str(path)!r}: {e.strerror or e}") from None
