"""The sentiment classifier's word vectors and tokenizer: a GloVe table with the interface of
gensim's KeyedVectors (`WordVectors`, `load_glove`; Pennington, Socher and Manning 2014), parsed
once and cached in binary outside the repo, and a Penn-Treebank-style word tokenizer
(`word_tokenize`, `tokenize_many`) standing in for nltk's, that mlp.featurize uses."""

from __future__ import annotations

import contextlib
import gc
import gzip
import hashlib
import html
import io
import json
import math
import os
import re
import sys
import zlib
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from common.datafiles import DataNotFoundError, check_data_file, data_path
from utils import _atomic_write, atomic_write_json, default_cache_dir


GLOVE_FILE = ("glove", "glove.6B.50d.txt.gz")
TWITTER_FILE = ("glove", "glove-twitter-50.txt.gz")  # gensim-data's, word2vec header kept
# `--embeddings NAME`: (what the runs are labelled, the file under the data folder, the command that
# fetches it)
EMBEDDINGS = {
    "6b": ("glove.6B.50d", GLOVE_FILE, "python main.py data"),
    "twitter": ("glove-twitter-50", TWITTER_FILE, "python main.py data --embeddings twitter"),
}


@contextlib.contextmanager
def gc_paused():
    """Pause Python's cyclic garbage collector for a block that builds millions of small lists and
    strings but no reference cycles: each collection would walk all of them again."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


# --------------------------------------------------------------------------- tokenizer
# A regex rendition of the Penn Treebank tokenizer (nltk.tokenize.TreebankWordTokenizer). Every rule
# looks at most one whitespace-delimited piece at a time (a line end counts as whitespace), so a
# text's tokens are the concatenation of its pieces' tokens. That lets a corpus be tokenized piece
# by distinct piece: 35,000 IMDB reviews hold 9 million pieces but only a few hundred thousand
# distinct ones, and the rules run once over those joined by newlines.
_TAG = re.compile(r"</?[A-Za-z][^<>\n\x00]*>")


def _spaced(match: re.Match) -> str:
    return f" {match.group()} "


# Replacements are constant strings where they can be (re runs those in C) and `_spaced` elsewhere;
# context sits in look-arounds, so a rule never consumes the character next to what it splits off.
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
    (
        re.compile(r"(?<=[^' \t\n])(?:'[sSmMdD]|'ll|'LL|'re|'RE|'ve|'VE|n't|N'T)(?=[ \t]|$)", re.M),
        _spaced,
    ),
    # nltk's CONTRACTIONS2/3 ("cannot" -> "can not", "gonna" -> "gon na"), as one pass
    (
        re.compile(
            r"\b(can)(not)\b|\b(d)('ye)\b|\b(gim)(me)\b|\b(gon)(na)\b|\b(got)(ta)\b|\b(lem)(me)\b"
            r"|\b(wan)(na)(?=[ \t]|$)",
            re.I | re.M,
        ),
        lambda m: " ".join(g for g in m.groups() if g),
    ),
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
    """Treebank tokens of each whitespace-free piece: ["don't", 'movie!'] -> [['do', "n't"],
    ['movie', '!']]."""
    tokens = [[p] for p in pieces]
    # Letters and digits alone stay one token (most pieces), except the few words the last rule
    # splits.
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
            raise ValueError(
                f"need one row per word: {len(index_to_key)} words, vectors of shape "
                f"{vectors.shape}"
            )
        self.index_to_key = list(index_to_key)
        self.key_to_index = {w: i for i, w in enumerate(self.index_to_key)}
        self.vectors = vectors
        self.vector_size = int(vectors.shape[1])
        self.name: str | None = None  # what load_glove loaded ("glove.6B.50d", "glove-twitter-50")

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


def parse_embeddings_text(path: str | os.PathLike, limit: int | None = None) -> WordVectors:
    """Parse a GloVe/word2vec-style text file (optionally .gz): `word v1 ... vD` per line, no
    header.

    A word2vec header line `count dim` is skipped. Every line must hold the same number of numbers
    (the count most lines hold) and every number must be finite; the first line that breaks either
    raises EmbeddingsFormatError naming the file and its 1-based line number. A file that cannot be
    read through (unreadable, not gzip, truncated, not UTF-8) raises DataFileError.
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8") as f:
            lines = (
                f.read().splitlines()
                if limit is None
                else [line for _, line in zip(range(limit + 1), f)]
            )
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
    # The dimension is what most lines hold, not what the first line holds, so that a short first
    # line is the one blamed; on a tie, the count that comes first in the file.
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
    if not np.isfinite(
        flat
    ).all():  # nan and inf parse as numbers, and would spread through every average
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
    """The file's bytes in a bytearray, so that an array made over them is writable without a
    copy."""
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
    """The cached table, after both files match the SHA-256 sums and the shape in `check_file`;
    _DamagedCache naming the first file that does not."""
    if not check_file.is_file():
        raise _DamagedCache(
            check_file, "is missing (an interrupted write, or a cache from before checksums)"
        )
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
    # the bytes are the ones written, so this only guards against a check file that lies about them
    try:
        header = io.BytesIO(bytes(data[vectors_file][:4096]))
        if np.lib.format.read_magic(header) != (1, 0):
            raise ValueError("not a version 1.0 .npy file")
        npy_shape, fortran, dtype = np.lib.format.read_array_header_1_0(header)
        if npy_shape != shape or fortran or dtype != np.float32 or len(words) != shape[0]:
            raise ValueError(
                f"{len(words)} words and vectors {npy_shape} {dtype}, expected {shape} float32"
            )
        vectors = np.frombuffer(
            data[vectors_file], dtype=np.float32, count=math.prod(shape), offset=header.tell()
        ).reshape(shape)
    except ValueError as err:
        raise _DamagedCache(
            vectors_file, f"does not agree with {check_file.name} ({err})"
        ) from None
    return WordVectors(words, vectors)


