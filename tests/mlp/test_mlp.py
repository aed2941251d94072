"""mlp.py, function by function, against the course contract and independent references."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset

import main
import mlp
from sweeps import run as sweep_run
from sweeps.run import Sweep, SweepRun
from common import glove
from common.featurize import featurize_many
from conftest import review, separable


def numpy_mean_of_known(text, table):
    vectors = [table[w] for w in glove.word_tokenize(text.lower()) if w in table]
    return np.mean(vectors, axis=0) if vectors else None


# --------------------------------------------------------------------------- featurize
def test_featurize_averages_the_known_words(tiny_table):
    text = "The movie was GREAT!<br />Zebra, fun."
    expected = np.mean(
        [tiny_table[w] for w in ["the", "movie", "was", "great", "!", ",", "fun", "."]], axis=0
    )
    got = mlp.featurize(text, tiny_table)
    assert got.shape == (8,) and got.dtype == torch.float32
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-6)


@pytest.mark.parametrize("text", ["", "zebra quokka", "<br /><br />"])
def test_featurize_returns_none_without_known_words(tiny_table, text):
    assert mlp.featurize(text, tiny_table) is None


def test_featurize_accepts_any_mapping_that_raises_keyerror(tiny_table):
    """A plain dict (or gensim's KeyedVectors) works the same as our table."""
    as_dict = {w: tiny_table[w] for w in tiny_table.index_to_key}
    text = "I don't like this dull film."
    np.testing.assert_allclose(
        mlp.featurize(text, as_dict).numpy(), mlp.featurize(text, tiny_table).numpy(), rtol=1e-6
    )
    assert mlp.featurize("zebra", as_dict) is None


def test_featurize_many_matches_featurize_one_by_one(tiny_table):
    rng = random.Random(0)
    texts = [review(rng, i % 2) for i in range(200)] + [
        "",
        "zebra",
        "Don't!!",
        "a\nb",
        "x\x00y movie",
    ]
    features, known = featurize_many(texts, tiny_table)
    assert features.shape == (len(texts), 8)
    for i, text in enumerate(texts):
        expected = numpy_mean_of_known(text, tiny_table)
        assert bool(known[i]) == (expected is not None), text
        if expected is not None:
            np.testing.assert_allclose(features[i].numpy(), expected, rtol=1e-5, atol=1e-6)


def test_create_tensor_dataset_drops_reviews_without_known_words(tiny_table):
    data = {"text": ["great movie", "zebra", "awful film", ""], "label": [1, 0, 0, 1]}
    dataset = mlp.create_tensor_dataset(data, tiny_table)
    features, labels = dataset.tensors
    assert features.shape == (2, 8) and features.dtype == torch.float32
    assert labels.tolist() == [1, 0] and labels.dtype == torch.long
    with pytest.raises(ValueError, match="labels"):
        mlp.create_tensor_dataset({"text": ["a"], "label": [0, 1]}, tiny_table)


# --------------------------------------------------------------------------- batches
def test_dataloader_yields_every_example_once_in_a_seeded_order():
    dataset = TensorDataset(torch.arange(10).float().unsqueeze(1), torch.arange(10))
    loader = mlp.create_dataloader(
        dataset, batch_size=4, shuffle=True, generator=torch.Generator().manual_seed(0)
    )
    batches = list(loader)
    assert [len(y) for _, y in batches] == [4, 4, 2] and len(loader) == 3
    seen = torch.cat([y for _, y in batches])
    assert sorted(seen.tolist()) == list(range(10)) and seen.tolist() != list(range(10))
    assert all(torch.equal(x.squeeze(1).long(), y) for x, y in batches)  # rows stay paired
    again = mlp.create_dataloader(dataset, 4, True, generator=torch.Generator().manual_seed(0))
    assert torch.equal(torch.cat([y for _, y in again]), seen)


def test_unshuffled_batches_are_what_a_torch_dataloader_gives():
    dataset = TensorDataset(torch.randn(11, 3), torch.arange(11))
    ours = list(mlp.create_dataloader(dataset, 4, shuffle=False))
    theirs = list(DataLoader(dataset, batch_size=4, shuffle=False))
    assert all(
        torch.equal(a, b)
        for (xa, ya), (xb, yb) in zip(ours, theirs)
        for a, b in ((xa, xb), (ya, yb))
    )


# --------------------------------------------------------------------------- model


@pytest.mark.parametrize(
    "name, reference",
    [
        ("Sigmoid", torch.sigmoid),
        ("tanh", torch.tanh),
        ("ReLU", torch.relu),
        ("GeLU", nn.functional.gelu),
        ("LEAKYRELU", nn.functional.leaky_relu),
    ],
)
def test_activation_follows_every_layer_but_the_last(name, reference):
    torch.manual_seed(0)
    model = mlp.SentimentClassifier(4, 3, [6, 5], activation=name)
    x = torch.randn(7, 4)
    a, b, c = model.linears
    expected = c(reference(b(reference(a(x)))))  # no activation on the logits
    torch.testing.assert_close(model(x), expected)


def test_unknown_activation_lists_the_valid_ones():
    with pytest.raises(ValueError, match="Swish.*Sigmoid, Tanh, ReLU, GeLU, LeakyReLU"):
        mlp.SentimentClassifier(4, 2, [3], activation="Swish")


@pytest.mark.parametrize("hidden", [[0], [512, -1], [2.5], [True]])
def test_bad_hidden_width_is_a_value_error(hidden):
    with pytest.raises(ValueError, match="hidden_dims"):
        mlp.SentimentClassifier(4, 2, hidden)


def test_classifier_gradients_pass_a_numeric_check():
    """CS231n-style: autograd's gradients of the loss equal central differences (float64)."""
    torch.manual_seed(0)
    model = mlp.SentimentClassifier(4, 3, [5, 5], activation="Tanh").double()
    x, y = torch.randn(6, 4, dtype=torch.float64), torch.randint(0, 3, (6,))
    params = tuple(p.detach().clone().requires_grad_() for p in model.parameters())

    def loss_of(*ps):
        return (
            torch.func.functional_call(
                model, dict(zip([n for n, _ in model.named_parameters()], ps)), (x,)
            )
            .log_softmax(-1)
            .gather(1, y[:, None])
            .mean()
            .neg()
        )

    assert torch.autograd.gradcheck(loss_of, params)


def test_accuracy_is_a_zero_one_vector():
    logits = torch.tensor([[2.0, 1.0], [0.0, 3.0], [1.0, 0.0]])
    assert mlp.accuracy(logits, torch.tensor([0, 0, 0])).tolist() == [1.0, 0.0, 1.0]


# --------------------------------------------------------------------------- evaluate and train
def test_evaluate_weights_batches_by_size_and_restores_the_mode():
    torch.manual_seed(0)
    model = mlp.SentimentClassifier(8, 2, [4])
    data = separable(10)
    # batches 3, 3, 3, 1
    loss, acc = mlp.evaluate(model, mlp.create_dataloader(data, 3, shuffle=False))
    x, y = data.tensors
    with torch.no_grad():
        logits = model(x)
    assert loss == pytest.approx(model.loss(logits, y).item(), rel=1e-6)
    assert acc == pytest.approx(mlp.accuracy(logits, y).mean().item())
    assert model.training  # was in train mode, still is
    model.eval()
    mlp.evaluate(model, mlp.create_dataloader(data, 3, shuffle=False))
    assert not model.training


# --------------------------------------------------------------------------- plots and sweeps
def test_run_sweep_returns_and_saves_every_number(tiny_table, tmp_path):
    rng = random.Random(0)
    make = lambda n: mlp.create_tensor_dataset(  # noqa: E731
        {"text": [review(rng, i % 2) for i in range(n)], "label": [i % 2 for i in range(n)]},
        tiny_table,
    )
    datasets = (make(60), make(120), make(60))
    configs = [
        mlp.MLPConfig(hidden_dims=d, lr=0.01, num_epochs=2, batch_size=32) for d in ([], [8, 8])
    ]
    sweep = Sweep("mlp_structures", configs, ["None", "8 -> 8"], epoch_plot_prefix="mlp_structure")
    # main.explore: the sweep's run (sweeps/run.py) and its plots (main.plot_sweep)
    history = main.explore(
        sweep, datasets, None, SweepRun(seeds=[0, 1], out_dir=tmp_path, ckpt_dir=tmp_path / "ckpt")
    )
    names = sorted(p.name for p in tmp_path.iterdir() if p.is_file())
    assert names == [
        "all_mlp_structures_acc.png",
        "all_mlp_structures_loss.png",
        "mlp_structure_8-8_loss.png",
        "mlp_structure_None_loss.png",
        "mlp_structures.json",
    ]
    assert all(" " not in n and ">" not in n for n in names)
    saved = json.loads((tmp_path / "mlp_structures.json").read_text())
    assert saved == json.loads(json.dumps(history))
    run = saved["runs"][1]
    assert (
        run["label"] == "8 -> 8"
        and run["seeds"] == [0, 1]
        and run["config"]["hidden_dims"] == [8, 8]
    )
    assert np.array(run["dev_acc"]).shape == (2, 2) and len(run["test_acc"]) == 2
    assert run["summary"]["best_dev_acc_mean"] == pytest.approx(
        np.mean([max(a) for a in run["dev_acc"]])
    )
    assert (tmp_path / "ckpt" / "mlp_structures_8-8_seed1.pth").is_file()


def test_sweep_numbers_do_not_depend_on_the_number_of_worker_processes(tiny_table, tmp_path):
    rng = random.Random(1)
    make = lambda n: mlp.create_tensor_dataset(  # noqa: E731
        {"text": [review(rng, i % 2) for i in range(n)], "label": [i % 2 for i in range(n)]},
        tiny_table,
    )
    datasets = (make(40), make(80), make(40))
    configs = [
        mlp.MLPConfig(hidden_dims=[8], lr=0.01, num_epochs=2, batch_size=16, activation=a)
        for a in ("ReLU", "Tanh")
    ]
    one, two = (
        sweep_run.run_sweep(
            Sweep("s", configs, ["relu", "tanh"]),
            datasets,
            SweepRun(seeds=[0, 1], out_dir=tmp_path / str(w), workers=w),
        )["runs"]
        for w in (1, 2)
    )
    assert [{k: r[k] for k in sweep_run.RESULT_KEYS} for r in one] == [
        {k: r[k] for k in sweep_run.RESULT_KEYS} for r in two
    ]


def test_featurize_many_in_two_processes_gives_the_same_features(tiny_table):
    rng = random.Random(2)
    texts = [review(rng, i % 2) for i in range(101)] + ["zebra"]
    serial, parallel = (
        featurize_many(texts, tiny_table, workers=1),
        featurize_many(texts, tiny_table, 2),
    )
    assert torch.equal(serial[0], parallel[0]) and torch.equal(serial[1], parallel[1])


# --------------------------------------------------------------------------- the real data


def test_a_sweep_on_a_terminal_draws_one_bar_of_finished_runs(tiny_table, tmp_path, monkeypatch):
    import io
    import sys

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    rng = random.Random(3)
    make = lambda n: mlp.create_tensor_dataset(  # noqa: E731
        {"text": [review(rng, i % 2) for i in range(n)], "label": [i % 2 for i in range(n)]},
        tiny_table,
    )
    configs = [mlp.MLPConfig(hidden_dims=[4], lr=0.01, num_epochs=2, batch_size=16)]
    screen = Terminal()
    monkeypatch.setattr(sys, "stderr", screen)
    sweep_run.run_sweep(
        Sweep("onebar", configs, ["a"]),
        (make(20), make(40), make(20)),
        SweepRun(seeds=[0, 1], out_dir=tmp_path, workers=1),
    )
    drawn = screen.getvalue()
    assert "onebar" in drawn and "2/2" in drawn and "a seed 1: best dev acc" in drawn
    assert "epochs" not in drawn  # the runs' own epoch bars stay off
