"""`python main.py data` against a mirror on 127.0.0.1 (loopback.py) serving small archives in the
real formats: a good fetch and conversion, a checksum mismatch, a server that never answers, a 404
then the second source, a download cut halfway then a rerun. The expected files are written out by
hand here, not by the converters."""

from __future__ import annotations

import errno
import gzip
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import loopback
from common import convert, download
from common.download import DataSet, Download, Output, Source

REPO = Path(__file__).resolve().parents[2]

IMDB_URL = "http://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
IMDB_URL_2 = "https://s3.amazonaws.com/fast-ai-nlp/imdb.tgz"
GLOVE_URL = f"{download.GENSIM}/glove-wiki-gigaword-50/glove-wiki-gigaword-50.gz"
WIKI_URLS = [f"{download.PYTORCH_EXAMPLES}/{s}.txt" for s in ("train", "valid", "test")]

README = b"Large Movie Review Dataset v1.0 (a test copy)\n"
TRAIN_ROWS = [
    (0, 9, 1, 'A "great" film, truly.<br /><br />Loved it'),
    (1, 3, 0, "Dull; the plot, such as it was, went nowhere."),
    (10, 2, 0, "Caf\u00e9 scenes &#305; aside: bad"),
    (2, 8, 1, "Fine"),
]
TEST_ROWS = [(0, 2, 0, "Once again, too long."), (0, 10, 1, "Best \"movie\" ever")]
# What ../shared/data's layout holds for those rows: sorted by (label, id), `\n` line ends, csv
# quoting.
TRAIN_CSV = (
    b"id,rating,label,text\n"
    b'1,3,0,"Dull; the plot, such as it was, went nowhere."\n'
    b"10,2,0,Caf\xc3\xa9 scenes &#305; aside: bad\n"
    b'0,9,1,"A ""great"" film, truly.<br /><br />Loved it"\n'
    b"2,8,1,Fine\n"
)
TEST_CSV = b'id,rating,label,text\n0,2,0,"Once again, too long."\n0,10,1,"Best ""movie"" ever"\n'

TRAIN_TXT = (
    b" \n = Valkyria = \n \n Senj\xc5\x8d no Valkyria 3 . \n \n"
    b" = Tower = \n \n It stands @-@ tall . \n \n"
    b" = Condom = \n \n A condom is a <unk> . \n \n"
)
TRAIN_PREFIX = (
    b" \n = Valkyria = \n \n Senj\xc5\x8d no Valkyria 3 . \n \n"
    b" = Tower = \n \n It stands @-@ tall . \n \n"
)
VALID_TXT = b" \n = Robert Boulter = \n \n He is an actor . \n \n"
TEST_TXT = b" \n = Homarus = \n \n A lobster . \n"
GLOVE_LINES = [
    "the 0.418 0.24968 -0.41242",
    ", 0.013441 0.23682 -0.16899",
    "sandberger 0.429 -0.4 0.1",
]
GLOVE_TXT = b"".join(line.encode() + b"\n" for line in GLOVE_LINES)


def archives() -> dict[str, bytes]:
    """What the real hosts would serve, at their mirror paths."""
    files = {
        loopback.mirror_path(IMDB_URL): loopback.aclimdb_tar(
            {"train": TRAIN_ROWS, "test": TEST_ROWS}, README
        ),
        loopback.mirror_path(GLOVE_URL): loopback.word2vec_gz(GLOVE_LINES),
    }
    for url, text in zip(WIKI_URLS, (TRAIN_TXT, VALID_TXT, TEST_TXT)):
        files[loopback.mirror_path(url)] = text
    return files


