"""Worker processes: `fork_map` / `fork_imap` run a function over items in forked workers
(featurizing reviews, the sweeps' runs, dynamic evaluation's passes), with Ctrl-C and worker
failures handled in the parent."""

from __future__ import annotations

import contextlib
import os
import signal
from typing import Callable, Iterator, Sequence

import torch

import utils


_fork_context = None  # what fork_map's worker processes share with their parent, set in each worker


def _fork_init(fn, context) -> None:
    global _fork_context
    _fork_context = (fn, context)
    utils.bars_off()  # the jobs' bars would fight the caller's
    # one thread each, as DataLoader workers do: the processes together already use the cores
    torch.set_num_threads(1)
    # Ctrl-C reaches the whole process group: the parent alone handles it (it stops the pool), so a
    # worker that is still starting cannot swallow it and let the run go on.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # SIGTERM, which the parent handles as Ctrl-C (cli/faults.run_guarded), ends a worker at once:
    # the pool's terminate() sends it, and the parent alone says what was kept.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _fork_call(item):
    fn, context = _fork_context
    return fn(context, item)


def fork_imap(fn: Callable, items: Sequence, workers: int, context=None) -> Iterator:
    """`fn(context, item)` for each item, yielded in the order of `items` as they finish, from
    `workers` forked processes (one thread each).

    Fork lets the workers share `context` (an embedding table, datasets) with this process instead
    of receiving a pickled copy; items and results are pickled. Where fork is unavailable (Windows,
    macOS defaults), inside a worker, once this process has initialised CUDA, or with `workers` <= 1
    or a single item, it runs here, in order. Progress
    bars of the jobs themselves stay off (`progress`), so the caller can show one bar for them all.
    """
    import multiprocessing as mp

    workers = min(workers, len(items))
    # A process that has initialised CUDA does not fork: a child could not use CUDA ("Cannot
    # re-initialize CUDA in forked subprocess"), so jobs that might (a sweep's runs on a GPU) run
    # here instead.
    if (
        workers <= 1
        or "fork" not in mp.get_all_start_methods()
        or mp.current_process().daemon
        or torch.cuda.is_initialized()
    ):
        outer = utils.bars_off()
        try:
            for item in items:
                result = fn(context, item)
                utils.bars_off(outer)  # the caller's code runs between two results
                yield result
                utils.bars_off()
        finally:
            utils.bars_off(outer)
        return
    with _interrupt_held() as pressed:
        pool = mp.get_context("fork").Pool(workers, initializer=_fork_init, initargs=(fn, context))
    with pool:  # terminates the workers however the block ends
        if pressed:
            raise KeyboardInterrupt
        yield from pool.imap(_fork_call, items, chunksize=1)


@contextlib.contextmanager
def _interrupt_held():
    """Hold Ctrl-C while the block forks, and yield the list of presses: a KeyboardInterrupt raised
    inside one of Python's at-fork hooks is printed and dropped ("Exception ignored in ..."), and
    the run would go on."""
    import threading

    pressed: list = []
    if threading.current_thread() is not threading.main_thread():
        yield pressed
        return
    previous = signal.signal(signal.SIGINT, lambda signum, frame: pressed.append(signum))
    terms: list = []  # a SIGTERM is held too, then delivered again to the handler it was meant for
    parent = os.getpid()

    def hold_sigterm(signum, frame):
        if os.getpid() != parent:  # a worker forked here that has not reached _fork_init: end it
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGTERM)
        terms.append(signum)

    previous_term = signal.signal(signal.SIGTERM, hold_sigterm)
    try:
        yield pressed
    finally:
        signal.signal(signal.SIGINT, previous)
        signal.signal(signal.SIGTERM, previous_term)
        if terms:
            signal.raise_signal(signal.SIGTERM)


def fork_map(fn: Callable, items: Sequence, workers: int, context=None) -> list:
    """`[fn(context, item) for item in items]` by `fork_imap`: the output does not depend on
    `workers`."""
    return list(fork_imap(fn, items, workers, context))


def default_workers() -> int:
    """Worker processes for independent jobs: one per core, at most 2 (what a laptop spares)."""
    return max(1, min(2, os.cpu_count() or 1))
