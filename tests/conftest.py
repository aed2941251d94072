"""Shared fixtures: tiny embeddings and a tiny data directory laid out like ../shared/data. Every
test runs offline (hermetic.py; $HW3_OFFLINE, so that no command fetches) and within a time limit
(HW3_TEST_TIMEOUT seconds, default 240), so a stuck test fails with its name instead of holding the
suite."""

from __future__ import annotations

import csv
import gzip
import io
import os
import random
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import TensorDataset

import hermetic
from common import glove
from common import datafiles, download
from time_limit import pytest_runtest_call, pytest_runtest_setup, pytest_runtest_teardown  # noqa: F401

POSITIVE = ["great", "good", "excellent", "wonderful", "loved", "fun"]
NEGATIVE = ["bad", "awful", "terrible", "boring", "hated", "dull"]
NEUTRAL = [
    "the",
    "movie",
    "film",
    "a",
    "was",
    "it",
    "and",
    "plot",
    "actor",
    "!",
    ".",
    ",",
    "n't",
    "do",
]
NETWORK_ATTEMPTS: list = []  # what tests of this process asked of the network (each refused)


def pytest_configure(config):
    hermetic.install(NETWORK_ATTEMPTS)
    # no command of a test fetches a missing data set (in this process or the ones it starts):
    # the tests that fetch from a loopback mirror unset it themselves
    os.environ[download.OFFLINE_ENV] = "1"


def pytest_sessionfinish(session, exitstatus):
    # each was refused, but a test that needs the network is a fault of the suite
    if NETWORK_ATTEMPTS:
        print(
            f"\nerror: tests asked for the network {len(NETWORK_ATTEMPTS)} time(s): "
            f"{NETWORK_ATTEMPTS[:3]}"
        )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


class EasyDict(dict):
    """What the course's configs are: a dict whose keys are also attributes (the easydict
    package)."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


def tiny_vectors() -> glove.WordVectors:
    """Sentiment words point along +/- dimension 0; the rest is noise (8 dimensions)."""
    rng = np.random.default_rng(0)
    words = NEUTRAL + POSITIVE + NEGATIVE
    vectors = rng.normal(0, 0.1, size=(len(words), 8)).astype(np.float32)
    vectors[len(NEUTRAL) : len(NEUTRAL) + len(POSITIVE), 0] += 1.0
    vectors[len(NEUTRAL) + len(POSITIVE) :, 0] -= 1.0
    return glove.WordVectors(words, vectors)


def review(rng: random.Random, label: int) -> str:
    words = [rng.choice(POSITIVE if label else NEGATIVE) for _ in range(rng.randint(1, 3))]
    words += [rng.choice(NEUTRAL) for _ in range(rng.randint(2, 8))]
    rng.shuffle(words)
    return "The movie was " + " ".join(words) + "!<br /><br />Really."


def write_imdb_csv(path: Path, n: int, seed: int) -> None:
    rng = random.Random(seed)
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["id", "rating", "label", "text"])
    for i in range(n):
        label = i % 2
        writer.writerow([i, 8 if label else 2, label, review(rng, label)])
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.write(buf.getvalue())


def write_glove(path: Path, table: glove.WordVectors) -> None:
    with gzip.open(path, "wt", encoding="utf-8") as f:
        for word, vec in zip(table.index_to_key, table.vectors):
            f.write(word + " " + " ".join(f"{v:.5g}" for v in vec) + "\n")


def wikitext_text(n_lines: int, seed: int) -> str:
    """Made-up WikiText-2 lines: headings, blanks and sentences of a small vocabulary."""
    rng = random.Random(seed)
    vocab = ["the", "cat", "sat", "on", "mat", "dog", "ran", "to", "park", "a", "<unk>", "@-@", ","]
    lines = []
    for i in range(n_lines):
        if i % 10 == 0:
            lines.append(" = Heading = ")
        elif i % 10 == 1:
            lines.append(" ")
        else:
            lines.append(
                " " + " ".join(rng.choice(vocab) for _ in range(rng.randint(3, 12))) + " . "
            )
    return "\n".join(lines) + "\n"


def write_wikitext(path: Path, n_lines: int, seed: int) -> None:
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.write(wikitext_text(n_lines, seed))


@pytest.fixture(scope="session")
def tiny_table() -> glove.WordVectors:
    return tiny_vectors()


@pytest.fixture(scope="session")
def tiny_data_dir(tmp_path_factory) -> Path:
    """imdb/ (5,600 train and 600 test rows, so the course's 5,000-row dev slice leaves a train
    split), glove/ (the tiny table) and wikitext-2/ (a few hundred lines), laid out like
    ../shared/data."""
    root = tmp_path_factory.mktemp("data")
    (root / "imdb").mkdir()
    (root / "glove").mkdir()
    (root / "wikitext-2").mkdir()
    write_imdb_csv(root / "imdb" / "imdb_train.csv.gz", 5600, seed=1)
    write_imdb_csv(root / "imdb" / "imdb_test.csv.gz", 600, seed=2)
    write_glove(root / "glove" / "glove.6B.50d.txt.gz", tiny_vectors())
    write_wikitext(root / "wikitext-2" / "wiki.train.tokens.partial.gz", 400, seed=3)
    write_wikitext(root / "wikitext-2" / "wiki.valid.tokens.gz", 80, seed=4)
    write_wikitext(root / "wikitext-2" / "wiki.test.tokens.gz", 80, seed=5)
    return root


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real data set, or a skip saying why the test cannot run here."""
    try:
        return datafiles.resolve_data_dir()
    except datafiles.DataNotFoundError as err:
        pytest.skip(f"needs the shared data set: {err}")


def separable(n=400, seed=0):
    """A linearly separable 2-class TensorDataset of 8-d points: the label is the sign of the first
    feature."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 8, generator=g)
    return TensorDataset(x, (x[:, 0] > 0).long())


def is_png(path) -> bool:
    return path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
