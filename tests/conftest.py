import pytest

from planner.data import builtin_registry


@pytest.fixture(scope="session")
def registry():
    return builtin_registry()


@pytest.fixture
def arch(registry):
    return lambda name: registry.resolve(name)[0]
