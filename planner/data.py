"""Where the built-in YAML lives (shipped inside the package as planner.builtin); read through planner.files."""
from __future__ import annotations

from functools import lru_cache
from importlib import resources
from pathlib import Path

from planner.files import read_yaml


def builtin_path(name: str) -> Path:
    """Installed: the package data planner.builtin. From a source checkout: catalog/ beside planner/."""
    try:
        return Path(str(resources.files("planner.builtin").joinpath(name)))
    except ModuleNotFoundError:
        return Path(__file__).resolve().parent.parent / "catalog" / name


@lru_cache(maxsize=1)
def builtin_registry():
    from planner.architecture import load_registry
    return load_registry(read_yaml(builtin_path("models.yaml"), "models.yaml", cache=True))
