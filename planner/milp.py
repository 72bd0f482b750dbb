"""A mixed-integer program as plain lists, solved in-process by HiGHS through its native extension.

Columns carry a cost, bounds and integrality; rows carry sparse coefficients and bounds. The solve calls
`highspy._core` (HiGHS's pybind11 module) directly: the highspy package's __init__ imports numpy, ~110 ms of a
0.46 s plan on a 2-core machine (issue 20), and neither the extension nor the calls made here need it. They take
plain Python values: scalars, or lists where the binding declares a sequence. The one field of HighsLp whose
setter wants a numpy array (col_cost_, highspy 1.16) is filled by changeColCost, one column at a time.
"""
from __future__ import annotations

import importlib.machinery
import importlib.util
import math
import os
import sys
from dataclasses import dataclass, field

INF = math.inf                   # HiGHS's kHighsInf is IEEE infinity

_HIGHS = None                    # the module holding _Highs, HighsLp, ... once loaded (see highs())
# HiGHS model statuses of a search stopped by a limit (time, iterations, solutions, a bound, an interrupt):
# the best solution found, if any, is feasible but not proven optimal (names: the set differs by version)
STOPPED = frozenset({"kTimeLimit", "kIterationLimit", "kSolutionLimit", "kObjectiveBound", "kObjectiveTarget",
                     "kInterrupt", "kHighsInterrupt", "kMemoryLimit"})


def _extension_path() -> str | None:
    """The `_core` extension in highspy's package folder, found without running the package (find_spec of a
    top-level name imports nothing); None when highspy is laid out otherwise, ImportError when it is missing."""
    spec = importlib.util.find_spec("highspy")
    if spec is None:
        raise ImportError("highspy is not installed")
    for folder in spec.submodule_search_locations or ():
        for suffix in importlib.machinery.EXTENSION_SUFFIXES:
            path = os.path.join(folder, "_core" + suffix)
            if os.path.isfile(path):
                return path
    return None


def highs():
    """HiGHS's native module: loaded from its file when highspy has the known layout (the `_core` extension
    next to __init__.py, highspy 1.7 to 1.16 at least), else by importing highspy (which pays for numpy).
    Registered as highspy._core, so a later `import highspy` in the process uses this same module. Raises
    ImportError when highspy is missing."""
    global _HIGHS
    if _HIGHS is None:
        module = sys.modules.get("highspy._core")
        if module is None:
            path = _extension_path()
            if path is None:
                import highspy as module
            else:
                spec = importlib.util.spec_from_file_location("highspy._core", path)
                module = importlib.util.module_from_spec(spec)
                sys.modules["highspy._core"] = module
                try:
                    spec.loader.exec_module(module)
                except BaseException:
                    del sys.modules["highspy._core"]
                    raise
        _HIGHS = module
    return _HIGHS


@dataclass(frozen=True)
class Solution:
    status: str          # optimal | feasible (a limit stopped the search: not proven optimal) | infeasible | none
    values: list[float]  # per column, in the program's order; empty without a solution
    objective: float = math.nan


@dataclass
class Program:
    """min sum_j cost[j] x[j]  s.t.  row_lower[r] <= sum_j a[r][j] x[j] <= row_upper[r],
    lower[j] <= x[j] <= upper[j], x[j] whole where integer[j]."""
    names: list[str] = field(default_factory=list)
    cost: list[float] = field(default_factory=list)
    lower: list[float] = field(default_factory=list)
    upper: list[float] = field(default_factory=list)
    integer: list[bool] = field(default_factory=list)
    rows: list[dict[int, float]] = field(default_factory=list)   # per row: column -> coefficient
    row_lower: list[float] = field(default_factory=list)
    row_upper: list[float] = field(default_factory=list)

    def add_var(self, name: str, low: float = 0.0, up: float = INF, integer: bool = True) -> int:
        """A column (cost 0 until add_cost); its index."""
        self.names.append(name)
        self.cost.append(0.0)
        self.lower.append(low)
        self.upper.append(up)
        self.integer.append(integer)
        return len(self.names) - 1

    def add_cost(self, terms) -> None:
        """Add (column, cost) pairs to the objective, in order."""
        for j, c in terms:
            self.cost[j] += c

    def add_row(self, terms, low: float = -INF, up: float = INF) -> int:
        """low <= sum of (column, coefficient) pairs <= up; a column named twice gets the sum; its index."""
        coef: dict[int, float] = {}
        for j, a in terms:
            coef[j] = coef.get(j, 0.0) + a
        self.rows.append(coef)
        self.row_lower.append(low)
        self.row_upper.append(up)
        return len(self.rows) - 1

    def solve(self, time_limit: float, order: list[int] | None = None) -> Solution:
        """Solve with HiGHS, silent, within `time_limit` seconds. `order`: the columns in the order HiGHS is
        to see them (the solution is the same optimum; where optima tie, HiGHS's pick depends on it)."""
        hs = highs()
        n = len(self.names)
        order = list(range(n)) if order is None else list(order)
        position = {j: p for p, j in enumerate(order)}
        h = self.highs_model(time_limit, order)
        h.run()
        status = h.getModelStatus().name
        if status in ("kInfeasible", "kUnboundedOrInfeasible"):
            return Solution("infeasible", [])
        found = int(h.getInfo().primal_solution_status) == int(hs.SolutionStatus.kSolutionStatusFeasible)
        if status != "kOptimal" and not (status in STOPPED and found):
            return Solution("none", [])
        solved = h.getSolution().col_value
        return Solution("optimal" if status == "kOptimal" else "feasible", [solved[position[j]] for j in range(n)],
                        h.getObjectiveValue())

    def highs_model(self, time_limit: float, order: list[int]):
        """A HiGHS solver holding this program, its columns in `order`, options set, not yet run."""
        hs = highs()
        position = {j: p for p, j in enumerate(order)}
        h = hs._Highs()
        h.setOptionValue("output_flag", False)      # before anything runs: HiGHS's banner and log go to stdout
        h.setOptionValue("time_limit", float(time_limit))
        for j in order:
            h.addVar(float(self.lower[j]), float(self.upper[j]))
        for p, j in enumerate(order):
            if self.cost[j]:
                h.changeColCost(p, float(self.cost[j]))
        lp = h.getLp()                              # a copy: the columns above, costs included
        kind = hs.HighsVarType
        lp.integrality_ = [kind.kInteger if self.integer[j] else kind.kContinuous for j in order]
        starts, index, value = [0], [], []
        for coef in self.rows:
            for j, a in coef.items():
                if a != 0:
                    index.append(position[j])
                    value.append(float(a))
            starts.append(len(index))
        matrix = hs.HighsSparseMatrix()
        matrix.format_ = hs.MatrixFormat.kRowwise
        matrix.num_col_, matrix.num_row_ = len(order), len(self.rows)
        matrix.start_, matrix.index_, matrix.value_ = starts, index, value
        lp.num_row_ = len(self.rows)
        lp.row_lower_ = [float(x) for x in self.row_lower]
        lp.row_upper_ = [float(x) for x in self.row_upper]
        lp.a_matrix_ = matrix
        if h.passModel(lp) == hs.HighsStatus.kError:
            raise ValueError("HiGHS refused the program")
        return h
