"""sentiment/ngrams.py: the pieces against float64 references written from the formulas, a seeded
run that reproduces itself, reviews with nothing known, bad arguments, and `python main.py sentiment
--quick`."""

from __future__ import annotations

import dataclasses
import json
import math
import random
from pathlib import Path

import numpy as np
import pytest
import torch

import in_process
from sentiment import ngrams as sn
from conftest import review, tiny_vectors

REPO = Path(__file__).resolve().parents[2]
M = sn.HASH_MULTIPLIER


def split(texts, labels):
    return {"text": list(texts), "label": list(labels)}


def tiny_splits(n_train=120, n_dev=40, n_test=40, seed=0):
    rng = random.Random(seed)
    make = lambda n: split(*zip(*[(review(rng, i % 2), i % 2) for i in range(n)]))  # noqa: E731
    return make(n_dev), make(n_train), make(n_test)


def bags_of(data: sn.Featurized, which: str):
    b = getattr(data, which)
    return [b.ids[b.offsets[i] : b.offsets[i + 1]].tolist() for i in range(len(b))]


# --------------------------------------------------------------------------- features
def test_ngram_hashing_is_the_fasttext_formula():
    rng = np.random.default_rng(0)
    a, b, c = (torch.from_numpy(rng.integers(0, 2**20, 500)) for _ in range(3))
    for buckets in (1, 7, 2**21, 2**30 - 1):
        # Python's unbounded integers
        want2 = [(int(x) * M + int(y)) % buckets for x, y in zip(a, b)]
        want3 = [
            (((int(x) % buckets) * M + int(y)) % buckets * M + int(z)) % buckets
            for x, y, z in zip(a, b, c)
        ]
        assert sn.hash_ngrams([a, b], buckets).tolist() == want2
        assert sn.hash_ngrams([a, b, c], buckets).tolist() == want3


def reference_tokens_and_vocab(splits):
    """Each split's tokens, and the training split's words numbered in order of first appearance."""
    tokens = [sn.tokenize(s["text"]) for s in splits]
    vocab = {}
    for toks in tokens[1]:
        for w in toks:
            vocab.setdefault(w, len(vocab))
    return tokens, vocab


def reference_bags(splits, ngrams, buckets):
    """The bags, one review and one word at a time, from the definitions in featurize_splits'
    docstring."""
    tokens, vocab = reference_tokens_and_vocab(splits)
    out = []
    for split_tokens in tokens:
        rows = []
        for toks in split_tokens:
            ids = [vocab.get(w, len(vocab)) for w in toks]
            feats = {i for i in ids if i < len(vocab)}
            for n in range(2, ngrams + 1):
                for k in range(len(ids) - n + 1):
                    h = ids[k] % buckets
                    for w in ids[k + 1 : k + n]:
                        h = (h * M + w) % buckets
                    feats.add(len(vocab) + h)
            rows.append(sorted(feats))
        out.append(rows)
    return out, len(vocab)


@pytest.mark.parametrize("ngrams, buckets", [(1, 64), (2, 64), (2, 2**21), (3, 97)])
def test_featurized_bags_match_a_word_by_word_reference(ngrams, buckets):
    splits = tiny_splits()
    splits[0]["text"][0] = "Unseenword great. Don't!"  # a dev word the training split lacks
    data = sn.featurize_splits(splits, ngrams=ngrams, buckets=buckets)
    want, vocab_size = reference_bags(splits, ngrams, buckets)
    assert len(data.vocab) == vocab_size and data.num_features == vocab_size + (
        buckets if ngrams > 1 else 0
    )
    for which, rows in zip(("dev", "train", "test"), want):
        assert bags_of(data, which) == rows
    assert data.train.labels.tolist() == splits[1]["label"]


def exact_reference_bags(splits, ngrams):
    """Exact n-gram bags, one review and one word at a time: the training split's n-gram tuples,
    sorted, numbered from V up (bigrams, then trigrams); an n-gram the training split lacks is
    dropped."""
    tokens, vocab = reference_tokens_and_vocab(splits)
    ids_of = lambda toks: [vocab.get(w, len(vocab)) for w in toks]  # noqa: E731
    number, start = {}, len(vocab)
    for n in range(2, ngrams + 1):
        grams = sorted(
            {
                tuple(ids[k : k + n])
                for ids in map(ids_of, tokens[1])
                for k in range(len(ids) - n + 1)
            }
        )
        number.update({g: start + i for i, g in enumerate(grams)})
        start += len(grams)
    out = []
    for split_tokens in tokens:
        rows = []
        for toks in split_tokens:
            ids = ids_of(toks)
            feats = {i for i in ids if i < len(vocab)}
            feats |= {
                number[tuple(ids[k : k + n])]
                for n in range(2, ngrams + 1)
                for k in range(len(ids) - n + 1)
                if tuple(ids[k : k + n]) in number
            }
            rows.append(sorted(feats))
        out.append(rows)
    return out, start