def table(files: dict[str, bytes], *, imdb_second: bool = True) -> list[DataSet]:
    """The real sources table with these archives' checksums, and pins of the files written by hand
    above."""

    def d(url, published="test"):
        return Download(
            url, f"md5:{loopback.md5(files[loopback.mirror_path(url)])}", None, published
        )

    imdb_sources = [Source("Stanford's tarball", (d(IMDB_URL),), convert.aclimdb_tar)]
    if imdb_second:
        second = loopback.aclimdb_tar({"train": TRAIN_ROWS, "test": TEST_ROWS}, README, top="imdb")
        files.setdefault(loopback.mirror_path(IMDB_URL_2), second)
        imdb_sources.append(
            Source(
                "fastai's copy",
                (Download(IMDB_URL_2, f"md5:{loopback.md5(second)}", None, "test"),),
                convert.aclimdb_tar,
            )
        )
    return [
        DataSet(
            "imdb",
            (
                Output(convert.IMDB_TRAIN, loopback.sha256(TRAIN_CSV), 5),
                Output(convert.IMDB_TEST, loopback.sha256(TEST_CSV), 3),
                Output(convert.IMDB_README, loopback.sha256(README)),
            ),
            tuple(imdb_sources),
        ),
        DataSet(
            "wikitext-2",
            (
                Output(convert.WIKI_VALID, loopback.sha256(VALID_TXT), VALID_TXT.count(b"\n")),
                Output(convert.WIKI_TEST, loopback.sha256(TEST_TXT)),
                Output(convert.WIKI_TRAIN_PART, loopback.sha256(TRAIN_PREFIX)),
                Output(convert.WIKI_TRAIN_FULL, loopback.sha256(TRAIN_TXT)),
            ),
            (loopback.wikitext_source(WIKI_URLS, (TRAIN_TXT, VALID_TXT, TEST_TXT)),),
        ),
        DataSet(
            "glove",
            (Output(convert.GLOVE_6B, loopback.sha256(GLOVE_TXT), 3),),
            (Source("gensim-data", (d(GLOVE_URL),), convert.word2vec_gz(keep_header=False)),),
        ),
    ]


def run_fetch(root: Path, mirror: str, datasets, monkeypatch, timeout=5.0):
    monkeypatch.setenv(download.MIRROR_ENV, mirror)
    said: list[str] = []
    download.fetch_all(root, datasets=datasets, timeout=timeout, say=said.append)
    return said


def content(path: Path) -> bytes:
    return gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()


def test_a_good_fetch_writes_our_layout_byte_for_byte(tmp_path, monkeypatch):
    files = archives()
    with loopback.Mirror(files) as mirror:
        said = run_fetch(tmp_path / "data", mirror.url, table(files), monkeypatch)
        root = tmp_path / "data"
        assert content(root / convert.IMDB_TRAIN) == TRAIN_CSV
        assert content(root / convert.IMDB_TEST) == TEST_CSV
        assert content(root / convert.IMDB_README) == README
        assert content(root / convert.WIKI_VALID) == VALID_TXT
        assert content(root / convert.WIKI_TEST) == TEST_TXT
        assert content(root / convert.WIKI_TRAIN_PART) == TRAIN_PREFIX
        assert content(root / convert.WIKI_TRAIN_FULL) == TRAIN_TXT
        assert content(root / convert.GLOVE_6B) == GLOVE_TXT
        # as `gzip -n`: no name, mtime 0, so the same content gives the same file
        for gz in root.rglob("*.gz"):
            assert gz.read_bytes()[4:8] == b"\0\0\0\0" and gz.read_bytes()[3] & 0x08 == 0
        assert not (root / download.DOWNLOADS).exists()  # the archives are gone once converted
        hosts = {p.split("/")[1] for p, _ in mirror.requests}
        assert hosts == {"ai.stanford.edu", "raw.githubusercontent.com", "github.com"}
        assert any("wrote" in line and "imdb_train.csv.gz" in line for line in said)
        before = len(mirror.requests)
        said = run_fetch(root, mirror.url, table(files), monkeypatch)
        assert len(mirror.requests) == before  # all there and checked: nothing fetched
        assert sum("there and checked" in line for line in said) == 3


def test_a_checksum_mismatch_is_one_line_with_both_hashes_and_leaves_nothing(tmp_path, monkeypatch):
    files = archives()
    datasets = table(files, imdb_second=False)[:1]
    good = files[loopback.mirror_path(IMDB_URL)]
    bad = good[:-10] + bytes(10)
    files[loopback.mirror_path(IMDB_URL)] = bad
    with loopback.Mirror(files) as mirror:
        with pytest.raises(download.FetchError) as err:
            run_fetch(tmp_path / "data", mirror.url, datasets, monkeypatch)
    message = str(err.value)
    assert "\n" not in message
    for needle in ("aclImdb_v1.tar.gz", loopback.md5(bad), loopback.md5(good), "checksum mismatch"):
        assert needle in message, message
    left = [p.name for p in (tmp_path / "data").rglob("*") if p.is_file()]
    assert left == [], left  # no .part, no archive, no CSV


def test_a_converted_file_that_misses_its_pin_is_not_left_under_its_name(tmp_path, monkeypatch):
    files = archives()
    imdb = table(files, imdb_second=False)[0]
    wrong = Output(convert.IMDB_TRAIN, "0" * 64, 5)
    imdb = DataSet(imdb.name, (wrong,) + imdb.outputs[1:], imdb.sources)
    with loopback.Mirror(files) as mirror:
        with pytest.raises(download.FetchError) as err:
            run_fetch(tmp_path / "data", mirror.url, [imdb], monkeypatch)
    assert "imdb/imdb_train.csv.gz" in str(err.value) and "0" * 64 in str(err.value)
    assert not (tmp_path / "data" / convert.IMDB_TRAIN).exists()
    assert not list((tmp_path / "data" / "imdb").glob(".imdb_train*"))


