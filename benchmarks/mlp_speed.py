"""Benchmark of the sentiment pipeline's data path: GloVe loading and featurizing the 35,000 course
reviews.

    python -m benchmarks.mlp_speed [--data-dir DIR] [--repeats 3] [--out plots/benchmark_mlp.json]

Reports medians over `--repeats` runs, measured in one process, of:
- parsing glove.6B.50d.txt.gz (cold, into a fresh cache) and loading it from the binary cache;
- `create_tensor_datasets` on dev + train + test, as main.py calls it (our batched featurizer);
- the plain per-review, per-word Python loop (`featurize_reference`) that the course skeleton
  describes, on the same reviews, and the speed ratio; both must give the same features.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from common import glove
import mlp
import utils
from common import worker_pool


def featurize_reference(texts, embeddings) -> list:
    """The skeleton's way: tokenize each review, look up each word, average with numpy."""
    out = []
    for text in texts:
        vectors = []
        for word in glove.word_tokenize(text.lower()):
            try:
                vectors.append(embeddings[word])
            except KeyError:
                pass
        out.append(torch.from_numpy(np.mean(vectors, axis=0)) if vectors else None)
    return out


def _median_seconds(fn, repeats: int) -> tuple[float, list[float], object]:
    times, result = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), times, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("plots") / "benchmark_mlp.json")
    args = parser.parse_args()
    torch.set_num_threads(2)

    t0 = time.perf_counter()
    dev, train, test = mlp.load_data_mlp(data_dir=args.data_dir)
    load_seconds = time.perf_counter() - t0
    splits = [dev, train, test]
    texts = [t for split in splits for t in split["text"]]

    with tempfile.TemporaryDirectory() as cache:
        cold, cold_all, _ = _median_seconds(
            lambda: glove.load_glove(
                data_dir=args.data_dir, cache_dir=Path(cache) / str(time.time_ns()), verbose=False
            ),
            1,
        )
        glove.load_glove(data_dir=args.data_dir, cache_dir=cache, verbose=False)
        cached, cached_all, embeddings = _median_seconds(
            lambda: glove.load_glove(data_dir=args.data_dir, cache_dir=cache, verbose=False),
            args.repeats,
        )

    ours, ours_all, datasets = _median_seconds(
        lambda: mlp.create_tensor_datasets(splits, embeddings), args.repeats
    )
    features = torch.cat([d.tensors[0] for d in datasets])
    ref, ref_all, ref_rows = _median_seconds(lambda: featurize_reference(texts, embeddings), 1)
    kept = [r for r in ref_rows if r is not None]
    max_diff = (
        float((torch.stack(kept) - features).abs().max()) if len(kept) == len(features) else None
    )

    result = {
        "reviews": len(texts),
        "kept": len(features),
        "workers": worker_pool.default_workers(),
        "imdb_load_seconds": load_seconds,
        "glove_parse_seconds": cold,
        "glove_cached_load_seconds_median": cached,
        "glove_cached_load_all": cached_all,
        "featurize_seconds_median": ours,
        "featurize_seconds_all": ours_all,
        "reference_loop_seconds": ref,
        "speedup": ref / ours,
        "max_abs_difference": max_diff,
    }
    for key, value in result.items():
        print(f"{key:34s} {value if not isinstance(value, float) else round(value, 3)}")
    utils.atomic_write_json(result, args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
