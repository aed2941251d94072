"""sentiment/average.py: the frequent words' shares against a float64 computation written from
the definitions, the restricted tables against averages taken by hand, the control's arms, and the
committed run (reference/sentiment_average.json) against the sweep it repeats."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
import torch

from common import glove
from mlp import create_tensor_datasets
from sentiment import average
from conftest import review, tiny_vectors

REFERENCE = Path(__file__).resolve().parents[2] / "reference"


def tiny_tokens(n=60, seed=0):
    rng = random.Random(seed)
    return glove.tokenize_many([review(rng, i % 2) for i in range(n)])


def test_frequent_words_are_the_known_words_by_count():
    table = glove.WordVectors(["a", "b", "c"], np.eye(3, dtype=np.float32))
    tokens = [["b", "x", "b", "c"], ["x", "x", "x", "a", "b"]]
    assert average.frequent_words(tokens, table, 2) == ["b", "c"]  # "x" is unknown
    assert average.frequent_words(tokens, table, 10) == ["b", "c", "a"]


def test_the_shares_are_those_of_the_definitions():
    table, tokens = tiny_vectors(), tiny_tokens()
    chosen = average.frequent_words(tokens, table, 5)
    got = average.shares(tokens, table, chosen)
    word_share, average_share = [], []
    for review_tokens in tokens:
        known = [t for t in review_tokens if t in table]
        if not known:
            continue
        vectors = np.array([table[t] for t in known], dtype=np.float64)
        frequent = np.array([t in chosen for t in known])
        mean = vectors.mean(0)
        part = (vectors * frequent[:, None]).sum(0) / len(known)  # their part of the mean
        rest = mean - part
        word_share.append(frequent.mean())
        average_share.append(part @ mean / (mean @ mean))
        # the two parts' shares add up to 1
        assert part @ mean / (mean @ mean) + rest @ mean / (mean @ mean) == pytest.approx(1.0)
    assert got["word_share"] == pytest.approx(np.mean(word_share), rel=1e-12)
    assert got["average_share"] == pytest.approx(np.mean(average_share), rel=1e-9)
    assert 0 < got["word_share"] < 1 and 0 < got["average_share"] < 1


def test_a_restricted_table_averages_only_the_words_kept():
    table = tiny_vectors()
    rng = random.Random(1)
    texts = [review(rng, i % 2) for i in range(20)]
    labels = [i % 2 for i in range(20)]
    drop = set(average.frequent_words(glove.tokenize_many(texts), table, 4))
    small = average.restricted(table, lambda w: w not in drop)
    assert not drop & set(small.index_to_key) and len(small) == len(table) - len(drop)
    (features,) = create_tensor_datasets([{"text": texts, "label": labels}], small)
    for text, x in zip(texts, features.tensors[0]):
        kept = [t for t in glove.word_tokenize(text, lowercase=True) if t in small]
        want = np.mean([table[t] for t in kept], axis=0)
        assert torch.allclose(x, torch.from_numpy(want), atol=1e-6)


@pytest.fixture(scope="module")
def committed():
    path = REFERENCE / "sentiment_average.json"
    if not path.is_file():
        pytest.skip(f"{path} is not there")
    return json.loads(path.read_text())


def test_the_committed_whole_average_arm_repeats_the_structure_sweeps_runs(committed):
    """Its arm on the whole average is 6.1.3's one-layer net, seed for seed the sweep's run."""
    sweep = json.loads((REFERENCE / "mlp_structures.json").read_text())
    (runs,) = [r for r in sweep["runs"] if r["label"] == "512"]
    whole = committed["arms"][0]
    assert whole["label"] == average.ARMS[0]
    n = len(committed["seeds"])
    assert committed["seeds"] == runs["seeds"][:n]
    assert whole["dev_acc"] == runs["dev_acc"][:n] and whole["test_acc"] == runs["test_acc"][:n]
    assert {k: whole["config"][k] for k in ("hidden_dims", "lr", "batch_size", "activation")} == {
        k: runs["config"][k] for k in ("hidden_dims", "lr", "batch_size", "activation")
    }


def test_the_committed_arms_differ_only_in_the_words_averaged(committed):
    configs = [{k: v for k, v in a["config"].items() if k != "seed"} for a in committed["arms"]]
    assert all(c == configs[0] for c in configs)
    assert [a["label"] for a in committed["arms"]] == list(average.ARMS)
    assert committed["top_words"] == average.TOP_WORDS
    # no review lost its every known word
    assert len({tuple(a["sizes"]) for a in committed["arms"]}) == 1


def test_the_measurement_takes_the_most_frequent_words(tmp_path):
    """measure_average on small splits: the words it reports are the training split's most
    frequent known words, its shares are `shares` of those, and every arm trained."""
    rng = random.Random(2)
    make = lambda n: {  # noqa: E731
        "text": [review(rng, i % 2) for i in range(n)],
        "label": [i % 2 for i in range(n)],
    }
    splits, table = (make(40), make(160), make(40)), tiny_vectors()
    made = average.measure_average(splits, table, [0], tmp_path, num_epochs=1)
    tokens = glove.tokenize_many(splits[1]["text"])
    known = average.frequent_words(tokens, table, len(table))
    top = known[: made["top_words"]]
    assert made["most_frequent"] == top[: average.SHOWN_WORDS]
    assert made["top_words"] == min(average.TOP_WORDS, len(known) // 2)
    assert made["average_share"] == average.shares(tokens, table, top)["average_share"]
    assert [len(a["dev_acc"][0]) for a in made["arms"]] == [1, 1, 1]
    assert json.loads((tmp_path / "sentiment_average.json").read_text()) == made
