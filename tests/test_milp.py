"""planner.milp: a mixed-integer program as plain lists, solved in-process by HiGHS's native module, numpy not
imported (issue 20); statuses optimal, infeasible and stopped by the time limit; the highspy package as fallback."""
import random
import subprocess
import sys

import pytest

from planner.milp import INF, Program


def boxes() -> Program:
    """Exactly 14 items in boxes of 3 and 5 with at most 3 boxes of 3, fewest boxes; a continuous spare column
    (cost 0.5 per unit, 1 <= spare <= 4) must also stay within 2 of the boxes of 5 (b5 - spare >= -2).
    Optimum: 3 boxes of 3 + 1 box of 5 = 14 (4 boxes), spare 1: objective 4.5."""
    p = Program()
    b3 = p.add_var("b3", 0, 3)
    b5 = p.add_var("b5", 0, INF)
    spare = p.add_var("spare", 1, 4, integer=False)
    p.add_cost([(b3, 1), (b5, 1), (spare, 0.5)])
    p.add_row([(b3, 3), (b5, 5)], 14, 14)
    p.add_row([(b5, 1), (spare, -1)], low=-2)
    return p


def test_a_small_program_has_its_known_optimum_in_any_column_order():
    for order in (None, [2, 1, 0], [1, 2, 0]):
        got = boxes().solve(time_limit=10, order=order)
        assert got.status == "optimal"
        assert got.values == pytest.approx([3, 1, 1]) and got.objective == pytest.approx(4.5)


def test_a_column_named_twice_in_a_row_or_the_objective_adds_up():
    p = Program()
    a = p.add_var("a", 0, 10)
    p.add_cost([(a, 1), (a, 1)])                       # cost 2
    p.add_row([(a, 1), (a, 1)], low=5)                # 2a >= 5 -> a = 3
    got = p.solve(time_limit=10)
    assert (got.status, got.values, got.objective) == ("optimal", [3], 6)


def test_a_program_without_a_whole_number_solution_is_infeasible():
    """2a + 4b = 7 has fractional solutions (the LP relaxation is feasible) but no whole one."""
    p = Program()
    a, b = p.add_var("a", 0, 10), p.add_var("b", 0, 10)
    p.add_cost([(a, 1), (b, 1)])
    p.add_row([(a, 2), (b, 4)], 7, 7)
    got = p.solve(time_limit=10)
    assert (got.status, got.values) == ("infeasible", [])


def test_a_search_stopped_by_the_time_limit_returns_its_feasible_solution_as_not_proven():
    """A market split instance (Cornuejols & Dawande 1999: 4 rows, 30 binaries) is proven optimal only after a
    very long search; HiGHS finds feasible solutions within milliseconds and stops at the 0.25 s limit."""
    rng = random.Random(1)
    rows, n = 4, 30
    a = [[rng.randint(0, 99) for _ in range(n)] for _ in range(rows)]
    p = Program()
    x = [p.add_var(f"x{j}", 0, 1) for j in range(n)]
    over = [p.add_var(f"over{i}") for i in range(rows)]
    under = [p.add_var(f"under{i}") for i in range(rows)]
    p.add_cost([(v, 1) for v in over + under])
    for i in range(rows):
        target = sum(a[i]) // 2
        p.add_row([(x[j], a[i][j]) for j in range(n)] + [(over[i], -1), (under[i], 1)], target, target)
    got = p.solve(time_limit=0.25)
    assert got.status == "feasible"
    for i in range(rows):                        # the solution returned satisfies every row
        lhs = sum(a[i][j] * got.values[x[j]] for j in range(n)) - got.values[over[i]] + got.values[under[i]]
        assert lhs == pytest.approx(sum(a[i]) // 2)
    assert got.objective == pytest.approx(sum(got.values[v] for v in over + under))


SOLVE_BOXES = """
import sys
sys.path.insert(0, {tests!r})
from test_milp import boxes
import planner.milp as milp
{setup}
got = boxes().solve(time_limit=10)
print(got.status, [round(v) for v in got.values], 'numpy' in sys.modules)
{after}
"""


def _run(setup: str = "", after: str = "") -> subprocess.CompletedProcess:
    from pathlib import Path
    code = SOLVE_BOXES.format(tests=str(Path(__file__).parent), setup=setup, after=after)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)


def test_highs_is_loaded_without_numpy_and_a_later_import_highspy_shares_its_module():
    out = _run(after="import highspy\nprint(highspy._Highs is milp.highs()._Highs)")
    assert out.stdout.split() == ["optimal", "[3,", "1,", "1]", "False", "True"], out.stderr


def test_another_highspy_layout_falls_back_to_importing_the_package():
    """No `_core` extension beside highspy's __init__ (a future layout): `import highspy`, numpy paid."""
    out = _run("milp._extension_path = lambda: None")
    assert out.stdout.strip() == "optimal [3, 1, 1] True", out.stderr
