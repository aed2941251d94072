"""The package driven the way the course's own main.py drives it: EasyDict configs with the course's
fields only, keyword calls with the skeleton's parameter names, and the save/load round trip of a
plain state_dict.

The only substitutions are the offline ones the course cannot avoid here: our WordTokenizer for
bert-base-cased and the local data files. Everything runs on the tiny data directory of conftest.py.
"""

from __future__ import annotations

import inspect
import math

import pytest
import torch
import torch.nn as nn
from torch.utils.data import DataLoader

import mlp
import mlp_lm
from lm.config import LMRunConfig, as_run_config
from common import datafiles
from conftest import EasyDict

ADAM = torch.optim.Adam  # before any test replaces it with a spy


def course_lm_config(save_path, **changes) -> EasyDict:
    """The fields of the course's `single_run_mlp_lm` config, sized for the tiny data."""
    return EasyDict(
        {
            "embed_dim": 8,
            "hidden_dim": 16,
            "num_blocks": 2,
            "dropout_p": 0.2,
            "local_window_size": 6,
            "batch_size": 64,
            "lr": 2e-3,
            "decay": 0.99,
            "num_epochs": 2,
            "save_path": str(save_path),
            **changes,
        }
    )


# The skeleton's parameter names, in order, for every course function of mlp_lm.py.
SKELETON = {
    "load_data_mlp_lm": [],
    "preprocess_data": ["data", "local_window_size", "splitter", "tokenizer"],
    "NPLMFirstBlock": ["vocab_size", "embed_dim", "local_window_size", "hidden_dim", "dropout_p"],
    "NPLMBlock": ["hidden_dim", "dropout_p"],
    "NPLMFinalBlock": ["vocab_size", "hidden_dim"],
    "NPLM": [
        "vocab_size",
        "embed_dim",
        "local_window_size",
        "hidden_dim",
        "num_blocks",
        "dropout_p",
    ],
    "test_model_forward": ["model", "sample", "local_window_size", "tokenizer"],
    "train": [
        "model",
        "train_dataloader",
        "dev_dataloader",
        "criterion",
        "optimizer",
        "scheduler",
        "num_epochs",
        "save_path",
        "print_every",
    ],
    "evaluate": ["model", "eval_dataloader", "criterion"],
    "generate_text": ["prompt", "model", "tokenizer", "local_window_size", "top_p", "max_len"],
    "visualize_epochs": ["epoch_train_stats", "epoch_dev_stats", "stat_name", "save_fig_path"],
    "run_mlp_lm": ["config", "train_data", "dev_data"],
    "sample_from_mlp_lm": ["config", "dev_data"],
}


@pytest.mark.parametrize("name", sorted(SKELETON))
def test_course_functions_keep_the_skeletons_parameter_names(name):
    params = list(inspect.signature(getattr(mlp_lm, name)).parameters.values())
    expected = SKELETON[name]
    assert [p.name for p in params[: len(expected)]] == expected
    assert all(
        p.default is not p.empty or p.kind is p.VAR_KEYWORD for p in params[len(expected) :]
    ), "anything beyond the skeleton's parameters must be optional"


@pytest.fixture
def course_run(tiny_data_dir, tmp_path, monkeypatch):
    """The course's `single_run_mlp_lm`, with spies on the optimiser, the scheduler and the data
    loader."""
    monkeypatch.setenv(datafiles.DATA_DIR_ENV, str(tiny_data_dir))
    made = {}
    real_adam, real_exp, real_loader = (
        torch.optim.Adam,
        torch.optim.lr_scheduler.ExponentialLR,
        mlp_lm.DataLoader,
    )
    monkeypatch.setattr(
        torch.optim, "Adam", lambda *a, **k: made.setdefault("optimizer", real_adam(*a, **k))
    )
    monkeypatch.setattr(
        torch.optim.lr_scheduler,
        "ExponentialLR",
        lambda *a, **k: made.setdefault("scheduler", real_exp(*a, **k)),
    )
    monkeypatch.setattr(
        mlp_lm,
        "DataLoader",
        lambda *a, **k: (
            made.setdefault("loaders", []).append(real_loader(*a, **k)) or made["loaders"][-1]
        ),
    )
    train_d, dev_d = mlp_lm.load_data_mlp_lm()  # as the course calls it: no arguments
    config = course_lm_config(tmp_path / "model.pth")
    stats = mlp_lm.run_mlp_lm(config=config, train_data=train_d, dev_data=dev_d)
    return config, train_d, dev_d, stats, made


