"""The language model's scoring after training, before and after its passes were shared (issue 36):
static dev/test perplexity, the continuous cache, the n-gram mixture and dynamic evaluation, as
`python main.py lm` runs them with the default config's scoring, timed phase by phase, the three
paths below alternating in one run (medians over --repeats).

- old: each phase reads dev and test itself (mlp_lm.evaluate for the static score, a read for the
  cache, another for the n-gram mixture), every cache grid computes the cache's distribution again,
  dynamic evaluation scores the tuning prefix again in its pass over dev and times the static model
  on every segment. It is the new code with its sharing switched off (`old_path`), which computes
  what the code before it did, op for op (tests/lm/test_shared_scoring.py).
- new: one read per split gives the static score and the cache's and n-gram's inputs
  (lm/cache.read_with_static_loss), the cache's distribution once per theta (lm/cache.CacheProbs),
  dynamic evaluation goes on from the chosen tuning run (lm/dynamic.py) and its steps write the
  tied table's gradient once (nplm/output.TiedAdaptiveLogSoftmax.sharing_rows), in this process.
- workers: new, with dynamic evaluation's passes run --workers at a time in forked one-thread
  processes (lm/scoring.Reader.workers), as `python main.py lm` runs them on a CPU.

The cost does not depend on how well the model is trained: without --checkpoint the default
config's model is scored as initialised. The numbers of old and new are compared (static, cache and
n-gram bit for bit, dynamic to float rounding), and workers' dynamic numbers with new's (within
0.1 %: a pass on one thread rounds differently). Results go to plots/benchmark_lm_scoring.json.

    python -m benchmarks.lm_scoring --max-tokens 20000 --repeats 3  # a prefix of dev and test
    python -m benchmarks.lm_scoring --repeats 1                     # the whole splits (minutes)
"""

from __future__ import annotations

import argparse
import contextlib
import math
import statistics
import time
from pathlib import Path

import torch
import torch.nn as nn

import mlp_lm
import utils
from lm import cache as lm_cache
from lm import dynamic as lm_dynamic
from lm import ngram as lm_ngram
from lm.config import LMRunConfig
from lm.pipeline import Trained, score_after_training
from lm.scoring import DYNAMIC_TUNE_TOKENS, Reader, Scoring
from lm.train import build_model
from nplm.corpus import WindowBatches, encode_stream
from nplm.output import TiedAdaptiveLogSoftmax

PHASES = ("static", "cache", "ngram", "dynamic")


@contextlib.contextmanager
def old_path():
    """The scoring as it was before the sharing: a fresh cache distribution for every grid, the
    static model timed on every segment, dynamic passes from the first token."""

    def fresh(read, cache_size):
        return lm_cache.CacheProbs(read["features"], read["stream"], cache_size)

    tied = TiedAdaptiveLogSoftmax
    saved = (lm_dynamic.cache_probs, lm_ngram.cache_probs, lm_dynamic.TIMING_EVERY)
    sharing = tied.sharing_rows
    lm_dynamic.cache_probs = lm_ngram.cache_probs = fresh
    lm_dynamic.TIMING_EVERY = 1
    tied.sharing_rows = lambda self: contextlib.nullcontext()  # each layer slices the table
    try:
        yield
    finally:
        lm_dynamic.cache_probs, lm_ngram.cache_probs, lm_dynamic.TIMING_EVERY = saved
        tied.sharing_rows = sharing


def from_the_start(model, stream, pad, step, timing=None):
    """dynamic_eval without a carry: the tuning prefix scored again in the pass over dev."""
    return lm_dynamic.dynamic_eval(model, stream, pad, step, timing)


def score_old(model, tok, data, scoring, reader, eval_batch):
    seconds, scores = {}, {}
    t = time.perf_counter()
    for split, split_data in (("dev", data[1]), ("test", data[2])):
        stream = encode_stream(split_data, tok, reader.max_tokens)
        batches = WindowBatches(stream, model.context_size, tok.pad_token_id, eval_batch)
        scores[split] = mlp_lm.evaluate(model, batches, nn.NLLLoss())
    seconds["static"] = time.perf_counter() - t
    old_reader = Reader(**{**vars(reader), "dynamic_eval": from_the_start})
    with old_path():
        out = {"cache": None, "ngram": None, "dynamic": None}
        t = time.perf_counter()
        out["cache"] = lm_cache.score_with_cache(model, tok, data[1:], scoring, reader)
        seconds["cache"] = time.perf_counter() - t
        t = time.perf_counter()
        ngram = lm_ngram.count_ngram(tok, data[0], scoring.ngram_order, log=reader.log)
        splits = (None, *data[1:])
        out["ngram"] = lm_ngram.score_with_ngram(model, tok, splits, scoring, reader, ngram)[0]
        seconds["ngram"] = time.perf_counter() - t
        t = time.perf_counter()
        out["dynamic"] = lm_dynamic.score_dynamic(model, tok, data[1:], scoring, old_reader, ngram)
        seconds["dynamic"] = time.perf_counter() - t
    return scores, out, seconds


