"""What the sentiment classifier (mlp.py) and the language model (mlp_lm.py) share.

- where the data lives (`resolve_data_dir`, `data_path`), with one-line errors when it is missing;
- Hugging Face `datasets` kept offline, and its data files checked, with one-line errors (`load_dataset`);
- a GloVe table with the interface of gensim's KeyedVectors (`WordVectors`, `load_glove`), cached in binary;
- a Penn-Treebank-style word tokenizer (`word_tokenize`, `tokenize_many`) standing in for nltk's;
- atomic writes for checkpoints, JSON and figures (`atomic_save`, `atomic_write_json`, `atomic_savefig`);
- the one plotting routine behind every `visualize_*` face (`plot_curves`);
- seeding, device choice and progress bars.

Nothing here runs at import time, except setting the Hugging Face offline switches (see below).
"""
from __future__ import annotations

import codecs
import contextlib
import csv
import gc
import gzip
import hashlib
import html
import io
import json
import math
import os
import random
import re
import signal
import sys
import tempfile
import zlib
from pathlib import Path
from typing import Callable, Iterable, Iterator, Mapping, Sequence

import numpy as np
import torch

# The package never opens a network connection. `datasets` and `huggingface_hub` read these switches once, when
# they are imported, and without them every load_dataset sends a request (a download-count ping to the Hub)
# even for local files. Every entry module imports utils before anything imports `datasets`, so setting them
# here takes effect; `load_dataset` below also covers a `datasets` that someone imported earlier.
for _switch in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "HF_HUB_DISABLE_TELEMETRY"):
    os.environ[_switch] = "1"

DATA_DIR_ENV = "HW3_DATA_DIR"
CACHE_DIR_ENV = "HW3_CACHE_DIR"
REPO_DIR = Path(__file__).resolve().parent
DEFAULT_DATA_DIR = REPO_DIR.parent / "shared" / "data"
GLOVE_FILE = ("glove", "glove.6B.50d.txt.gz")


# --------------------------------------------------------------------------- data location
class DataNotFoundError(FileNotFoundError):
    """A data file or directory is missing; the message says where we looked and how to point elsewhere."""


def resolve_data_dir(data_dir: str | os.PathLike | None = None) -> Path:
    """The data directory: `data_dir` if given, else $HW3_DATA_DIR, else ../shared/data beside the repo."""
    if data_dir is not None:
        path, source = Path(data_dir), "--data-dir"
    elif os.environ.get(DATA_DIR_ENV):
        path, source = Path(os.environ[DATA_DIR_ENV]), f"${DATA_DIR_ENV}"
    else:
        path, source = DEFAULT_DATA_DIR, "the default"
    if not path.is_dir():
        raise DataNotFoundError(
            f"data directory not found: {path} (from {source}); "
            f"pass --data-dir DIR or set {DATA_DIR_ENV}=DIR to the folder holding imdb/, glove/ and wikitext-2/"
        )
    return path


def data_path(*parts: str, data_dir: str | os.PathLike | None = None) -> Path:
    """Path of one data file under the data directory; a one-line DataNotFoundError if it is absent."""
    root = resolve_data_dir(data_dir)
    path = root.joinpath(*parts)
    if not path.is_file():
        raise DataNotFoundError(
            f"data file not found: {path}; pass --data-dir DIR or set {DATA_DIR_ENV}=DIR "
            f"to a folder that has {'/'.join(parts)} (see ../shared/data/README.md)"
        )
    return path


class DataFileError(ValueError):
    """A data file exists but cannot be used (unreadable, not gzip, truncated, empty, lacking a column); the
    message names the file, says what is wrong and how to restore it."""


RESTORE_HINT = "restore it from ../shared/data (see its README.md: SHA256SUMS)"
VERIFIED_FILE = "verified_data_files.json"  # in default_cache_dir(): data files already read through once
_GZIP_MAGIC = b"\x1f\x8b"


def _bad_file(path: Path, problem: str, fix: str = RESTORE_HINT) -> DataFileError:
    return DataFileError(f"data file {path} {problem}; {fix}")


def _unreadable(path: Path) -> DataFileError:
    return _bad_file(path, "cannot be read (permission denied)", f"make it readable (chmod a+r) or {RESTORE_HINT}")


