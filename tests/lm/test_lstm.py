"""Tests of lm/lstm.py: truncated backpropagation through time carries the state from chunk to
chunk, a stream is scored token by token exactly once and in order, dynamic evaluation scores each
token before any step has seen it and puts the weights back, and `python main.py lstm` writes its
JSON and a checkpoint that rebuilds its model, refusing a bad value before any data is read."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from lm import lstm as L  # noqa: E402
from lm.dynamic import DynamicStep  # noqa: E402
from nplm.corpus import encode_stream  # noqa: E402
import mlp_lm  # noqa: E402

V, PAD = 19, 0


def small_model(dropout_p=0.0, seed=0, double=True):
    torch.manual_seed(seed)
    model = L.LSTMLM(V, embed_dim=6, hidden_dim=5, num_layers=2, dropout_p=dropout_p,
                     cutoffs=[6, 12], div_value=2.0)  # fmt: skip
    return model.double() if double else model


def random_stream(n=60, seed=1):
    return torch.randint(1, V, (n,), generator=torch.Generator().manual_seed(seed))


def full_pass(model, stream):
    """log p(x_t | x_<t) (T,) from one forward pass over the whole stream, from a PAD input."""
    inputs = torch.cat([torch.tensor([PAD]), stream[:-1]]).view(-1, 1)  # (T, 1)
    with torch.no_grad():
        hidden, _ = model.eval().features(inputs)  # (T, 1, H)
        return model.final_layer.target_log_prob(hidden.view(-1, model.hidden_dim), stream)


class FrozenOptimizer:
    """Takes no step: the weights stay as they are while `train_lstm` runs its loop."""

    param_groups = [{"lr": 0.0}]

    def zero_grad(self, set_to_none=True):
        pass

    def step(self):
        pass


def config(**fields):
    fields = {"cache_size": 0, "dynamic_segment": 0, "print_every": 0, "num_threads": 1, **fields}
    return L.LSTMConfig(**fields)


# --------------------------------------------------------------------------- TBPTT
def test_tbptt_carries_the_detached_state_and_matches_one_pass(monkeypatch):
    """With the weights frozen and no dropout, the loss of each chunk of one epoch, each started
    from the state the previous chunk ended with, is the full sequence's NLL on that chunk's
    targets; the first chunk starts from zeros, every later one from the previous end state."""
    model, stream = small_model(), random_stream(121)
    calls = []
    real_chunk = L.train_chunk

    def recording(model, optimizer, inputs, targets, state, grad_clip):
        loss, end = real_chunk(model, optimizer, inputs, targets, state, grad_clip)
        calls.append((state, end, loss.item(), inputs.shape[0]))
        return loss, end

    monkeypatch.setattr(L, "make_adamw", lambda *args: FrozenOptimizer())
    monkeypatch.setattr(L, "train_chunk", recording)
    B, bptt = 3, 7
    data = L.batchify(stream, B)  # (40, 3)
    chunks = math.ceil((data.shape[0] - 1) / bptt)
    cfg = config(batch_size=B, bptt=bptt, budget_seconds=1e6, max_steps=chunks, dropout_p=0.0)
    L.train_lstm(model, cfg, (stream, stream[:20]), PAD, log=lambda *a: None)
    assert len(calls) == chunks == 6
    assert all(torch.equal(s, torch.zeros_like(s)) for s in calls[0][0])
    for (_, end, _, _), (start, _, _, _) in zip(calls, calls[1:]):
        assert not any(torch.equal(s, torch.zeros_like(s)) for s in start)  # not reset
        for s, e in zip(start, end):
            torch.testing.assert_close(s, e, rtol=0, atol=0)
    # one forward pass over the whole columns: the mean NLL of each chunk's slice
    with torch.no_grad():
        nll, _ = model.eval().nll(data[:-1], data[1:], reduction="none")
    nll = nll.view(-1, B)  # (39, 3)
    i = 0
    for _, _, loss, t in calls:
        assert loss == pytest.approx(nll[i : i + t].mean().item(), rel=1e-12)
        i += t
    assert i == data.shape[0] - 1  # every step of the columns is a target once


def test_the_chunks_predict_the_columns_one_step_on():
    data = L.batchify(torch.arange(23), 4)  # (5, 4): column b is 5b .. 5b + 4
    assert data[:, 1].tolist() == [5, 6, 7, 8, 9]
    chunks = list(L.tbptt_chunks(data, 3))
    assert [x.shape[0] for x, _ in chunks] == [3, 1]
    torch.testing.assert_close(torch.cat([y for _, y in chunks]), data[1:])
    torch.testing.assert_close(torch.cat([x for x, _ in chunks]), data[:-1])


def test_the_same_seed_trains_to_the_same_numbers():
    stream = random_stream(300)
    runs = []
    for _ in range(2):
        model = small_model(dropout_p=0.2, double=False)
        cfg = config(batch_size=4, bptt=5, budget_seconds=1e6, max_steps=20)
        runs.append(L.train_lstm(model, cfg, (stream, stream[:50]), PAD, log=lambda *a: None))
    assert runs[0]["history"]["dev_ppl"] == runs[1]["history"]["dev_ppl"]
    assert runs[0]["history"]["train_loss"] == runs[1]["history"]["train_loss"]
    assert runs[0]["steps"] == 20 and runs[0]["history"]["step"][-1] == 20


# --------------------------------------------------------------------------- scoring
@pytest.mark.parametrize("chunk_len", [1, 7, 512])
def test_batch_one_scoring_is_one_pass_over_the_stream(chunk_len):
    model, stream = small_model(), random_stream(45)
    features, lp = L.score_stream(model, stream, PAD, batch_size=1, chunk_len=chunk_len)
    assert features.shape == (45, model.hidden_dim) and lp.shape == (45,)
    torch.testing.assert_close(lp, full_pass(model, stream))


@pytest.mark.parametrize("B", [2, 4, 7, 45, 60])
def test_several_columns_score_every_token_once_in_stream_order(B):
    """Each column is scored as a stream of its own (from PAD), and the scores come back in the
    stream's order: T of them whatever the number of columns."""
    model, stream = small_model(), random_stream(45)
    features, lp = L.score_stream(model, stream, PAD, batch_size=B, chunk_len=4)
    assert lp.shape == (45,) and features.shape == (45, model.hidden_dim)
    L_col = math.ceil(45 / min(B, 45))
    for start in range(0, 45, L_col):
        column = stream[start : start + L_col]
        f1, lp1 = L.score_stream(model, column, PAD, batch_size=1)
        torch.testing.assert_close(lp[start : start + L_col], lp1)
        torch.testing.assert_close(features[start : start + L_col], f1)


