"""A command whose data set is missing fetches it first, from a mirror on 127.0.0.1 (loopback.py),
then runs; with --offline or $HW3_OFFLINE=1 it stops with the missing file's one line and asks
nothing of the network; a fetch that reaches no server gives up in seconds, in one line. The
suite runs with $HW3_OFFLINE=1 (conftest.py): the tests here that fetch unset it."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import loopback
from conftest import wikitext_text
import main
from common import convert, download
from common.download import DataSet, Download, Output, Source

REPO = Path(__file__).resolve().parents[2]
WIKI_URLS = [f"{download.PYTORCH_EXAMPLES}/{s}.txt" for s in ("train", "valid", "test")]


def wiki_text(n_lines: int, seed: int, tail: bytes = b"") -> bytes:
    """conftest's made-up WikiText-2 lines as a file's bytes, with `tail` after them."""
    return wikitext_text(n_lines, seed).encode() + tail


# the course's train file stops before this article (common/convert.py)
TRAIN = wiki_text(400, 3, tail=b" = Condom = \n \n A condom is a <unk> . \n")
TRAIN_PREFIX = TRAIN[: TRAIN.index(b" = Condom = ")]
VALID, TEST = wiki_text(80, 4), wiki_text(80, 5)


def mirror_files() -> dict[str, bytes]:
    return {loopback.mirror_path(u): t for u, t in zip(WIKI_URLS, (TRAIN, VALID, TEST))}


def wikitext_set() -> DataSet:
    """download.WIKITEXT with these files' checksums and pins."""
    return DataSet(
        "wikitext-2",
        (
            Output(convert.WIKI_VALID, loopback.sha256(VALID)),
            Output(convert.WIKI_TEST, loopback.sha256(TEST)),
            Output(convert.WIKI_TRAIN_PART, loopback.sha256(TRAIN_PREFIX)),
        ),
        (
            loopback.wikitext_source(WIKI_URLS, (TRAIN, VALID, TEST), "test"),
            Source(  # the second source of the real table: not served here
                "the official zip",
                (Download("https://wikitext.smerity.com/wikitext-2-v1.zip", "md5:0", None),),
                convert.wikitext_zip,
            ),
        ),
    )


@pytest.fixture
def fetching(monkeypatch):
    """Fetching allowed (this test serves a mirror), and the sources table's WikiText-2 replaced
    by the made-up one."""
    monkeypatch.delenv(download.OFFLINE_ENV, raising=False)
    monkeypatch.setattr(download, "WIKITEXT", wikitext_set())
    return monkeypatch


def lm_quick(tmp_path: Path, *more: str) -> list[str]:
    return [
        "lm",
        "--quick",
        "--epochs",
        "1",
        "--cache-size",
        "0",
        "--data-dir",
        str(tmp_path / "data"),
        "--out-dir",
        str(tmp_path / "out"),
        "--ckpt-dir",
        str(tmp_path / "ck"),
        *more,
    ]


def test_lm_without_its_data_fetches_it_from_the_mirror_then_trains(fetching, tmp_path, capsys):
    with loopback.Mirror(mirror_files()) as mirror:
        fetching.setenv(download.MIRROR_ENV, mirror.url)
        code = main.main(lm_quick(tmp_path))
        requests = list(mirror.requests)
    out, err = capsys.readouterr()
    assert code == 0, err
    root = tmp_path / "data"
    assert gzip.decompress((root / convert.WIKI_VALID).read_bytes()) == VALID
    assert gzip.decompress((root / convert.WIKI_TRAIN_PART).read_bytes()) == TRAIN_PREFIX
    # WikiText-2 only: `lm` reads neither IMDB nor GloVe
    assert sorted(p for p, _ in requests) == sorted(mirror_files()), requests
    assert not (root / "imdb").exists() and not (root / "glove").exists()
    fetched, loaded = out.index("fetching the data"), out.index("Load Dataset")
    assert fetched < loaded and "wikitext-2" in out[fetched : out.index("\n", fetched)]
    assert (tmp_path / "out" / "mlp_lm_quick.json").is_file()


def test_data_already_there_is_not_fetched_nor_checked_against_its_pins(fetching, tmp_path):
    """A file of the set that is there but damaged is the loader's one-line fault, and is never
    fetched over."""
    root = tmp_path / "data"
    for rel, text in (
        (convert.WIKI_VALID, VALID),
        (convert.WIKI_TEST, TEST),
        (convert.WIKI_TRAIN_PART, TRAIN_PREFIX),
    ):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(gzip.compress(text))
    damaged = root / convert.WIKI_VALID
    damaged.write_bytes(damaged.read_bytes()[:-20])
    before = damaged.read_bytes()
    with loopback.Mirror(mirror_files()) as mirror:
        fetching.setenv(download.MIRROR_ENV, mirror.url)
        assert download.fetch_missing(download.needed(wikitext=True), root, say=print) == []
        code = main.main(lm_quick(tmp_path))
        assert mirror.requests == []
    assert code == 2 and damaged.read_bytes() == before


