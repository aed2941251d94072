"""The fast featurizer of the sentiment MLP: the mean GloVe vector of many reviews at once.

`mlp.featurize` is the course's one-review function; `featurize_many` gives the same vectors for
all reviews together (one sparse matrix product), over forked workers where there are many.
"""

from __future__ import annotations

import warnings
from collections import defaultdict
from itertools import count
from operator import itemgetter
from typing import List, Optional, Sequence, Tuple

import numpy as np
import torch

from common import glove
from common import worker_pool

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
