"""From what the sources publish to the files the package reads (the layout of
../shared/data/README.md).

Each converter takes the downloaded files of one source and yields `(relative path, chunks)` pairs,
the chunks being the file's *decompressed* content as bytes; common/download.py compresses them
(gzip, mtime 0) and checks them against the pinned SHA-256 while it writes. Nothing here touches the
network or writes a file.

- `aclimdb_tar`: the Large Movie Review Dataset's tarball (any top folder: `aclImdb/` or fastai's
  `imdb/`) to `imdb/imdb_{train,test}.csv.gz` (header id,rating,label,text; rows sorted by (label,
  id); id and rating from the file names `{id}_{rating}.txt`; quoting as Python's csv module writes
  it, `\\n` line ends) and the README;
- `wikitext_files` / `wikitext_zip`: pytorch/examples' `{train,valid,test}.txt`, or the official
  `wikitext-2-v1.zip`, to `wikitext-2/wiki.{valid,test}.tokens.gz`, the train prefix the course data
  uses (`wiki.train.tokens.partial.gz`: everything before the article ` = Condom = `) and, if asked
  for, the whole official train file (`wiki.train.tokens.gz`);
- `word2vec_gz` / `glove_zip`: gensim-data's word2vec text (a `count dim` header, then GloVe's
  lines) or Stanford's zip to GloVe's own text (no header) for 6B 50d, and to word2vec text (header
  kept) for glove-twitter-50, which common/glove.py reads either way.
"""

from __future__ import annotations

import csv
import gzip
import io
import re
import tarfile
import zipfile
import zlib
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

CHUNK = 1 << 20

IMDB_TRAIN, IMDB_TEST = "imdb/imdb_train.csv.gz", "imdb/imdb_test.csv.gz"
IMDB_README = "imdb/aclImdb_README.txt"
WIKI_VALID, WIKI_TEST = "wikitext-2/wiki.valid.tokens.gz", "wikitext-2/wiki.test.tokens.gz"
WIKI_TRAIN_PART, WIKI_TRAIN_FULL = (
    "wikitext-2/wiki.train.tokens.partial.gz",
    "wikitext-2/wiki.train.tokens.gz",
)
GLOVE_6B = "glove/glove.6B.50d.txt.gz"
GLOVE_TWITTER = "glove/glove-twitter-50.txt.gz"
# The course data's train file stops before this article (../shared/data/README.md, section 3).
WIKI_TRAIN_CUT = b"\n = Condom = \n"

Chunks = Iterable[bytes]
Converted = Iterator[tuple[str, Chunks]]


class ConversionError(ValueError):
    """A download does not hold what its converter expects; the message names the file and what is
    missing."""


# --------------------------------------------------------------------------- IMDB
_REVIEW = re.compile(r"^(?:\./)?(?:[^/]+/)?(train|test)/(pos|neg)/(\d+)_(\d+)\.txt$")
_README = re.compile(r"^(?:\./)?[^/]+/README$")