@pytest.mark.parametrize("how", ["--offline", "HW3_OFFLINE=1"])
def test_offline_a_missing_data_set_is_the_one_line_and_no_request(how, fetching, tmp_path, capsys):
    if how == "HW3_OFFLINE=1":
        fetching.setenv(download.OFFLINE_ENV, "1")
    with loopback.Mirror(mirror_files()) as mirror:
        fetching.setenv(download.MIRROR_ENV, mirror.url)
        code = main.main(lm_quick(tmp_path, *(["--offline"] if how == "--offline" else [])))
        assert mirror.requests == []
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1, err
    assert lines[0].startswith("error: data ") and "`python main.py data`" in lines[0]
    assert "nothing was fetched" in lines[0] and "fetching" not in out
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_arguments_are_checked_before_any_fetch(fetching, tmp_path, capsys):
    with loopback.Mirror(mirror_files()) as mirror:
        fetching.setenv(download.MIRROR_ENV, mirror.url)
        with pytest.raises(SystemExit) as exit_:
            main.main(lm_quick(tmp_path, "--window", "0"))
        code = main.main(
            [
                "cache",
                "--data-dir",
                str(tmp_path / "data"),
                "--out-dir",
                str(tmp_path / "out"),
                "--checkpoint",
                str(tmp_path / "none.pt"),
            ]
        )
        assert mirror.requests == []
    assert exit_.value.code == 2
    assert code == 2 and "no checkpoint at" in capsys.readouterr().err


def test_with_no_server_a_command_gives_up_at_once_in_one_line(fetching, tmp_path, capsys):
    with loopback.closed_port() as nothing:
        fetching.setenv(download.MIRROR_ENV, nothing)
        start = time.monotonic()
        code = main.main(lm_quick(tmp_path))
        took = time.monotonic() - start
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and out == "", (out, err)
    assert lines[0].startswith("error: could not fetch wikitext-2") and "refused" in lines[0]
    assert "No source answered: check the network" in lines[0]
    assert took < 5, took


def test_a_connection_that_never_opens_waits_the_connect_timeout_not_the_read_timeout(
    fetching, tmp_path
):
    fetching.setattr(download, "CONNECT_TIMEOUT", 0.5)
    with loopback.full_backlog() as dropped:
        fetching.setenv(download.MIRROR_ENV, dropped)
        start = time.monotonic()
        with pytest.raises(download.FetchError) as err:
            download.fetch_missing(download.needed(wikitext=True), tmp_path, say=print)
        took = time.monotonic() - start
    assert "no connection within 0.5 s" in str(err.value) and "\n" not in str(err.value)
    assert took < 2 * 0.5 + 2, took  # two sources, each its connect timeout
    assert download.CONNECT_TIMEOUT < download.READ_TIMEOUT


def test_the_real_connect_timeout_is_a_few_seconds():
    assert 1 <= download.CONNECT_TIMEOUT <= 5


def run_main(tmp_path: Path, *args: str, env: dict) -> subprocess.CompletedProcess:
    env = dict(os.environ, HW3_CACHE_DIR=str(tmp_path / "cache"), **env)
    env.pop(download.OFFLINE_ENV, None)
    env.pop(download.DIGESTS_ENV, None)
    return subprocess.run(
        [sys.executable, str(REPO / "main.py"), *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_failed_fetch_is_one_line_in_all_and_debug_shows_the_traceback(tmp_path):
    with loopback.closed_port() as nothing:
        env = {download.MIRROR_ENV: nothing}
        result = run_main(tmp_path, "data", "--data-dir", str(tmp_path / "data"), env=env)
        debug = run_main(tmp_path, "data", "--data-dir", str(tmp_path / "d2"), "--debug", env=env)
    lines = (result.stdout + result.stderr).strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, result.stdout + result.stderr
    assert lines[0].startswith("error: could not fetch imdb") and result.stdout == ""
    assert debug.returncode != 0 and "Traceback" in debug.stderr and "FetchError" in debug.stderr


def test_the_test_session_never_fetches():
    """conftest.py sets $HW3_OFFLINE for this process and the commands it starts: a test whose data
    folder lacks a set (test_download.py's command without its data) stops with the one line
    instead of going online."""
    assert download.offline_set()
    assert main.parse_args(["lm", "--quick"]).offline
