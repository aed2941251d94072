"""Tests of lm/dynamic.py: dynamic evaluation scores every token before any step has seen it,
takes the SGD step it says it takes, restores the trained weights, and is tuned on dev before test
is scored once."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from lm import cache as lm_cache  # noqa: E402
from lm import dynamic as D  # noqa: E402
from lm.scoring import Reader, Scoring  # noqa: E402
import mlp_lm as M  # noqa: E402

V = 24


def small_model(output_layer="adaptive", tie=False, seed=0):
    torch.manual_seed(seed)
    return M.NPLM(
        V,
        6,
        3,
        12,
        1,
        0.3,
        output_layer=output_layer,
        cutoffs=[5, 12],
        div_value=2.0,
        global_window=4,
        global_chunks=2,
        tie_embeddings=tie,
    ).double()


def random_stream(n=150, seed=1):
    return torch.randint(1, V, (n,), generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("tie", [False, True])
def test_changing_a_token_moves_no_earlier_score(tie):
    model, stream = small_model(tie=tie), random_stream()
    _, before = D.dynamic_eval(model, stream, 0, D.DynamicStep(lr=0.5, decay=0.01, segment_len=7))
    for k in (0, 20, 21, 27, 149):  # segment starts, middles and ends
        changed = stream.clone()
        changed[k] = (changed[k] % (V - 1)) + 1
        feats, after = D.dynamic_eval(
            model, changed, 0, D.DynamicStep(lr=0.5, decay=0.01, segment_len=7)
        )
        torch.testing.assert_close(after[:k], before[:k], rtol=0, atol=0)  # bit for bit
        assert after[k] != before[k]  # its own score changes: it is the target
        if k < 140:  # and the adaptation reaches later scores
            assert not torch.equal(after[k + 1 :], before[k + 1 :])


def test_the_first_segment_is_the_static_model_and_weights_are_restored():
    model, stream = small_model(), random_stream()
    model.train()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    feats, lp = D.dynamic_eval(model, stream, 0, D.DynamicStep(lr=0.5, segment_len=10))
    static_feats, static_lp = lm_cache.features_and_log_probs(model, stream, 0)
    torch.testing.assert_close(lp[:10], static_lp[:10])
    torch.testing.assert_close(feats[:10], static_feats[:10])
    assert not torch.allclose(lp[10:], static_lp[10:])  # then the adapted model scores differently
    assert model.training  # the mode is restored, and so is every weight
    for k, v in model.state_dict().items():
        assert torch.equal(v, state[k]), k


def test_each_step_is_sgd_with_decay_to_the_trained_weights():
    """The second segment's scores equal a hand-made SGD step on the first's mean NLL, then the
    decay."""
    model, stream = small_model(output_layer="full"), random_stream(20)
    lr, decay, S = 0.7, 0.2, 10
    _, lp = D.dynamic_eval(model, stream, 0, D.DynamicStep(lr=lr, decay=decay, segment_len=S))
    ref = small_model(output_layer="full").eval()
    batches = M.WindowBatches(stream, ref.context_size, 0, S)
    (x0, y0), (x1, y1) = list(batches)
    loss = -ref(x0).gather(1, y0[:, None]).mean()  # the stock log-softmax, not the training kernel
    grads = torch.autograd.grad(loss, list(ref.parameters()))
    with torch.no_grad():
        for p, g in zip(ref.parameters(), grads):
            trained = p.clone()
            p.sub_(lr * g)
            p.add_(decay * (trained - p))
    torch.testing.assert_close(lp[S:], ref(x1).gather(1, y1[:, None]).squeeze(1))


def test_a_tiny_step_gives_the_static_scores_and_bad_values_are_refused():
    model, stream = small_model(), random_stream()
    _, lp = D.dynamic_eval(model, stream, 0, D.DynamicStep(lr=1e-12, segment_len=8))
    torch.testing.assert_close(lp, lm_cache.features_and_log_probs(model, stream, 0)[1])
    for kw in (
        {"lr": 0.0},
        {"lr": float("nan")},
        {"lr": 0.1, "decay": 1.0},
        {"lr": 0.1, "segment_len": 0},
    ):
        with pytest.raises(ValueError):
            D.dynamic_eval(model, stream, 0, D.DynamicStep(**kw))


def test_score_dynamic_tunes_on_a_dev_prefix_and_scores_test_once(monkeypatch):
    tok = M.WordTokenizer.from_texts([" ".join(f"w{i % 19}" for i in range(400))])
    model = M.NPLM(
        tok.vocab_size, 6, 3, 12, 1, 0.0, output_layer="adaptive", cutoffs=[5, 12], div_value=2.0
    ).double()
    words = [f"w{(i * 7) % 19}" for i in range(300)]
    dev, test = [" ".join(words[:150])], [" ".join(words[150:])]
    calls = []
    real = D.dynamic_eval
    monkeypatch.setattr(
        D, "dynamic_eval", lambda m, s, *a, **k: calls.append(s.numel()) or real(m, s, *a, **k)
    )
    scoring = Scoring(
        dynamic_lrs=[0.05, 0.5],
        dynamic_decays=[0.0, 0.1],
        dynamic_segment=10,
        dynamic_tune_tokens=60,
        cache_size=20,
        cache_thetas=[0.1],
        cache_lambdas=[0.1, 0.2],
    )
    out = D.score_dynamic(model, tok, (dev, test), scoring, Reader(log=lambda *a: None))
    dev_n, test_n = out["dev"]["targets"], out["test"]["targets"]
    assert calls == [60] * 4 + [dev_n, test_n]  # the grid on the prefix, dev once, test once
    best = min(out["grid_dev_prefix"], key=lambda r: r["ppl"])
    assert (out["lr"], out["decay"]) == (best["lr"], best["decay"])
    stream = M.encode_stream(test, tok)
    feats, lp = real(model, stream, tok.pad_token_id, D.DynamicStep(out["lr"], out["decay"], 10))
    assert math.isclose(out["test"]["ppl"], math.exp(-lp.double().mean().item()), rel_tol=1e-9)
    c = out["cache"]
    nll = lm_cache.continuous_cache_nll((feats, lp), stream, 20, [c["theta"]], [c["lambda"]])[
        0, 0
    ].item()
    assert math.isclose(out["test"]["with_cache_ppl"], math.exp(nll), rel_tol=1e-9)
    assert out["cost"]["ratio"] > 0 and out["cost"]["dynamic_us_per_token"] > 0
    with pytest.raises(ValueError, match="tune_tokens"):
        D.score_dynamic(model, tok, (dev, None), Scoring(dynamic_segment=10, dynamic_tune_tokens=0))


def test_passes_in_two_workers_score_as_one_process_does():
    """reader.workers forks the grid's passes, then dev and test side by side: the same choices and
    perplexities as one process running them in turn (float64, so the workers' single thread
    changes no digit that matters)."""
    tok = M.WordTokenizer.from_texts([" ".join(f"w{i % 19}" for i in range(400))])
    torch.manual_seed(3)
    model = M.NPLM(
        tok.vocab_size, 6, 3, 12, 1, 0.0, output_layer="adaptive", cutoffs=[5, 12],
        div_value=2.0, tie_embeddings=True,
    ).double()  # fmt: skip
    words = [f"w{(i * 7) % 19}" for i in range(300)]
    dev, test = [" ".join(words[:150])], [" ".join(words[150:])]
    scoring = Scoring(
        dynamic_lrs=[0.05, 0.5], dynamic_decays=[0.0, 0.1], dynamic_segment=10,
        dynamic_tune_tokens=60, cache_size=20, cache_thetas=[0.1], cache_lambdas=[0.1, 0.2],
    )  # fmt: skip
    outs = [
        D.score_dynamic(model, tok, (dev, test), scoring, Reader(log=lambda *a: None, workers=w))
        for w in (1, 2)
    ]
    one, two = outs
    assert (one["lr"], one["decay"], one["cache"]) == (two["lr"], two["decay"], two["cache"])
    assert [r["ppl"] for r in two["grid_dev_prefix"]] == pytest.approx(
        [r["ppl"] for r in one["grid_dev_prefix"]], rel=1e-12
    )
    for split in ("dev", "test"):
        assert two[split]["ppl"] == pytest.approx(one[split]["ppl"], rel=1e-12)
        assert two[split]["with_cache_ppl"] == pytest.approx(
            one[split]["with_cache_ppl"], rel=1e-12
        )
        assert two[split]["targets"] == one[split]["targets"]
    assert two["cost"]["ratio"] > 0


def test_scoring_forks_workers_on_a_cpu_only(monkeypatch):
    """A run on a CPU scores with worker_pool.default_workers() processes; on a GPU with one, since
    a forked process cannot use CUDA (lm/scoring.scoring_workers)."""
    from types import SimpleNamespace

    from common import worker_pool
    from lm import scoring as S

    monkeypatch.setattr(worker_pool, "default_workers", lambda: 2)
    assert S.scoring_workers(SimpleNamespace(device="cpu")) == 2
    monkeypatch.setattr(S.utils, "get_device", lambda name: torch.device("cuda"))
    assert S.scoring_workers(SimpleNamespace(device="auto")) == 1
