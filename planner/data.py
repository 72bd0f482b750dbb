"""Where the built-in YAML lives (shipped inside the package as planner.builtin); read through planner.files."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from planner.files import read_yaml

HERE = Path(__file__).resolve().parent


def builtin_path(name: str) -> Path:
    """Installed: the package data planner.builtin (pyproject maps catalog/ there), a folder beside this file, as
    pip installs it (read as files, not through importlib.resources, whose import costs a CLI ~5 ms). From a
    source checkout: catalog/ beside planner/."""
    installed = HERE / "builtin"
    return (installed if installed.is_dir() else HERE.parent / "catalog") / name


@lru_cache(maxsize=1)
def builtin_registry():
    from planner.architecture import load_registry
    return load_registry(read_yaml(builtin_path("models.yaml"), "models.yaml", cache=True))
