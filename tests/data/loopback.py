"""A mirror on 127.0.0.1 for the data-fetching tests, and small archives in the formats the real
sources publish.

`Mirror(files)` serves `files` ({"/host/path": bytes}) the way `$HW3_DATA_MIRROR` expects them
(`<mirror>/<original host>/<original path>`), answers HTTP Range requests, 404 for anything else,
and can cut a body halfway (`cut`: the paths whose next answer stops after half its bytes) or send
one path's bytes from another (a corrupted copy). `silent_server()` accepts connections and never
answers; `full_backlog()` never lets a connection open; `closed_port()` refuses it. Nothing here
opens a connection beyond loopback.
"""

from __future__ import annotations

import contextlib
import csv
import gzip
import hashlib
import io
import socket
import tarfile
import threading
import urllib.parse
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from common import convert
from common.download import Download, Source


def mirror_path(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return f"/{parts.netloc}{parts.path}"


class Mirror:
    def __init__(self, files: dict[str, bytes]):
        self.files = dict(files)
        self.cut: set[str] = set()  # paths whose next answer stops halfway
        self.requests: list[tuple[str, str | None]] = []  # (path, Range header)
        mirror = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                path = urllib.parse.unquote(self.path)
                rng = self.headers.get("Range")
                mirror.requests.append((path, rng))
                body = mirror.files.get(path)
                if body is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                start = 0
                if rng and rng.startswith("bytes=") and rng.endswith("-"):
                    start = int(rng[6:-1])
                    if start >= len(body):
                        self.send_response(416)
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                else:
                    self.send_response(200)
                part = body[start:]
                self.send_header("Content-Length", str(len(part)))
                self.end_headers()
                if path in mirror.cut:
                    mirror.cut.discard(path)
                    self.wfile.write(part[: len(part) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(part)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "Mirror":
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


@contextlib.contextmanager
def silent_server():
    """A loopback address that accepts connections (the kernel's backlog) and never sends a byte."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        sock.close()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def wikitext_source(urls, texts, published: str = ""):
    """The sources table's pytorch/examples entry for WikiText-2 with these files (train, valid,
    test at `urls`) pinned by their SHA-256."""
    downloads = tuple(
        Download(u, f"sha256:{sha256(t)}", None, published) for u, t in zip(urls, texts)
    )
    return Source("pytorch/examples", downloads, convert.wikitext_files)


# --------------------------------------------------------------------------- archives in the real
# formats
def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime = len(data), 0
    tar.addfile(info, io.BytesIO(data))


def aclimdb_tar(
    splits: dict[str, list[tuple[int, int, int, str]]], readme: bytes, top="aclImdb"
) -> bytes:
    """A .tar.gz laid out as aclImdb_v1.tar.gz: TOP/{train,test}/{pos,neg}/{id}_{rating}.txt,
    TOP/README, and some of the files the converter must skip (unsup reviews, the bag-of-words
    files)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        _add(tar, f"{top}/README", readme)
        _add(tar, f"{top}/imdb.vocab", b"the\nmovie\n")
        for split, rows in splits.items():
            _add(tar, f"{top}/{split}/labeledBow.feat", b"0 0:1\n")
            for review_id, rating, label, text in reversed(rows):  # not in our order
                polarity = "pos" if label else "neg"
                _add(
                    tar, f"{top}/{split}/{polarity}/{review_id}_{rating}.txt", text.encode("utf-8")
                )
        _add(tar, f"{top}/train/unsup/0_0.txt", b"an unlabelled review")
    return buf.getvalue()


def rows_of_csv(data: bytes) -> list[tuple[int, int, int, str]]:
    """(id, rating, label, text) rows of one of our IMDB CSVs (decompressed)."""
    reader = csv.reader(io.StringIO(data.decode("utf-8"), newline=""))
    next(reader)
    return [(int(a), int(b), int(c), d) for a, b, c, d in reader]


def word2vec_gz(lines: list[str]) -> bytes:
    """gensim-data's format: gzip'd word2vec text, a `count dim` header, then GloVe's lines."""
    dim = len(lines[0].split()) - 1
    text = f"{len(lines)} {dim}\n" + "".join(line + "\n" for line in lines)
    return gzip.compress(text.encode("utf-8"), mtime=1234)


def zip_of(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


@contextlib.contextmanager
def full_backlog():
    """A loopback address where a connection never opens: its listening socket's backlog is full
    (one connection waits, never accepted), so the kernel drops further connection requests, as a
    firewall or a machine without a route does."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(0)
    waiting = socket.create_connection(sock.getsockname(), timeout=5)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        waiting.close()
        sock.close()


@contextlib.contextmanager
def closed_port():
    """A loopback address where nothing listens: a connection is refused at once."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    address = f"http://127.0.0.1:{sock.getsockname()[1]}"
    sock.close()
    yield address
