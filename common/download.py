"""`python main.py data`: fetch the data sets that are not in the data folder yet, from where the
course gets them, check every download against its published checksum and every file written against
a SHA-256 of its decompressed content pinned from ../shared/data, and write atomically
(docs/data.md).

- `DATASETS` is the sources table: for each data set the files it gives (`Output`: path, pinned
  SHA-256, lines) and two sources in the order tried (`Source`: downloads, each with its published
  checksum, and the converter of common/convert.py that turns them into our files).
- $HW3_DATA_MIRROR=http://host:port fetches every URL from `<mirror>/<original host>/<original
  path>`.
- Timeouts on connect (a few seconds, so that a machine without a network gives up at once) and on
  every read; a failure is one line naming the URL and what to do.
- `fetch_missing`: what a command runs first, fetching only the data sets of which a file it reads
  is missing (none where $HW3_OFFLINE or --offline is set: the missing file's one line instead).
- A download goes to `<data dir>/.downloads/NAME.part` and is renamed only once whole and checked;
  an interrupted one is continued (an HTTP Range request) when run again, or started over where the
  server cannot continue it or the continued file fails its checksum. The downloads are removed once
  converted.
- $HW3_DATA_SOURCE_DIGESTS names a JSON file {url: "sha256:..."} that replaces the published
  checksums of those downloads (for archives rebuilt from ../shared/data and served by a local
  mirror: tools/ data_roundtrip.sh). The pinned SHA-256s of the files written are never replaced.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import gzip
import hashlib
import http.client
import json
import os
import shutil
import socket
import tempfile
import time
import urllib.parse
from pathlib import Path
from typing import Callable, Iterable, Sequence

from common import convert
from common.datafiles import DATA_DIR_ENV, DataNotFoundError, data_dir_choice, data_path
from utils import DISK_FULL_ERRNOS, DiskFullError, _atomic_write, progress

MIRROR_ENV = "HW3_DATA_MIRROR"
OFFLINE_ENV = "HW3_OFFLINE"
DIGESTS_ENV = "HW3_DATA_SOURCE_DIGESTS"
CONNECT_TIMEOUT = 5.0  # seconds to open a connection: a laptop without a network gives up fast
READ_TIMEOUT = 60.0  # seconds any one read may wait for bytes
DOWNLOADS = ".downloads"
USER_AGENT = "Mozilla/5.0 (compatible; hw3-data/1.0; +python http.client)"
CHUNK = 1 << 20


@dataclasses.dataclass(frozen=True)
class Download:
    """One URL, with the checksum its publisher gives ("md5:..." or "sha256:...") and the size in
    bytes."""

    url: str
    digest: str
    size: int | None = None
    published: str = ""  # who publishes the checksum


@dataclasses.dataclass(frozen=True)
class Source:
    name: str
    downloads: tuple[Download, ...]
    convert: Callable  # (download paths, wanted output paths) -> (path, chunks) pairs


@dataclasses.dataclass(frozen=True)
class Output:
    """One file we read: its path under the data folder, the SHA-256 and line count of its
    decompressed content (pinned from ../shared/data; None where no copy was here to pin it from).
    """

    path: str
    sha256: str | None
    lines: int | None = None
    read: bool = True  # a command reads it (not the IMDB README): missing, its set is fetched


@dataclasses.dataclass(frozen=True)
class DataSet:
    name: str
    outputs: tuple[Output, ...]
    sources: tuple[Source, ...]


GENSIM = "https://github.com/RaRe-Technologies/gensim-data/releases/download"
PYTORCH_EXAMPLES = (
    "https://raw.githubusercontent.com/pytorch/examples/77f55b912142e11fcfdf5b530231fb9c52f181e8/"
    "word_language_model/data/wikitext-2"
)
WIKI_TRAIN_SHA256 = "9e9fa1ad55b1c2c95b08e37dd8e653f638fac2c6de904b79e813611eefbc985f"
WIKI_VALID_SHA256 = "f0737ed31fc1329026e95cb8b98e19c2a182c39c240ab909dc31abf2f8af58e8"
WIKI_TEST_SHA256 = "d790b833ef8cf03a90db7bf1271b7520b83c45ce07ba3c1a9699df81e239eca0"
# where a mismatch message says the pins are (taken from the course copy, ../shared/data/README.md)
PINNED_SHA256S = "common/download.py"

IMDB = DataSet(
    "imdb",
    (
        Output(
            convert.IMDB_TRAIN,
            "1d00e4a7a402f8abd702d70b5758823d88ae4fc65b37d130ce54856125ed6bc4",
            25001,
        ),
        Output(
            convert.IMDB_TEST,
            "622ef57abec45eeab289d801da5c71f1a89c39cce0e0cb050ccfdccbcb7692a9",
            25001,
        ),
        Output(
            convert.IMDB_README,
            "a69bd3b91235c7fa1d6aadab51e257b7fa3f7b68f32b607483a72bd67f95e557",
            read=False,
        ),
    ),
    (
        Source(
            "Stanford's aclImdb_v1.tar.gz",
            (
                Download(
                    "http://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz",
                    "md5:7c2ac02c03563afcf9b574c7e56c153a",
                    None,
                    "torchtext, paddle",
                ),
            ),
            convert.aclimdb_tar,
        ),
        Source(
            "fastai's copy imdb.tgz",
            (
                Download(
                    "https://s3.amazonaws.com/fast-ai-nlp/imdb.tgz",
                    "md5:90f9b1c4ff43a90d67553c9240dc0249",
                    144440600,
                    "fastai/data/checks.txt",
                ),
            ),
            convert.aclimdb_tar,
        ),
    ),
)
WIKITEXT = DataSet(
    "wikitext-2",
    (
        Output(convert.WIKI_VALID, WIKI_VALID_SHA256, 3760),
        Output(convert.WIKI_TEST, WIKI_TEST_SHA256, 4358),
        Output(
            convert.WIKI_TRAIN_PART,
            "5bdaf2c5c5d6879f4ff8f67cafd58d040c4b474c3ba37e6ee589f8e85229df73",
            32348,
        ),
    ),
    (
        Source(
            "pytorch/examples' word_language_model/data/wikitext-2",
            tuple(
                Download(f"{PYTORCH_EXAMPLES}/{name}.txt", f"sha256:{sha}", None, "public scripts")
                for name, sha in (
                    ("train", WIKI_TRAIN_SHA256),
                    ("valid", WIKI_VALID_SHA256),
                    ("test", WIKI_TEST_SHA256),
                )
            ),
            convert.wikitext_files,
        ),
        Source(
            "the official wikitext-2-v1.zip (smerity.com's copy)",
            (
                Download(
                    "https://wikitext.smerity.com/wikitext-2-v1.zip",
                    "md5:542ccefacc6c27f945fb54453812b3cd",
                    4475746,
                    "torchtext",
                ),
            ),
            convert.wikitext_zip,
        ),
    ),
)
WIKI_TRAIN_FULL = Output(convert.WIKI_TRAIN_FULL, WIKI_TRAIN_SHA256, 36718)
GLOVE = DataSet(
    "glove",
    (
        Output(
            convert.GLOVE_6B,
            "d8f717f8dd4b545cb7f418ef9f3d0c3e6e68a6f48b97d32f8b7aae40cb31f96f",
            400000,
        ),
    ),
    (
        Source(
            "gensim-data's glove-wiki-gigaword-50",
            (
                Download(
                    f"{GENSIM}/glove-wiki-gigaword-50/glove-wiki-gigaword-50.gz",
                    "md5:c289bc5d7f2f02c6dc9f2f9b67641813",
                    69182535,
                    "gensim-data list.json",
                ),
            ),
            convert.word2vec_gz(keep_header=False),
        ),
        Source(
            "Stanford's glove.6B.zip (822 MB, all four sizes)",
            (
                Download(
                    "https://nlp.stanford.edu/data/glove.6B.zip",
                    "md5:056ea991adb4740ac6bf1b6d9b50408b",
                    None,
                    "public download scripts",
                ),
            ),
            convert.glove_zip("glove.6B.50d.txt", add_header=False),
        ),
    ),
)
# The course's own vectors (`--embeddings twitter`): no copy was here to pin the content from, so
# the download's published MD5 and the line count (a header and 1,193,514 words) are what check it.
TWITTER = DataSet(
    "glove-twitter-50",
    (Output(convert.GLOVE_TWITTER, None, 1193515),),
    (
        Source(
            "gensim-data's glove-twitter-50",
            (
                Download(
                    f"{GENSIM}/glove-twitter-50/glove-twitter-50.gz",
                    "md5:c168f18641f8c8a00fe30984c4799b2b",
                    209216938,
                    "gensim-data list.json",
                ),
            ),
            convert.word2vec_gz(keep_header=True),
        ),
        Source(
            "Stanford's glove.twitter.27B.zip (1.5 GB, all four sizes)",
            (Download("https://nlp.stanford.edu/data/glove.twitter.27B.zip", "", None, ""),),
            convert.glove_zip("glove.twitter.27B.50d.txt", add_header=True),
        ),
    ),
)


def datasets_for(full_train: bool = False, twitter: bool = False) -> list[DataSet]:
    """The data sets `python main.py data` fetches: IMDB, WikiText-2 (with the whole official train
    file if `full_train`), GloVe 6B 50d, and glove-twitter-50 if `twitter`."""
    wikitext = WIKITEXT
    if full_train:
        wikitext = dataclasses.replace(WIKITEXT, outputs=WIKITEXT.outputs + (WIKI_TRAIN_FULL,))
    return [IMDB, wikitext, GLOVE] + ([TWITTER] if twitter else [])


# --------------------------------------------------------------------------- faults
class FetchError(RuntimeError):
    """A data set could not be fetched from any source; one line naming the URLs and what to do."""


class _SourceFailed(Exception):
    """One source failed (the next is tried); the message names the URL or file and why.
    `unreached`: no HTTP answer came at all (no network, no such host, nothing listening)."""

    def __init__(self, message: str, unreached: bool = False):
        super().__init__(message)
        self.unreached = unreached


# --------------------------------------------------------------------------- HTTP
def mirrored(url: str, mirror: str | None) -> str:
    """`url` as fetched: through the mirror `<mirror>/<host>/<path>` when one is set."""
    if not mirror:
        return url
    parts = urllib.parse.urlsplit(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    return f"{mirror.rstrip('/')}/{parts.netloc}{path}"


def _request(url: str, headers: dict, timeouts: tuple[float, float], mirror: str | None):
    """(connection, response) of a GET, following up to 5 redirects (through the mirror, if set,
    where a redirect names another host). Connect timeout, then the read timeout on the socket."""
    for _ in range(6):
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise _SourceFailed(f"{url}: not an http(s) URL")
        kind = (
            http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        )
        conn = kind(parts.hostname, parts.port, timeout=timeouts[0])
        try:
            conn.connect()
        except socket.timeout:
            conn.close()
            raise _SourceFailed(f"{url}: no connection within {timeouts[0]:g} s", True) from None
        except OSError as err:
            conn.close()
            raise _SourceFailed(f"{url}: cannot connect ({err.strerror or err})", True) from None
        conn.sock.settimeout(timeouts[1])
        target = parts.path or "/"
        if parts.query:
            target += f"?{parts.query}"
        try:
            conn.request("GET", target, headers={"User-Agent": USER_AGENT, **headers})
            response = conn.getresponse()
        except socket.timeout:
            conn.close()
            raise _SourceFailed(f"{url}: no answer within {timeouts[1]:g} s", True) from None
        except (OSError, http.client.HTTPException) as err:
            conn.close()
            raise _SourceFailed(f"{url}: the request failed ({err})") from None
        if response.status in (301, 302, 303, 307, 308) and response.getheader("Location"):
            location = urllib.parse.urljoin(url, response.getheader("Location"))
            conn.close()
            if (
                mirror
                and urllib.parse.urlsplit(location).netloc != urllib.parse.urlsplit(url).netloc
            ):
                location = mirrored(location, mirror)
            url = location
            continue
        return conn, response, url
    raise _SourceFailed(f"{url}: too many redirects")


def _file_digest(path: Path, algorithm: str) -> str:
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _need_space(folder: Path, needed: int, what: str) -> None:
    free = shutil.disk_usage(folder).free
    if needed > free:
        raise DiskFullError(
            folder,
            f"{what} needs {needed / 1e6:.0f} MB but {free / 1e6:.0f} MB are free there; free "
            f"{(needed - free) / 1e6:.0f} MB or pass --data-dir (or set {DATA_DIR_ENV}) to a "
            f"roomier disk",
        )


def fetch(
    download: Download,
    folder: Path,
    *,
    mirror: str | None = None,
    timeouts: tuple[float, float] = (CONNECT_TIMEOUT, READ_TIMEOUT),
    say: Callable[[str], None] = print,
) -> Path:
    """Download `download` into `folder` (its name kept) and check its checksum; the path.

    Bytes go to NAME.part, renamed to NAME only when whole and matching. A NAME.part left by an
    interrupted run is continued with a Range request; where the server answers with the whole file
    instead, or the continued file fails the checksum, it starts over once. A cut connection leaves
    the .part for the next run; a checksum mismatch removes it. _SourceFailed naming the URL (or the
    file and both hashes)."""
    folder.mkdir(parents=True, exist_ok=True)
    name = Path(urllib.parse.urlsplit(download.url).path).name
    done, part = folder / name, folder / f"{name}.part"
    algorithm, _, expected = download.digest.partition(":")
    if done.is_file() and expected and _file_digest(done, algorithm) == expected:
        return done  # a download checked earlier, kept because its conversion had not finished
    url = mirrored(download.url, mirror)
    for attempt in range(2):
        have = part.stat().st_size if part.is_file() else 0
        headers = {"Range": f"bytes={have}-"} if have else {}
        conn, response, final_url = _request(url, headers, timeouts, mirror)
        try:
            if response.status == 416 and have:  # nothing after what we have: check it as it is
                response.read()
            elif response.status not in (200, 206):
                raise _SourceFailed(
                    f"{final_url}: HTTP {response.status} {response.reason}".rstrip()
                )
            else:
                if response.status == 200:
                    have = 0  # the server sends the whole file: start over
                elif not (response.getheader("Content-Range") or "").startswith(f"bytes {have}-"):
                    part.unlink()  # not the bytes asked for: start over, whole
                    continue
                length = response.getheader("Content-Length")
                total = have + int(length) if length and length.isdigit() else download.size
                _need_space(folder, (total or 0) - have, f"downloading {final_url}")
                say(
                    f"fetching {final_url}"
                    + (f" ({total / 1e6:.1f} MB)" if total else "")
                    + (f", continuing after {have / 1e6:.1f} MB" if have else "")
                )
                _receive(response, part, have, total, final_url, timeouts[1])
        finally:
            conn.close()
        if not expected:
            break
        got = _file_digest(part, algorithm)
        if got == expected:
            break
        if attempt == 0 and have:  # a continued download that does not add up: once more, whole
            say(f"{part.name}: the continued download fails its {algorithm.upper()}; starting over")
            part.unlink()
            continue
        part.unlink()
        raise _SourceFailed(
            f"checksum mismatch: {name} from {final_url} has {algorithm.upper()} {got}, expected "
            f"{expected} (published by {download.published or 'its source'}); "
            f"the download was removed"
        )
    if not part.is_file():
        raise _SourceFailed(f"{url}: the server did not send the bytes asked for; try again later")
    os.replace(part, done)
    return done


def _receive(response, part: Path, have: int, total: int | None, url: str, read_timeout: float):
    """Append the body to `part` (truncated first when `have` is 0), with a progress bar."""
    bar = progress(total=total, initial=have, unit="B", unit_scale=True, desc=part.name[:-5])
    got = have
    try:
        with open(part, "ab" if have else "wb") as f:
            while True:
                try:
                    chunk = response.read(CHUNK if total is None else min(CHUNK, total - got))
                except socket.timeout:
                    raise _SourceFailed(
                        f"{url}: no bytes for {read_timeout:g} s after {got:,} of "
                        f"{total or '?':,} bytes; run `python main.py data` again to continue"
                    ) from None
                except (http.client.IncompleteRead, OSError, http.client.HTTPException) as err:
                    raise _SourceFailed(
                        f"{url}: the download was cut after "
                        f"{got + len(getattr(err, 'partial', b'')):,}"
                        f" of {total or '?':,} bytes; run `python main.py data` again to continue"
                    ) from None
                if not chunk:
                    break
                try:
                    f.write(chunk)
                except OSError as err:
                    if err.errno in (errno.ENOSPC, errno.EDQUOT):
                        raise DiskFullError(
                            part,
                            f"free {((total or got) - got) / 1e6:.0f} MB there (or pass --data-dir "
                            f"elsewhere) and run `python main.py data` again: it continues "
                            f"the download",
                        ) from None
                    raise
                got += len(chunk)
                bar.update(len(chunk))
                if total is not None and got >= total:
                    break
    finally:
        bar.close()
    if total is not None and got < total:
        raise _SourceFailed(
            f"{url}: the download was cut after {got:,} of {total:,} bytes; "
            f"run `python main.py data` again to continue"
        )


# --------------------------------------------------------------------------- writing our files
def content_sha256(path: Path) -> tuple[str, int]:
    """(SHA-256, line count) of a file's content, decompressed if it is .gz."""
    h, lines = hashlib.sha256(), 0
    with (gzip.open if path.suffix == ".gz" else open)(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
            lines += chunk.count(b"\n")
    return h.hexdigest(), lines


class _Mismatch(Exception):
    pass


def write_output(root: Path, output: Output, chunks: Iterable[bytes]) -> str:
    """Write `chunks` (decompressed content) to root/output.path, gzip'd (mtime 0, no name: as `gzip
    -n`) when it ends in .gz, atomically; the content's SHA-256 and lines checked before the file
    takes its name. _Mismatch (nothing left under the name) when they differ from the pins."""
    path = root / output.path
    h, lines = hashlib.sha256(), 0

    def write(tmp: str) -> None:
        nonlocal lines
        with open(tmp, "wb") as raw:
            sink = (
                gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9)
                if path.suffix == ".gz"
                else raw
            )
            with sink:
                for chunk in chunks:
                    h.update(chunk)
                    lines += chunk.count(b"\n")
                    sink.write(chunk)
        got = h.hexdigest()
        if output.sha256 and got != output.sha256:
            raise _Mismatch(
                f"{output.path} as converted has content SHA-256 {got}, expected {output.sha256} "
                f"(pinned from {PINNED_SHA256S})"
            )
        if output.lines is not None and lines != output.lines:
            raise _Mismatch(
                f"{output.path} as converted has {lines:,} lines, expected {output.lines:,}"
            )

    _atomic_write(path, write)
    return h.hexdigest()