def test_course_single_run_trains_the_course_model_the_course_way(course_run, tmp_path):
    config, train_d, _, stats, made = course_run
    epoch_train_losses, epoch_train_ppls, epoch_dev_losses, epoch_dev_ppls = stats
    assert len(epoch_dev_ppls) == config.num_epochs  # no early stopping
    assert all(math.isclose(p, math.exp(loss)) for p, loss in zip(epoch_dev_ppls, epoch_dev_losses))
    for stat, values in (
        ("Loss", (epoch_train_losses, epoch_dev_losses)),
        ("Perplexity", (epoch_train_ppls, epoch_dev_ppls)),
    ):
        path = mlp_lm.visualize_epochs(
            epoch_train_stats=values[0],
            epoch_dev_stats=values[1],
            stat_name=stat,
            save_fig_path=tmp_path / f"mlp_lm_{stat}.png",
        )
        assert path.read_bytes()[:4] == b"\x89PNG"
    # Adam at the config's lr, ExponentialLR(gamma=decay) stepped once per batch, a DataLoader of
    # windows
    optimizer, scheduler = made["optimizer"], made["scheduler"]
    assert type(optimizer) is ADAM and scheduler.gamma == config.decay
    train_loader = made["loaders"][0]
    assert isinstance(train_loader, DataLoader) and train_loader.batch_size == config.batch_size
    steps = config.num_epochs * len(train_loader)
    assert optimizer.param_groups[0]["lr"] == pytest.approx(config.lr * config.decay**steps)
    # what train left at save_path is a plain state_dict of the course's model: full softmax, window
    # 6
    state = torch.load(config.save_path)
    vocab_size = state["final_layer.linear.weight"].shape[0]
    model = mlp_lm.NPLM(
        vocab_size,
        config.embed_dim,
        config.local_window_size,
        config.hidden_dim,
        config.num_blocks,
        config.dropout_p,
    )
    model.load_state_dict(torch.load(config.save_path))
    assert model.first_layer.linear.in_features == config.local_window_size * config.embed_dim
    assert len(model.intermediate_layers) == config.num_blocks
    assert {type(m) for m in model.modules() if isinstance(m, nn.Dropout)} == {nn.Dropout}


def test_course_sample_from_mlp_lm_rebuilds_the_model_and_loads_the_saved_file(course_run, capsys):
    config, _, dev_d, stats, _ = course_run
    out = mlp_lm.sample_from_mlp_lm(config=config, dev_data=dev_d)
    # the best epoch's weights were saved
    assert out["dev_ppl"] == pytest.approx(min(stats[3]), rel=1e-5)
    printed = capsys.readouterr().out
    assert printed.count("Generated text: ") == 4  # greedy, p=0.0, p=0.3, p=1.0
    assert out["samples"]["greedy"] == out["samples"]["top_p=0.0"]
    # the course's pretrained config names another model: refused with the differences named
    bigger = EasyDict({**config, "embed_dim": 16, "num_blocks": 4})
    with pytest.raises(mlp_lm.CheckpointError, match="embed_dim=16 \\(trained with 8\\)"):
        mlp_lm.sample_from_mlp_lm(bigger, dev_d)