@pytest.mark.parametrize("B", [1, 4])
def test_changing_a_token_moves_no_earlier_score(B):
    model, stream = small_model(), random_stream(45)
    _, before = L.score_stream(model, stream, PAD, batch_size=B, chunk_len=5)
    for k in (0, 11, 12, 30, 44):
        changed = stream.clone()
        changed[k] = changed[k] % (V - 1) + 1
        _, after = L.score_stream(model, changed, PAD, batch_size=B, chunk_len=5)
        torch.testing.assert_close(after[:k], before[:k], rtol=0, atol=0)  # bit for bit
        assert after[k] != before[k]  # its own score: it is the target


def test_scoring_restores_the_mode():
    model = small_model(dropout_p=0.5).train()
    _, a = L.score_stream(model, random_stream(30), PAD, batch_size=3)
    _, b = L.score_stream(model, random_stream(30), PAD, batch_size=3)
    assert model.training and torch.equal(a, b)  # no dropout while scoring


# --------------------------------------------------------------------------- dynamic evaluation
def test_dynamic_evaluation_scores_each_token_before_a_step_sees_it():
    model, stream = small_model(), random_stream(60)
    _, before = L.lstm_dynamic_eval(
        model, stream, PAD, DynamicStep(lr=0.5, decay=0.01, segment_len=7)
    )
    for k in (0, 6, 7, 20, 59):  # segment starts, middles and ends
        changed = stream.clone()
        changed[k] = changed[k] % (V - 1) + 1
        _, after = L.lstm_dynamic_eval(
            model, changed, PAD, DynamicStep(lr=0.5, decay=0.01, segment_len=7)
        )
        torch.testing.assert_close(after[:k], before[:k], rtol=0, atol=0)  # bit for bit
        assert after[k] != before[k]
        if k < 50:  # and the adaptation reaches later scores
            assert not torch.equal(after[k + 1 :], before[k + 1 :])


def test_dynamic_evaluation_starts_as_the_static_model_and_restores_the_weights():
    model, stream = small_model(dropout_p=0.3), random_stream(60)
    model.train()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    feats, lp = L.lstm_dynamic_eval(model, stream, PAD, DynamicStep(lr=0.5, segment_len=10))
    static_feats, static_lp = L.score_stream(model, stream, PAD, batch_size=1)
    torch.testing.assert_close(lp[:10], static_lp[:10])  # before the first step
    torch.testing.assert_close(feats[:10], static_feats[:10])
    assert not torch.allclose(lp[10:], static_lp[10:])  # then the adapted model scores
    assert model.training
    for k, v in model.state_dict().items():
        assert torch.equal(v, state[k]), k
    # a step of size ~0 is the static model, the state carried across the segments
    _, lp0 = L.lstm_dynamic_eval(model, stream, PAD, DynamicStep(lr=1e-300, segment_len=9))
    torch.testing.assert_close(lp0, static_lp)