def score_new(model, tok, data, scoring, reader, eval_batch):
    t = time.perf_counter()
    scores, passes = {}, {}
    for split, split_data in (("dev", data[1]), ("test", data[2])):
        stream = encode_stream(split_data, tok, reader.max_tokens)
        passes[split], scores[split] = lm_cache.read_with_static_loss(
            model, stream, tok.pad_token_id, eval_batch
        )
    seconds = {"static": time.perf_counter() - t}
    out, more = score_after_training(Trained(model, tok, {}), data, scoring, reader, passes)
    seconds.update(more)
    return scores, out, seconds


def _numbers(d):
    """The scores of a result, without its timings."""
    if isinstance(d, dict):
        return {k: _numbers(v) for k, v in d.items() if "seconds" not in k and k != "cost"}
    return d


def _close(a, b, rel=1e-9) -> bool:
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_close(a[k], b[k], rel) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_close(x, y, rel) for x, y in zip(a, b))
    if isinstance(a, float):
        return math.isclose(a, b, rel_tol=rel)
    return a == b


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--checkpoint", type=Path, default=None)
    parser.add_argument("--max-tokens", type=int, default=None, help="dev and test prefixes")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2, help="the workers path's processes")
    parser.add_argument("--out", type=Path, default=Path("plots") / "benchmark_lm_scoring.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    config = LMRunConfig.preset("default")
    data = mlp_lm.load_data_mlp_lm(args.data_dir, ("train", "validation", "test"))
    if args.checkpoint:
        model, tok, _ = mlp_lm.load_checkpoint(args.checkpoint, config)
    else:
        tok = mlp_lm.tokenize_splits(data[0], data[1], log=lambda *a: None)[0]
        torch.manual_seed(config.seed)
        model = build_model(config, tok.vocab_size)
    model.eval()
    scoring = Scoring.of(config)
    dev_tokens = encode_stream(data[1], tok, args.max_tokens).numel()
    if args.max_tokens:  # the tuning prefix cut in the default's proportion, whole segments
        full = encode_stream(data[1], tok).numel()
        seg = scoring.dynamic_segment
        scoring.dynamic_tune_tokens = max(
            seg, DYNAMIC_TUNE_TOKENS * dev_tokens // full // seg * seg
        )
    reader = Reader(batch_size=config.eval_batch, max_tokens=args.max_tokens, log=lambda *a: None)
    # a first, unrecorded run of both: the first pass of a process pays for warming up
    warm = Reader(**{**vars(reader), "max_tokens": 500})
    for score in (score_old, score_new):
        score(model, tok, data, Scoring.of(scoring, dynamic_tune_tokens=100), warm, 4096)
    paths = {
        "old": (score_old, reader),
        "new": (score_new, reader),
        "workers": (score_new, Reader(**{**vars(reader), "workers": args.workers})),
    }
    times = {name: {p: [] for p in PHASES} for name in paths}
    results = {}
    for repeat in range(args.repeats):
        for name, (score, path_reader) in paths.items():
            t = time.perf_counter()
            results[name] = score(model, tok, data, scoring, path_reader, config.eval_batch)
            total = time.perf_counter() - t
            for phase in PHASES:
                times[name][phase].append(results[name][2].get(phase, 0.0))
            times[name].setdefault("total", []).append(total)
            print(f"repeat {repeat + 1}: {name} {total:.1f} s", flush=True)
    (old_static, old_out, _), (new_static, new_out, _) = results["old"], results["new"]
    workers_out = results["workers"][1]
    same = {
        "static": old_static == new_static,
        "cache": _numbers(old_out["cache"]) == _numbers(new_out["cache"]),
        "ngram": _numbers(old_out["ngram"]) == _numbers(new_out["ngram"]),
        "dynamic_to_rounding": _close(_numbers(old_out["dynamic"]), _numbers(new_out["dynamic"])),
        # one thread a pass instead of --threads: the same choices, perplexities within 0.1 %
        "workers_dynamic_within_0.1%": _close(
            _numbers(new_out["dynamic"]), _numbers(workers_out["dynamic"]), rel=1e-3
        ),
    }
    medians = {n: {p: statistics.median(v) for p, v in t.items()} for n, t in times.items()}
    result = {
        "what": "the language model's scoring after training (default config's scoring)",
        "checkpoint": str(args.checkpoint) if args.checkpoint else "default config, initialised",
        "dev_targets": dev_tokens,
        "dynamic_tune_tokens": scoring.dynamic_tune_tokens,
        "repeats": args.repeats,
        "seconds_median": medians,
        "seconds_all": times,
        "speedup_total": medians["old"]["total"] / medians["new"]["total"],
        "workers": args.workers,
        "speedup_dynamic_workers": medians["new"]["dynamic"] / medians["workers"]["dynamic"],
        "same_numbers": same,
        "torch_threads": torch.get_num_threads(),
        "torch_version": torch.__version__,
    }
    for phase in (*PHASES, "total"):
        line = "   ".join(f"{name} {medians[name][phase]:8.2f} s" for name in paths)
        print(f"{phase:8s} {line}")
    print(f"same numbers: {same}")
    utils.atomic_write_json(result, args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