def test_a_server_that_never_answers_is_a_timeout_and_one_line_within_seconds(
    tmp_path, monkeypatch
):
    files = archives()
    with loopback.silent_server() as silent:
        start = time.monotonic()
        with pytest.raises(download.FetchError) as err:
            run_fetch(tmp_path / "data", silent, table(files), monkeypatch, timeout=0.5)
        took = time.monotonic() - start
    message = str(err.value)
    assert took < 5, took
    assert "\n" not in message and "no answer within 0.5 s" in message
    assert f"{silent}/ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz" in message
    assert download.MIRROR_ENV in message and "by hand" in message


def test_a_404_then_the_second_source(tmp_path, monkeypatch):
    files = archives()
    datasets = table(files)[:1]
    del files[loopback.mirror_path(IMDB_URL)]
    with loopback.Mirror(files) as mirror:
        said = run_fetch(tmp_path / "data", mirror.url, datasets, monkeypatch)
    assert any("HTTP 404" in line and "aclImdb_v1.tar.gz" in line for line in said), said
    assert content(tmp_path / "data" / convert.IMDB_TRAIN) == TRAIN_CSV
    assert content(tmp_path / "data" / convert.IMDB_README) == README


def test_a_download_cut_halfway_goes_on_when_run_again(tmp_path, monkeypatch):
    files = archives()
    datasets = table(files, imdb_second=False)[2:]  # GloVe: one source
    path = loopback.mirror_path(GLOVE_URL)
    root = tmp_path / "data"
    with loopback.Mirror(files) as mirror:
        mirror.cut.add(path)
        with pytest.raises(download.FetchError) as err:
            run_fetch(root, mirror.url, datasets, monkeypatch)
        assert "cut after" in str(err.value) and "again to continue" in str(err.value)
        part = root / download.DOWNLOADS / "glove-wiki-gigaword-50.gz.part"
        assert part.stat().st_size == len(files[path]) // 2
        assert not (root / convert.GLOVE_6B).exists()
        run_fetch(root, mirror.url, datasets, monkeypatch)
        assert mirror.requests[-1] == (path, f"bytes={len(files[path]) // 2}-")
    assert content(root / convert.GLOVE_6B) == GLOVE_TXT
    assert not part.exists()


def test_a_continued_download_that_fails_its_checksum_starts_over(tmp_path, monkeypatch):
    files = archives()
    datasets = table(files, imdb_second=False)[2:]
    path = loopback.mirror_path(GLOVE_URL)
    part = tmp_path / "data" / download.DOWNLOADS / "glove-wiki-gigaword-50.gz.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(b"not the start of that file")  # left by another version of the file
    with loopback.Mirror(files) as mirror:
        said = run_fetch(tmp_path / "data", mirror.url, datasets, monkeypatch)
        assert [r for p, r in mirror.requests if p == path] == ["bytes=26-", None]
    assert any("starting over" in line for line in said)
    assert content(tmp_path / "data" / convert.GLOVE_6B) == GLOVE_TXT


def test_the_mirror_maps_host_and_path():
    url = "https://github.com/RaRe-Technologies/gensim-data/releases/download/x/x.gz"
    assert download.mirrored(url, "http://127.0.0.1:8000/") == (
        "http://127.0.0.1:8000/github.com/RaRe-Technologies/gensim-data/releases/download/x/x.gz"
    )
    assert download.mirrored(url, None) == url


def test_every_real_source_has_a_checksum_and_a_second_source():
    for dataset in download.datasets_for(full_train=True, twitter=True):
        assert len(dataset.sources) == 2, dataset.name
        first = dataset.sources[0]
        assert all(
            d.digest.split(":")[0] in ("md5", "sha256") and d.url.startswith("http")
            for d in first.downloads
        )
        if dataset.name != "glove-twitter-50":  # no copy of it was here to pin its content from
            assert all(len(o.sha256) == 64 for o in dataset.outputs)