# --------------------------------------------------------------------------- the command
def test_lstm_quick_writes_its_json_and_a_checkpoint_that_rebuilds_its_model(
    tiny_data_dir, tmp_path
):
    import main

    out, ck = tmp_path / "out", tmp_path / "ck"
    argv = ["lstm", "--quick", "--data-dir", str(tiny_data_dir), "--out-dir", str(out),
            "--ckpt-dir", str(ck), "--budget", "1", "--cache-size", "20",
            "--dynamic-segment", "10", "--ngram-order", "3", "--threads", "1",
            "--name", "t"]  # fmt: skip
    assert main.main(argv) == 0
    report = json.loads((out / "lstm_lm_t.json").read_text())
    for key in ("config", "history", "history_note", "train_seconds", "eval_seconds",
                "scoring_seconds", "wall_seconds", "torch_threads", "torch_version",
                "best_checkpoint_scores", "cache", "ngram", "dynamic", "checkpoint",
                "train_tokens_per_second"):  # fmt: skip
        assert key in report, key
    assert report["config"]["budget_seconds"] == 1.0 and report["config"]["name"] == "t"
    assert report["cache"]["test"]["cache_ppl"] > 0 and report["dynamic"]["test"]["with_cache_ppl"]
    assert set(report["scoring_seconds"]) == {"static", "cache", "ngram", "dynamic"}
    # the mixture reads the same network pass as the static score; mu 0 is in the grid, so on dev
    # the chosen mixture is never worse than the network alone
    ngram = report["ngram"]
    assert ngram["dev"]["model_ppl"] == pytest.approx(
        report["best_checkpoint_scores"]["dev"]["ppl"], rel=1e-6
    )
    assert ngram["dev"]["mix_ppl"] <= ngram["dev"]["model_ppl"] * (1 + 1e-9)
    assert ngram["test"]["mix_cache_ppl"] > 0 and report["dynamic"]["ngram"]["test"]["mix_ppl"] > 0
    model, tok, meta = L.load_lstm_checkpoint(ck / "lstm_lm_t.pt")
    assert meta["kind"] == "lstm" and not model.training
    (dev,) = mlp_lm.load_data_mlp_lm(tiny_data_dir, splits=("validation",))
    stream = encode_stream(dev, tok, report["config"]["max_dev_tokens"])
    _, lp = L.score_stream(model, stream, tok.pad_token_id, report["config"]["eval_batch_size"])
    assert math.exp(-lp.double().mean().item()) == pytest.approx(
        report["best_checkpoint_scores"]["dev"]["ppl"], rel=1e-6
    )
    assert report["best_checkpoint_scores"]["dev"]["targets"] == stream.numel()


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--budget", "0"], "--budget: must be finite and > 0, got '0.0'"),
        (["--budget", "-5"], "--budget: must be finite and > 0, got '-5.0'"),
        (["--bptt", "0"], "--bptt: must be a whole number >= 1, got '0'"),
        (["--batch-size", "0"], "--batch-size: must be a whole number >= 1, got '0'"),
        (["--dropout", "1"], "--dropout: must be in [0, 1), got '1.0'"),
        (["--cache-size", "-1"], "--cache-size: must be a whole number >= 0, got '-1'"),
        # fmt: skip
        (
            ["--ngram-order", "1"],
            "--ngram-order: must be 0 (none) or a whole number from 2 to 5, got '1'",
        ),
    ],
)
def test_a_bad_value_is_one_line_before_any_data_is_read(flags, message, tmp_path, monkeypatch,
                                                          capsys):  # fmt: skip
    import main

    def no_data(*args, **kwargs):
        raise AssertionError("data was read")

    monkeypatch.setattr(L, "load_data_mlp_lm", no_data)
    argv = ["lstm", *flags, "--data-dir", str(tmp_path / "no-data"), "--out-dir",
            str(tmp_path / "out"), "--ckpt-dir", str(tmp_path / "ck")]  # fmt: skip
    with pytest.raises(SystemExit) as exit_info:
        main.main(argv)
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out" / "lstm_lm.json").exists()
