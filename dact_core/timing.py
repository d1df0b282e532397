"""The one timer: several ways to run the same inputs, timed in interleaved rounds in one process.

These machines are noisy (other processes, frequency changes, a warm or cold cache), and any
drift hits a path timed minutes after another. Interleaving removes most of it: every block of
inputs is run by every path in turn (the order rotating from block to block), round after round,
so each path sees the same conditions. Each input counts with its median over the rounds
(`round_median`), and a path's speed-up over another is the ratio of their totals of those
medians on the same inputs.

Why blocks: a call right after another model's call is slower than one after a call of its own
(its weights and the libraries' state are no longer warm), by an amount that depends on the model,
so with one input per turn a path's ratio moved with the set of paths timed beside it. With a
block of inputs per turn every call but a block's first follows one of its own, as when a server
runs one model, and the ratio depends much less on the neighbours.
"""

from __future__ import annotations

import contextlib
import time
from typing import Callable, Sequence

import numpy as np
import torch
from tqdm.auto import tqdm


@contextlib.contextmanager
def torch_threads(threads: int | None):
    """Run with this many intra-op threads, and give the caller's setting back afterwards."""
    previous = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def interleaved_times(
    paths: Sequence[Callable[[object], object]],
    inputs: Sequence[object],
    rounds: int = 3,
    warmup: int = 3,
    device: torch.device | None = None,
    desc: str = "timing",
    progress: bool = True,
    block: int = 10,
) -> np.ndarray:
    """Seconds (P, rounds, I) that path p took on input i in each round.

    block: consecutive inputs a path runs in its turn (1: every path on each input in turn).
    Each call is timed alone with `time.perf_counter` (after a device synchronisation on a GPU);
    the first `warmup` inputs run once through every path before timing starts.
    """
    if block < 1:
        raise ValueError(f"block must be at least 1, got {block}")
    sync = (lambda: torch.cuda.synchronize(device)) if device is not None and device.type == "cuda" else (lambda: None)
    for x in inputs[:warmup]:
        for path in paths:
            path(x)
    seconds = np.zeros((len(paths), rounds, len(inputs)))
    order = np.arange(len(paths))
    starts = range(0, len(inputs), block)
    with torch.inference_mode():
        for r in tqdm(range(rounds), desc=desc, disable=not progress):
            for b, first in enumerate(starts):
                # every path runs the block in turn; a roll keeps each path after the same one and moves who opens the
                # turn, by one from turn to turn (across rounds too), so that the path opening a turn never closed the
                # one before; with two paths any move would run one path twice in a row, so two keep their order
                shift = r * len(starts) + b if len(paths) > 2 else 0
                for p in np.roll(order, -shift):
                    for i in range(first, min(first + block, len(inputs))):
                        sync()
                        start = time.perf_counter()
                        paths[p](inputs[i])
                        sync()
                        seconds[p, r, i] = time.perf_counter() - start
    return seconds


ROUND_STATISTIC = "median of rounds"


def round_median(seconds: np.ndarray) -> np.ndarray:
    """(P, rounds, I) from `interleaved_times` -> (P, I): each input's median over the rounds, the time a path is
    credited with for that input. A call that the machine stalls (another process, a page fault, the allocator)
    lands in one round: a sum or mean over rounds would carry the stall into that path's total, where one such call
    moved a bench's ratio by several points; the median drops it whenever the other rounds ran clean."""
    return np.median(seconds, axis=1)