def main_data(tmp_path, *args, env=None, timeout=60):
    env = dict(
        os.environ,
        HW3_DATA_DIR=str(tmp_path / "data"),
        HW3_CACHE_DIR=str(tmp_path / "cache"),
        **(env or {}),
    )
    env.pop(download.DIGESTS_ENV, None)
    return subprocess.run(
        [sys.executable, str(REPO / "main.py"), *args],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_the_command_line_times_out_in_one_line(tmp_path):
    with loopback.silent_server() as silent:
        start = time.monotonic()
        result = main_data(tmp_path, "data", "--timeout", "0.5", env={download.MIRROR_ENV: silent})
        took = time.monotonic() - start
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1 and "Traceback" not in result.stderr, (
        result.stderr
    )
    assert (
        lines[0].startswith("error: could not fetch imdb") and "no answer within 0.5 s" in lines[0]
    )
    assert took < 30, took


def test_a_command_without_its_data_names_the_fetch_command(tmp_path):
    (tmp_path / "data").mkdir()
    result = main_data(tmp_path, "mlp", "--quick")
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert "imdb/imdb_train.csv.gz" in lines[0] and "`python main.py data`" in lines[0]


def test_without_shared_data_the_folder_is_the_user_cache_folder(tmp_path, monkeypatch):
    from common import datafiles

    monkeypatch.setattr(datafiles, "DEFAULT_DATA_DIR", tmp_path / "no" / "shared" / "data")
    monkeypatch.delenv(datafiles.DATA_DIR_ENV, raising=False)
    monkeypatch.setenv("HW3_CACHE_DIR", str(tmp_path / "cache"))
    folder, source = datafiles.data_dir_choice()
    assert folder == tmp_path / "cache" / "data" and "../shared/data does not exist" in source
    with pytest.raises(datafiles.DataNotFoundError) as err:
        datafiles.resolve_data_dir()
    assert str(folder) in str(err.value) and "`python main.py data`" in str(err.value)
    folder.mkdir(parents=True)
    assert datafiles.resolve_data_dir() == folder
    assert datafiles.data_dir_choice(tmp_path / "x") == (tmp_path / "x", "--data-dir")


def test_a_full_disk_while_downloading_is_one_line_and_the_rerun_goes_on(tmp_path, monkeypatch):
    import builtins
    import errno

    from utils import DiskFullError

    files = archives()
    datasets = table(files, imdb_second=False)[2:]
    path = loopback.mirror_path(GLOVE_URL)
    real_open = builtins.open

    class Full:
        def __init__(self, f):
            self._f, self._n = f, 0

        def write(self, data):  # the disk takes 20 bytes, then is full
            room = 20 - self._n
            self._f.write(data[:room])
            self._n += min(room, len(data))
            if len(data) > room:
                self._f.flush()
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            return len(data)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self._f.close()

    def fake(file, mode="r", *args, **kwargs):
        f = real_open(file, mode, *args, **kwargs)
        return Full(f) if str(file).endswith(".part") and mode == "wb" else f

    root = tmp_path / "data"
    with loopback.Mirror(files) as mirror:
        monkeypatch.setattr(builtins, "open", fake)
        with pytest.raises(DiskFullError) as err:
            run_fetch(root, mirror.url, datasets, monkeypatch)
        monkeypatch.setattr(builtins, "open", real_open)
        message = str(err.value)
        assert "\n" not in message and "glove-wiki-gigaword-50.gz.part" in message
        assert "continues the download" in message
        assert not (root / convert.GLOVE_6B).exists()
        run_fetch(root, mirror.url, datasets, monkeypatch)
        assert mirror.requests[-1] == (path, "bytes=20-")
    assert content(root / convert.GLOVE_6B) == GLOVE_TXT


@pytest.mark.parametrize("code", [errno.EROFS, errno.EACCES])
def test_a_read_only_data_folder_is_one_line_before_any_download(tmp_path, monkeypatch, code):
    # permission bits do not bind root, so the read-only folder is made by refusing its writes
    root = tmp_path / "data"
    root.mkdir()
    real_open, real_mkdir = os.open, os.mkdir

    def refuse(real):
        def call(path, *args, **kwargs):
            if str(path).startswith(str(root)):
                raise OSError(code, os.strerror(code), str(path))
            return real(path, *args, **kwargs)

        return call

    with loopback.Mirror(archives()) as mirror:
        monkeypatch.setattr(os, "open", refuse(real_open))
        monkeypatch.setattr(os, "mkdir", refuse(real_mkdir))
        with pytest.raises(download.FetchError) as err:
            run_fetch(root, mirror.url, table(mirror.files), monkeypatch)
        assert mirror.requests == []
    message = str(err.value)
    assert "\n" not in message and str(root) in message and "--data-dir" in message, message
    assert os.strerror(code) in message