def _digest_overrides() -> dict:
    file = os.environ.get(DIGESTS_ENV)
    if not file:
        return {}
    try:
        table = json.loads(Path(file).read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise FetchError(f"${DIGESTS_ENV}={file}: cannot read it as JSON ({err})") from None
    return table


def _with_overrides(source: Source, overrides: dict) -> Source:
    downloads = tuple(
        dataclasses.replace(d, digest=overrides[d.url], size=None, published=f"${DIGESTS_ENV}")
        if d.url in overrides
        else d
        for d in source.downloads
    )
    return dataclasses.replace(source, downloads=downloads)


def fetch_dataset(
    dataset: DataSet,
    root: Path,
    *,
    mirror: str | None = None,
    timeouts: tuple[float, float] = (CONNECT_TIMEOUT, READ_TIMEOUT),
    keep_downloads: bool = False,
    say: Callable[[str], None] = print,
) -> list[str]:
    """Make the files of `dataset` that root lacks, trying its sources in order; the paths written.
    Files already there are checked against their pins first (FetchError naming one that differs).
    """
    missing = []
    for output in dataset.outputs:
        path = root / output.path
        if not path.is_file():
            missing.append(output)
            continue
        if output.sha256:
            got, _ = content_sha256(path)
            if got != output.sha256:
                raise FetchError(
                    f"{path} is there but its content has SHA-256 {got}, "
                    f"not the pinned {output.sha256}; "
                    f"move it away and run `python main.py data` again to fetch it anew"
                )
    if not missing:
        say(f"{dataset.name}: all {len(dataset.outputs)} file(s) there and checked in {root}")
        return []
    overrides = _digest_overrides()
    downloads_dir = root / DOWNLOADS
    failures, written = [], []
    for source in dataset.sources:
        source = _with_overrides(source, overrides)
        try:
            paths = [
                fetch(d, downloads_dir, mirror=mirror, timeouts=timeouts, say=say)
                for d in source.downloads
            ]
            wanted = {o.path: o for o in missing if o.path not in written}
            for rel, chunks in source.convert(paths, set(wanted)):
                sha = write_output(root, wanted[rel], chunks)
                written.append(rel)
                say(f"wrote {root / rel} (content SHA-256 {sha[:16]}...)")
        except (_SourceFailed, _Mismatch, convert.ConversionError) as err:
            failures.append((source.name, err))
            continue
        if failures:  # said only now: where no source gives it, the fault's one line says it all
            said = "; ".join(f"{name} failed ({err})" for name, err in failures)
            say(f"{dataset.name}: {said}; fetched from {source.name} instead")
        if not keep_downloads:
            for p in paths:
                p.unlink(missing_ok=True)
        break
    else:
        where = ", ".join(o.path for o in missing)
        unreached = all(getattr(err, "unreached", False) for _, err in failures)
        raise FetchError(
            f"could not fetch {dataset.name}: "
            + "; ".join(f"{name}: {err}" for name, err in failures)
            + (". No source answered: check the network and run again" if unreached else "")
            + f". Try again later, set {MIRROR_ENV}=http://host:port to a mirror, or put {where} "
            f"into {root} by hand (docs/data.md says where each comes from)"
        )
    with contextlib.suppress(OSError):
        downloads_dir.rmdir()  # only if empty
    return written


def fetch_all(
    data_dir: str | os.PathLike | None = None,
    *,
    datasets: Sequence[DataSet] | None = None,
    timeout: float | None = None,
    keep_downloads: bool = False,
    say: Callable[[str], None] = print,
) -> Path:
    """Every data set of `datasets` (default: `datasets_for()`) into the data folder
    (`datafiles.data_dir_choice`)."""
    root, source = data_dir_choice(data_dir)
    mirror = os.environ.get(MIRROR_ENV) or None
    timeouts = (
        (CONNECT_TIMEOUT, READ_TIMEOUT)
        if timeout is None
        else (min(timeout, CONNECT_TIMEOUT), timeout)
    )
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise FetchError(
            f"cannot make the data folder {root} (from {source}): {err.strerror or err}; "
            f"pass --data-dir DIR"
        ) from None
    datasets = datasets if datasets is not None else datasets_for()
    if any(not (root / o.path).is_file() for d in datasets for o in d.outputs):
        _check_writable(root, source)
    through = f"; through the mirror {mirror}" if mirror else ""
    header = [f"data folder: {root} (from {source}){through}"]
    if os.environ.get(DIGESTS_ENV):
        header.append(f"download checksums for the URLs in ${DIGESTS_ENV} are taken from it")
    say = _after(header, say)
    started = time.perf_counter()
    for dataset in datasets:
        try:
            fetch_dataset(
                dataset,
                root,
                mirror=mirror,
                timeouts=timeouts,
                keep_downloads=keep_downloads,
                say=say,
            )
        except DiskFullError:
            raise
        except OSError as err:
            if err.errno in DISK_FULL_ERRNOS:  # a download's last buffered write, or a folder
                raise DiskFullError(err.filename or root) from None
            if not isinstance(err, PermissionError) and err.errno != errno.EROFS:
                raise
            raise FetchError(
                f"cannot write into {root} ({err.strerror}); "
                f"pass --data-dir DIR to a folder you can write"
            ) from None
    say(f"data ready in {root} ({time.perf_counter() - started:.1f} s)")
    return root


def _after(header: list[str], say: Callable[[str], None]) -> Callable[[str], None]:
    """`say` that says `header` first, once something else is said: a fetch that fails before
    any download starts (no network) prints only its fault's one line."""

    def say_after(line: str) -> None:
        while header:
            say(header.pop(0))
        say(line)

    return say_after


def offline_set() -> bool:
    """Whether $HW3_OFFLINE forbids fetching (set, and not empty or 0)."""
    return os.environ.get(OFFLINE_ENV, "") not in ("", "0")


def fetch_missing(
    datasets: Sequence[DataSet],
    data_dir: str | os.PathLike | None = None,
    *,
    offline: bool = False,
    timeout: float | None = None,
    say: Callable[[str], None] = print,
) -> list[DataSet]:
    """Fetch (`fetch_all`) the data sets of `datasets` of which a file that the commands read is
    missing from the data folder; those sets. A set whose files are all there is not touched (nor
    checked against its pins: a damaged file is the loader's one-line fault, never overwritten).
    With `offline` nothing is fetched: the first missing file's one-line DataNotFoundError, as the
    loaders raise it, naming the command that fetches it."""
    root, _ = data_dir_choice(data_dir)
    missing = [
        d for d in datasets if any(o.read and not (root / o.path).is_file() for o in d.outputs)
    ]
    if not missing:
        return []
    if offline:
        first = next(o for o in missing[0].outputs if o.read and not (root / o.path).is_file())
        try:
            data_path(*first.path.split("/"), data_dir=data_dir, fetch=fetch_command(missing[0]))
        except DataNotFoundError as err:
            why = f"${OFFLINE_ENV} is set" if offline_set() else "--offline"
            raise DataNotFoundError(f"{err} ({why}: nothing was fetched)") from None
    names = ", ".join(d.name for d in missing)
    say = _after([f"fetching the data this command reads and the data folder lacks: {names}"], say)
    fetch_all(data_dir, datasets=missing, timeout=timeout, say=say)
    return missing


def fetch_command(dataset: DataSet) -> str:
    """The `python main.py data` command line that fetches `dataset`."""
    if dataset.name == TWITTER.name:
        return "python main.py data --embeddings twitter"
    if any(o.path == WIKI_TRAIN_FULL.path for o in dataset.outputs):
        return "python main.py data --full-train"
    return "python main.py data"


def needed(*, imdb=False, embeddings: str | None = None, wikitext=False, full_train=False):
    """The data sets a command reads: IMDB, the word vectors `embeddings` ("6b" or "twitter"),
    WikiText-2 (with the whole train file if `full_train`)."""
    sets = [IMDB] if imdb else []
    if embeddings:
        sets.append(TWITTER if embeddings == "twitter" else GLOVE)
    if wikitext or full_train:
        sets += [d for d in datasets_for(full_train=full_train) if d.name == WIKITEXT.name]
    return sets


def _check_writable(root: Path, source: str) -> None:
    """FetchError unless a file can be made in `root`, before any download starts. Checked by
    writing, since permission bits do not bind root and a read-only mount shows only then."""
    try:
        with tempfile.TemporaryFile(dir=root):
            pass
    except OSError as err:
        if err.errno in DISK_FULL_ERRNOS:
            raise DiskFullError(root) from None
        raise FetchError(
            f"cannot write into the data folder {root} (from {source}): "
            f"{err.strerror or type(err).__name__}; pass --data-dir DIR (or set {DATA_DIR_ENV}) "
            "to a folder you can write"
        ) from None


def cmd_data(args) -> Path:
    """`python main.py data`: fetch what is missing (see the module's docstring)."""
    datasets = datasets_for(
        full_train=getattr(args, "full_train", False),
        twitter=getattr(args, "embeddings", "6b") == "twitter",
    )
    return fetch_all(
        args.data_dir,
        datasets=datasets,
        timeout=getattr(args, "timeout", None),
        keep_downloads=getattr(args, "keep_downloads", False),
        say=lambda line: print(line, flush=True),
    )
