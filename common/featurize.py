"""The fast featurizer of the sentiment MLP: the mean GloVe vector of many reviews at once.

`mlp.featurize` is the course's one-review function; `featurize_many` gives the same vectors for
all reviews together (one sparse matrix product), over forked workers where there are many.
`cached_datasets` keeps a run's featurized splits on disk, checked, for the next run.
"""

from __future__ import annotations

import hashlib
import io
import sys
import warnings
from collections import defaultdict
from itertools import count
from operator import itemgetter
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

import numpy as np
import torch
from torch.utils.data import TensorDataset

from common import glove
from common import worker_pool
import utils

_TEXT_END = "\x00"  # a piece no review contains; marks where one text ends in the joined corpus


def featurize_many(
    texts: Sequence[str], embeddings, workers: Optional[int] = None
) -> Tuple[torch.Tensor, torch.Tensor]:
    """Average word vectors of many texts at once: `features` (N, D) float32 and `known` (N,) bool.

    Texts are independent, so with `workers` > 1 (default: up to 2 processes for 4,000 texts or
    more, where the platform can fork) each process featurizes a contiguous share; the result is the
    same either way.
    """
    if workers is None:
        # below 4,000 texts, forking costs more than it saves
        workers = worker_pool.default_workers() if len(texts) >= 4_000 else 1
    bounds = np.linspace(0, len(texts), max(1, min(workers, len(texts))) + 1).astype(int)
    shares = [list(texts[a:b]) for a, b in zip(bounds[:-1], bounds[1:])]
    parts = worker_pool.fork_map(_featurize_share, shares, workers, context=embeddings)
    if not parts:
        return _featurize_texts(texts, embeddings)
    return torch.cat([torch.from_numpy(f) for f, _ in parts]), torch.cat(
        [torch.from_numpy(k) for _, k in parts]
    )


def _featurize_share(embeddings, texts: List[str]) -> Tuple[np.ndarray, np.ndarray]:
    features, known = _featurize_texts(texts, embeddings)
    return features.numpy(), known.numpy()


def _featurize_texts(texts: Sequence[str], embeddings) -> Tuple[torch.Tensor, torch.Tensor]:
    """Average word vectors of many texts in this process (see featurize_many)."""
    with glove.gc_paused():
        return _featurize_texts_here(texts, embeddings)


def _featurize_texts_here(texts: Sequence[str], embeddings) -> Tuple[torch.Tensor, torch.Tensor]:
    """The work of _featurize_texts.

    Returns `features` (N, D) float32 and `known` (N,) bool: False where a text has no known word
    (its row is zero). Each distinct whitespace-delimited piece is tokenized and summed once
    (`glove.tokenize_pieces`); a text's sum is then the sum of its pieces' sums, gathered with
    tensor ops. The per-piece Python work is two C-level passes (str.split, and operator.itemgetter
    over a defaultdict that numbers new pieces).
    """
    if len(texts) == 0:
        return torch.zeros(0, int(embeddings.vector_size)), torch.zeros(0, dtype=torch.bool)
    pieces = glove.clean_text(
        f" {_TEXT_END} ".join(t.lower().replace(_TEXT_END, " ") if t else "" for t in texts)
    ).split()
    number_of = defaultdict(count().__next__)
    number_of[_TEXT_END]  # piece 0 ends a text
    numbers = itemgetter(*pieces)(number_of) if len(pieces) > 1 else [number_of[p] for p in pieces]
    # (P,) piece number of each occurrence
    occ = np.fromiter(numbers, dtype=np.int64, count=len(pieces))
    distinct = list(number_of)
    vectors = torch.as_tensor(np.asarray(embeddings.vectors, dtype=np.float32))  # (V, D)
    get = embeddings.key_to_index.get

    # Per distinct piece: the sum and the number of its known tokens.
    token_lists = glove.tokenize_pieces(distinct)
    token_lists[0] = []
    n_tokens = torch.tensor([len(toks) for toks in token_lists], dtype=torch.long)  # (U,)
    # (T,)
    token_ids = torch.tensor([get(t, -1) for toks in token_lists for t in toks], dtype=torch.long)
    owner = torch.repeat_interleave(torch.arange(len(distinct)), n_tokens)  # (T,)
    known = token_ids >= 0
    # (U, D)
    piece_sums = torch.zeros(len(distinct), vectors.shape[1]).index_add_(
        0, owner[known], vectors[token_ids[known]]
    )
    piece_counts = torch.bincount(owner[known], minlength=len(distinct))  # (U,)

    # Per text: the sum over its pieces; text i owns the occurrences after the i-th end marker. The
    # (texts x pieces) occurrence matrix is sparse CSR, so the sum is one sparse matmul, no (P, D)
    # gather.
    occ = torch.from_numpy(occ)
    useful = piece_counts[occ] > 0
    text_of = torch.cumsum(occ == 0, dim=0)[useful]  # (P',) sorted
    occ = occ[useful]
    row_ends = torch.cumsum(torch.bincount(text_of, minlength=len(texts)), dim=0)  # (N,)
    crow = torch.cat([torch.zeros(1, dtype=torch.long), row_ends])  # (N+1,)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "sparse CSR support is in beta"
        occurrences = torch.sparse_csr_tensor(
            crow, occ, torch.ones(len(occ)), size=(len(texts), len(distinct))
        )
        sums = occurrences @ piece_sums  # (N, D)
    # (N,)
    counts = torch.zeros(len(texts), dtype=torch.long).index_add_(0, text_of, piece_counts[occ])
    return sums / counts.clamp(min=1).unsqueeze(1).to(sums.dtype), counts > 0