def test_course_train_called_directly_saves_a_state_dict_the_course_can_load(tmp_path):
    tok = mlp_lm.WordTokenizer.from_texts([" the cat sat on the mat . "] * 5)
    dataset = mlp_lm.preprocess_data(
        data={"text": [" the cat sat on the mat . "] * 5},
        local_window_size=3,
        splitter=None,
        tokenizer=tok,
    )
    loader = DataLoader(dataset, batch_size=8, shuffle=True)
    model = mlp_lm.NPLM(
        vocab_size=tok.vocab_size,
        embed_dim=4,
        local_window_size=3,
        hidden_dim=8,
        num_blocks=1,
        dropout_p=0.1,
    )
    mlp_lm.test_model_forward(
        model=model, sample=next(iter(loader)), local_window_size=3, tokenizer=tok
    )
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=1.0)
    hist = mlp_lm.train(
        model=model,
        train_dataloader=loader,
        dev_dataloader=loader,
        criterion=nn.NLLLoss(),
        optimizer=optimizer,
        scheduler=scheduler,
        num_epochs=3,
        save_path=tmp_path / "m.pth",
        print_every=100,
    )
    assert len(hist) == 4 and all(len(h) == 3 for h in hist)
    again = mlp_lm.NPLM(tok.vocab_size, 4, 3, 8, 1, 0.1)
    again.load_state_dict(torch.load(tmp_path / "m.pth"))
    loss, ppl = mlp_lm.evaluate(model=again, eval_dataloader=loader, criterion=nn.NLLLoss())
    assert ppl == pytest.approx(min(hist[3]), rel=1e-5)
    text = mlp_lm.generate_text(
        prompt="the cat", model=again, tokenizer=tok, local_window_size=3, top_p=None, max_len=4
    )
    assert text.startswith("the cat") and len(text.split()) == 6
    # the course's check catches a model of the wrong vocabulary
    with pytest.raises(AssertionError):
        mlp_lm.test_model_forward(
            mlp_lm.NPLM(tok.vocab_size + 1, 4, 3, 8, 1, 0.1), next(iter(loader)), 3, tok
        )


def test_our_additions_are_off_for_a_course_config_and_on_in_our_preset():
    course = as_run_config(course_lm_config("x.pth"))
    assert (
        course.output_layer,
        course.global_window,
        course.ema_decay,
        course.optimizer,
        course.schedule,
        course.patience,
        course.fast,
        course.cache_size,
    ) == ("full", 0, 0.0, "adam", "exponential", None, False, 0)
    assert course.decay == 0.99 and course.local_window_size == 6
    ours = LMRunConfig.preset("default")
    assert (ours.output_layer, ours.global_window, ours.ema_decay, ours.optimizer, ours.fast) == (
        "adaptive",
        64,
        0.998,
        "adamw",
        True,
    )
    with pytest.raises(ValueError, match="LMConfig.decay"):
        as_run_config(course_lm_config("x.pth", decay=1.5))


def test_spring_2025_driver_runs_run_mlp_on_raw_splits_without_an_activation(tiny_table, tmp_path):
    from conftest import review
    import random

    rng = random.Random(0)
    raw = lambda n: {
        "text": [review(rng, i % 2) for i in range(n)],
        "label": [i % 2 for i in range(n)],
    }  # noqa
    dev_d, train_d, test_d = raw(40), raw(120), raw(40)
    all_dev_accs, all_dev_losses = [], []
    names = ["None", "512"]
    for hidden_dims, name, lr in zip([[], [16]], names, [0.025, 0.02]):
        train_config = EasyDict(
            {
                "batch_size": 16,
                "lr": lr,
                "num_epochs": 2,
                "hidden_dims": hidden_dims,
                "save_path": str(tmp_path / f"model_hidden_{name}.pth"),
                "embeddings": "glove-twitter-50",
                "num_classes": 2,
            }
        )
        epoch_train_losses, _, epoch_dev_loss, epoch_dev_accs, test_loss, test_acc = mlp.run_mlp(
            train_config, tiny_table, dev_d, train_d, test_d
        )
        all_dev_accs.append(epoch_dev_accs)
        all_dev_losses.append(epoch_dev_loss)
        mlp_lm.visualize_epochs(
            epoch_train_losses, epoch_dev_loss, "Loss", tmp_path / f"mlp_{name}_loss.png"
        )
        model = mlp.SentimentClassifier(tiny_table.vector_size, 2, hidden_dims)
        model.load_state_dict(torch.load(train_config.save_path))
        assert isinstance(model.activation, nn.Sigmoid) and 0.0 <= test_acc <= 1.0
    mlp.visualize_configs(all_dev_accs, names, "Accuracy", tmp_path / "all_mlp_acc.png")
    mlp.visualize_configs(all_dev_losses, names, "Loss", tmp_path / "all_mlp_loss.png")
    # raw splits give the numbers their featurized TensorDatasets give
    datasets = mlp.create_tensor_datasets([dev_d, train_d, test_d], tiny_table)
    config = EasyDict({**train_config, "save_path": None})
    assert mlp.run_mlp(config, tiny_table, *datasets) == mlp.run_mlp(
        config, tiny_table, dev_d, train_d, test_d
    )
