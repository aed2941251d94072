"""Beyond the handout: what the course's averaged GloVe vector is made of, and what its most
frequent words give the classifier (hw3.md's sentiment section).

The course's feature of a review is the mean of the frozen GloVe vectors of its known words
(`mlp.featurize`). `measure_average` takes the `TOP_WORDS` most frequent known words of the training
split and measures, over the training reviews:

- their share of a review's known words (`word_share`);
- their share of its average (`average_share`): the projection of their part of the mean (their
  vectors' sum over the review's length) onto the whole mean, over its squared length, so that
  their share and the other words' add up to 1;

and, as the control, trains 6.1.3's one-layer net at its course rate (`structure_sweep`'s, the
best of the sweeps) on three features over the same seeds: the whole average, the average without
those words, and the average of those words alone. Only the words averaged change between the
three.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections import Counter
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Union

import numpy as np

import utils
from common.glove import WordVectors, tokenize_many
from mlp import create_tensor_datasets
from sweeps import batched
from sweeps.definitions import structure_sweep

TOP_WORDS = 100  # the frequent words: about the stop words of an English list
SHOWN_WORDS = 20  # the most frequent of them, written into the JSON for a reader
ARMS = ("whole average", "without the frequent words", "the frequent words alone")


def frequent_words(tokens: Sequence[Sequence[str]], table, top: int) -> List[str]:
    """The `top` most frequent words of `tokens` (a split's reviews) that `table` knows, most
    frequent first (ties in the order first met)."""
    counts = Counter(t for review in tokens for t in review if t in table.key_to_index)
    return [word for word, _ in counts.most_common(top)]


def shares(tokens: Sequence[Sequence[str]], table, words: Sequence[str]) -> Dict[str, float]:
    """`words`' mean share of each review's known words and of its average (the module's
    docstring), over the reviews with a known word."""
    index, chosen = table.key_to_index, set(words)
    word_share, average_share = [], []
    for review in tokens:
        known = [t for t in review if t in index]
        if not known:
            continue
        ids = np.fromiter((index[t] for t in known), dtype=np.int64, count=len(known))
        mask = np.fromiter((t in chosen for t in known), dtype=bool, count=len(known))
        whole = table.vectors[ids].sum(0, dtype=np.float64)  # (D,); the mean's direction
        part = table.vectors[ids[mask]].sum(0, dtype=np.float64)
        word_share.append(mask.mean())
        average_share.append(float(part @ whole / (whole @ whole)))
    return {
        "word_share": float(np.mean(word_share)),
        "average_share": float(np.mean(average_share)),
    }


def restricted(table, keep) -> WordVectors:
    """A copy of `table` that knows only the words for which `keep(word)` holds: the other words
    drop out of a review's average (numerator and count) as unknown words do."""
    words = [w for w in table.index_to_key if keep(w)]
    rows = [table.key_to_index[w] for w in words]
    return WordVectors(words, table.vectors[rows])


def train_arm(datasets, seeds: Sequence[int], num_epochs: Optional[int] = None) -> dict:
    """6.1.3's one-layer net at its course rate, one run per seed (stacked, as the sweeps train:
    each run as `mlp.run_mlp` makes it) on (dev, train, test): per-seed best dev and test
    accuracy."""
    sweep = structure_sweep() if num_epochs is None else structure_sweep(num_epochs)
    base = sweep.configs[1]
    configs = [dataclasses.replace(base, seed=s, save_path=None) for s in seeds]
    results = [r.result for r in batched.train_group(configs, datasets)]
    best_dev = [max(r[3]) for r in results]
    test = [r[5] for r in results]
    return {
        "config": dataclasses.asdict(configs[0]),
        "sizes": [len(d) for d in datasets],
        "dev_acc": [list(r[3]) for r in results],
        "best_dev_acc": best_dev,
        "test_acc": test,
        "summary": utils.seed_summary(best_dev, test),
    }


def measure_average(
    splits: Sequence[dict],
    table,
    seeds: Sequence[int],
    out_dir: Union[str, os.PathLike],
    num_epochs: Optional[int] = None,
    command: str = "",
) -> dict:
    """The shares and the three arms of the module's docstring on the course's (dev, train, test)
    splits, each run for `num_epochs` (None: 6.1.3's); written (atomically) to
    `out_dir/sentiment_average.json` and returned. The frequent words are TOP_WORDS, or half the
    training split's known words where it knows fewer than twice as many (its `top_words`)."""
    started = time.perf_counter()
    train_tokens = tokenize_many(splits[1]["text"])
    known = frequent_words(train_tokens, table, len(table))
    # a small vocabulary (a smoke run's) keeps half its words, so that no arm is left empty
    top = known[: min(TOP_WORDS, len(known) // 2)]
    chosen = set(top)
    tables = {
        ARMS[0]: table,
        ARMS[1]: restricted(table, lambda w: w not in chosen),
        ARMS[2]: restricted(table, lambda w: w in chosen),
    }
    arms = []
    for label, arm_table in tables.items():
        datasets = create_tensor_datasets(splits, arm_table)
        arms.append({"label": label, **train_arm(datasets, seeds, num_epochs)})
        print(f"[sentiment average] {label}: {arms[-1]['summary']}", flush=True)
    history = {
        "command": command,
        "top_words": len(top),
        "most_frequent": top[:SHOWN_WORDS],
        **shares(train_tokens, table, top),
        "seeds": list(seeds),
        "arms": arms,
        "wall_seconds": time.perf_counter() - started,
    }
    utils.atomic_write_json(history, Path(out_dir) / "sentiment_average.json")
    return history