@pytest.mark.parametrize("ngrams", [1, 2, 3])
def test_exact_ngram_bags_match_a_word_by_word_reference(ngrams):
    splits = tiny_splits()
    splits[0]["text"][0] = "Unseenword great. Don't!"  # a dev word the training split lacks
    splits[2]["text"][1] = "great great great"  # an n-gram only the test split has
    # every training word before an unknown one: in base V, not V + 1, (x, unknown) would be (x + 1,
    # first word)
    words = dict.fromkeys(w for t in sn.tokenize(splits[1]["text"]) for w in t)
    splits[0]["text"][1] = " ".join(f"{w} qqunseen" for w in words)
    data = sn.featurize_splits(splits, ngrams=ngrams, buckets=7, exact=True)
    want, num_features = exact_reference_bags(splits, ngrams)
    assert data.num_features == num_features
    for which, rows in zip(("dev", "train", "test"), want):
        assert bags_of(data, which) == rows


def test_select_gathers_the_bags_of_the_rows_asked_for():
    data = sn.featurize_splits(tiny_splits(), ngrams=2, buckets=50)
    rows = torch.tensor([5, 0, 17, 5])
    ids, offsets = data.train.select(rows)
    ends = torch.cat([offsets[1:], torch.tensor([len(ids)])])
    everything = bags_of(data, "train")
    assert [ids[s:e].tolist() for s, e in zip(offsets, ends)] == [
        everything[r] for r in rows.tolist()
    ]


def test_nb_log_count_ratios_are_wang_and_mannings():
    bags = sn.Bags(
        ids=torch.tensor([0, 2, 3, 1, 2, 0, 1, 2, 4, 2]),
        offsets=torch.tensor([0, 3, 5, 9, 10]),
        labels=torch.tensor([1, 0, 1, 0]),
    )
    rows = [[0, 2, 3], [1, 2], [0, 1, 2, 4], [2]]
    for alpha in (1.0, 0.5):
        p = [alpha + sum(f in r for r, y in zip(rows, [1, 0, 1, 0]) if y == 1) for f in range(6)]
        q = [alpha + sum(f in r for r, y in zip(rows, [1, 0, 1, 0]) if y == 0) for f in range(6)]
        want = [math.log((pf / sum(p)) / (qf / sum(q))) for pf, qf in zip(p, q)]
        got = sn.nb_log_count_ratios(bags, 6, alpha)
        np.testing.assert_allclose(got.double().numpy(), want, rtol=1e-6, atol=1e-6)


# --------------------------------------------------------------------------- the model
def test_logits_are_the_embedding_mean_and_the_nb_sum_in_float64():
    torch.manual_seed(0)
    ratios = torch.randn(30)
    init = torch.randn(10, 6)
    model = sn.BagOfNgrams(30, 6, ratios, init_vectors=init)
    assert torch.equal(model.embed.weight[:10], init)  # GloVe rows copied in
    with torch.no_grad():
        model.nb.weight.normal_()
        model.nb_bias.normal_()
    bags = [[1, 4, 29], [], [7], [0, 2, 3, 5, 8, 13]]
    ids = torch.tensor([i for b in bags for i in b])
    offsets = torch.tensor(np.cumsum([0] + [len(b) for b in bags[:-1]]))
    got = model(ids, offsets)
    E, U, r = model.embed.weight.double(), model.nb.weight.double(), ratios.double()
    W, b = model.classify.weight.double(), model.classify.bias.double()
    for row, bag in zip(got, bags):
        mean = E[bag].mean(0) if bag else torch.zeros(6, dtype=torch.float64)
        nb_sum = (r[bag, None] * U[bag]).sum(0) if bag else torch.zeros(2, dtype=torch.float64)
        want = W @ mean + b + nb_sum + model.nb_bias.double()
        torch.testing.assert_close(row.double(), want, rtol=1e-5, atol=1e-5)
    scaled = sn.BagOfNgrams(30, 6, ratios, nb_scaled_embeddings=True)
    one = scaled(torch.tensor([1, 4]), torch.tensor([0]))
    mean = (ratios[[1, 4], None].double() * scaled.embed.weight[[1, 4]].double()).mean(0)
    torch.testing.assert_close(
        one[0].double(),
        scaled.classify.weight.double() @ mean
        + scaled.classify.bias.double()
        + scaled.nb_bias.double(),
        rtol=1e-5,
        atol=1e-5,
    )


