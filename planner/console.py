"""The `plan` console command: what only a one-shot command line should do to its process, kept out of the
library (planner.cli.main, the web server and the tests call the library and keep their process as it is).

- Native thread pools sized for a CLI: OpenBLAS (loaded with numpy) starts a thread per core at import, and
  OpenMP/MKL likewise; a plan does no linear algebra in numpy, so one thread each is enough
  (OPENBLAS_NUM_THREADS=1 cut the headline plan's CPU time by 27% on a 2-core machine, issue 20, when the
  highspy package brought numpy into every plan; planner/milp.py now loads HiGHS without it, and numpy comes
  only with the package fallback there). Set before anything imports numpy, and only where the user has not.
- A fast exit: once the result is written and stdout/stderr are flushed, the process ends with os._exit, without
  the interpreter's tear-down (freeing every module and object: ~35 ms of a 140 ms `plan estimate`, issue 20).
  Files are written atomically and closed before the command returns (planner/files.py), and a scenario's
  process pool is shut down inside the command, so nothing is left to finish.
"""
from __future__ import annotations

import os
import sys

THREAD_POOL_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS",
                         "NUMEXPR_NUM_THREADS")


def size_thread_pools(environ=os.environ) -> None:
    """One thread per native pool, unless the user chose otherwise."""
    for name in THREAD_POOL_VARIABLES:
        environ.setdefault(name, "1")


def main() -> None:
    size_thread_pools()
    from planner.cli import main as run
    code = run()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BrokenPipeError:                 # the reader went away (`plan models | head -1`): end quietly
        code = code or 0
    except OSError:
        code = code or 1
    os._exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