def _force_offline() -> None:
    """Turn on the offline switches of a `datasets` / `huggingface_hub` already imported (they read the
    environment only at import, so one imported before utils would still go online)."""
    for module_name, names in (("datasets.config", ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")),
                               ("huggingface_hub.constants", ("HF_HUB_OFFLINE", "HF_HUB_DISABLE_TELEMETRY"))):
        module = sys.modules.get(module_name)
        for name in names:
            if module is not None and hasattr(module, name):
                setattr(module, name, True)


def _file_identity(path: Path) -> list:
    # ctime moves on every change to the file, even one that puts its mtime back (cp -p, touch -r, rsync -a)
    st = path.stat()
    return [st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns]


def _verified_path() -> Path:
    return default_cache_dir() / VERIFIED_FILE


def _read_verified() -> dict:
    try:
        with open(_verified_path(), encoding="utf-8") as f:
            verified = json.load(f)
        return verified if isinstance(verified, dict) else {}
    except (OSError, ValueError):
        return {}  # no record (or a damaged one) only means the files are read through again


def _remember_verified(entries: Mapping[str, list]) -> None:
    verified = _read_verified()
    verified.update(entries)
    # Records of files that are gone (pytest's old tmp dirs) are dropped, so the record stays small.
    kept = {k: v for k, v in verified.items() if os.path.exists(k.split("|", 1)[0])}
    try:
        atomic_write_json(kept, _verified_path())
    except OSError:
        pass  # a read-only cache only costs reading the files through again next time


def check_data_file(path: str | os.PathLike, columns: Sequence[str] = ()) -> None:
    """Read the whole file (through gzip for .gz) and raise a one-line DataFileError naming it if it cannot be
    read, is not gzip, is truncated or corrupt, is not UTF-8, is empty, or (with `columns`, for a CSV) has no
    data row or a header that lacks one of `columns`."""
    path = Path(path)
    compressed = path.suffix == ".gz"
    header, lines, last, offset = None, 0, b"\n", 0
    try:
        with open(path, "rb") as raw:
            if path.stat().st_size == 0:
                raise _bad_file(path, "is empty (0 bytes)")
            if compressed and raw.read(2) != _GZIP_MAGIC:
                raise _bad_file(path, "is not a gzip file (it does not start with the gzip magic bytes 1f 8b)")
            raw.seek(0)
            stream = gzip.GzipFile(fileobj=raw, mode="rb") if compressed else raw
            decoder = codecs.getincrementaldecoder("utf-8")()
            start = b""
            while chunk := stream.read(1 << 20):
                offset += len(chunk)
                decoder.decode(chunk)
                lines += chunk.count(b"\n")
                last = chunk[-1:]
                if header is None:
                    start += chunk
                    if b"\n" in start:
                        header = start.split(b"\n", 1)[0]
            decoder.decode(b"", final=True)
            if header is None:
                header = start
    except DataFileError:
        raise
    except PermissionError:
        raise _unreadable(path) from None
    except EOFError:
        raise _bad_file(path, "is truncated (the gzip stream ends early)") from None
    except (gzip.BadGzipFile, zlib.error) as err:
        raise _bad_file(path, f"is corrupt (gzip: {err})") from None
    except UnicodeDecodeError as err:
        where = offset + err.start - len(err.object)  # err.object: the bytes the decoder held, ending at offset
        raise _bad_file(path, f"is not UTF-8 text ({err.reason} at byte offset {where} of its text)") from None
    except OSError as err:
        raise _bad_file(path, f"cannot be read ({err.strerror or err})") from None
    lines += last != b"\n"  # a last line without a line end
    if lines == 0:
        raise _bad_file(path, "holds no lines (it decompresses to nothing)" if compressed else "holds no lines")
    if columns:
        names = next(csv.reader([header.decode("utf-8")]), [])
        missing = [c for c in columns if c not in names]
        if missing:
            raise _bad_file(path, f"lacks the column{'s' * (len(missing) > 1)} {', '.join(missing)} "
                                  f"(its header is {header.decode('utf-8')[:80]!r})")
        if lines < 2:
            raise _bad_file(path, "has a header but no rows")


def check_data_files(paths: Iterable[str | os.PathLike], columns: Sequence[str] = ()) -> None:
    """`check_data_file` on each path not yet read through unchanged (a record in the cache directory), so
    that a bad file fails here, before any work, even where `datasets` would serve an old cache of it."""
    verified, passed = _read_verified(), {}
    for path in map(Path, paths):
        if not os.access(path, os.R_OK):
            raise _unreadable(path)
        key = f"{path.resolve()}|{','.join(columns)}"
        identity = _file_identity(path)
        if verified.get(key) != identity:
            check_data_file(path, columns)
            passed[key] = identity
    if passed:
        _remember_verified(passed)


def load_dataset(builder: str, data_files: Mapping[str, str | os.PathLike], *, columns: Sequence[str] = (),
                 **kwargs):
    """`datasets.load_dataset(builder, data_files=...)` offline, on local files checked first
    (`check_data_files`; `columns`: what a CSV's header must name). Any fault is a one-line DataFileError
    that names the file; if every file reads fine, it names the `datasets` cache instead."""
    paths = {split: Path(p) for split, p in data_files.items()}
    check_data_files(paths.values(), columns)
    import datasets

    _force_offline()
    try:
        with _datasets_quiet(datasets):
            return datasets.load_dataset(builder, data_files={s: str(p) for s, p in paths.items()}, **kwargs)
    except Exception as err:
        for path in paths.values():
            try:
                check_data_file(path, columns)  # read anew: name the culprit if one file is at fault
            except DataFileError as bad:
                raise bad from None
        root = err  # datasets wraps the parser's error in "An error occurred while generating the dataset"
        for _ in range(10):
            inner = root.__cause__ or root.__context__
            if inner is None:
                break
            root = inner
        summary = (str(root).strip().splitlines() or [""])[0][:200]
        cache = getattr(datasets.config, "HF_DATASETS_CACHE", "~/.cache/huggingface/datasets")
        raise DataFileError(
            f"could not load {', '.join(map(str, paths.values()))} ({type(root).__name__}: {summary}); the files "
            f"are whole, so a row is malformed or the datasets cache {cache} is damaged: restore "
            f"them from ../shared/data (see its README.md: SHA256SUMS) or delete that cache, and run again"
        ) from err


@contextlib.contextmanager
def _datasets_quiet(datasets):
    """No progress bars ("Generating train split: ...") and no log lines below errors from `datasets` in the
    block, so that a fault after a first load is the one line on stderr; the caller's settings come back."""
    from datasets.utils import logging as ds_logging

    bars_were_off, level = datasets.utils.are_progress_bars_disabled(), ds_logging.get_verbosity()
    datasets.utils.disable_progress_bars()
    ds_logging.set_verbosity_error()
    try:
        yield
    finally:
        ds_logging.set_verbosity(level)
        if not bars_were_off:
            datasets.utils.enable_progress_bars()


# --------------------------------------------------------------------------- atomic writes
def _atomic_write(path: str | os.PathLike, write: Callable[[str], None]) -> Path:
    """Run `write(tmp_path)` on a temporary file beside `path`, then rename it over `path`.

    The rename is atomic on POSIX, so a reader (or an interrupted run) sees the old file or the new one,
    never half of one. A write killed outright (SIGKILL, power loss) leaves its hidden `.{name}.XXXXXXXX.tmp`
    behind; the next write of the same path removes it. So two processes writing the same path at the same
    time is not supported: one may remove the other's temporary file and fail.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temporaries(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes the file private; give it the usual mode
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def _remove_stale_temporaries(path: Path) -> None:
    # Exactly mkstemp's names for this path (8 characters from its alphabet), not those of a longer name
    # that starts with it ("a.json" must spare ".a.json.bak.xxxxxxxx.tmp").
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
    """torch.save, atomically. Saved through a file object: torch names the archive inside after a file *name*,
    which here would be the random temporary one, so the same weights would give different bytes."""
    def write(tmp: str) -> None:
        with open(tmp, "wb") as f:
            torch.save(obj, f)

    return _atomic_write(path, write)


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


def safe_name(text: str) -> str:
    """A file-name-safe slug: '512 -> 512' -> '512-512', 'None' stays, '0.001' stays."""
    slug = re.sub(r"[^A-Za-z0-9._]+", "-", str(text)).strip("-.")
    return slug or "none"


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
        raise ValueError(f"curve {label!r} must be a list of numbers or a list of equal-length lists")
    return runs


def curve_limits(curves: Mapping[str, Sequence[float] | Sequence[Sequence[float]]], pad: float = 0.05
                 ) -> tuple[float, float]:
    """(low, high) that holds every point of every run of `curves`, padded by `pad` of the range: the
    shared y-scale of plots that are meant to be compared side by side."""
    values = np.concatenate([_as_runs(label, v).ravel() for label, v in curves.items()])
    low, high = float(values.min()), float(values.max())
    margin = pad * (high - low) or 0.05 * max(abs(high), 1e-3)
    return low - margin, high + margin


def zoom_limits(curves: Mapping[str, Sequence[float] | Sequence[Sequence[float]]], pad: float = 0.15
                ) -> tuple[float, float]:
    """A y-range for the part of training where the curves have settled: for each label, its mean curve over
    the second half of the epochs, from median - 3 MAD to median + 3 MAD (no wider than that half's own
    range); then the union over labels, padded by `pad` of its width.

    The median and the MAD rather than the min and max, so that one epoch's spike (or a run that diverges)
    does not stretch the range that the other curves need to be told apart.
    """
    lows, highs = [], []
    for label, values in curves.items():
        mean = _as_runs(label, values).mean(axis=0)
        tail = mean[len(mean) // 2:]
        center = float(np.median(tail))
        spread = 3 * 1.4826 * float(np.median(np.abs(tail - center)))  # 3 standard deviations, were it normal
        lows.append(max(float(tail.min()), center - spread))
        highs.append(min(float(tail.max()), center + spread))
    low, high = min(lows), max(highs)
    margin = pad * (high - low) or 0.05 * max(abs(high), 1e-3)
    return low - margin, high + margin


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

    One line per label, x = 1..E; a label whose value is a list of runs (seeds x epochs) is drawn as the mean
    with a band from the lowest to the highest run. `ylim` fixes the y-range (otherwise it fits the data).
    `zoom` adds a right-hand panel with the mean curves on the y-range of `zoom_limits`, so that a curve
    that spikes or diverges in the left panel does not flatten the others.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = {label: _as_runs(label, values) for label, values in curves.items()}
    fig, axes = plt.subplots(1, 2 if zoom else 1, figsize=(12, 4.2) if zoom else (6.4, 4.2), squeeze=False)
    axes = axes[0]
    for panel, ax in enumerate(axes):
        for label, runs in data.items():
            x = np.arange(1, runs.shape[1] + 1)
            (line,) = ax.plot(x, runs.mean(axis=0), marker="o", markersize=2.5, label=label)
            # The zoom panel shows means only: one seed's spike would otherwise paint a band over the rest.
            if runs.shape[0] > 1 and panel == 0:
                ax.fill_between(x, runs.min(axis=0), runs.max(axis=0), color=line.get_color(), alpha=0.15, lw=0)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.grid(alpha=0.3)
    if ylim is not None:
        axes[0].set_ylim(*ylim)
    if zoom:
        axes[0].set_title("all epochs, full range", fontsize="medium")
        axes[1].set_ylim(*zoom_limits(curves))
        axes[1].set_title("zoom: means only, on where they settle (spikes leave the panel)", fontsize="medium")
        axes[1].legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
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
    xlabel: str = "Epoch",
    title: str | None = None,
    *,
    ylim: tuple[float, float] | None = None,
    zoom: bool = False,
) -> Path:
    """Draw `curves_figure(curves, ...)` and save it atomically to `save_fig_path`."""
    import matplotlib.pyplot as plt

    fig = curves_figure(curves, ylabel, xlabel, title, ylim=ylim, zoom=zoom)
    try:
        return atomic_savefig(fig, save_fig_path)
    finally:
        plt.close(fig)


# --------------------------------------------------------------------------- runtime
def set_seed(seed: int) -> torch.Generator:
    """Seed python, numpy and torch; return a torch.Generator seeded the same, for data order."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def get_device(name: str | None = None) -> torch.device:
    """The torch device for `name`: 'auto' (or None) picks CUDA, then Apple's MPS, then the CPU; 'cpu', 'cuda',
    'cuda:N' and 'mps' must exist here. ValueError naming the device and the way out otherwise.

    Under torchrun it is this process's device as `choose_device` decides it from LOCAL_RANK and
    LOCAL_WORLD_SIZE, so that every caller (the command line, the training loop) agrees on it."""
    return choose_device(name, *local_ranks())[0]


def local_ranks() -> tuple[int, int]:
    """(local rank, local world size): this process's place among torchrun's processes on this machine;
    (0, 1) for a plain run. A launcher that sets WORLD_SIZE but not LOCAL_WORLD_SIZE counts as one machine."""
    world = int(os.environ.get("WORLD_SIZE", 1))
    return int(os.environ.get("LOCAL_RANK", 0)), int(os.environ.get("LOCAL_WORLD_SIZE", world))


def choose_device(requested: str | None, local_rank: int = 0, local_world_size: int = 1,
                  gpu_count: int | None = None) -> tuple[torch.device, str, str]:
    """Where one of `local_world_size` processes on this machine runs: (device, torch.distributed backend,
    a one-line message saying it). `gpu_count` defaults to the CUDA devices present.

    One process: 'auto' picks CUDA, then MPS, then the CPU. Several processes (torchrun): each needs a GPU of
    its own, the one of its local rank, so 'auto' is CUDA with NCCL only when `local_world_size` is at most
    `gpu_count`, and otherwise the CPU with gloo (a process given a GPU index that is not there would fail
    in set_device, and two processes on one GPU are not what DistributedDataParallel expects); 'cuda' with
    more processes than GPUs is refused. ValueError naming the device and the way out."""
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
            return device, "nccl", f"{n} process(es) on this machine, each on a GPU of its own (nccl)"
        if not several and mps is not None and mps.is_available():
            return torch.device("mps"), "gloo", "1 process on Apple's MPS device"
        if gpu_count:
            return (torch.device("cpu"), "gloo",
                    f"{n} processes on this machine but {gpu_count} GPU(s): each process needs a GPU of its own, "
                    f"so all train on the CPU (gloo); run torchrun with --nproc_per_node {gpu_count} to use the GPUs")
        return torch.device("cpu"), "gloo", f"{n} process(es) on this machine run on the CPU (gloo)"
    if device.type == "mps":
        if mps is None or not mps.is_available():
            raise ValueError(f"device {requested!r}: no MPS device on this machine; use --device auto or cpu")
        return device, "gloo", "Apple's MPS device"
    if not gpu_count or (device.index or 0) >= gpu_count:
        raise ValueError(f"device {requested!r}: no such CUDA device on this machine; use --device auto or cpu")
    if not several:
        return device, "nccl", "1 process on a GPU"
    if device.index is not None:
        raise ValueError(f"device {requested!r}: under torchrun each process takes the GPU of its local rank; "
                         f"use --device cuda")
    if n > gpu_count:
        raise ValueError(f"device {requested!r}: {n} processes on this machine (LOCAL_WORLD_SIZE) but {gpu_count} "
                         f"GPU(s), and each process needs one of its own; run torchrun with --nproc_per_node "
                         f"{gpu_count} or fewer, or use --device cpu")
    return torch.device("cuda", local_rank), "nccl", f"{n} processes on this machine, each on a GPU of its own (nccl)"


def distributed_env() -> tuple[int, int, int]:
    """(rank, world size, local rank) of this process as torchrun sets them; (0, 1, 0) for a plain run."""
    return tuple(int(os.environ.get(k, d)) for k, d in (("RANK", 0), ("WORLD_SIZE", 1), ("LOCAL_RANK", 0)))


class ConfigError(ValueError):
    """A config field out of range: "LMConfig.lr must be finite and > 0, got -1.0". `field`, `expected` and
    `value` let the command line name its flag instead."""

    def __init__(self, config: str, field: str, expected: str, value):
        super().__init__(f"{config}.{field} must be {expected}, got {value!r}")
        self.field, self.expected, self.value = field, expected, value


class TrainingDiverged(ArithmeticError):
    """The training loss became NaN or infinite; the message names the epoch, the step and the learning rate."""


@contextlib.contextmanager
def torch_threads(n: int | None):
    """Run the block with `n` intra-op CPU threads (None: leave as is), then restore the previous number.

    Small models (the sentiment MLP's 64 x 512 matmuls) gain nothing from a second thread, and when another
    process holds the other core, OpenMP's waiting threads make every step many times slower.
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
    """Eval mode (no dropout) for the block, and no autograd graph unless `grad`; the model's previous mode is
    restored after it, even when the block raises."""
    was_training = model.training
    model.eval()
    try:
        with contextlib.nullcontext() if grad else torch.no_grad():
            yield model
    finally:
        model.train(was_training)


def keep_freed_memory() -> bool:
    """Make glibc keep freed memory for reuse instead of handing it back to the OS; True if it took effect.

    glibc serves an allocation above its mmap threshold (128 KiB at first, rising to at most 32 MiB) with a
    fresh mapping that it unmaps on free, and it returns the top of the heap to the OS once more than its trim
    threshold is free. A training step allocates and frees the same large buffers every time (the (2048,
    32505) logits of a full softmax are 266 MB; the embedding gradients; the tails' log-softmax), so every
    step page-faults them in anew. Raising both thresholds keeps those pages mapped (README: what it measured).
    Results are bit for bit the same. Process-wide, so call it from an entry point; a no-op
    (False) without glibc.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes
        libc = ctypes.CDLL("libc.so.6")
        m_trim_threshold, m_mmap_threshold = -1, -3  # from glibc's malloc.h
        # Allocations below 1 GiB come from the heap, and the heap is given back only above 2 GiB free.
        ok = libc.mallopt(m_mmap_threshold, 1 << 30) == 1 and libc.mallopt(m_trim_threshold, (1 << 31) - 1) == 1
        return bool(ok)
    except (OSError, AttributeError):
        return False


@contextlib.contextmanager
def gc_paused():
    """Pause Python's cyclic garbage collector for a block that builds millions of small lists and strings
    but no reference cycles: each collection would walk all of them again."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


_fork_context = None  # what fork_map's worker processes share with their parent, set in each worker
_jobs_running = False  # True while fork_map runs jobs, in a worker or inline: their bars would fight the caller's


def _fork_init(fn, context) -> None:
    global _fork_context, _jobs_running
    _fork_context, _jobs_running = (fn, context), True
    torch.set_num_threads(1)  # as DataLoader workers do: the processes together already use the cores
    # Ctrl-C reaches the whole process group: the parent alone handles it (it stops the pool), so a worker that
    # is still starting cannot swallow it and let the run go on.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _fork_call(item):
    fn, context = _fork_context
    return fn(context, item)


def fork_imap(fn: Callable, items: Sequence, workers: int, context=None) -> Iterator:
    """`fn(context, item)` for each item, yielded in the order of `items` as they finish, from `workers` forked
    processes (one thread each).

    Fork lets the workers share `context` (an embedding table, datasets) with this process instead of
    receiving a pickled copy; items and results are pickled. Where fork is unavailable (Windows, macOS
    defaults), inside a worker, once this process has initialised CUDA, or with `workers` <= 1 or a single
    item, it runs here, in order. Progress
    bars of the jobs themselves stay off (`progress`), so the caller can show one bar for them all.
    """
    import multiprocessing as mp

    global _jobs_running
    workers = min(workers, len(items))
    # A process that has initialised CUDA does not fork: a child could not use CUDA ("Cannot re-initialize
    # CUDA in forked subprocess"), so jobs that might (a sweep's runs on a GPU) run here instead.
    if (workers <= 1 or "fork" not in mp.get_all_start_methods() or mp.current_process().daemon
            or torch.cuda.is_initialized()):
        outer, _jobs_running = _jobs_running, True
        try:
            for item in items:
                result = fn(context, item)
                _jobs_running = outer  # the caller's code runs between two results
                yield result
                _jobs_running = True
        finally:
            _jobs_running = outer
        return
    with _interrupt_held() as pressed:
        pool = mp.get_context("fork").Pool(workers, initializer=_fork_init, initargs=(fn, context))
    with pool:  # terminates the workers however the block ends
        if pressed:
            raise KeyboardInterrupt
        yield from pool.imap(_fork_call, items, chunksize=1)


@contextlib.contextmanager
def _interrupt_held():
    """Hold Ctrl-C while the block forks, and yield the list of presses: a KeyboardInterrupt raised inside one
    of Python's at-fork hooks is printed and dropped ("Exception ignored in ..."), and the run would go on."""
    import threading

    pressed: list = []
    if threading.current_thread() is not threading.main_thread():
        yield pressed
        return
    previous = signal.signal(signal.SIGINT, lambda signum, frame: pressed.append(signum))
    try:
        yield pressed
    finally:
        signal.signal(signal.SIGINT, previous)


def fork_map(fn: Callable, items: Sequence, workers: int, context=None) -> list:
    """`[fn(context, item) for item in items]` by `fork_imap`: the output does not depend on `workers`."""
    return list(fork_imap(fn, items, workers, context))


def default_workers() -> int:
    """Worker processes for independent jobs: one per core, at most 2 (what a laptop spares)."""
    return max(1, min(2, os.cpu_count() or 1))


def progress(iterable: Iterable | None = None, **kwargs):
    """tqdm that stays quiet when stderr is not a terminal (CI logs, pipes) and inside fork_map's jobs."""
    from tqdm.auto import tqdm

    kwargs.setdefault("disable", _jobs_running or not sys.stderr.isatty())
    kwargs.setdefault("leave", False)
    kwargs.setdefault("dynamic_ncols", True)
    return tqdm(iterable, **kwargs)


# --------------------------------------------------------------------------- tokenizer
# A regex rendition of the Penn Treebank tokenizer (nltk.tokenize.TreebankWordTokenizer). Every rule looks at
# most one whitespace-delimited piece at a time (a line end counts as whitespace), so a text's tokens are the
# concatenation of its pieces' tokens. That lets a corpus be tokenized piece by distinct piece: 35,000 IMDB
# reviews hold 9 million pieces but only a few hundred thousand distinct ones, and the rules run once over
# those joined by newlines.
_TAG = re.compile(r"</?[A-Za-z][^<>\n\x00]*>")
def _spaced(match: re.Match) -> str:
    return f" {match.group()} "


# Replacements are constant strings where they can be (re runs those in C) and `_spaced` elsewhere; context
# sits in look-arounds, so a rule never consumes the character next to what it splits off.
_TREEBANK_RULES: list[tuple[re.Pattern, str | Callable]] = [
    (re.compile(r"(?:^|(?<=[ \t(\[{<]))(?:\"|'')", re.M), " `` "),  # opening quotes
    (re.compile(r"``"), " `` "),
    (re.compile(r",(?!\d)"), " , "),  # 1,000 stays whole
    (re.compile(r":(?!\d)"), " : "),  # so does 3:2
    (re.compile(r"\.\.\."), " ... "),
    (re.compile(r"[;@#$%&?!\]\[(){}<>]"), _spaced),
    # Unlike nltk (which first splits sentences with punkt), split a period that ends a word.
    (re.compile(r"(?<=[^.\s])\.(?=[\]\)}>\"'\s]|$)", re.M), " . "),
    (re.compile(r"(?<=[^'])'(?=[ \t]|$)", re.M), " ' "),
    (re.compile(r"--"), " -- "),
    (re.compile(r'"'), " '' "),  # closing quotes
    (re.compile(r"(?<=\S)''"), " '' "),
    (re.compile(r"(?<=[^' \t\n])(?:'[sSmMdD]|'ll|'LL|'re|'RE|'ve|'VE|n't|N'T)(?=[ \t]|$)", re.M), _spaced),
    # nltk's CONTRACTIONS2/3 ("cannot" -> "can not", "gonna" -> "gon na"), as one pass
    (re.compile(r"\b(can)(not)\b|\b(d)('ye)\b|\b(gim)(me)\b|\b(gon)(na)\b|\b(got)(ta)\b|\b(lem)(me)\b"
                r"|\b(wan)(na)(?=[ \t]|$)", re.I | re.M), lambda m: " ".join(g for g in m.groups() if g)),
]


_SPLIT_WORDS = frozenset(["cannot", "gimme", "gonna", "gotta", "lemme", "wanna"])


def clean_text(text: str) -> str:
    """Drop HTML markup (IMDB reviews carry `<br />`) and decode entities such as `&amp;`."""
    return html.unescape(_TAG.sub(" ", text))


def split_pieces(texts: Sequence[str], lowercase: bool = True) -> list[list[str]]:
    """Each text cleaned (`clean_text`), optionally lowercased, and split on whitespace."""
    joined = "\n".join(t.replace("\n", " ").replace("\r", " ") if t else "" for t in texts)
    joined = clean_text(joined.lower() if lowercase else joined)
    return [line.split() for line in joined.split("\n")] if texts else []


def tokenize_pieces(pieces: Sequence[str]) -> list[list[str]]:
    """Treebank tokens of each whitespace-free piece: ["don't", 'movie!'] -> [['do', "n't"], ['movie', '!']]."""
    tokens = [[p] for p in pieces]
    # Letters and digits alone stay one token (most pieces), except the few words the last rule splits.
    todo = [i for i, p in enumerate(pieces) if not p.isalnum() or p.lower() in _SPLIT_WORDS]
    joined = "\n".join([pieces[i] for i in todo])
    for pattern, repl in _TREEBANK_RULES:
        joined = pattern.sub(repl, joined)
    lines = joined.split("\n") if todo else []
    assert len(lines) == len(todo), "a tokenizer rule crossed a piece boundary"
    for i, line in zip(todo, lines):
        tokens[i] = line.split()
    return tokens


def tokenize_many(texts: Sequence[str], lowercase: bool = True) -> list[list[str]]:
    """Treebank-tokenize many texts: [`"Don't go!"`] -> [['do', "n't", 'go', '!']]."""
    with gc_paused():
        piece_lists = split_pieces(texts, lowercase)
        distinct = list(dict.fromkeys(p for pieces in piece_lists for p in pieces))
        tokens_of = dict(zip(distinct, tokenize_pieces(distinct)))
        return [[tok for p in pieces for tok in tokens_of[p]] for pieces in piece_lists]


def word_tokenize(text: str, lowercase: bool = False) -> list[str]:
    """nltk.word_tokenize-like tokens of one text: `"movie!"` -> ['movie', '!']."""
    return tokenize_many([text], lowercase=lowercase)[0]


# --------------------------------------------------------------------------- word vectors
class WordVectors:
    """A word -> vector table with the parts of gensim's KeyedVectors that this package uses.

    `table["movie"]` (a float32 array; KeyError if unknown), `"movie" in table`, `len(table)`,
    `key_to_index`, `index_to_key`, `vectors` (V, D) and `vector_size` D.
    """

    def __init__(self, index_to_key: Sequence[str], vectors: np.ndarray):
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[0] != len(index_to_key):
            raise ValueError(f"need one row per word: {len(index_to_key)} words, vectors of shape {vectors.shape}")
        self.index_to_key = list(index_to_key)
        self.key_to_index = {w: i for i, w in enumerate(self.index_to_key)}
        self.vectors = vectors
        self.vector_size = int(vectors.shape[1])

    def __getitem__(self, word: str) -> np.ndarray:
        return self.vectors[self.key_to_index[word]]

    def __contains__(self, word: str) -> bool:
        return word in self.key_to_index

    def __len__(self) -> int:
        return len(self.index_to_key)

    def get_index(self, word: str, default=None):
        return self.key_to_index.get(word, default)

    def has_index_for(self, word: str) -> bool:
        return word in self.key_to_index

    def __repr__(self) -> str:
        return f"WordVectors({len(self)} words x {self.vector_size} dims)"


class EmbeddingsFormatError(ValueError):
    """The embeddings text file is malformed; the message names the file and the line."""


def default_cache_dir() -> Path:
    """$HW3_CACHE_DIR, else $XDG_CACHE_HOME/hw3, else ~/.cache/hw3: outside the repository."""
    if os.environ.get(CACHE_DIR_ENV):
        return Path(os.environ[CACHE_DIR_ENV])
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "hw3"


def parse_embeddings_text(path: str | os.PathLike, limit: int | None = None) -> WordVectors:
    """Parse a GloVe/word2vec-style text file (optionally .gz): `word v1 ... vD` per line, no header.

    A word2vec header line `count dim` is skipped. Every line must hold the same number of numbers (the count
    most lines hold) and every number must be finite; the first line that breaks either raises
    EmbeddingsFormatError naming the file and its 1-based line number. A file that cannot be read through
    (unreadable, not gzip, truncated, not UTF-8) raises DataFileError.
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8") as f:
            lines = f.read().splitlines() if limit is None else [line for _, line in zip(range(limit + 1), f)]
    except (OSError, EOFError, zlib.error, UnicodeDecodeError):
        check_data_file(path)  # a one-line DataFileError that says what is wrong with the file
        raise
    first = 0
    if lines and len(lines[0].split()) == 2 and all(p.isdigit() for p in lines[0].split()):
        first = 1  # word2vec header
    lines = [line.rstrip("\n") for line in lines[first:]]
    if limit is not None:
        lines = lines[:limit]
    if not lines:
        raise EmbeddingsFormatError(f"{path}: no vectors found (the file is empty)")
    words, rests = [], []
    for line in lines:
        word, _, rest = line.rstrip().partition(" ")
        words.append(word)
        rests.append(rest)
    # Counting separators is ~10x cheaper than splitting every line; only odd lines are split.
    seps = np.fromiter((r.count(" ") for r in rests), dtype=np.int64, count=len(rests))
    # The dimension is what most lines hold, not what the first line holds, so that a short first line is
    # the one blamed; on a tie, the count that comes first in the file.
    tally = np.bincount(seps)
    usual = seps[np.isin(seps, np.flatnonzero(tally == tally.max())).argmax()]
    dim = len(rests[int(np.argmax(seps == usual))].split())
    for i in np.flatnonzero(seps != dim - 1).tolist() if dim else [0]:
        found = len(rests[i].split())
        if found != dim or dim == 0:
            raise EmbeddingsFormatError(
                f"{path}, line {i + 1 + first}: expected a word and {dim or 'some'} numbers, "
                f"found {found}: {lines[i][:60]!r}"
            )
    try:
        flat = np.fromstring(" ".join(rests), dtype=np.float32, sep=" ")  # numpy's C parser
    except ValueError:  # a value is not a number: find its line (slow, but only on the error path)
        for i, rest in enumerate(rests):
            try:
                np.array(rest.split(), dtype=np.float32)
            except ValueError:
                raise EmbeddingsFormatError(
                    f"{path}, line {i + 1 + first}: a value is not a number: {lines[i][:60]!r}"
                ) from None
        raise
    if not np.isfinite(flat).all():  # nan and inf parse as numbers, and would spread through every average
        i = int(np.flatnonzero(~np.isfinite(flat))[0]) // dim
        raise EmbeddingsFormatError(
            f"{path}, line {i + 1 + first}: a value is not finite (nan or inf): {lines[i][:60]!r}"
        )
    return WordVectors(words, flat.reshape(len(words), dim))


class _DamagedCache(Exception):
    def __init__(self, path: Path, problem: str):
        super().__init__(f"{path} {problem}")
        self.path, self.problem = path, problem


def _read_whole(path: Path) -> bytearray:
    """The file's bytes in a bytearray, so that an array made over them is writable without a copy."""
    try:
        with open(path, "rb") as f:
            buf = bytearray(os.fstat(f.fileno()).st_size)
            n = f.readinto(buf)
    except OSError as err:
        raise _DamagedCache(path, f"cannot be read ({err.strerror or err})") from None
    return buf if n == len(buf) else buf[:n]


def _npy_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(array, dtype=np.float32))
    return buf.getvalue()


def _read_glove_cache(words_file: Path, vectors_file: Path, check_file: Path) -> WordVectors:
    """The cached table, after both files match the SHA-256 sums and the shape in `check_file`; _DamagedCache
    naming the first file that does not."""
    if not check_file.is_file():
        raise _DamagedCache(check_file, "is missing (an interrupted write, or a cache from before checksums)")
    try:
        check = json.loads(check_file.read_text(encoding="utf-8"))
        shape = tuple(int(n) for n in check["shape"])
        sums = {words_file: check["words_sha256"], vectors_file: check["vectors_sha256"]}
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise _DamagedCache(check_file, f"cannot be read ({type(err).__name__}: {err})") from None
    data = {}
    for file, expected in sums.items():
        data[file] = _read_whole(file)
        if hashlib.sha256(data[file]).hexdigest() != expected:
            raise _DamagedCache(file, f"does not match its SHA-256 in {check_file.name}")
    words = data[words_file].decode("utf-8").split("\n")
    try:  # the bytes are the ones written, so this only guards against a check file that lies about them
        header = io.BytesIO(bytes(data[vectors_file][:4096]))
        if np.lib.format.read_magic(header) != (1, 0):
            raise ValueError("not a version 1.0 .npy file")
        npy_shape, fortran, dtype = np.lib.format.read_array_header_1_0(header)
        if npy_shape != shape or fortran or dtype != np.float32 or len(words) != shape[0]:
            raise ValueError(f"{len(words)} words and vectors {npy_shape} {dtype}, expected {shape} float32")
        vectors = np.frombuffer(data[vectors_file], dtype=np.float32, count=math.prod(shape),
                                offset=header.tell()).reshape(shape)
    except ValueError as err:
        raise _DamagedCache(vectors_file, f"does not agree with {check_file.name} ({err})") from None
    return WordVectors(words, vectors)


def _write_glove_cache(table: WordVectors, words_file: Path, vectors_file: Path, check_file: Path) -> None:
    """Both files, then the check file with their sums: written last, so that it vouches only for whole files."""
    vectors, words = _npy_bytes(table.vectors), "\n".join(table.index_to_key).encode("utf-8")
    for file, data in ((vectors_file, vectors), (words_file, words)):
        _atomic_write(file, lambda tmp, data=data: Path(tmp).write_bytes(data))
    atomic_write_json({"source": "utils.load_glove", "shape": list(table.vectors.shape),
                       "words_sha256": hashlib.sha256(words).hexdigest(),
                       "vectors_sha256": hashlib.sha256(vectors).hexdigest()}, check_file)


def load_glove(
    path: str | os.PathLike | None = None,
    data_dir: str | os.PathLike | None = None,
    limit: int | None = None,
    cache_dir: str | os.PathLike | None = None,
    verbose: bool = True,
) -> WordVectors:
    """Load GloVe (default: glove.6B.50d in the data directory) as WordVectors.

    The first load parses the text and writes a binary cache outside the repo (`default_cache_dir()`): the
    words as text, the vectors as .npy, and a JSON file with the SHA-256 of both and the shape. Later loads
    read the cache, after checking it against those sums; a cache that fails the check (damaged, cut short,
    swapped) is named in one line on stderr and rebuilt from the text. The cache key covers the file's path,
    size and modification time, so a changed file is parsed anew.
    """
    path = Path(path) if path is not None else data_path(*GLOVE_FILE, data_dir=data_dir)
    if not path.is_file():
        raise DataNotFoundError(f"embeddings file not found: {path}")
    stat = path.stat()
    key = hashlib.sha1(f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{limit}".encode()).hexdigest()[:16]
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    stem = cache / f"{path.name}.{key}"
    files = (Path(f"{stem}.words.txt"), Path(f"{stem}.vectors.npy"), Path(f"{stem}.sha256.json"))
    if any(f.exists() for f in files):
        try:
            return _read_glove_cache(*files)
        except _DamagedCache as damage:
            print(f"embeddings cache {damage.path} {damage.problem}; rebuilding it from {path}", file=sys.stderr)
    elif verbose:  # on stdout: stderr is for faults, so that a bad file is the one line there
        print(f"parsing {path} once; later runs read the binary cache in {cache}", flush=True)
    table = parse_embeddings_text(path, limit=limit)
    try:
        _write_glove_cache(table, *files)
    except OSError as err:  # a read-only home still gets its vectors, just without a cache
        print(f"warning: could not write the embeddings cache in {cache}: {err}", file=sys.stderr)
    return table