def test_glove_rows_copy_known_words_and_leave_the_rest_random():
    table = tiny_vectors()
    rows, known = sn.glove_rows(["great", "zzz", "bad"], table)
    assert known == 2
    assert torch.equal(rows[0], torch.from_numpy(table["great"]))
    assert torch.equal(rows[2], torch.from_numpy(table["bad"]))
    assert rows[1].abs().max() <= 1.0 / table.vector_size


def test_word_dropout_keeps_the_bags_apart():
    ids, offsets = torch.arange(10), torch.tensor([0, 3, 3, 7])
    kept, new_offsets = sn.drop_words(ids, offsets, 0.5, torch.Generator().manual_seed(0))
    ends = torch.cat([new_offsets[1:], torch.tensor([len(kept)])])
    groups = [set(kept[s:e].tolist()) for s, e in zip(new_offsets, ends)]
    assert (
        groups[0] <= {0, 1, 2}
        and groups[1] == set()
        and groups[2] <= {3, 4, 5, 6}
        and groups[3] <= {7, 8, 9}
    )
    assert sum(map(len, groups)) == len(kept) < 10


@pytest.mark.parametrize("text", ["", "zzzq qqqz xxyyzz", "   "])
def test_a_review_with_nothing_known_gets_the_biases_prediction(text):
    dev, train, test = tiny_splits()
    dev["text"][:1] = [text]
    data = sn.featurize_splits((dev, train, test), ngrams=2, buckets=64)
    # at most the hashed bigrams of unknown words
    assert data.dev.lengths()[0] <= (1 if text.strip() else 0)
    for config in (
        sn.BagConfig("e", embed_dim=8, ngrams=2, epochs=1),
        sn.BagConfig("nb", embed_dim=0, ngrams=2, nb=True, epochs=1),
    ):
        run = sn.train_row(config, data, 0, tiny_vectors())
        labels = sn.predict(run["model"], data.dev)
        assert labels.shape == (len(dev["text"]),) and set(labels.tolist()) <= {0, 1}
    empty = sn.featurize_splits((split([""], [0]), train, split([], [])), ngrams=2, buckets=64)
    assert len(empty.dev.ids) == 0 and len(empty.test) == 0
    assert sn.predict(run["model"], empty.dev).tolist() == [int(run["model"].nb_bias.argmax())]
    assert math.isnan(sn.accuracy(run["model"], empty.test))


# --------------------------------------------------------------------------- runs
def test_a_seeded_tiny_run_reproduces_its_numbers(tmp_path):
    rows = sn.quick_rows(sn.ROWS[:5], embed_dim=8)
    runs = [
        sn.run_sentiment(
            tiny_splits(),
            tiny_vectors(),
            rows=rows,
            run=sn.TableRun(
                seeds=[0, 1], out_dir=tmp_path / str(i), course_dir=None, verbose=False
            ),
        )
        for i in range(2)
    ]
    for a, b in zip(runs[0]["rows"], runs[1]["rows"]):
        for key in ("train_loss", "dev_acc", "best_epoch", "test_acc"):
            assert a[key] == b[key], (a["label"], key)
    saved = json.loads((tmp_path / "0" / "sentiment_ngrams.json").read_text())
    assert [r["dev_acc"] for r in saved["rows"]] == [r["dev_acc"] for r in runs[0]["rows"]]
    assert (
        saved["best_row"]
        == max(saved["rows"], key=lambda r: r["summary"]["best_dev_acc_mean"])["label"]
    )
    assert (tmp_path / "0" / "sentiment_ngrams_dev_acc.png").read_bytes()[:4] == b"\x89PNG"
    # the test accuracy is the best dev epoch's, and the summary is of the seeds
    for row in saved["rows"]:
        assert row["best_dev_acc"] == [max(d) for d in row["dev_acc"]]
        assert row["best_epoch"] == [d.index(max(d)) + 1 for d in row["dev_acc"]]
        assert row["summary"]["test_acc_mean"] == pytest.approx(np.mean(row["test_acc"]))


