"""What the sentiment classifier (mlp.py) and the language model (mlp_lm.py) both use.

- Hugging Face `datasets` kept offline (the switches below), and the cache folder outside the repo
  (`default_cache_dir`) that the data-file checks (common/datafiles.py) and the GloVe cache
  (common/glove.py) share;
- atomic writes for checkpoints, JSON and figures (`atomic_save`, `atomic_write_json`,
  `atomic_savefig`);
- the one plotting routine behind every `visualize_*` face (`plot_curves`, `curves_figure`);
- seeding, device choice (under torchrun too: `choose_device`), the torch threads of a block,
  evaluation in eval mode (`evaluating`), progress bars, and the two faults a run reports in one
  line (`ConfigError`, `TrainingDiverged`).

The data files and `datasets` loading live in common/datafiles.py, GloVe and the featurizing
tokenizer in common/glove.py, the worker processes in common/worker_pool.py. Nothing here runs at
import time.
"""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import random
import re
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Callable, Iterable, Mapping, NamedTuple, Sequence

import numpy as np
import torch


CACHE_DIR_ENV = "HW3_CACHE_DIR"
REPO_DIR = Path(__file__).resolve().parent


# --------------------------------------------------------------------------- atomic writes
def _atomic_write(path: str | os.PathLike, write: Callable[[str], None]) -> Path:
    """Run `write(tmp_path)` on a temporary file beside `path`, then rename it over `path`.

    The rename is atomic on POSIX, so a reader (or an interrupted run) sees the old file or the new
    one, never half of one. A write killed outright (SIGKILL, power loss) leaves its hidden
    `.{name}.XXXXXXXX.tmp` behind; the next write of the same path removes it. So two processes
    writing the same path at the same time is not supported: one may remove the other's temporary
    file and fail.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temporaries(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as err:
        raise _disk_full(err, path) from None
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes the file private; give it the usual mode
        os.replace(tmp, path)
    except BaseException as err:
        if os.path.exists(tmp):
            os.unlink(tmp)
        if isinstance(err, OSError):
            raise _disk_full(err, path) from None
        raise
    return path


DISK_FULL_ERRNOS = (errno.ENOSPC, errno.EDQUOT)


class DiskFullError(OSError):
    """No space left (ENOSPC, or a quota: EDQUOT) while writing `path`; the message names it, says
    what is free there and what to do. The file under that name, if any, is the last good one:
    writes are atomic."""

    def __init__(self, path: str | os.PathLike, advice: str | None = None):
        path = Path(path)
        try:
            free = f"{shutil.disk_usage(_existing_parent(path)).free / 1e6:.1f} MB free there"
        except OSError:
            free = "free space unknown"
        advice = advice or (
            "free space on that disk (old checkpoints, runs/quick, the caches in "
            f"{default_cache_dir()} and ~/.cache/huggingface) or point --out-dir / --ckpt-dir / "
            "--data-dir elsewhere, then run again (--resume goes on where training stopped)"
        )
        super().__init__(
            errno.ENOSPC,
            f"no space left on the device writing {path} ({free}); the last good file there is "
            f"kept; {advice}",
        )
        self.path = path

    def __str__(self) -> str:
        return self.strerror


def _existing_parent(path: Path) -> Path:
    while not path.exists() and path.parent != path:
        path = path.parent
    return path


def _disk_full(err: OSError, path: Path) -> OSError:
    """`err` as a DiskFullError naming `path` when it says the disk is full, else `err` itself."""
    if isinstance(err, DiskFullError) or err.errno not in DISK_FULL_ERRNOS:
        return err
    return DiskFullError(path)


def _remove_stale_temporaries(path: Path) -> None:
    # Exactly mkstemp's names for this path (8 characters from its alphabet), not those of a longer
    # name that starts with it ("a.json" must spare ".a.json.bak.xxxxxxxx.tmp").
    stale = re.compile(rf"\.{re.escape(path.name)}\.[a-z0-9_]{{8}}\.tmp")
    with os.scandir(path.parent) as entries:
        for entry in entries:
            if stale.fullmatch(entry.name):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry.path)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_save(obj, path: str | os.PathLike) -> Path:
    """torch.save, atomically. Saved through a file object: torch names the archive inside after a
    file *name*, which here would be the random temporary one, so the same weights would give
    different bytes."""

    def write(tmp: str) -> None:
        with open(tmp, "wb") as f:
            watched = _WatchedFile(f)
            try:
                torch.save(obj, watched)
            except RuntimeError as err:
                # torch's zip writer turns the file object's OSError into "unexpected pos N vs M"
                # or "failed writing file": find the OSError it swallowed, or the disk's state
                if watched.error is not None:
                    raise watched.error from None
                if shutil.disk_usage(os.path.dirname(tmp) or ".").free == 0:
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), tmp) from err
                raise

    return _atomic_write(path, write)


class _WatchedFile:
    """A binary file object that keeps the OSError of a failed write (torch.save hides it)."""

    def __init__(self, f):
        self._f, self.error = f, None

    def write(self, data) -> int:
        try:
            return self._f.write(data)
        except OSError as err:
            self.error = self.error or err
            raise

    def flush(self) -> None:
        try:
            self._f.flush()
        except OSError as err:
            self.error = self.error or err
            raise


def atomic_copy(source: str | os.PathLike, path: str | os.PathLike) -> Path:
    """A copy of the file `source` at `path`, atomically."""
    return _atomic_write(path, lambda tmp: shutil.copyfile(source, tmp))


def atomic_write_json(obj, path: str | os.PathLike) -> Path:
    """json.dump (indented, NaN written as null), atomically."""

    def write(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(_json_safe(obj), f, indent=1, allow_nan=False)
            f.write("\n")

    return _atomic_write(path, write)


def _json_safe(obj):
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, Mapping):
        return {str(k): _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    if isinstance(obj, (np.floating, np.integer)):
        return _json_safe(obj.item())
    if isinstance(obj, torch.Tensor):
        return _json_safe(obj.tolist())
    if isinstance(obj, Path):
        return str(obj)
    return obj


def atomic_savefig(fig, path: str | os.PathLike, **kwargs) -> Path:
    """fig.savefig, atomically (format taken from the final suffix, not the temporary name)."""
    fmt = Path(path).suffix.lstrip(".") or "png"
    kwargs.setdefault("dpi", 120)
    kwargs.setdefault("bbox_inches", "tight")
    return _atomic_write(path, lambda tmp: fig.savefig(tmp, format=fmt, **kwargs))


# --------------------------------------------------------------------------- plotting
def _as_runs(label: str, values) -> np.ndarray:
    """A curve as a (runs, epochs) array; one run for a plain list of numbers."""
    try:
        runs = np.asarray(values, dtype=float)
    except ValueError:
        runs = np.empty((0, 0))
    if runs.ndim == 1:
        runs = runs[None, :]
    if runs.ndim != 2 or runs.shape[1] == 0:
        raise ValueError(
            f"curve {label!r} must be a list of numbers or a list of equal-length lists"
        )
    return runs


def curve_limits(
    curves: Mapping[str, Sequence[float] | Sequence[Sequence[float]]], pad: float = 0.05
) -> tuple[float, float]:
    """(low, high) that holds every point of every run of `curves`, padded by `pad` of the range:
    the shared y-scale of plots that are meant to be compared side by side."""
    values = np.concatenate([_as_runs(label, v).ravel() for label, v in curves.items()])
    low, high = float(values.min()), float(values.max())
    margin = pad * (high - low) or 0.05 * max(abs(high), 1e-3)
    return low - margin, high + margin


def zoom_limits(
    curves: Mapping[str, Sequence[float] | Sequence[Sequence[float]]], pad: float = 0.15
) -> tuple[float, float]:
    """A y-range for the part of training where the curves have settled: for each label, its mean
    curve over the second half of the epochs, from median - 3 MAD to median + 3 MAD (no wider than
    that half's own range); then the union over labels, padded by `pad` of its width.

    The median and the MAD rather than the min and max, so that one epoch's spike (or a run that
    diverges) does not stretch the range that the other curves need to be told apart.
    """
    lows, highs = [], []
    for label, values in curves.items():
        mean = _as_runs(label, values).mean(axis=0)
        tail = mean[len(mean) // 2 :]
        center = float(np.median(tail))
        # 3 standard deviations, were it normal
        spread = 3 * 1.4826 * float(np.median(np.abs(tail - center)))
        lows.append(max(float(tail.min()), center - spread))
        highs.append(min(float(tail.max()), center + spread))
    low, high = min(lows), max(highs)
    margin = pad * (high - low) or 0.05 * max(abs(high), 1e-3)
    return low - margin, high + margin


def zoom_outliers(curves: Mapping[str, Sequence[float] | Sequence[Sequence[float]]]) -> list[str]:
    """The labels a zoom panel leaves out: those whose settled level (the median of the mean curve's
    second half) lies farther from the median level of all labels than 5 robust standard deviations
    of the levels (1.4826 MAD) and than a quarter of the whole plot's range: a net stuck at chance,
    or whose seeds split between chance and learning, among nets that learn. None with fewer than
    three labels."""
    levels = {}
    for label, values in curves.items():
        mean = _as_runs(label, values).mean(axis=0)
        levels[label] = float(np.median(mean[len(mean) // 2 :]))
    if len(levels) < 3:
        return []
    values = np.asarray(list(levels.values()))
    center = float(np.median(values))
    robust = 1.4826 * float(np.median(np.abs(values - center)))
    every = np.concatenate([_as_runs(label, v).ravel() for label, v in curves.items()])
    far = max(5 * robust, 0.25 * float(every.max() - every.min()))
    return [label for label, level in levels.items() if abs(level - center) > far]


def seeds_split(runs: np.ndarray, full_range: float) -> bool:
    """Whether a label's seeds are in different regimes at some epoch (some at chance while one
    learns, one seed's spike): there the seeds, sorted, have a gap wider than half of the plot's
    whole range. A mean across such a gap is a value no seed had, so the seeds are drawn too."""
    if runs.shape[0] < 2 or full_range <= 0:
        return False
    gaps = np.diff(np.sort(runs, axis=0), axis=0)
    return bool(gaps.max() > 0.5 * full_range)


LINE_STYLES = ("-", "--", "-.", ":")
MARKERS = ("o", "s", "^", "D", "v", "P", "X")


# after matplotlib's ten: ten more of other hues, so that up to 20 series differ in colour alone
MORE_COLORS = (
    "#000000", "#1a237e", "#808000", "#008080", "#800000",
    "#ffb300", "#76ff03", "#6a1b9a", "#fa8072", "#546e7a",
)  # fmt: skip


def series_style(i: int) -> dict:
    """The i-th series' colour, line style and marker: the first 20 series each in its own colour,
    no two of the first 28 alike in all three, and neighbours differ in each."""
    colors = [f"C{k}" for k in range(10)] + list(MORE_COLORS)
    return {
        "color": colors[i % len(colors)],
        "ls": LINE_STYLES[i % len(LINE_STYLES)],
        "marker": MARKERS[i % len(MARKERS)],
    }


def curves_figure(
    curves: Mapping[str, Sequence[float] | Sequence[Sequence[float]]],
    ylabel: str,
    xlabel: str = "Epoch",
    title: str | None = None,
    *,
    ylim: tuple[float, float] | None = None,
    zoom: bool = False,
):
    """The figure behind `plot_curves`, not saved (tests read its lines and limits).

    One line per label, x = 1..E, each in its own colour, line style and marker (`series_style`); a
    label whose value is a list of runs (seeds x epochs) is drawn as the mean with a pale band from
    the lowest to the highest run or, when its seeds are in different regimes (`seeds_split`), with
    each seed as a thin line and "(thin: each seed)" in its legend entry. `ylim` fixes the y-range
    (otherwise it fits the data). `zoom` adds a right-hand panel with the mean curves of the second
    half of the epochs on the y-range of `zoom_limits`, leaving out the labels of `zoom_outliers`;
    its title says which epochs it shows, what it leaves out and which curves leave its range. With
    more than four labels, or a zoom panel, the legend sits below the panels (one for the figure),
    not on the curves.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = {label: _as_runs(label, values) for label, values in curves.items()}
    every = np.concatenate([r.ravel() for r in data.values()])
    full_range = float(every.max() - every.min())
    split = {label: seeds_split(runs, full_range) for label, runs in data.items()}
    fig, axes = plt.subplots(
        1, 2 if zoom else 1, figsize=(12, 4.2) if zoom else (6.4, 4.2), squeeze=False
    )
    axes = axes[0]
    left_out = zoom_outliers(curves) if zoom else []
    handles = []
    for i, (label, runs) in enumerate(data.items()):
        style = series_style(i)
        x = np.arange(1, runs.shape[1] + 1)
        mean = runs.mean(axis=0)
        name = f"{label} (thin: each seed)" if split[label] else label
        (line,) = axes[0].plot(x, mean, markersize=3, lw=1.6, label=name, **style)
        handles.append(line)
        if runs.shape[0] > 1 and not split[label]:  # split seeds are drawn themselves
            axes[0].fill_between(
                x, runs.min(axis=0), runs.max(axis=0), color=style["color"], alpha=0.08, lw=0
            )
        if split[label]:
            for seed in runs:
                axes[0].plot(x, seed, color=style["color"], ls=style["ls"], lw=0.7, alpha=0.6)
        if zoom and label not in left_out:
            half = runs.shape[1] // 2
            axes[1].plot(x[half:], mean[half:], markersize=3, lw=1.6, label=name, **style)
    for ax in axes:
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.grid(alpha=0.3)
    if ylim is not None:
        axes[0].set_ylim(*ylim)
    if zoom:
        kept = {k: v for k, v in curves.items() if k not in left_out}
        # each curve's second half; curves of several lengths (the sentiment rows beside the
        # course's MLP) span from the earliest half's start to the longest curve's end
        epochs = max(data[k].shape[1] for k in kept)
        first = min(data[k].shape[1] // 2 + 1 for k in kept)
        low, high = zoom_limits(kept)
        axes[1].set_ylim(low, high)
        axes[1].set_xlim(first - 0.5, epochs + 0.5)
        leaving = [
            label
            for label in kept
            if ((m := data[label].mean(axis=0)[data[label].shape[1] // 2 :]) < low).any()
            or (m > high).any()
        ]
        note = [f"zoom: epochs {first}-{epochs}, means only"]
        if left_out:
            note.append(f"not shown: {', '.join(left_out)} (settles far off; see left)")
        if leaving:
            note.append(f"leave the range at some epoch: {', '.join(leaving)}")
        axes[0].set_title("all epochs, full range; band: lowest to highest seed", fontsize="medium")
        axes[1].set_title("\n".join(note), fontsize="small")
    if zoom or len(data) > 4:
        fig.legend(
            handles=handles,
            loc="upper center",
            bbox_to_anchor=(0.5, 0.0),
            ncol=min(len(handles), 3 if zoom else 2),
            fontsize="small",
            frameon=False,
        )
    else:
        axes[0].legend(fontsize="small")
    if title:
        (fig.suptitle if zoom else axes[0].set_title)(title)
    fig.tight_layout()
    return fig


def plot_curves(
    curves: Mapping[str, Sequence[float] | Sequence[Sequence[float]]],
    ylabel: str,
    save_fig_path: str | os.PathLike,
    title: str | None = None,
    **layout,
) -> Path:
    """Draw `curves_figure(curves, ylabel, title=title, **layout)` (`layout`: its xlabel, ylim and
    zoom) and save it atomically to `save_fig_path`."""
    import matplotlib.pyplot as plt

    fig = curves_figure(curves, ylabel, title=title, **layout)
    try:
        return atomic_savefig(fig, save_fig_path)
    finally:
        plt.close(fig)


# --------------------------------------------------------------------------- runtime
def seed_summary(best_dev_acc: Sequence[float], test_acc: Sequence[float]) -> dict:
    """Mean and population standard deviation (ddof 0, as hw3.md and README state) over seeds, the
    one rule for every table of runs: the sweeps of 6.1 and the sentiment rows beyond it."""
    return {
        "best_dev_acc_mean": float(np.mean(best_dev_acc)),
        "best_dev_acc_std": float(np.std(best_dev_acc)),
        "test_acc_mean": float(np.mean(test_acc)),
        "test_acc_std": float(np.std(test_acc)),
    }


DIFFER_AT = 2.0  # standard errors of the gap: hw3.md's one rule for "differs"


def seed_gap(a: Sequence[float], b: Sequence[float]) -> dict:
    """The one rule by which two configurations' per-seed results `a` and `b` (one number per seed,
    e.g. best dev accuracies) differ, as hw3.md states it: the gap of their seed means, mean(a) -
    mean(b), against its standard error sqrt(var(a) / (n_a - 1) + var(b) / (n_b - 1)), var the
    population variance (ddof 0, the tables' ±) -- the usual sqrt(s_a^2 / n_a + s_b^2 / n_b) with
    sample variances s^2 (ddof 1).

    Returns {"gap", "se", "differ"}: `differ` is True when |gap| > DIFFER_AT * se (a gap with se 0,
    every seed alike, differs whenever it is not 0); otherwise the two are "within the seeds'
    spread"."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if len(a) < 2 or len(b) < 2:
        raise ValueError(f"the rule needs at least 2 seeds a side, got {len(a)} and {len(b)}")
    gap = float(a.mean() - b.mean())
    se = float(np.sqrt(a.var() / (len(a) - 1) + b.var() / (len(b) - 1)))
    return {"gap": gap, "se": se, "differ": bool(abs(gap) > DIFFER_AT * se and gap != 0.0)}


def set_seed(seed: int) -> torch.Generator:
    """Seed python, numpy and torch; return a torch.Generator seeded the same, for data order."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def get_device(name: str | None = None) -> torch.device:
    """The torch device for `name`: 'auto' (or None) picks CUDA, then Apple's MPS, then the CPU;
    'cpu', 'cuda', 'cuda:N' and 'mps' must exist here. ValueError naming the device and the way out
    otherwise.

    Under torchrun it is this process's device as `choose_device` decides it from LOCAL_RANK and
    LOCAL_WORLD_SIZE, so that every caller (the command line, the training loop) agrees on it."""
    place = process_ranks()
    return choose_device(name, place.local_rank, place.local_world)[0]


class Ranks(NamedTuple):
    rank: int  # among all of torchrun's processes
    world: int  # how many there are
    local_rank: int  # among those on this machine
    local_world: int  # how many there are on this machine


def process_ranks() -> Ranks:
    """This process's place among torchrun's processes, read from the variables torchrun sets (the
    one place that reads them); (0, 1, 0, 1) for a plain run. A launcher that sets WORLD_SIZE but
    not LOCAL_WORLD_SIZE counts as one machine."""
    world = int(os.environ.get("WORLD_SIZE", 1))
    return Ranks(
        int(os.environ.get("RANK", 0)),
        world,
        int(os.environ.get("LOCAL_RANK", 0)),
        int(os.environ.get("LOCAL_WORLD_SIZE", world)),
    )


def choose_device(
    requested: str | None,
    local_rank: int = 0,
    local_world_size: int = 1,
    gpu_count: int | None = None,
) -> tuple[torch.device, str, str]:
    """Where one of `local_world_size` processes on this machine runs: (device, torch.distributed
    backend, a one-line message saying it). `gpu_count` defaults to the CUDA devices present.

    One process: 'auto' picks CUDA, then MPS, then the CPU. Several processes (torchrun): each needs
    a GPU of its own, the one of its local rank, so 'auto' is CUDA with NCCL only when
    `local_world_size` is at most `gpu_count`, and otherwise the CPU with gloo (a process given a
    GPU index that is not there would fail in set_device, and two processes on one GPU are not what
    DistributedDataParallel expects); 'cuda' with more processes than GPUs is refused. ValueError
    naming the device and the way out."""
    mps = getattr(torch.backends, "mps", None)
    n, several = local_world_size, local_world_size > 1
    if requested not in (None, "", "auto"):
        try:
            device = torch.device(requested)
        except (RuntimeError, TypeError):
            device = None
        if device is None or device.type not in ("cpu", "cuda", "mps"):
            raise ValueError(f"unknown device {requested!r}: use auto, cpu, cuda, cuda:N or mps")
    else:
        device = None
    if device is not None and device.type == "cpu":  # no CUDA call at all: nothing to look up
        return device, "gloo", f"{n} process(es) on this machine run on the CPU (gloo)"
    if gpu_count is None:
        gpu_count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if device is None:  # auto
        if gpu_count and n <= gpu_count:
            device = torch.device("cuda", local_rank) if several else torch.device("cuda")
            return (
                device,
                "nccl",
                f"{n} process(es) on this machine, each on a GPU of its own (nccl)",
            )
        if not several and mps is not None and mps.is_available():
            return torch.device("mps"), "gloo", "1 process on Apple's MPS device"
        if gpu_count:
            return (
                torch.device("cpu"),
                "gloo",
                f"{n} processes on this machine but {gpu_count} GPU(s): each process needs a "
                "GPU of its own, "
                "so all train on the CPU (gloo); run torchrun with --nproc_per_node "
                f"{gpu_count} to use the GPUs",
            )
        return torch.device("cpu"), "gloo", f"{n} process(es) on this machine run on the CPU (gloo)"
    if device.type == "mps":
        if mps is None or not mps.is_available():
            raise ValueError(
                f"device {requested!r}: no MPS device on this machine; use --device auto or cpu"
            )
        return device, "gloo", "Apple's MPS device"
    if not gpu_count or (device.index or 0) >= gpu_count:
        raise ValueError(
            f"device {requested!r}: no such CUDA device on this machine; use --device auto or cpu"
        )
    if not several:
        return device, "nccl", "1 process on a GPU"
    if device.index is not None:
        raise ValueError(
            f"device {requested!r}: under torchrun each process takes the GPU of its local rank; "
            f"use --device cuda"
        )
    if n > gpu_count:
        raise ValueError(
            f"device {requested!r}: {n} processes on this machine (LOCAL_WORLD_SIZE) but "
            f"{gpu_count} "
            f"GPU(s), and each process needs one of its own; run torchrun with --nproc_per_node "
            f"{gpu_count} or fewer, or use --device cpu"
        )
    return (
        torch.device("cuda", local_rank),
        "nccl",
        f"{n} processes on this machine, each on a GPU of its own (nccl)",
    )


class ConfigError(ValueError):
    """A config field out of range: "LMConfig.lr must be finite and > 0, got -1.0". `field`,
    `expected` and `value` let the command line name its flag instead."""

    def __init__(self, config: str, field: str, expected: str, value):
        super().__init__(f"{config}.{field} must be {expected}, got {value!r}")
        self.field, self.expected, self.value = field, expected, value


class TrainingDiverged(ArithmeticError):
    """The training loss became NaN or infinite; the message names the epoch, the step and the
    learning rate."""


@contextlib.contextmanager
def torch_threads(n: int | None):
    """Run the block with `n` intra-op CPU threads (None: leave as is), then restore the previous
    number.

    Small models (the sentiment MLP's 64 x 512 matmuls) gain nothing from a second thread, and when
    another process holds the other core, OpenMP's waiting threads make every step many times
    slower.
    """
    previous = torch.get_num_threads()
    if n:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


@contextlib.contextmanager
def evaluating(model: torch.nn.Module, grad: bool = False):
    """Eval mode (no dropout) for the block, and no autograd graph unless `grad`; the model's
    previous mode is restored after it, even when the block raises."""
    was_training = model.training
    model.eval()
    try:
        with contextlib.nullcontext() if grad else torch.no_grad():
            yield model
    finally:
        model.train(was_training)


_bars_off = False  # set by `bars_off` (fork_map, in its jobs: their bars would fight the caller's)


def bars_off(off: bool = True) -> bool:
    """Turn this process's progress bars off (or back on); returns the setting it replaced."""
    global _bars_off
    previous, _bars_off = _bars_off, off
    return previous


@contextlib.contextmanager
def quiet_bars():
    """Progress bars off in this block (a run of several parts draws its own line above theirs),
    back as they were after it."""
    previous = bars_off()
    try:
        yield
    finally:
        bars_off(previous)


class DeferredSignals:
    """`signals_deferred`'s record: the Ctrl-C or SIGTERM that came (`pending`), and `deliver`,
    which raises it as the handler it was held back from would have."""

    def __init__(self):
        self.pending, self.previous = None, {}

    def hold(self, signum, frame):
        self.pending = (signum, frame)

    def deliver(self) -> None:
        signum, frame = self.pending
        self.pending = None
        self.previous[signum](signum, frame)
        raise KeyboardInterrupt  # a handler that returned: Ctrl-C's meaning all the same


@contextlib.contextmanager
def signals_deferred():
    """Hold Ctrl-C and SIGTERM back in this block until its code asks (`DeferredSignals.deliver`),
    so that a training step is never cut in half. Only a signal that Python handles is held (not
    SIGTERM's default, which ends the process at once); outside the main thread none is."""
    import signal
    import threading

    held = DeferredSignals()
    if threading.current_thread() is not threading.main_thread():
        yield held
        return
    for signum in (signal.SIGINT, signal.SIGTERM):
        if callable(signal.getsignal(signum)):
            held.previous[signum] = signal.signal(signum, held.hold)
    try:
        yield held
    finally:
        for signum, handler in held.previous.items():
            signal.signal(signum, handler)
        # one that came after the last step: delivered now, not lost
        if held.pending is not None:
            held.deliver()


def progress(iterable: Iterable | None = None, **kwargs):
    """tqdm that stays quiet when stderr is not a terminal (CI logs, pipes) and inside fork_map's
    jobs."""
    from tqdm.auto import tqdm

    kwargs.setdefault("disable", _bars_off or not sys.stderr.isatty())
    kwargs.setdefault("leave", False)
    kwargs.setdefault("dynamic_ncols", True)
    return tqdm(iterable, **kwargs)


def default_cache_dir() -> Path:
    """$HW3_CACHE_DIR, else $XDG_CACHE_HOME/hw3, else ~/.cache/hw3: outside the repository."""
    if os.environ.get(CACHE_DIR_ENV):
        return Path(os.environ[CACHE_DIR_ENV])
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "hw3"
