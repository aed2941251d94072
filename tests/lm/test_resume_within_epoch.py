"""A language model stopped by Ctrl-C or SIGTERM within an epoch keeps its training state at the end
of the step under way, and a run resumed from it ends with the numbers of a run never stopped: the
same weights, optimiser, schedule, weight average, history and data order (issue 36, point 5)."""

from __future__ import annotations

import dataclasses
import os
import random
import signal

import pytest
import torch

import mlp_lm
from lm.config import LMRunConfig
from lm.train import fit_mlp_lm

WORDS = "the cat sat on a mat dog ran to park , . and".split()


def _lines(n: int, seed: int) -> list:
    rng = random.Random(seed)
    return [" " + " ".join(rng.choice(WORDS) for _ in range(12)) + " " for _ in range(n)]


def _config(tmp_path, fast: bool) -> LMRunConfig:
    # dropout, a warmup and cosine schedule and a weight average: every state a resume must restore
    return LMRunConfig.preset(
        "quick",
        embed_dim=8,
        hidden_dim=16,
        batch_size=16,
        eval_batch_size=64,
        num_epochs=2,
        max_train_tokens=None,
        max_dev_tokens=None,
        warmup_steps=3,
        dropout_p=0.2,
        ema_decay=0.9,
        fast=fast,
        device="cpu",
        num_threads=1,
        save_path=str(tmp_path / "m.pt"),
    )


def _interrupt_at(monkeypatch, step: int, signum: int) -> None:
    """Send `signum` to this process during the training step `step` (counted over the run)."""
    course_step, calls = mlp_lm.train_step, []

    def step_then_signal(*args, **kwargs):
        calls.append(1)
        if len(calls) == step:
            os.kill(os.getpid(), signum)  # arrives in the middle of this step
        return course_step(*args, **kwargs)

    monkeypatch.setattr(mlp_lm, "train_step", step_then_signal)


def _as_numbers(run) -> tuple:
    report = {k: v for k, v in run.report.items() if "second" not in k and k != "resumed_after"}
    return report, {k: v.clone() for k, v in run.model.state_dict().items()}


@pytest.mark.parametrize("fast", [True, False], ids=["window-batches", "course-dataloader"])
@pytest.mark.parametrize("stop_at", [5, 50])  # in the first epoch (41 steps); in the second
def test_a_run_stopped_within_an_epoch_resumes_to_the_same_numbers(
    tmp_path, monkeypatch, fast, stop_at
):
    train, dev = _lines(50, 1), _lines(8, 2)
    config = _config(tmp_path, fast)
    quiet = dict(log=lambda *a: None)
    whole = _as_numbers(fit_mlp_lm(config, train, dev, **quiet))

    state = tmp_path / "run.state.pt"
    # the interval never comes: only the interrupt saves within the epoch
    config = dataclasses.replace(config, state_every_s=1e9)
    with monkeypatch.context() as patch:
        _interrupt_at(patch, stop_at, signal.SIGINT)
        with pytest.raises(KeyboardInterrupt):
            fit_mlp_lm(config, train, dev, state_path=state, **quiet)
    kept = torch.load(state, weights_only=True)
    # the step under way when the signal came was finished, and kept
    assert (kept["epoch"], kept["step"]) == divmod(stop_at, 41)
    again = fit_mlp_lm(config, train, dev, state_path=state, resume=True, **quiet)
    assert again.report["resumed_after"] == [f"epoch {kept['epoch'] + 1}, step {kept['step']}"]
    report, weights = _as_numbers(again)
    assert report == whole[0]
    assert weights.keys() == whole[1].keys()
    assert all(torch.equal(weights[k], whole[1][k]) for k in weights)


def test_the_state_is_kept_every_state_every_s_within_an_epoch(tmp_path, monkeypatch):
    """With an interval of 0 the state is saved after every step; killed without a chance to save
    (an exception in a step, not a signal), the run goes on from the last step that finished."""
    train, dev = _lines(50, 1), _lines(8, 2)
    config = _config(tmp_path, True)
    whole = _as_numbers(fit_mlp_lm(config, train, dev, log=lambda *a: None))
    config = dataclasses.replace(config, state_every_s=0.0)
    state = tmp_path / "run.state.pt"
    course_step, calls = mlp_lm.train_step, []

    def crash_at_7(*args, **kwargs):
        calls.append(1)
        if len(calls) == 7:
            raise RuntimeError("the machine went away")
        return course_step(*args, **kwargs)

    handler = signal.getsignal(signal.SIGINT)
    with monkeypatch.context() as patch:
        patch.setattr(mlp_lm, "train_step", crash_at_7)
        with pytest.raises(RuntimeError):
            fit_mlp_lm(config, train, dev, state_path=state, log=lambda *a: None)
    # Ctrl-C is no longer held back once the loop is left by an error
    assert signal.getsignal(signal.SIGINT) is handler
    kept = torch.load(state, weights_only=True)
    assert (kept["epoch"], kept["step"]) == (0, 6)
    again = fit_mlp_lm(config, train, dev, state_path=state, resume=True, log=lambda *a: None)
    report, weights = _as_numbers(again)
    assert report == whole[0]
    assert all(torch.equal(weights[k], whole[1][k]) for k in weights)