def test_the_course_row_is_the_committed_sweeps_best_dev_config(tmp_path):
    sweep = {
        "runs": [
            {
                "label": lbl,
                "seeds": [0],
                "dev_acc": [[dev]],
                "best_dev_acc": [dev],
                "test_acc": [test],
                "seconds": [1.0],
                "summary": {"best_dev_acc_mean": dev, "test_acc_mean": test},
            }
            for lbl, dev, test in (("x", 0.70, 0.71), ("y", 0.77, 0.76))
        ]
    }
    (tmp_path / "mlp_activations.json").write_text(json.dumps(sweep))
    row = sn.course_row(tmp_path)
    assert "mlp_activations: y" in row["label"] and row["summary"]["test_acc_mean"] == 0.76
    assert sn.course_row(tmp_path / "none") is None


@pytest.mark.parametrize(
    "change, message",
    [
        (dict(embed_dim=0), "needs embeddings"),
        (dict(init="word2vec"), "init must be"),
        (dict(tokenizer="spacy"), "tokenizer must be"),
        (dict(word_dropout=1.0), "word_dropout must be in [0, 1)"),
        (dict(ngrams=4), "ngrams must be 1, 2 or 3"),
        (dict(lr=0.0), "must be positive"),
        (dict(buckets=0), "positive"),
    ],
)
def test_bad_configs_are_one_line_errors(change, message):
    with pytest.raises(ValueError, match=None) as err:
        dataclasses.replace(sn.BagConfig("row"), **change).check()
    assert message in str(err.value) and "\n" not in str(err.value)


def test_glove_of_the_wrong_size_is_named():
    with pytest.raises(sn.EmbeddingsFormatError, match="50-d GloVe vectors but the table has 8-d"):
        sn.check_glove([sn.BagConfig("row")], tiny_vectors())


@pytest.mark.parametrize(
    "args, message",
    [
        (["sentiment", "--seeds", "0"], "--seeds: must be a whole number >= 1, got '0'"),
        (["sentiment", "--epochs", "3"], "unrecognized arguments: --epochs"),
        (["sentiment", "--device", "mps"], "--device"),
        (["sentiment", "--data-dir", "nowhere"], "nowhere"),
    ],
)
def test_bad_arguments_are_one_line_errors(tmp_path, args, message):
    # in this process: tests/faults/test_faults.py checks one through a real one
    result = in_process.run_main(*args, "--out-dir", tmp_path / "out", cwd=tmp_path)
    assert result.returncode == 2 and message in result.stderr, result.stderr
    assert result.stderr.strip().count("\n") == 0 and "Traceback" not in result.stderr
    assert not (tmp_path / "out" / "sentiment_ngrams.json").exists()


def test_sentiment_quick_on_tiny_data(tiny_data_dir, tmp_path):
    out = tmp_path / "out"
    result = in_process.run_main(
        "sentiment",
        "--quick",
        "--data-dir",
        tiny_data_dir,
        "--out-dir",
        out,
        cwd=tmp_path,
        env_extra={"HW3_CACHE_DIR": str(tmp_path / "cache")},
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    history = json.loads((out / "sentiment_ngrams.json").read_text())
    assert [r["label"] for r in history["rows"]] == [r.label for r in sn.ROWS]
    assert history["sizes"] == {"dev": 300, "train": 600, "test": 300}
    assert all(len(r["dev_acc"]) == 1 and len(r["dev_acc"][0]) == 2 for r in history["rows"])
    assert history["command"].startswith("python main.py sentiment --quick")
    assert (out / "sentiment_ngrams_dev_acc.png").is_file() and not (tmp_path / "plots").exists()
    # and what the course's average is made of, with its three arms
    made = json.loads((out / "sentiment_average.json").read_text())
    assert [a["label"] for a in made["arms"]] == [
        "whole average",
        "without the frequent words",
        "the frequent words alone",
    ]
    assert all(len(a["dev_acc"][0]) == 3 for a in made["arms"])  # a --quick sweep's epochs
    assert 0 < made["word_share"] < 1 and 0 < made["average_share"] < 1
