"""Executor choice for the heavy stages: local processes or a dask cluster.

``diar fbank`` and ``diar labels`` take a ``concurrent.futures``-style executor
from :func:`executor` (``diar simulate`` uses its own pool of local processes):

- ``num_jobs == 1`` and ``kind == "local"``: no executor, work runs inline;
- ``kind == "local"``: a ``ProcessPoolExecutor`` with ``num_jobs`` workers,
  each limited to one torch / BLAS thread (processes are the unit of
  parallelism; nested threads oversubscribe the cores);
- ``kind == "dask"``: ``dask.distributed`` through ``Client.get_executor()``,
  connected to ``scheduler`` (``tcp://host:8786``), or to a ``LocalCluster``
  of ``num_jobs`` single-threaded worker processes when no scheduler is given.
  Needs the ``dask`` extra.
"""
import os
from concurrent.futures import Executor, ProcessPoolExecutor
from contextlib import contextmanager
from typing import Iterator, Optional

EXECUTORS = ("local", "dask")


def _single_thread_worker() -> None:
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = "1"
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:  # pragma: no cover
        pass


@contextmanager
def executor(num_jobs: int = 1, kind: str = "local", scheduler: Optional[str] = None) -> Iterator[Optional[Executor]]:
    """Yield an executor (or ``None`` for inline work); closes it on exit."""
    if kind not in EXECUTORS:
        raise ValueError(f"executor {kind!r}; expected one of {EXECUTORS}")
    if num_jobs < 1:
        raise ValueError(f"num_jobs must be >= 1, got {num_jobs}")
    if kind == "local":
        if num_jobs == 1:
            yield None
            return
        with ProcessPoolExecutor(num_jobs, initializer=_single_thread_worker) as pool:
            yield pool
        return
    try:
        from distributed import Client, LocalCluster
    except ImportError as e:
        raise ImportError("--executor dask needs the dask extra: pip install -e '.[dask]'") from e
    cluster = None
    if scheduler:
        client = Client(scheduler)
    else:
        cluster = LocalCluster(n_workers=num_jobs, threads_per_worker=1, processes=True,
                               dashboard_address=None, silence_logs=40)
        client = Client(cluster)
    try:
        client.run(_single_thread_worker)
        yield client.get_executor()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def map_tasks(fn, tasks, num_jobs: int = 1, kind: str = "local", scheduler: Optional[str] = None,
              desc: str = "", progress: bool = True) -> Iterator:
    """``fn(*task)`` for every task, results in task order, with a progress bar over tasks.
    Inline when ``num_jobs == 1`` locally, else on :func:`executor`'s pool."""
    from tqdm import tqdm

    with executor(num_jobs, kind, scheduler) as pool:
        if pool is None:
            results = (fn(*t) for t in tasks)
        else:
            futures = [pool.submit(fn, *t) for t in tasks]
            results = (f.result() for f in futures)
        yield from tqdm(results, total=len(tasks), desc=desc, disable=not progress)