def _write_glove_cache(
    table: WordVectors, words_file: Path, vectors_file: Path, check_file: Path
) -> None:
    """Both files, then the check file with their sums: written last, so that it vouches only for
    whole files."""
    vectors, words = _npy_bytes(table.vectors), "\n".join(table.index_to_key).encode("utf-8")
    for file, data in ((vectors_file, vectors), (words_file, words)):
        _atomic_write(file, lambda tmp, data=data: Path(tmp).write_bytes(data))
    atomic_write_json(
        {
            "source": "load_glove",
            "shape": list(table.vectors.shape),
            "words_sha256": hashlib.sha256(words).hexdigest(),
            "vectors_sha256": hashlib.sha256(vectors).hexdigest(),
        },
        check_file,
    )


def load_glove(
    path: str | os.PathLike | None = None,
    data_dir: str | os.PathLike | None = None,
    limit: int | None = None,
    cache_dir: str | os.PathLike | None = None,
    verbose: bool = True,
    name: str = "6b",
) -> WordVectors:
    """Load GloVe (default: glove.6B.50d in the data directory; `name` "twitter": glove-twitter-50,
    whose word2vec header `parse_embeddings_text` skips) as WordVectors.

    The first load parses the text and writes a binary cache outside the repo
    (`default_cache_dir()`): the words as text, the vectors as .npy, and a JSON file with the
    SHA-256 of both and the shape. Later loads read the cache, after checking it against those sums;
    a cache that fails the check (damaged, cut short, swapped) is named in one line on stderr and
    rebuilt from the text. The cache key covers the file's path, size and modification time, so a
    changed file is parsed anew.
    """
    label = None
    if path is None:
        label, parts, fetch = EMBEDDINGS[name]
        path = data_path(*parts, data_dir=data_dir, fetch=fetch)
    path = Path(path)
    if not path.is_file():
        raise DataNotFoundError(f"embeddings file not found: {path}")
    stat = path.stat()
    key = hashlib.sha1(
        f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{limit}".encode()
    ).hexdigest()[:16]
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    stem = cache / f"{path.name}.{key}"
    files = (Path(f"{stem}.words.txt"), Path(f"{stem}.vectors.npy"), Path(f"{stem}.sha256.json"))
    if any(f.exists() for f in files):
        try:
            table = _read_glove_cache(*files)
            table.name = label
            return table
        except _DamagedCache as damage:
            print(
                f"embeddings cache {damage.path} {damage.problem}; rebuilding it from {path}",
                file=sys.stderr,
            )
    elif verbose:  # on stdout: stderr is for faults, so that a bad file is the one line there
        print(f"parsing {path} once; later runs read the binary cache in {cache}", flush=True)
    table = parse_embeddings_text(path, limit=limit)
    table.name = label
    try:
        _write_glove_cache(table, *files)
    except OSError as err:  # a read-only home still gets its vectors, just without a cache
        print(f"warning: could not write the embeddings cache in {cache}: {err}", file=sys.stderr)
    return table
