"""Issue 13, the data side: no network, and every bad data file is one line that names it, before
any work."""

from __future__ import annotations

import builtins
import gzip
import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from common import datafiles
from nplm import corpus as lm_data
import mlp
from common import glove
import utils

REPO = Path(__file__).resolve().parents[2]
IMDB_TRAIN = ("imdb", "imdb_train.csv.gz")
WIKI_VALID = ("wikitext-2", "wiki.valid.tokens.gz")


@pytest.fixture(autouse=True)
def own_cache_dir(tmp_path, monkeypatch):
    """Records of verified files go to this test's own cache, so no test sees another's."""
    monkeypatch.setenv(utils.CACHE_DIR_ENV, str(tmp_path / "hw3-cache"))


@pytest.fixture
def data_dir(tiny_data_dir, tmp_path) -> Path:
    """A fresh copy of the tiny data set: a new path, so no `datasets` cache of it exists yet."""
    return Path(shutil.copytree(tiny_data_dir, tmp_path / "data"))


def load(kind: str, data_dir: Path):
    if kind == "imdb":
        return mlp.load_data_mlp(data_dir=data_dir)
    return lm_data.load_data_mlp_lm(data_dir=data_dir, splits=("train", "validation", "test"))


# --------------------------------------------------------------------------- offline
NETWORK_GUARD = textwrap.dedent("""
    import json, os, socket, sys, time
    sys.path[:0] = [os.environ["REPO"], os.path.join(os.environ["REPO"], "tests")]
    if os.environ.get("HANG_NETWORK"):  # a machine whose connections and name lookups never answer
        def hang(*args, **kwargs):
            time.sleep(600)
        socket.socket.connect = socket.socket.connect_ex = hang
        socket.getaddrinfo = socket.create_connection = hang
    import hermetic
    attempts = []
    hermetic.install(attempts, sockets="observe" if os.environ.get("HANG_NETWORK") else "refuse")
    data_dir = os.environ["DATA"]
""")
# seconds: each guarded run takes a few; a run that waits on the network fails here
GUARD_TIMEOUT = 60


