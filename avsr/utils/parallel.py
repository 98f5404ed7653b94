"""Run a per-chunk function over a list in ``num_jobs`` processes, order preserved.

Each job gets its own chunk index so it can write its own storage file (lhotse writers are
not safe to share between processes). Start one executor per step with :func:`job_pool` and
pass it to every call: spawning a worker (importing torch and lhotse) costs seconds.
"""
from __future__ import annotations

import contextlib
from concurrent.futures import Executor, ProcessPoolExecutor
from multiprocessing import get_context
from typing import Any, Callable, Iterator, Optional, Sequence


def split_even(items: Sequence[Any], num_chunks: int) -> list[list[Any]]:
    num_chunks = max(1, min(num_chunks, len(items)))
    size, extra = divmod(len(items), num_chunks)
    chunks, start = [], 0
    for i in range(num_chunks):
        end = start + size + (1 if i < extra else 0)
        chunks.append(list(items[start:end]))
        start = end
    return chunks


@contextlib.contextmanager
def job_pool(num_jobs: int) -> Iterator[Optional[Executor]]:
    """A process pool of ``num_jobs`` workers (spawned: safe with torch), or None for one job."""
    if num_jobs <= 1:
        yield None
        return
    with ProcessPoolExecutor(num_jobs, mp_context=get_context("spawn")) as pool:
        yield pool


def map_chunks(
    fn: Callable[..., list], items: Sequence[Any], num_jobs: int, *args: Any, executor: Optional[Executor] = None
) -> list:
    """``fn(chunk, job_index, *args) -> list``; results concatenated in input order."""
    chunks = split_even(items, num_jobs)
    if len(chunks) <= 1:
        return fn(chunks[0] if chunks else [], 0, *args)
    if executor is None:
        with job_pool(len(chunks)) as pool:
            return map_chunks(fn, items, num_jobs, *args, executor=pool)
    futures = [executor.submit(fn, chunk, i, *args) for i, chunk in enumerate(chunks)]
    out: list = []
    for fut in futures:
        out.extend(fut.result())
    return out