# Part of the cache key: bump it when featurization changes what it computes.
FEATURES_VERSION = 1


def features_key(splits: Sequence[dict], embeddings) -> str:
    """SHA-256 of what the features depend on: every split's texts and labels, in order, and the
    word vectors (their words and values), with FEATURES_VERSION."""
    digest = hashlib.sha256(f"features v{FEATURES_VERSION}".encode())
    for split in splits:
        digest.update(f"\x01{len(split['text'])}\x01".encode())
        for text in split["text"]:
            digest.update((text or "").encode("utf-8", "surrogatepass") + b"\x00")
        digest.update(np.asarray(split["label"], dtype=np.int64).tobytes())
    digest.update("\n".join(embeddings.index_to_key).encode("utf-8"))
    digest.update(np.ascontiguousarray(embeddings.vectors, dtype=np.float32).tobytes())
    return digest.hexdigest()


def cached_datasets(splits: Sequence[dict], embeddings, build, cache_dir=None) -> list:
    """`build()` (the splits featurized, a list of TensorDatasets), kept in the cache folder
    (`utils.default_cache_dir()`) under `features_key`, so a later run on the same texts and
    vectors reads them instead. The file's SHA-256 is checked on reading; a damaged or unreadable
    cache is named in one line on stderr and made again. A folder that cannot be written only
    loses the cache."""
    key = features_key(splits, embeddings)
    folder = utils.default_cache_dir() if cache_dir is None else Path(cache_dir)
    path = folder / f"features.{key[:20]}.pt"
    check = path.with_suffix(".sha256")
    if path.is_file():
        try:
            data = path.read_bytes()
            if hashlib.sha256(data).hexdigest() != check.read_text().strip():
                raise ValueError(f"does not match its SHA-256 in {check.name}")
            saved = torch.load(io.BytesIO(data), weights_only=True)
            return [TensorDataset(x, y) for x, y in saved]
        except (OSError, ValueError, RuntimeError, TypeError) as err:
            print(f"note: features cache {path} {err}; featurizing again", file=sys.stderr)
    datasets = build()
    buffer = io.BytesIO()
    torch.save([tuple(d.tensors) for d in datasets], buffer)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        utils._atomic_write(path, lambda tmp: Path(tmp).write_bytes(buffer.getvalue()))
        digest = hashlib.sha256(buffer.getvalue()).hexdigest()
        # written second, so that it vouches only for a whole file
        utils._atomic_write(check, lambda tmp: Path(tmp).write_text(digest + "\n"))
    except OSError as err:
        print(f"warning: could not write the features cache in {folder}: {err}", file=sys.stderr)
    return datasets
