"""The data files: where the data lives (`resolve_data_dir`, `data_path`), the checks that read a
file through once and name it in a one-line error when it is missing, unreadable, truncated or
corrupt (`check_data_file`), and Hugging Face `datasets` loading, offline, with the same one-line
errors (`load_dataset`). Both models read their data through here (mlp.load_data_mlp,
nplm/corpus.load_data_mlp_lm)."""

from __future__ import annotations

import codecs
import contextlib
import csv
import gzip
import json
import os
import sys
import zlib
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from utils import REPO_DIR, atomic_write_json, default_cache_dir


DATA_DIR_ENV = "HW3_DATA_DIR"
DEFAULT_DATA_DIR = REPO_DIR.parent / "shared" / "data"


# --------------------------------------------------------------------------- data location
class DataNotFoundError(FileNotFoundError):
    """A data file or directory is missing; the message says where we looked and how to point
    elsewhere."""


FETCH_HINT = "run `python main.py data` to fetch the data sets (docs/data.md)"


def user_data_dir() -> Path:
    """Where `python main.py data` puts the data when no folder is named and ../shared/data does not
    exist: `default_cache_dir()/data` ($HW3_CACHE_DIR/data, else $XDG_CACHE_HOME/hw3/data, else
    ~/.cache/hw3/data)."""
    return default_cache_dir() / "data"


def data_dir_choice(data_dir: str | os.PathLike | None = None) -> tuple[Path, str]:
    """(folder, where the choice came from), existing or not: `data_dir` (--data-dir), else
    $HW3_DATA_DIR, else ../shared/data beside the repo where it exists, else `user_data_dir()`."""
    if data_dir is not None:
        return Path(data_dir), "--data-dir"
    if os.environ.get(DATA_DIR_ENV):
        return Path(os.environ[DATA_DIR_ENV]), f"${DATA_DIR_ENV}"
    if DEFAULT_DATA_DIR.is_dir():
        return DEFAULT_DATA_DIR, "the default"
    return user_data_dir(), "the default, as ../shared/data does not exist"


def resolve_data_dir(data_dir: str | os.PathLike | None = None) -> Path:
    """The data directory (`data_dir_choice`); a one-line DataNotFoundError if it does not exist."""
    path, source = data_dir_choice(data_dir)
    if not path.is_dir():
        raise DataNotFoundError(
            f"data directory not found: {path} (from {source}); {FETCH_HINT}, "
            f"or pass --data-dir DIR or set {DATA_DIR_ENV}=DIR to the folder holding imdb/, glove/ "
            f"and wikitext-2/"
        )
    return path


def data_path(
    *parts: str, data_dir: str | os.PathLike | None = None, fetch: str = "python main.py data"
) -> Path:
    """Path of one data file under the data directory; a one-line DataNotFoundError if it is absent,
    naming the command that fetches it (`fetch`)."""
    root = resolve_data_dir(data_dir)
    path = root.joinpath(*parts)
    if not path.is_file():
        raise DataNotFoundError(
            f"data file not found: {path}; run `{fetch}` to fetch it, or pass --data-dir DIR or "
            f"set {DATA_DIR_ENV}=DIR to a folder that has {'/'.join(parts)} (see docs/data.md)"
        )
    return path


class DataFileError(ValueError):
    """A data file exists but cannot be used (unreadable, not gzip, truncated, empty, lacking a
    column); the message names the file, says what is wrong and how to restore it."""


# a student has no ../shared/data: the fix is to fetch the file anew, never over the user's own
RESTORE_HINT = "move it away and run `python main.py data` to fetch it again (docs/data.md)"
# in default_cache_dir(): data files already read through once
VERIFIED_FILE = "verified_data_files.json"
_GZIP_MAGIC = b"\x1f\x8b"


def _bad_file(path: Path, problem: str, fix: str = RESTORE_HINT) -> DataFileError:
    return DataFileError(f"data file {path} {problem}; {fix}")


def _unreadable(path: Path) -> DataFileError:
    return _bad_file(
        path,
        "cannot be read (permission denied)",
        f"make it readable (chmod a+r) or {RESTORE_HINT}",
    )


OFFLINE_SWITCHES = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "HF_HUB_DISABLE_TELEMETRY")


