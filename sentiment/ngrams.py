"""Beyond the handout: how far sentiment classification goes on the course's IMDB splits with bags
of n-grams.

The course's model averages frozen 50-d GloVe vectors, and no MLP on top gets past what that average
keeps. This module measures what each step past it buys, on the same splits (`mlp.load_data_mlp`):

- the mean of *trained* word embeddings, initialised from GloVe or at random, with a linear
  classifier on top: fastText (Joulin et al. 2017, "Bag of Tricks for Efficient Text
  Classification");
- + word bigrams, hashed into a fixed number of buckets as fastText does;
- or the training split's n-grams numbered exactly (no collisions), which lets trigrams in: NBSVM
  with uni-, bi- and trigrams is Mesnil et al. 2015's strongest linear model;
- naive-Bayes log-count-ratio weighting of binarized uni+bigram features under a linear classifier:
  NBSVM (Wang and Manning 2012, "Baselines and Bigrams"), the strong linear reference, here as
  logistic regression;
- the NB-weighted linear part and the embedding average in one model, trained jointly (Mesnil et al.
  2015, "Ensemble of Generative and Discriminative Techniques for Sentiment Analysis of Movie
  Reviews", combine them as an ensemble); and word dropout (Iyyer et al. 2015, "Deep Unordered
  Composition Rivals Syntactic Methods").

A review is a bag of feature ids: its distinct known words (ids 0..V-1, the training split's
vocabulary) and, with bigrams, its distinct adjacent word pairs hashed to V + (a * HASH_MULTIPLIER +
b) mod buckets, or, `exact`, numbered V, V + 1, ... in the sorted order of the training split's
n-grams (others dropped). Every model is one `nn.EmbeddingBag` lookup per part, so training never
loops over words in Python. `run_sentiment` runs the rows (`ROWS`) over seeds, picks each row's
epoch on dev, scores test once, and returns and saves the histories.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import re
import time
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

import utils

# The package's data loaders and tokenizer, imported here only (they may move between modules).
from mlp import load_data_mlp
from common.glove import EmbeddingsFormatError, clean_text, load_glove, tokenize_many
from utils import atomic_savefig, atomic_write_json, curves_figure

# the seeds of each row in reference/sentiment_ngrams.json, which the documents quote
SEEDS = 3

# fastText's multiplier for hashing word-id n-grams (its dictionary.cc)
HASH_MULTIPLIER = 116_049_371
COURSE_SWEEPS = ("mlp_structures.json", "mlp_activations.json", "mlp_learning_rates.json")
TOKENIZERS = ("treebank", "words")
INITS = ("glove", "random")
QUICK_SIZES = (300, 1500, 300)  # dev, train, test reviews of a --quick run
_WORD = re.compile(r"[a-z0-9]+")


# --------------------------------------------------------------------------- configs: one per row
@dataclass(frozen=True)
class BagConfig:
    """One row of the table. `embed_dim` 0 leaves out the embedding average; `nb` adds the
    NB-weighted linear part."""

    label: str
    embed_dim: int = 50
    init: str = "glove"  # glove | random: where the unigram embeddings start
    ngrams: int = 1  # 1: words; 2: + word bigrams; 3: + trigrams (hashed)
    nb: bool = False
    # weight each feature's embedding in the mean by its NB ratio r_f
    nb_scaled_embeddings: bool = False
    buckets: int = 2**21  # hashed n-gram buckets (bigrams and trigrams share them)
    # n-grams numbered from the training split's instead of hashed (no collisions)
    exact: bool = False
    nb_alpha: float = 1.0  # the NB ratios' additive smoothing
    word_dropout: float = 0.0  # share of a training review's features dropped at each step
    # treebank (the package's: keeps punctuation and n't) | words (letters and digits)
    tokenizer: str = "treebank"
    epochs: int = 6  # the best epoch on dev is kept
    batch_size: int = 256
    lr: float = 0.01  # Adam for the classifier, sparse Adam for the embeddings
    nb_lr: float = 3e-3  # sparse Adam for the NB part's weights (which the ratios scale up)

    def check(self) -> "BagConfig":
        if self.embed_dim < 0 or (self.embed_dim == 0 and not self.nb):
            raise ValueError(
                f"row {self.label!r}: needs embeddings (embed_dim > 0) or the NB part, or both"
            )
        if self.init not in INITS:
            raise ValueError(f"row {self.label!r}: init must be one of {INITS}, got {self.init!r}")
        if self.tokenizer not in TOKENIZERS:
            raise ValueError(
                f"row {self.label!r}: tokenizer must be one of {TOKENIZERS}, got {self.tokenizer!r}"
            )
        if not 0.0 <= self.word_dropout < 1.0:
            raise ValueError(
                f"row {self.label!r}: word_dropout must be in [0, 1), got {self.word_dropout}"
            )
        if self.ngrams not in (1, 2, 3):
            raise ValueError(f"row {self.label!r}: ngrams must be 1, 2 or 3, got {self.ngrams}")
        if (
            self.buckets < 1
            or self.epochs < 1
            or self.batch_size < 1
            or not self.lr > 0
            or not self.nb_lr > 0
            or not self.nb_alpha > 0
        ):
            raise ValueError(
                f"row {self.label!r}: buckets, epochs, batch_size, lr, nb_lr and nb_alpha must be "
                f"positive"
            )
        return self


# Each setting below was chosen on dev (one seed, then these rows over three); see
# FINDINGS_sentiment.md.
REFERENCE = "NB-weighted LR, uni+bigrams"
ROWS: List[BagConfig] = [
    BagConfig("trained embeddings (GloVe init)"),
    BagConfig("trained embeddings (random init)", init="random"),
    BagConfig("+ hashed bigrams", ngrams=2),
    BagConfig(REFERENCE, embed_dim=0, ngrams=2, nb=True),
    BagConfig("NB-weighted LR + embeddings", ngrams=2, nb=True, lr=3e-3),
    # (e) what else dev might say helps, each against the linear reference it changes
    BagConfig("NB LR, letters-only tokens", embed_dim=0, ngrams=2, nb=True, tokenizer="words"),
    BagConfig("NB LR + word dropout 0.25", embed_dim=0, ngrams=2, nb=True, word_dropout=0.25),
    BagConfig("NB LR + hashed trigrams", embed_dim=0, ngrams=3, nb=True),
    BagConfig("NB LR, exact uni+bigrams", embed_dim=0, ngrams=2, nb=True, exact=True),
    BagConfig("NB LR, exact uni+bi+trigrams", embed_dim=0, ngrams=3, nb=True, exact=True),
]


# --------------------------------------------------------------------------- data
def load_inputs(data_dir=None, quick: bool = False):
    """The course's (dev, train, test) splits (cut to QUICK_SIZES with `quick`) and the GloVe
    table."""
    splits = load_data_mlp(data_dir=data_dir)
    if quick:
        splits = tuple({k: v[:n] for k, v in s.items()} for s, n in zip(splits, QUICK_SIZES))
    return splits, load_glove(data_dir=data_dir)


# --------------------------------------------------------------------------- features
def tokenize(texts: Sequence[str], tokenizer: str = "treebank") -> List[List[str]]:
    """Lowercased tokens of each text: the package's Treebank tokenizer, or runs of letters and
    digits only."""
    if tokenizer == "treebank":
        return tokenize_many(list(texts))
    if tokenizer == "words":
        return [_WORD.findall(clean_text(t.lower())) if t else [] for t in texts]
    raise ValueError(f"tokenizer must be one of {TOKENIZERS}, got {tokenizer!r}")


def hash_ngrams(words: Sequence[torch.Tensor], buckets: int) -> torch.Tensor:
    """The bucket of each n-gram of word ids (w1, ..., wn), as fastText hashes them: h = w1, then
    h = (h * HASH_MULTIPLIER + w_k) mod buckets for k = 2..n (int64 throughout, exact for ids and
    buckets < 2**30)."""
    h = words[0].long() % buckets
    for w in words[1:]:
        h = (h * HASH_MULTIPLIER + w.long()) % buckets
    return h


@dataclass
class Bags:
    """Reviews as bags of feature ids: review i holds ids[offsets[i]:offsets[i + 1]] (distinct,
    sorted)."""

    ids: torch.Tensor  # (T,) int64
    offsets: torch.Tensor  # (N + 1,) int64
    labels: torch.Tensor  # (N,) int64

    def __len__(self) -> int:
        return len(self.labels)

    def lengths(self) -> torch.Tensor:
        return self.offsets[1:] - self.offsets[:-1]

    def select(self, rows: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """(ids, offsets) of reviews `rows`, gathered with tensor ops: offsets (B,) as
        nn.EmbeddingBag takes them."""
        starts, lens = self.offsets[rows], self.lengths()[rows]
        batch_offsets = torch.cumsum(lens, 0) - lens  # (B,)
        # (T_B,)
        where = torch.arange(int(lens.sum())) + torch.repeat_interleave(
            starts - batch_offsets, lens
        )
        return self.ids[where], batch_offsets


@dataclass
class Featurized:
    """The three splits as bags, the number of features, and what built them."""

    dev: Bags
    train: Bags
    test: Bags
    num_features: int
    vocab: List[str]  # the unigram feature i is the word vocab[i]
    ngrams: int
    seconds: float


def featurize_splits(
    splits: Sequence[Dict[str, list]],
    tokenizer: str = "treebank",
    ngrams: int = 1,
    buckets: int = 2**21,
    tokens: Optional[Sequence[List[List[str]]]] = None,
    exact: bool = False,
) -> Featurized:
    """Tokenize (dev, train, test) once; the vocabulary is the training split's words.

    Words are numbered with one pass of C-level dict lookups over the joined tokens, training split
    first, so that a word is in the vocabulary iff its number is below the count of distinct
    training words; unknown words keep their place as the id V when n-grams are hashed (so "not
    <unknown>" stays a bigram), then are dropped from the unigrams. With `exact`, the n-grams (n =
    2, then 3) of the training split are numbered from V up, each n in the sorted order of its
    word-id tuples, and an n-gram the training split lacks is dropped (its NB ratio would be the
    smoothing's alone); `buckets` is then unused. Features are binarized (each distinct once per
    review), as in NBSVM. `tokens`, if given, are the (dev, train, test) token lists of `tokenize`
    (so that rows share them).
    """
    t0 = time.perf_counter()
    dev, train, test = splits
    order = (train, dev, test)  # training words first: they get the lowest numbers
    if tokens is None:
        tokens = [tokenize(s["text"], tokenizer) for s in order]
    else:
        tokens = [tokens[1], tokens[0], tokens[2]]
    lens = torch.tensor([len(t) for split in tokens for t in split], dtype=torch.long)  # (N,)
    number = {}
    for split_tokens, is_train in zip(tokens, (True, False, False)):
        flat = chain.from_iterable(split_tokens)
        if is_train:
            ids_train = np.fromiter(
                map(lambda w, d=number.setdefault: d(w, len(number)), flat), dtype=np.int64
            )
            vocab_size = len(number)
            parts = [ids_train]
        else:
            parts.append(
                np.fromiter(map(lambda w, g=number.get: g(w, vocab_size), flat), dtype=np.int64)
            )
    vocab = list(number)
    # (W,)
    words = torch.from_numpy(np.concatenate(parts)) if parts else torch.zeros(0, dtype=torch.long)
    # (W,) which review each token is in
    doc = torch.repeat_interleave(torch.arange(len(lens)), lens)
    feats, owners = [words[words < vocab_size]], [doc[words < vocab_size]]
    num_features = vocab_size
    if exact and (vocab_size + 1) ** ngrams >= 2**63:
        raise ValueError(
            f"{vocab_size} words: exact {ngrams}-grams overflow int64 keys; hash them (exact=False)"
        )
    for n in range(2, ngrams + 1):
        inside = doc[n - 1 :] == doc[: len(doc) - n + 1]  # n-grams inside one review
        grams = [words[k : len(words) - n + 1 + k][inside] for k in range(n)]
        owner = doc[n - 1 :][inside]
        if exact:
            key = grams[0]
            for w in grams[1:]:
                # the tuple in base V + 1: its order is the tuples' order
                key = key * (vocab_size + 1) + w
            # sorted; training reviews come first
            known = torch.unique(key[owner < len(train["text"])])
            place = torch.searchsorted(known, key).clamp(max=max(len(known) - 1, 0))
            seen = known[place] == key if len(known) else torch.zeros_like(key, dtype=torch.bool)
            feats.append(num_features + place[seen])
            owners.append(owner[seen])
            num_features += len(known)
        else:
            feats.append(vocab_size + hash_ngrams(grams, buckets))
            owners.append(owner)
    if ngrams > 1 and not exact:
        num_features += buckets
    # Binarize and sort per review: distinct (review, feature) keys.
    keys = torch.unique(torch.cat(owners) * num_features + torch.cat(feats))
    owner, ids = keys // num_features, keys % num_features
    counts = torch.bincount(owner, minlength=len(lens))
    offsets = torch.cat([torch.zeros(1, dtype=torch.long), torch.cumsum(counts, 0)])
    bags, start = [], 0
    for split in order:
        n = len(split["text"])
        lo, hi = int(offsets[start]), int(offsets[start + n])
        bags.append(
            Bags(
                ids[lo:hi].clone(),
                offsets[start : start + n + 1] - lo,
                torch.as_tensor(list(split["label"]), dtype=torch.long),
            )
        )
        start += n
    train_b, dev_b, test_b = bags
    return Featurized(dev_b, train_b, test_b, num_features, vocab, ngrams, time.perf_counter() - t0)


def nb_log_count_ratios(bags: Bags, num_features: int, alpha: float = 1.0) -> torch.Tensor:
    """NBSVM's r = log((p / |p|_1) / (q / |q|_1)), p = alpha + the binarized feature counts of the
    positive reviews, q the same for the negative ones (Wang and Manning 2012, section 2.1).
    (num_features,) float32."""
    owner = torch.repeat_interleave(torch.arange(len(bags)), bags.lengths())
    positive = bags.labels[owner] == 1
    p = alpha + torch.bincount(bags.ids[positive], minlength=num_features).double()
    q = alpha + torch.bincount(bags.ids[~positive], minlength=num_features).double()
    return (torch.log(p / p.sum()) - torch.log(q / q.sum())).float()


# --------------------------------------------------------------------------- the model
class BagOfNgrams(nn.Module):
    """logits (B, 2) = W mean(E[features]) + b  [+ the NB part: sum over features of r_f * U[f]].

    The first part is fastText's: the mean of the review's feature embeddings, then a linear layer.
    The NB part is NBSVM's linear model over binarized features scaled by their log-count ratios r.
    An empty review (or one of unknown words only) has an empty bag: its mean and its sum are zero,
    so its logits are the biases, a defined prediction.
    """

    def __init__(
        self,
        num_features: int,
        embed_dim: int,
        nb_ratios: Optional[torch.Tensor] = None,
        init_vectors: Optional[torch.Tensor] = None,
        nb_scaled_embeddings: bool = False,
    ):
        super().__init__()
        self.nb_scaled_embeddings = nb_scaled_embeddings
        self.embed = self.classify = self.nb = None
        if embed_dim:
            # mean via weights
            self.embed = nn.EmbeddingBag(num_features, embed_dim, mode="sum", sparse=True)
            # fastText's init
            nn.init.uniform_(self.embed.weight, -1.0 / embed_dim, 1.0 / embed_dim)
            if init_vectors is not None:
                with torch.no_grad():
                    self.embed.weight[: len(init_vectors)] = init_vectors
            self.classify = nn.Linear(embed_dim, 2)
        if nb_ratios is not None:
            self.register_buffer("nb_ratios", nb_ratios.float())
            self.nb = nn.EmbeddingBag(num_features, 2, mode="sum", sparse=True)
            nn.init.zeros_(self.nb.weight)
            self.nb_bias = nn.Parameter(torch.zeros(2))

    def forward(self, ids: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
        lens = torch.diff(offsets, append=torch.tensor([len(ids)]))  # (B,)
        logits = 0
        if self.embed is not None:
            inv_len = 1.0 / lens.clamp(min=1).float()
            weights = torch.repeat_interleave(inv_len, lens)  # (T,)
            if self.nb_scaled_embeddings:
                weights = weights * self.nb_ratios[ids]
            mean = self.embed(ids, offsets, per_sample_weights=weights)  # (B, D)
            logits = logits + self.classify(mean)
        if self.nb is not None:
            # (B, 2)
            logits = (
                logits
                + self.nb(ids, offsets, per_sample_weights=self.nb_ratios[ids])
                + self.nb_bias
            )
        return logits


def drop_words(
    ids: torch.Tensor, offsets: torch.Tensor, p: float, generator: torch.Generator
) -> Tuple[torch.Tensor, torch.Tensor]:
    """Drop each feature of a batch with probability p (word dropout, Iyyer et al. 2015); a bag may
    empty."""
    keep = torch.rand(len(ids), generator=generator) >= p
    lens = torch.diff(offsets, append=torch.tensor([len(ids)]))
    owner = torch.repeat_interleave(torch.arange(len(offsets)), lens)
    kept = torch.bincount(owner[keep], minlength=len(offsets))
    return ids[keep], torch.cumsum(kept, 0) - kept


@torch.no_grad()
def predict(model: BagOfNgrams, bags: Bags, batch_size: int = 2048) -> torch.Tensor:
    """Predicted labels (N,), in eval mode without gradients (the mode restored)."""
    with utils.evaluating(model):
        out = [
            model(*bags.select(torch.arange(i, min(i + batch_size, len(bags))))).argmax(1)
            for i in range(0, len(bags), batch_size)
        ]
    return torch.cat(out) if out else torch.zeros(0, dtype=torch.long)


def accuracy(model: BagOfNgrams, bags: Bags) -> float:
    return (
        float((predict(model, bags) == bags.labels).float().mean()) if len(bags) else float("nan")
    )


def glove_rows(vocab: Sequence[str], table) -> Tuple[torch.Tensor, int]:
    """(len(vocab), D) GloVe vectors of the vocabulary, rows of words GloVe lacks left random; and
    how many it had."""
    vectors = torch.as_tensor(np.asarray(table.vectors, dtype=np.float32))
    index = np.fromiter(
        (table.key_to_index.get(w, -1) for w in vocab), dtype=np.int64, count=len(vocab)
    )
    known = torch.from_numpy(index >= 0)
    rows = torch.empty(len(vocab), vectors.shape[1]).uniform_(
        -1.0 / vectors.shape[1], 1.0 / vectors.shape[1]
    )
    rows[known] = vectors[torch.from_numpy(index[index >= 0])]
    return rows, int(known.sum())


def train_row(
    config: BagConfig, data: Featurized, seed: int, glove=None, verbose: bool = False
) -> dict:
    """Train one row with one seed: per-epoch train loss and dev accuracy; test accuracy of the best
    dev epoch."""
    t0 = time.perf_counter()
    generator = utils.set_seed(seed)
    ratios = (
        nb_log_count_ratios(data.train, data.num_features, config.nb_alpha) if config.nb else None
    )
    init = None
    if config.embed_dim and config.init == "glove":
        if glove is None or glove.vector_size != config.embed_dim:
            raise ValueError(f"row {config.label!r}: GloVe init needs {config.embed_dim}-d vectors")
        init, _ = glove_rows(data.vocab, glove)
    model = BagOfNgrams(
        data.num_features, config.embed_dim, ratios, init, config.nb_scaled_embeddings
    )
    # The lookup tables have millions of rows of which a batch touches thousands: sparse gradients,
    # sparse Adam.
    sparse = {model.embed: config.lr, model.nb: config.nb_lr}
    tables = [m.weight for m in sparse if m is not None]
    dense = [p for p in model.parameters() if all(p is not t for t in tables)]
    optimizers = [
        torch.optim.Adam(dense, lr=config.lr if model.embed is not None else config.nb_lr),
        torch.optim.SparseAdam(
            [{"params": [m.weight], "lr": lr} for m, lr in sparse.items() if m is not None]
        ),
    ]
    history = {"train_loss": [], "dev_acc": []}
    best_acc, best_state, best_epoch = -1.0, None, 0
    n = len(data.train)
    for epoch in range(1, config.epochs + 1):
        model.train()
        order = torch.randperm(n, generator=generator)
        total = 0.0
        for start in range(0, n, config.batch_size):
            rows = order[start : start + config.batch_size]
            ids, offsets = data.train.select(rows)
            if config.word_dropout:
                ids, offsets = drop_words(ids, offsets, config.word_dropout, generator)
            loss = F.cross_entropy(model(ids, offsets), data.train.labels[rows])
            if not torch.isfinite(loss):
                raise utils.TrainingDiverged(
                    f"row {config.label!r}, seed {seed}: loss {loss.item()} at epoch "
                    f"{epoch}; lower the learning rate ({config.lr})"
                )
            for opt in optimizers:
                opt.zero_grad()
            loss.backward()
            for opt in optimizers:
                opt.step()
            total += loss.item() * len(rows)
        history["train_loss"].append(total / n)
        history["dev_acc"].append(accuracy(model, data.dev))
        if history["dev_acc"][-1] > best_acc:
            best_acc, best_epoch = history["dev_acc"][-1], epoch
            best_state = copy.deepcopy(model.state_dict())
        if verbose:
            print(
                f"  [{config.label}] seed {seed} epoch {epoch}: train loss "
                f"{history['train_loss'][-1]:.4f}, "
                f"dev acc {history['dev_acc'][-1]:.4f}",
                flush=True,
            )
    model.load_state_dict(best_state)
    return {
        **history,
        "best_epoch": best_epoch,
        "best_dev_acc": best_acc,
        "test_acc": accuracy(model, data.test),
        "seconds": time.perf_counter() - t0,
        "model": model,
    }


# --------------------------------------------------------------------------- the table
def course_row(results_dir: Union[str, os.PathLike]) -> Optional[dict]:
    """Row (a): of the committed 6.1 sweeps in `results_dir`, the config with the best mean dev
    accuracy (the course's MLP on averaged frozen GloVe); None if the sweeps are not there."""
    best = None
    for name in COURSE_SWEEPS:
        path = Path(results_dir) / name
        if not path.is_file():
            continue
        sweep = json.loads(path.read_text())
        for run in sweep["runs"]:
            if (
                best is None
                or run["summary"]["best_dev_acc_mean"] > best["summary"]["best_dev_acc_mean"]
            ):
                best = {
                    "label": f"course MLP on frozen GloVe average ({name[:-5]}: {run['label']})",
                    "source": str(path),
                    "seeds": run["seeds"],
                    "dev_acc": run["dev_acc"],
                    "best_dev_acc": run["best_dev_acc"],
                    "test_acc": run["test_acc"],
                    "seconds": run["seconds"],
                    "summary": {**run["summary"], "seconds_mean": float(np.mean(run["seconds"]))},
                }
    return best


def summarize(label: str, config: BagConfig, seeds: Sequence[int], runs: Sequence[dict]) -> dict:
    """One row's histories over its seeds, and their mean and (population) standard deviation."""
    per = {
        k: [r[k] for r in runs]
        for k in ("train_loss", "dev_acc", "best_epoch", "best_dev_acc", "test_acc", "seconds")
    }
    return {
        "label": label,
        "config": dataclasses.asdict(config),
        "seeds": list(seeds),
        **per,
        "summary": {
            **utils.seed_summary(per["best_dev_acc"], per["test_acc"]),
            "seconds_mean": float(np.mean(per["seconds"])),
        },
    }


def quick_rows(rows: Sequence[BagConfig], embed_dim: Optional[int] = None) -> List[BagConfig]:
    """The rows on a smoke budget: 2 epochs, 2**12 buckets (and embeddings of `embed_dim`, a small
    table's)."""
    return [
        dataclasses.replace(
            r,
            epochs=2,
            buckets=2**12,
            embed_dim=embed_dim if embed_dim and r.embed_dim else r.embed_dim,
        )
        for r in rows
    ]


def check_glove(rows: Sequence[BagConfig], glove) -> None:
    """Rows whose embeddings start from GloVe need vectors of their size: EmbeddingsFormatError if
    not."""
    for r in rows:
        if r.embed_dim and r.init == "glove" and glove.vector_size != r.embed_dim:
            raise EmbeddingsFormatError(
                f"row {r.label!r} starts from {r.embed_dim}-d GloVe vectors but the table has "
                f"{glove.vector_size}-d "
                f"ones; pass --data-dir with glove/glove.6B.{r.embed_dim}d.txt.gz"
            )


@dataclass
class TableRun:
    """How the table runs: its seeds; where its JSON and plot go (`out_dir/{stem}.json`,
    `out_dir/{stem}_dev_acc.png`); where the course's sweeps are read for its reference row
    (`course_dir`, None: no such row); torch threads; the command recorded; and whether it
    prints."""

    seeds: Sequence[int] = tuple(range(SEEDS))
    out_dir: Union[str, os.PathLike] = "plots"
    course_dir: Union[str, os.PathLike, None] = "plots"
    stem: str = "sentiment_ngrams"
    threads: Optional[int] = 2
    command: str = ""
    verbose: bool = True


def run_sentiment(
    splits: Sequence[Dict[str, list]],
    glove,
    rows: Sequence[BagConfig] = tuple(ROWS),
    run: TableRun = TableRun(),
) -> dict:
    """Run every row over `run.seeds` on (dev, train, test); return the histories, write
    `out_dir/{stem}.json` (atomically) and `out_dir/{stem}_dev_acc.png` (dev accuracy per epoch,
    mean and band over seeds).

    Each row's epoch is chosen on dev and test is scored once, with the weights of that epoch; the
    best row is the one of highest mean dev accuracy. Rows that share a tokenizer share its tokens,
    and rows that share (tokenizer, n-grams, buckets) share their bags; the featurization time of
    each is recorded.
    """
    rows = [r.check() for r in rows]
    check_glove(rows, glove)
    seeds, out_dir, course_dir, stem, threads, command, verbose = dataclasses.astuple(run)
    if not seeds:
        raise ValueError("need at least one seed")
    if len({r.label for r in rows}) != len(rows):
        raise ValueError("row labels must differ")
    started = time.perf_counter()
    tokens, bags, featurize_seconds = {}, {}, {}
    results = []
    with utils.torch_threads(threads):
        for config in rows:
            key = (config.tokenizer, config.ngrams, config.buckets, config.exact)
            if key not in bags:
                t0 = time.perf_counter()
                if config.tokenizer not in tokens:
                    tokens[config.tokenizer] = [
                        tokenize(s["text"], config.tokenizer) for s in splits
                    ]
                bags[key] = featurize_splits(
                    splits, *key[:3], tokens=tokens[config.tokenizer], exact=config.exact
                )
                featurize_seconds[
                    "{}, {}-grams, {}".format(
                        *key[:2], "exact" if config.exact else f"{key[2]} buckets"
                    )
                ] = time.perf_counter() - t0
                if verbose:
                    print(
                        f"featurized {sum(map(len, (s['text'] for s in splits)))} reviews "
                        f"({key[0]} tokens, "
                        f"up to {key[1]}-grams) in {time.perf_counter() - t0:.1f} s",
                        flush=True,
                    )
            runs = []
            for seed in seeds:
                run = train_row(config, bags[key], seed, glove)
                run.pop("model")
                runs.append(run)
                if verbose:
                    print(
                        f"[{config.label}] seed {seed}: dev {run['best_dev_acc']:.4f} (epoch "
                        f"{run['best_epoch']}),"
                        f" test {run['test_acc']:.4f}, {run['seconds']:.1f} s",
                        flush=True,
                    )
            results.append(summarize(config.label, config, seeds, runs))
    course = course_row(course_dir) if course_dir is not None else None
    best = max(results, key=lambda r: r["summary"]["best_dev_acc_mean"])
    reference = next((r for r in results if r["label"] == REFERENCE), None)
    history = {
        "command": command,
        "sizes": dict(zip(("dev", "train", "test"), (len(s["text"]) for s in splits))),
        "seeds": list(seeds),
        "course_row": course,
        "rows": results,
        "best_row": best["label"],
        "reference_row": reference and reference["label"],
        "featurize_seconds": featurize_seconds,
        "torch_threads": torch.get_num_threads() if threads is None else threads,
        "torch_version": torch.__version__,
        "wall_seconds": time.perf_counter() - started,
    }
    history["plot"] = str(plot_rows(history, Path(out_dir) / f"{stem}_dev_acc.png"))
    history["json"] = str(atomic_write_json(history, Path(out_dir) / f"{stem}.json"))
    if verbose:
        print(
            f"best row on dev: {best['label']}: dev "
            f"{best['summary']['best_dev_acc_mean']:.4f}, test "
            f"{best['summary']['test_acc_mean']:.4f} +/- "
            f"{best['summary']['test_acc_std']:.4f}; wrote "
            f"{history['json']}, {history['plot']}"
        )
    return history


def plot_rows(history: dict, path: Path) -> Path:
    """Dev accuracy per epoch of every row (and the course's MLP), mean and band over seeds."""
    import matplotlib.pyplot as plt

    curves = {}
    if history.get("course_row"):
        curves[history["course_row"]["label"]] = history["course_row"]["dev_acc"]
    curves.update({r["label"]: r["dev_acc"] for r in history["rows"]})
    seeds = history["seeds"]
    note = f"mean and range over {len(seeds)} seeds" if len(seeds) > 1 else f"seed {seeds[0]}"
    # the rows lie within a point or two of each other, far above the course's MLP: a zoom panel
    # shows them apart
    fig = curves_figure(
        curves,
        "Dev accuracy",
        title=f"IMDB, course splits: bags of n-grams and trained embeddings ({note})",
        zoom=True,
    )
    try:
        return atomic_savefig(fig, path)
    finally:
        plt.close(fig)