def run_guarded(body: str, data_dir: Path, tmp_path: Path, hang_network: bool = False) -> dict:
    # as a fresh shell has it
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HW3_"))}
    # no lock or cache shared with another run
    env.update(
        REPO=str(REPO),
        DATA=str(data_dir),
        HW3_CACHE_DIR=str(tmp_path / "hw3-cache"),
        HF_HOME=str(tmp_path / "hf"),
    )
    if hang_network:
        env["HANG_NETWORK"] = "1"
    result = subprocess.run(
        [sys.executable, "-c", NETWORK_GUARD + textwrap.dedent(body)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=GUARD_TIMEOUT,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_loaders_open_no_network_connection(data_dir, tmp_path):
    out = run_guarded(
        """
        import mlp
        from nplm import corpus as lm_data
        dev, train, test = mlp.load_data_mlp(data_dir=data_dir)
        splits = lm_data.load_data_mlp_lm(data_dir=data_dir, splits=("train", "validation", "test"))
        imdb = [len(dev["text"]), len(train["text"]), len(test["text"])]
        print(json.dumps({"attempts": attempts, "imdb": imdb, "wiki": [len(s) for s in splits]}))
    """,
        data_dir,
        tmp_path,
    )
    assert out["attempts"] == []
    assert out["imdb"] == [5000, 600, 600] and out["wiki"] == [400, 80, 80]


@pytest.mark.parametrize("network", ["refusing", "hanging"])
def test_the_guard_sees_datasets_go_online_and_utils_turns_an_earlier_import_offline(
    data_dir, tmp_path, network
):
    """`datasets` imported before our loaders ran (online switches) does try the network, so the
    guard above can fail; and datafiles.load_dataset still keeps that already-imported `datasets`
    offline. The guard answers at the HTTP client `datasets` asks through, so no request reaches a
    socket: on a machine whose connections and name lookups hang ("hanging": Python's sockets made
    to wait 600 s, the guard only watching them) the test still takes seconds (a guard at the
    sockets alone would wait over a minute there)."""
    started = time.perf_counter()
    out = run_guarded(
        """
        import datasets
        test_file = os.path.join(data_dir, "wikitext-2", "wiki.test.tokens.gz")
        datasets.load_dataset("text", data_files={"train": test_file})
        online = list(attempts)
        import mlp
        mlp.load_data_mlp(data_dir=data_dir)
        print(json.dumps({"online": online, "after": attempts}))
    """,
        data_dir,
        tmp_path,
        hang_network=network == "hanging",
    )
    # caught at the client
    assert out["online"] and all(kind == "http" for kind, _ in out["online"]), out
    assert out["after"] == out["online"]
    assert time.perf_counter() - started < 30


# --------------------------------------------------------------------------- bad data files
def truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def not_gzip(path: Path) -> None:
    path.write_bytes(gzip.decompress(path.read_bytes()))  # the plain text under a .gz name


def empty_file(path: Path) -> None:
    path.write_bytes(b"")


def empty_text(path: Path) -> None:
    path.write_bytes(gzip.compress(b""))


FAULTS = {
    "truncated": (truncate, "is truncated (the gzip stream ends early)"),
    "not gzip": (not_gzip, "is not a gzip file"),
    "empty file": (empty_file, "is empty (0 bytes)"),
    "empty split": (empty_text, "holds no lines"),
}


def assert_one_line_naming(err: pytest.ExceptionInfo, path: Path, what: str) -> str:
    message = str(err.value)
    assert "\n" not in message
    assert str(path) in message and what in message
    assert "run `python main.py data` to fetch it again" in message and "../shared" not in message
    # no chained traceback to read
    assert err.value.__suppress_context__ or err.value.__cause__ is None
    return message


@pytest.mark.parametrize("kind, parts", [("imdb", IMDB_TRAIN), ("wiki", WIKI_VALID)])
@pytest.mark.parametrize("fault", FAULTS)
def test_a_bad_data_file_is_one_line_naming_it(data_dir, kind, parts, fault):
    corrupt, what = FAULTS[fault]
    path = data_dir.joinpath(*parts)
    corrupt(path)
    with pytest.raises(datafiles.DataFileError) as err:
        load(kind, data_dir)
    assert_one_line_naming(err, path, what)


def refuse_to_open(monkeypatch, path: Path) -> None:
    real_open = builtins.open

    def refusing_open(file, *args, **kwargs):
        if isinstance(file, (str, os.PathLike)) and Path(file) == path:
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", refusing_open)


@pytest.mark.parametrize("kind, parts", [("imdb", IMDB_TRAIN), ("wiki", WIKI_VALID)])
@pytest.mark.parametrize("how", ["os.access", "open"])
def test_an_unreadable_data_file_is_one_line_naming_it(data_dir, monkeypatch, kind, parts, how):
    """Tests run as root, whom chmod does not stop, so the refusal is simulated."""
    path = data_dir.joinpath(*parts)
    if how == "os.access":
        real_access = os.access
        monkeypatch.setattr(
            os, "access", lambda p, mode, *a, **k: Path(p) != path and real_access(p, mode, *a, **k)
        )
    else:
        refuse_to_open(monkeypatch, path)
    with pytest.raises(datafiles.DataFileError) as err:
        load(kind, data_dir)
    message = assert_one_line_naming(err, path, "cannot be read (permission denied)")
    assert "chmod a+r" in message


@pytest.mark.parametrize(
    "header, missing",
    [
        ("id,rating,label,review", "text"),
        ("id,rating,sentiment,text", "label"),
        ("a,b", "text, label"),
    ],
)
def test_an_imdb_file_without_the_text_or_label_column_is_one_line(data_dir, header, missing):
    path = data_dir.joinpath(*IMDB_TRAIN)
    rows = gzip.decompress(path.read_bytes()).decode().split("\n", 1)[1]
    path.write_bytes(gzip.compress(f"{header}\n{rows}".encode()))
    with pytest.raises(datafiles.DataFileError) as err:
        load("imdb", data_dir)
    assert_one_line_naming(err, path, f"lacks the column{'s' if ',' in missing else ''} {missing}")


def test_an_imdb_file_with_a_header_and_no_rows_is_one_line(data_dir):
    path = data_dir.joinpath(*IMDB_TRAIN)
    path.write_bytes(gzip.compress(b"id,rating,label,text\n"))
    with pytest.raises(datafiles.DataFileError) as err:
        load("imdb", data_dir)
    assert_one_line_naming(err, path, "has a header but no rows")


def test_a_file_that_is_not_utf8_is_one_line(data_dir):
    path = data_dir.joinpath(*WIKI_VALID)
    path.write_bytes(gzip.compress(b" the cat sat \n the \xff mat \n"))
    with pytest.raises(datafiles.DataFileError) as err:
        load("wiki", data_dir)
    assert_one_line_naming(
        err, path, "is not UTF-8 text (invalid start byte at byte offset 19 of its text)"
    )


@pytest.mark.parametrize("kind, parts", [("imdb", IMDB_TRAIN), ("wiki", WIKI_VALID)])
def test_a_file_corrupted_after_a_good_load_is_caught_though_its_size_and_mtime_are_kept(
    data_dir, kind, parts
):
    """`datasets` keys its Arrow cache by path and mtime, and our record of verified files would
    skip the read: a file damaged in place with its mtime put back (cp -p, rsync -a) must still
    fail, not load the old cache. Bytes in the middle of the deflate stream are flipped, so the size
    stays and the CRC breaks."""
    path = data_dir.joinpath(*parts)
    good = load(kind, data_dir)
    assert len(good[0]) > 0
    before = path.stat()
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 16] = bytes(b ^ 0xFF for b in data[middle : middle + 16])
    path.write_bytes(bytes(data))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert path.stat().st_size == before.st_size and path.stat().st_mtime_ns == before.st_mtime_ns
    with pytest.raises(datafiles.DataFileError) as err:
        load(kind, data_dir)
    assert_one_line_naming(err, path, "is corrupt (gzip: ")


def test_a_good_file_is_read_through_once_then_trusted_until_it_changes(data_dir, monkeypatch):
    reads = []
    real_check = datafiles.check_data_file
    monkeypatch.setattr(
        datafiles,
        "check_data_file",
        lambda path, *a, **k: (reads.append(Path(path).name), real_check(path, *a, **k))[1],
    )
    load("wiki", data_dir)
    assert sorted(reads) == sorted(
        ["wiki.train.tokens.partial.gz", "wiki.valid.tokens.gz", "wiki.test.tokens.gz"]
    )
    reads.clear()
    load("wiki", data_dir)
    assert reads == []
    data_dir.joinpath(*WIKI_VALID).write_bytes(gzip.compress(b" a new line \n"))
    load("wiki", data_dir)
    assert reads == ["wiki.valid.tokens.gz"]


def test_a_fault_only_datasets_sees_is_one_line_naming_the_files_and_its_cache(data_dir):
    """A row the CSV parser rejects: the files are whole gzip and UTF-8, so both they and the cache
    are named."""
    path = data_dir.joinpath(*IMDB_TRAIN)
    path.write_bytes(
        gzip.compress(gzip.decompress(path.read_bytes()) + b'9,8,1,"fine",extra,fields\n')
    )
    with pytest.raises(datafiles.DataFileError) as err:
        load("imdb", data_dir)
    message = str(err.value)
    assert "\n" not in message and str(path) in message
    assert "ParserError: Error tokenizing data" in message and "datasets cache" in message


@pytest.mark.parametrize("kind, parts", [("imdb", IMDB_TRAIN), ("wiki", WIKI_VALID)])
def test_when_datasets_fails_on_a_file_the_check_skipped_the_culprit_is_named(
    data_dir, monkeypatch, kind, parts
):
    """The file changes between the check and the load (or the record of a good read is wrong): the
    error `datasets` raises is replaced by the one line that names the file."""
    monkeypatch.setattr(datafiles, "check_data_files", lambda *args, **kwargs: None)
    path = data_dir.joinpath(*parts)
    truncate(path)
    with pytest.raises(datafiles.DataFileError) as err:
        load(kind, data_dir)
    assert_one_line_naming(err, path, "is truncated")


@pytest.mark.parametrize("fault", ["truncated", "not gzip"])
def test_a_bad_glove_file_is_one_line_naming_it(data_dir, tmp_path, fault):
    corrupt, what = FAULTS[fault]
    path = data_dir.joinpath(*glove.GLOVE_FILE)
    corrupt(path)
    with pytest.raises(datafiles.DataFileError) as err:
        glove.load_glove(data_dir=data_dir, cache_dir=tmp_path / "glove-cache", verbose=False)
    assert_one_line_naming(err, path, what)


def test_an_unreadable_glove_file_is_one_line_naming_it(data_dir, tmp_path, monkeypatch):
    path = data_dir.joinpath(*glove.GLOVE_FILE)
    refuse_to_open(monkeypatch, path)
    with pytest.raises(datafiles.DataFileError) as err:
        glove.load_glove(data_dir=data_dir, cache_dir=tmp_path / "glove-cache", verbose=False)
    assert_one_line_naming(err, path, "cannot be read (permission denied)")


# --------------------------------------------------------------------------- quiet loaders, small
# files
def test_a_first_load_prints_no_progress_lines_and_leaves_the_settings_as_they_were(
    data_dir, capfd
):
    import datasets

    bars_off = datasets.utils.are_progress_bars_disabled()
    capfd.readouterr()
    load("imdb", data_dir)  # a fresh path: `datasets` generates its splits anew
    load("wiki", data_dir)
    out, err = capfd.readouterr()
    assert err == "" and "Generating" not in out, err[-2000:]
    assert datasets.utils.are_progress_bars_disabled() == bars_off


@pytest.mark.parametrize("rows, ok", [(5000, False), (120, False), (5001, True)])
def test_an_imdb_file_too_small_for_the_courses_cut_is_one_line_with_the_counts(data_dir, rows, ok):
    from conftest import write_imdb_csv

    path = data_dir.joinpath(*IMDB_TRAIN)
    write_imdb_csv(path, rows, seed=7)
    if ok:
        dev, train, _ = load("imdb", data_dir)
        assert (len(dev["text"]), len(train["text"])) == (5000, 1)
        return
    with pytest.raises(datafiles.DataFileError) as err:
        load("imdb", data_dir)
    message = assert_one_line_naming(err, path, f"has {rows:,} rows, too few for the course's cut")
    assert "needs more than 5,000" in message


def test_a_nan_in_the_glove_file_is_exactly_one_line_on_stderr(data_dir, tmp_path):
    """Through the command line, on a first load of IMDB (no cache of it yet), where a loader that
    is not kept quiet prints four lines."""
    path = data_dir.joinpath(*glove.GLOVE_FILE)
    lines = gzip.decompress(path.read_bytes()).decode().splitlines()
    words = lines[3].split()
    words[2] = "nan"
    lines[3] = " ".join(words)
    path.write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    result = subprocess.run(
        [
            sys.executable,
            str(REPO / "main.py"),
            "mlp",
            "--quick",
            "--data-dir",
            str(data_dir),
            "--out-dir",
            str(tmp_path / "o"),
            "--ckpt-dir",
            str(tmp_path / "ck"),
        ],
        cwd=tmp_path,
        env=dict(os.environ, MPLBACKEND="Agg", HW3_CACHE_DIR=str(tmp_path / "cache")),
        capture_output=True,
        text=True,
        timeout=GUARD_TIMEOUT,
    )
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"error: {path}, line 4: a value is not finite (nan or inf): {lines[3][:60]!r}"
    ], result.stderr[-2000:]