def _force_offline() -> None:
    """The package never opens a network connection, and without these switches every load_dataset
    sends a request (a download-count ping to the Hub) even for local files. `datasets` and
    `huggingface_hub` read the environment once, when imported: so set it before they are, and turn
    on the switches of a copy that someone imported earlier."""
    for switch in OFFLINE_SWITCHES:
        os.environ[switch] = "1"
    for module_name, names in (
        ("datasets.config", ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")),
        ("huggingface_hub.constants", ("HF_HUB_OFFLINE", "HF_HUB_DISABLE_TELEMETRY")),
    ):
        module = sys.modules.get(module_name)
        for name in names:
            if module is not None and hasattr(module, name):
                setattr(module, name, True)


def _file_identity(path: Path) -> list:
    # ctime moves on every change to the file, even one that puts its mtime back (cp -p, touch -r,
    # rsync -a)
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
    """Read the whole file (through gzip for .gz) and raise a one-line DataFileError naming it if it
    cannot be read, is not gzip, is truncated or corrupt, is not UTF-8, is empty, or (with
    `columns`, for a CSV) has no data row or a header that lacks one of `columns`."""
    path = Path(path)
    compressed = path.suffix == ".gz"
    header, lines, last, offset = None, 0, b"\n", 0
    try:
        with open(path, "rb") as raw:
            if path.stat().st_size == 0:
                raise _bad_file(path, "is empty (0 bytes)")
            if compressed and raw.read(2) != _GZIP_MAGIC:
                raise _bad_file(
                    path, "is not a gzip file (it does not start with the gzip magic bytes 1f 8b)"
                )
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
        # err.object: the bytes the decoder held, ending at offset
        where = offset + err.start - len(err.object)
        raise _bad_file(
            path, f"is not UTF-8 text ({err.reason} at byte offset {where} of its text)"
        ) from None
    except OSError as err:
        raise _bad_file(path, f"cannot be read ({err.strerror or err})") from None
    lines += last != b"\n"  # a last line without a line end
    if lines == 0:
        raise _bad_file(
            path, "holds no lines (it decompresses to nothing)" if compressed else "holds no lines"
        )
    if columns:
        names = next(csv.reader([header.decode("utf-8")]), [])
        missing = [c for c in columns if c not in names]
        if missing:
            raise _bad_file(
                path,
                f"lacks the column{'s' * (len(missing) > 1)} {', '.join(missing)} "
                f"(its header is {header.decode('utf-8')[:80]!r})",
            )
        if lines < 2:
            raise _bad_file(path, "has a header but no rows")


def check_data_files(paths: Iterable[str | os.PathLike], columns: Sequence[str] = ()) -> None:
    """`check_data_file` on each path not yet read through unchanged (a record in the cache
    directory), so that a bad file fails here, before any work, even where `datasets` would serve an
    old cache of it."""
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


def load_dataset(
    builder: str,
    data_files: Mapping[str, str | os.PathLike],
    *,
    columns: Sequence[str] = (),
    **kwargs,
):
    """`datasets.load_dataset(builder, data_files=...)` offline, on local files checked first
    (`check_data_files`; `columns`: what a CSV's header must name). Any fault is a one-line
    DataFileError that names the file; if every file reads fine, it names the `datasets` cache
    instead."""
    paths = {split: Path(p) for split, p in data_files.items()}
    check_data_files(paths.values(), columns)
    _force_offline()
    import datasets

    _force_offline()  # its modules now exist: set their switches too
    try:
        with _datasets_quiet(datasets):
            return datasets.load_dataset(
                builder, data_files={s: str(p) for s, p in paths.items()}, **kwargs
            )
    except Exception as err:
        for path in paths.values():
            try:
                # read anew: name the culprit if one file is at fault
                check_data_file(path, columns)
            except DataFileError as bad:
                raise bad from None
        # datasets wraps the parser's error in "An error occurred while generating the dataset"
        root = err
        for _ in range(10):
            inner = root.__cause__ or root.__context__
            if inner is None:
                break
            root = inner
        summary = (str(root).strip().splitlines() or [""])[0][:200]
        cache = getattr(datasets.config, "HF_DATASETS_CACHE", "~/.cache/huggingface/datasets")
        raise DataFileError(
            f"could not load {', '.join(map(str, paths.values()))} ({type(root).__name__}: "
            f"{summary}); the files "
            f"are whole, so a row is malformed or the datasets cache {cache} is damaged: delete "
            "that cache and run again, or move the files away and run `python main.py data` to "
            "fetch them again"
        ) from err


@contextlib.contextmanager
def _datasets_quiet(datasets):
    """No progress bars ("Generating train split: ...") and no log lines below errors from
    `datasets` in the block, so that a fault after a first load is the one line on stderr; the
    caller's settings come back."""
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
