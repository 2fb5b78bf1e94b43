"""Executor choice for the heavy stages: local processes or a dask cluster.

``diar fbank``, ``diar labels`` and ``diar simulate`` (layouts and audio
rendering) fan their work out with :func:`map_tasks`:

- ``num_jobs == 1`` and ``kind == "local"``: no executor, work runs inline;
- ``kind == "local"``: a ``ProcessPoolExecutor`` with ``num_jobs`` workers,
  each limited to one torch / BLAS thread (processes are the unit of
  parallelism; nested threads oversubscribe the cores);
- ``kind == "dask"``: ``dask.distributed``, connected to ``scheduler``
  (``tcp://host:8786``), or to a ``LocalCluster`` of ``num_jobs``
  single-threaded worker processes when no scheduler is given. Needs the
  ``dask`` extra. Workers read inputs and write outputs at the paths the
  tasks name: on a cluster those must be on a file system every worker mounts.

A large read-only object that every task needs (the simulator with its source
index) is passed as ``shared``: it travels once per worker (a process pool's
initializer; ``Client.scatter(broadcast=True)`` on dask), not once per task.
"""

import collections
import itertools
import os
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from typing import Any, Callable, Iterable, Iterator, Optional, Sequence

EXECUTORS = ("local", "dask")


def _single_thread_worker() -> None:
    import sys

    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = "1"  # read by torch (and BLAS) when first imported in this worker
    torch = sys.modules.get("torch")  # imported before the fork: its thread pool is set already
    if torch is not None:  # (importing it here would cost every worker ~2 s, e.g. describe's)
        torch.set_num_threads(1)
    try:  # BLAS libraries already loaded (numpy/scipy imported before the fork) ignore the env vars
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=1)
    except ImportError:  # pragma: no cover
        pass


def _check(num_jobs: int, kind: str) -> None:
    if kind not in EXECUTORS:
        raise ValueError(f"executor {kind!r}; expected one of {EXECUTORS}")
    if num_jobs < 1:
        raise ValueError(f"num_jobs must be >= 1, got {num_jobs}")


@contextmanager
def dask_client(num_jobs: int = 1, scheduler: Optional[str] = None):
    """A ``distributed.Client`` on ``scheduler``, or on a LocalCluster of ``num_jobs``
    single-threaded processes; workers limited to one torch/BLAS thread. Closed on exit."""
    try:
        from distributed import Client, LocalCluster
    except ImportError as e:
        raise ImportError("--executor dask needs the dask extra: pip install -e '.[dask]'") from e
    cluster = None
    if scheduler:
        client = Client(scheduler)
    else:
        cluster = LocalCluster(
            n_workers=num_jobs, threads_per_worker=1, processes=True, dashboard_address=None, silence_logs=40
        )
        client = Client(cluster)
    try:
        client.run(_single_thread_worker)
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


# worker side of ``shared`` on a local process pool: set by the pool's initializer
_SHARED: dict = {}
_SHARED_KEYS = itertools.count()


def _init_shared_worker(key: int, obj: Any) -> None:
    _single_thread_worker()
    _SHARED[key] = obj


def _call_with_shared(key: int, fn: Callable, *args):
    return fn(_SHARED[key], *args)


def _bounded(submit: Callable, tasks: Iterable[tuple], window: int) -> Iterator:
    """Futures' results in task order, with at most ``window`` tasks submitted and not yet
    collected: a task generator is consumed as results come back, never all at once."""
    pending = collections.deque()
    for t in tasks:
        pending.append(submit(t))
        if len(pending) >= window:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


def _weighted(results, weights, desc, unit, disable):
    """A progress bar that advances by each task's weight (e.g. hours of audio), not by 1."""
    from tqdm import tqdm

    with tqdm(
        total=float(sum(weights)),
        desc=desc,
        unit=unit,
        disable=disable,
        bar_format="{l_bar}{bar}| {n:.2f}/{total:.2f} {unit} [{elapsed}<{remaining}]",
    ) as bar:
        for w, r in zip(weights, results):
            bar.update(float(w))
            yield r


@contextmanager
def single_threaded():
    """BLAS (threadpoolctl) and torch limited to one thread for the block, then restored:
    the inline ``num_jobs == 1`` path gets what each worker process gets."""
    import sys

    torch = sys.modules.get("torch")
    before = torch.get_num_threads() if torch is not None else None
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover
        threadpool_limits = None
    limiter = threadpool_limits(limits=1) if threadpool_limits else None
    if torch is not None:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        if torch is not None:
            torch.set_num_threads(before)
        if limiter is not None:
            limiter.restore_original_limits()


def map_tasks(
    fn: Callable,
    tasks: Iterable[tuple],
    num_jobs: int = 1,
    kind: str = "local",
    scheduler: Optional[str] = None,
    desc: str = "",
    progress: bool = True,
    shared: Any = None,
    total: Optional[int] = None,
    weights: Optional[Sequence[float]] = None,
    unit: str = "it",
) -> Iterator:
    """``fn(*task)`` (``fn(shared, *task)`` when ``shared`` is given) for every task,
    results in task order, with a progress bar over tasks. Inline when
    ``num_jobs == 1`` locally, else on local processes or dask (see the module doc).
    A task's exception is raised here, with the remote traceback on dask.

    ``tasks`` may be a generator (``total``: how many, for the progress bar): it is
    read lazily, at most ``4 * num_jobs`` tasks ahead of the results, so that task
    arguments built from a large manifest never sit in memory all together."""
    from tqdm import tqdm as _tqdm

    def tqdm(results, total, desc, disable):
        if weights is None:
            return _tqdm(results, total=total, desc=desc, disable=disable)
        return _weighted(results, weights, desc, unit, disable)

    _check(num_jobs, kind)
    if total is None and hasattr(tasks, "__len__"):
        total = len(tasks)
    lead = () if shared is None else (shared,)
    window = 4 * num_jobs
    if kind == "local" and num_jobs == 1:
        with single_threaded():  # as in the workers: BLAS / torch threads would oversubscribe the core
            results = (fn(*lead, *t) for t in tasks)
            yield from tqdm(results, total=total, desc=desc, disable=not progress)
        return
    if kind == "local":
        if shared is None:
            pool = ProcessPoolExecutor(num_jobs, initializer=_single_thread_worker)
            submit = pool.submit
        else:
            key = next(_SHARED_KEYS)
            pool = ProcessPoolExecutor(num_jobs, initializer=_init_shared_worker, initargs=(key, shared))
            submit = lambda f, *a: pool.submit(_call_with_shared, key, f, *a)  # noqa: E731
        with pool:
            results = _bounded(lambda t: submit(fn, *t), tasks, window)
            yield from tqdm(results, total=total, desc=desc, disable=not progress)
        return
    with dask_client(num_jobs, scheduler) as client:
        if shared is not None:
            lead = (client.scatter(shared, broadcast=True, hash=False),)
        results = _bounded(lambda t: client.submit(fn, *lead, *t, pure=False), tasks, window)
        yield from tqdm(results, total=total, desc=desc, disable=not progress)