def imdb_csv(rows: Sequence[tuple[int, int, int, str]]) -> bytes:
    """The CSV of (id, rating, label, text) rows, sorted by (label, id), as ../shared/data has
    it."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["id", "rating", "label", "text"])
    for review_id, rating, label, text in sorted(rows, key=lambda r: (r[2], r[0])):
        writer.writerow([review_id, rating, label, text])
    return buf.getvalue().encode("utf-8")


def aclimdb_tar(downloads: Sequence[Path], wanted: set[str]) -> Converted:
    """imdb/imdb_train.csv.gz, imdb/imdb_test.csv.gz and imdb/aclImdb_README.txt from the tarball,
    read once as a stream (the `unsup` reviews and the bag-of-words files are skipped)."""
    (archive,) = downloads
    rows: dict[str, list] = {"train": [], "test": []}
    readme = None
    try:
        with tarfile.open(archive, mode="r|*") as tar:
            for member in tar:
                if not member.isfile():
                    continue
                match = _REVIEW.match(member.name)
                if match:
                    split, polarity, review_id, rating = match.groups()
                    text = tar.extractfile(member).read().decode("utf-8")
                    rows[split].append((int(review_id), int(rating), int(polarity == "pos"), text))
                elif _README.match(member.name):
                    readme = tar.extractfile(member).read()
    except (tarfile.TarError, EOFError, OSError, UnicodeDecodeError) as err:
        raise ConversionError(f"{archive} is not a readable IMDB tarball ({err})") from None
    for split, path in (("train", IMDB_TRAIN), ("test", IMDB_TEST)):
        if path in wanted:
            if not rows[split]:
                raise ConversionError(f"{archive} holds no {split}/pos or {split}/neg reviews")
            yield path, [imdb_csv(rows[split])]
    if IMDB_README in wanted:
        if readme is None:
            raise ConversionError(f"{archive} holds no README at its top")
        yield IMDB_README, [readme]


# --------------------------------------------------------------------------- WikiText-2
def wikitext_train_prefix(train: bytes) -> bytes:
    """The course data's train prefix of the official train file: every article before the
    article ` = Condom = `."""
    at = train.find(WIKI_TRAIN_CUT)
    if at < 0:
        raise ConversionError(
            "the WikiText-2 train file has no article ' = Condom = ' to cut before; "
            "it is not the official wiki.train.tokens"
        )
    return train[: at + 1]


def _wikitext(texts: dict[str, bytes], wanted: set[str]) -> Converted:
    for path, split in ((WIKI_VALID, "valid"), (WIKI_TEST, "test"), (WIKI_TRAIN_FULL, "train")):
        if path in wanted:
            yield path, [texts[split]]
    if WIKI_TRAIN_PART in wanted:
        yield WIKI_TRAIN_PART, [wikitext_train_prefix(texts["train"])]


def wikitext_files(downloads: Sequence[Path], wanted: set[str]) -> Converted:
    """pytorch/examples' train.txt, valid.txt and test.txt (in that order): the official files,
    renamed."""
    texts = {split: Path(p).read_bytes() for split, p in zip(("train", "valid", "test"), downloads)}
    yield from _wikitext(texts, wanted)


def wikitext_zip(downloads: Sequence[Path], wanted: set[str]) -> Converted:
    """The official wikitext-2-v1.zip: members wikitext-2/wiki.{train,valid,test}.tokens."""
    (archive,) = downloads
    try:
        with zipfile.ZipFile(archive) as zf:
            texts = {s: zf.read(f"wikitext-2/wiki.{s}.tokens") for s in ("train", "valid", "test")}
    except (zipfile.BadZipFile, KeyError, OSError) as err:
        raise ConversionError(f"{archive} is not the WikiText-2 v1 zip ({err})") from None
    yield from _wikitext(texts, wanted)


# --------------------------------------------------------------------------- GloVe
def _stream(open_binary: Callable[[], io.BufferedIOBase], skip_header: bool) -> Chunks:
    """The bytes of a file, in chunks, without its first line when `skip_header` (a word2vec `count
    dim`). A damaged archive is a ConversionError (raised while the caller writes)."""
    try:
        with open_binary() as f:
            if skip_header:
                header = f.readline().split()
                if len(header) != 2 or not all(p.isdigit() for p in header):
                    raise ConversionError(
                        f"expected a word2vec header 'count dim', found {header[:3]!r}"
                    )
            while chunk := f.read(CHUNK):
                yield chunk
    except (OSError, EOFError, zlib.error, zipfile.BadZipFile) as err:
        raise ConversionError(f"the archive cannot be read to its end ({err})") from None


def word2vec_gz(keep_header: bool) -> Callable[[Sequence[Path], set[str]], Converted]:
    """gensim-data's NAME.gz (word2vec text): GloVe's text without the header, or with it
    (`keep_header`)."""

    def convert(downloads: Sequence[Path], wanted: set[str]) -> Converted:
        (archive,) = downloads
        for path in sorted(wanted):
            yield path, _stream(lambda: gzip.open(archive, "rb"), skip_header=not keep_header)

    return convert


def glove_zip(member: str, add_header: bool) -> Callable[[Sequence[Path], set[str]], Converted]:
    """One member of Stanford's GloVe zip: as it is, or with a word2vec header (`add_header`: lines
    counted in a first pass) so that it is the file gensim-data publishes."""

    def convert(downloads: Sequence[Path], wanted: set[str]) -> Converted:
        (archive,) = downloads
        try:
            zf = zipfile.ZipFile(archive)
            zf.getinfo(member)
        except (zipfile.BadZipFile, KeyError, OSError) as err:
            raise ConversionError(f"{archive} has no {member} ({err})") from None

        def chunks() -> Chunks:
            with zf:
                if add_header:
                    count, dim = 0, 0
                    try:
                        with zf.open(member) as f:
                            for line in f:
                                count += 1
                                dim = dim or len(line.split()) - 1
                    except (OSError, EOFError, zlib.error, zipfile.BadZipFile) as err:
                        raise ConversionError(
                            f"{archive}: {member} cannot be read ({err})"
                        ) from None
                    yield f"{count} {dim}\n".encode()
                yield from _stream(lambda: zf.open(member), skip_header=False)

        for path in sorted(wanted):
            yield path, chunks()

    return convert
