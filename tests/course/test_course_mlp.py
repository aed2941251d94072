"""mlp.py's course face: the skeleton's names and signatures, SentimentClassifier built from hidden
widths, the config's access, train's checkpoint and per-epoch numbers, run_mlp's six results, the
visualize_* figures and the course's IMDB splits."""

from __future__ import annotations
import dataclasses
import inspect
import random
import numpy as np
import pytest
import torch
import torch.nn as nn
from torch.utils.data import DataLoader
import mlp
from conftest import is_png, separable
from conftest import EasyDict as AttrDict, review


@pytest.mark.parametrize("hidden", [[], [7], [7, 5], [7, 5, 3]])
def test_classifier_layers_chain_from_embed_dim_to_classes(hidden):
    model = mlp.SentimentClassifier(8, 2, hidden)
    assert isinstance(model.linears, nn.ModuleList) and len(model.linears) == len(hidden) + 1
    widths = [8, *hidden, 2]
    assert [(lin.in_features, lin.out_features) for lin in model.linears] == list(
        zip(widths[:-1], widths[1:])
    )
    assert isinstance(model.loss, nn.CrossEntropyLoss)
    assert model(torch.randn(5, 8)).shape == (5, 2)


def test_train_learns_saves_the_best_checkpoint_and_reports_each_epoch(tmp_path):
    torch.manual_seed(0)
    model = mlp.SentimentClassifier(8, 2, [16], activation="ReLU")
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    train_loader = mlp.create_dataloader(
        separable(400, 0), 32, generator=torch.Generator().manual_seed(0)
    )
    dev_loader = DataLoader(separable(200, 1), batch_size=50)  # a plain torch DataLoader works too
    path = tmp_path / "best.pth"
    histories = mlp.train(model, optimizer, train_loader, dev_loader, 8, save_path=path)
    train_losses, train_accs, dev_losses, dev_accs = histories
    assert all(len(h) == 8 for h in histories)
    assert train_losses[-1] < train_losses[0] and dev_accs[-1] > 0.9
    best = mlp.SentimentClassifier(8, 2, [16], activation="ReLU")
    best.load_state_dict(torch.load(path, weights_only=True))
    assert mlp.evaluate(best, dev_loader)[1] == pytest.approx(max(dev_accs))


def test_run_mlp_returns_six_results_and_is_reproducible(tiny_table, tmp_path):
    rng = random.Random(0)
    make = lambda n: mlp.create_tensor_dataset(  # noqa: E731
        {"text": [review(rng, i % 2) for i in range(n)], "label": [i % 2 for i in range(n)]},
        tiny_table,
    )
    dev, train, test = make(100), make(300), make(100)
    config = AttrDict(
        batch_size=32,
        lr=0.01,
        num_epochs=4,
        hidden_dims=[16],
        save_path=str(tmp_path / "m.pth"),
        embeddings="tiny",
        num_classes=2,
        activation="Sigmoid",
    )
    first = mlp.run_mlp(config, tiny_table, dev, train, test)
    assert len(first) == 6 and all(len(h) == 4 for h in first[:4])
    assert isinstance(first[4], float) and first[5] > 0.9  # the words carry the label
    assert (
        torch.load(config.save_path, weights_only=True).keys()
        == mlp.SentimentClassifier(8, 2, [16]).state_dict().keys()
    )
    second = mlp.run_mlp(config, tiny_table, dev, train, test)
    assert first == second  # same seed, same numbers
    third = mlp.run_mlp(AttrDict(config, seed=1), tiny_table, dev, train, test)
    assert third != first


def test_visualize_functions_draw_pngs(tmp_path):
    assert is_png(mlp.visualize_epochs([0.7, 0.6, 0.5], [0.72, 0.65, 0.6], str(tmp_path / "e.png")))
    assert is_png(
        mlp.visualize_configs(
            [[0.6, 0.7], [0.5, 0.8]], ["a", "b"], "Accuracy", str(tmp_path / "c.png")
        )
    )
    # a config may carry one curve per seed: drawn as mean and band
    assert is_png(
        mlp.visualize_configs(
            [[[0.6, 0.7], [0.62, 0.74]]], ["a"], "Accuracy", str(tmp_path / "s.png")
        )
    )
    with pytest.raises(ValueError, match="names"):
        mlp.visualize_configs([[0.6, 0.7]], ["a", "b"], "Accuracy", str(tmp_path / "x.png"))


def test_mlp_config_has_attribute_and_item_access():
    config = mlp.MLPConfig(hidden_dims=[4])
    assert config.hidden_dims == config["hidden_dims"] == [4]
    assert dataclasses.replace(config, lr=0.1).lr == 0.1


def test_contract_signatures_match_the_course_skeleton():
    expected = {
        "load_data_mlp": [],
        "featurize": ["sentence", "embeddings"],
        "create_tensor_dataset": ["raw_data", "embeddings"],
        "create_dataloader": ["dataset", "batch_size", "shuffle"],
        "accuracy": ["logits", "labels"],
        "evaluate": ["model", "eval_dataloader"],
        "train": [
            "model",
            "optimizer",
            "train_dataloader",
            "dev_dataloader",
            "num_epochs",
            "save_path",
        ],
        "visualize_epochs": ["epoch_train_losses", "epoch_dev_losses", "save_fig_path"],
        "visualize_configs": [
            "all_config_epoch_stats",
            "config_names",
            "metric_name",
            "save_fig_path",
        ],
        "run_mlp": ["config", "embeddings", "dev_dataset", "train_dataset", "test_dataset"],
    }
    for name, params in expected.items():
        got = list(inspect.signature(getattr(mlp, name)).parameters)
        assert got[: len(params)] == params, name
    assert list(inspect.signature(mlp.SentimentClassifier).parameters) == [
        "embed_dim",
        "num_classes",
        "hidden_dims",
        "activation",
    ]
    assert inspect.signature(mlp.SentimentClassifier).parameters["activation"].default == "Sigmoid"


def test_course_splits_of_imdb(shared_data):
    dev, train, test = mlp.load_data_mlp(data_dir=shared_data)
    assert (len(dev["text"]), len(train["text"]), len(test["text"])) == (5000, 20000, 10000)
    # shuffled, not sorted
    assert set(dev["label"]) == {0, 1} and 0.45 < np.mean(train["label"]) < 0.55
    again = mlp.load_data_mlp(data_dir=shared_data)[0]
    assert again["text"][:5] == dev["text"][:5]  # a fixed seed: the same splits every run
    # dev and train are disjoint slices of the official train split (by (label, id); texts repeat in
    # IMDB)
    assert not set(zip(dev["label"], dev["id"])) & set(zip(train["label"], train["id"]))
