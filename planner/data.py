"""Where the built-in YAML lives (shipped inside the package as planner.catalog) and how it is read."""
from __future__ import annotations

from functools import lru_cache
from importlib import resources
from pathlib import Path

import yaml

from planner.errors import InputError


def builtin_path(name: str) -> Path:
    """Installed: the package data planner.builtin. From a source checkout: catalog/ beside planner/."""
    try:
        return Path(str(resources.files("planner.builtin").joinpath(name)))
    except ModuleNotFoundError:
        return Path(__file__).resolve().parent.parent / "catalog" / name


def read_yaml(path: str | Path, what: str) -> dict:
    """Parse a YAML file into a dict, turning every failure into a one-line InputError naming the file."""
    p = Path(path)
    try:
        text = p.read_text()
    except FileNotFoundError:
        raise InputError(f"{what}: file {str(p)!r} not found") from None
    except OSError as e:
        raise InputError(f"{what}: cannot read {p}: {e.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise InputError(f"{what}: {p}{where}: malformed YAML ({problem})") from None
    if data is None:
        raise InputError(f"{what}: {p} is empty")
    if not isinstance(data, dict):
        raise InputError(f"{what}: {p} must be a mapping at the top level")
    return data


@lru_cache(maxsize=1)
def builtin_registry():
    from planner.architecture import load_registry
    return load_registry(read_yaml(builtin_path("models.yaml"), "models.yaml"))
