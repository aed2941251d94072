"""One language-model run for both models (`python main.py lm` and `lstm`): train, score the best
checkpoint on dev and test (static, then with the continuous cache, the n-gram mixture and dynamic
evaluation, as the config's `Scoring` fields ask), report and save the JSON.

What differs between the fixed-window model and the LSTM sits behind `ModelRun`, one class per
model (lm/run.FixedWindowRun, lm/lstm.LSTMRun): how it loads its data and trains, how it scores a
split, how scoring reads it (`reader`), and what its JSON adds.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import torch

import utils
from lm.cache import read_splits, score_with_cache
from lm.dynamic import score_dynamic
from lm.ngram import count_ngram, score_with_ngram
from lm.scoring import Reader, Scoring
from nplm.checkpoint import load_checkpoint_meta


@dataclass
class Trained:
    """A trained model with its best weights (eval mode), its tokenizer, and the training's numbers
    (spread into the run's JSON)."""

    model: torch.nn.Module
    tokenizer: object
    report: dict


class ModelRun:
    """One model's part of the pipeline. `config` is the run's config (a `Scoring` with the model's
    own fields, save_path among them); `reader` says how scoring reads the model."""

    config: Scoring
    reader: Reader
    # each split's read ({split: {stream, features, model}}, lm/cache.read_splits' shape) that
    # score_static may leave for the cache and the n-gram mixture; None: they read dev and test
    passes: Optional[dict] = None
    # what the run's JSON records of the checkpoint's meta
    CHECKPOINT_KEYS = ("epoch", "weights_sha256")

    def load_data(self) -> tuple:
        """(train, dev, test) splits."""
        raise NotImplementedError

    def train(self, data) -> Trained:
        raise NotImplementedError

    def score_static(self, trained: Trained, data) -> dict:
        """{split: {loss, ppl, targets, ...}} of the best model on dev and test."""
        raise NotImplementedError

    def writes(self) -> bool:
        """Whether this process scores further and writes the files (under torchrun, rank 0)."""
        return True

    def report(self, trained: Trained, scored: dict) -> dict:
        """The run's JSON from the pipeline's numbers (`scored`) and the model's own."""
        raise NotImplementedError

    def json_path(self) -> Path:
        raise NotImplementedError

    def summary(self, report: dict, json_path: Path) -> str:
        """The last line printed."""
        raise NotImplementedError


def score_after_training(trained: Trained, data, scoring: Scoring, reader: Reader, passes=None):
    """({"cache", "ngram", "dynamic"}: each mode's scores or None, {mode: seconds}): the continuous
    cache, the n-gram mixture (counted from the train split of `data`) and dynamic evaluation, each
    when `scoring` turns it on; the dynamic pass is also mixed with the n-gram model. The cache and
    the n-gram mixture share one read of dev and test: `passes` (lm/cache.read_splits' dict, e.g.
    left by the static score), else read here once (its time in the first of the two)."""
    model, tok = trained.model, trained.tokenizer
    train_data, dev_data, test_data = data
    out = {"cache": None, "ngram": None, "dynamic": None}
    seconds, ngram = {}, None
    # the time of a read done here counts in the first mode that reads it
    t = time.perf_counter()
    if (scoring.cache_size or scoring.ngram_order) and passes is None:
        passes = read_splits(model, tok, (dev_data, test_data), reader)
    if scoring.cache_size:
        out["cache"] = score_with_cache(model, tok, (dev_data, test_data), scoring, reader, passes)
        seconds["cache"] = time.perf_counter() - t
    if scoring.ngram_order:
        t = t if not scoring.cache_size else time.perf_counter()
        ngram = count_ngram(tok, train_data, scoring.ngram_order, reader.max_train_tokens)
        splits = (None, dev_data, test_data)
        out["ngram"] = score_with_ngram(model, tok, splits, scoring, reader, ngram, passes)[0]
        seconds["ngram"] = time.perf_counter() - t
    passes = None  # the static reads are done with: their memory goes back before dynamic
    if scoring.dynamic_segment:
        t = time.perf_counter()
        out["dynamic"] = score_dynamic(model, tok, (dev_data, test_data), scoring, reader, ngram)
        seconds["dynamic"] = time.perf_counter() - t
    return out, seconds


def run_pipeline(run: ModelRun) -> Optional[dict]:
    """Train, score, report and save one run; returns its JSON (None on a process that does not
    write)."""
    t0 = time.perf_counter()
    data = run.load_data()
    trained = run.train(data)
    t = time.perf_counter()
    scores = run.score_static(trained, data)
    seconds = {"static": time.perf_counter() - t}
    for split, s in scores.items():
        print(f"best checkpoint: {split} perplexity {s['ppl']:.2f} over {s['targets']:,} targets")
    if not run.writes():
        return None
    # the reads taken from the run (no reference kept here), so they are freed before dynamic
    # evaluation
    scored, more = score_after_training(
        trained, data, run.config, run.reader, vars(run).pop("passes", None)
    )
    seconds.update(more)
    # the checkpoint this JSON describes
    _, saved = load_checkpoint_meta(run.config.save_path)
    checkpoint = {"path": str(run.config.save_path)}
    checkpoint.update({k: saved[k] for k in run.CHECKPOINT_KEYS})
    scored.update(checkpoint=checkpoint, best_checkpoint_scores=scores, scoring_seconds=seconds)
    report = run.report(trained, scored)
    report.update(
        wall_seconds=time.perf_counter() - t0,
        torch_threads=torch.get_num_threads(),
        torch_version=torch.__version__,
    )
    json_path = utils.atomic_write_json(report, run.json_path())
    print(run.summary(report, json_path))
    return report
