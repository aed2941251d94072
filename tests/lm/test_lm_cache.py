"""Tests of lm/cache.py alone: the continuous cache against a one-target-at-a-time float64
reference, and that it only looks back."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from lm import cache as C
from lm.scoring import Reader, Scoring
from nplm import corpus as D


class _Bigram(nn.Module):
    """A stand-in language model with the interface lm_cache uses (context_size, features,
    final_layer)."""

    def __init__(self, vocab_size=20, hidden=8, seed=0):
        super().__init__()
        torch.manual_seed(seed)
        self.context_size = 3
        self.embeddings = nn.Embedding(vocab_size, hidden)
        self.final_layer = nn.Linear(hidden, vocab_size)
        self.final_layer.target_log_prob = lambda h, t: (
            F.log_softmax(self.final_layer(h), -1).gather(1, t[:, None]).squeeze(1)
        )
        self.dropout = nn.Dropout(0.3)

    def features(self, inputs):
        return self.dropout(self.embeddings(inputs[:, -1]))  # (B, H): the last word of the window


def _naive_cache_nll(features, log_probs, stream, L, theta, lam):
    """Grave et al. (2017) one target at a time, in float64, as the paper writes it."""
    f, total = features.double(), 0.0
    for t in range(stream.numel()):
        keys = list(range(max(0, t - L), t))
        p_cache = 0.0
        if keys:
            w = torch.softmax(theta * (f[keys] @ f[t]), 0)
            p_cache = float(sum(w[j] for j, i in enumerate(keys) if stream[i] == stream[t]))
        total -= math.log((1 - lam) * math.exp(float(log_probs[t])) + lam * p_cache)
    return total / stream.numel()


def test_continuous_cache_matches_a_one_target_at_a_time_reference():
    g = torch.Generator().manual_seed(0)
    T, H = 37, 5
    stream = torch.randint(0, 6, (T,), generator=g)
    features = torch.randn(T, H, generator=g)
    log_probs = (
        torch.log_softmax(torch.randn(T, 6, generator=g), 1).gather(1, stream[:, None]).squeeze(1)
    )
    thetas, lambdas = [0.0, 0.3, 2.0], [0.0, 0.1, 0.5]
    for L, block in ((4, 8), (10, 5), (100, 1024)):  # blocks smaller and larger than the cache
        grid = C.continuous_cache_nll(
            (features, log_probs), stream, L, thetas, lambdas, block=block
        )
        ref = torch.tensor(
            [
                [_naive_cache_nll(features, log_probs, stream, L, th, la) for la in lambdas]
                for th in thetas
            ],
            dtype=torch.float64,
        )
        torch.testing.assert_close(grid, ref, rtol=1e-6, atol=1e-9)
    # lambda 0: the model
    assert math.isclose(grid[1, 0].item(), -log_probs.double().mean().item(), rel_tol=1e-12)


def test_continuous_cache_only_looks_back():
    # Change a token: the scores of earlier targets must not move (nothing is read from the future).
    g = torch.Generator().manual_seed(1)
    T = 30
    stream = torch.randint(0, 4, (T,), generator=g)
    features, log_probs = torch.randn(T, 3, generator=g), torch.full((T,), math.log(0.25))
    per_token = lambda s, f: [
        C.continuous_cache_nll(
            (f[: t + 1], log_probs[: t + 1]), s[: t + 1], 8, [1.0], [0.3], block=7
        ).item()
        * (t + 1)
        for t in range(T)
    ]
    before = per_token(stream, features)
    stream2, features2 = stream.clone(), features.clone()
    stream2[20], features2[20] = (stream[20] + 1) % 4, torch.randn(3, generator=g)
    after = per_token(stream2, features2)
    assert before[:20] == pytest.approx(after[:20], rel=1e-12) and before[20] != pytest.approx(
        after[20]
    )


def test_cache_lowers_perplexity_of_a_repetitive_text_for_a_uniform_model():
    stream = torch.tensor([3, 1, 4, 1, 5, 9, 2, 6] * 20)
    log_probs = torch.full((stream.numel(),), -math.log(10.0))  # a model that knows nothing: ppl 10
    features = torch.nn.functional.one_hot(
        torch.arange(stream.numel()) % 8, 8
    ).float()  # position in the cycle
    grid = C.continuous_cache_nll((features, log_probs), stream, 50, [0.0, 5.0], [0.5])
    assert math.exp(grid[0, 0]) < 10 and math.exp(grid[1, 0]) < math.exp(grid[0, 0]) < 10


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(cache_size=0),
        dict(cache_size=2.5),
        dict(thetas=[-1.0]),
        dict(lambdas=[1.0]),
        dict(lambdas=[]),
        dict(thetas=[float("nan")]),
    ],
)
def test_cache_bad_arguments_are_errors(kwargs):
    args = {**dict(cache_size=5, thetas=[0.1], lambdas=[0.1]), **kwargs}
    stream = torch.arange(6)
    with pytest.raises(ValueError):
        C.continuous_cache_nll(
            (torch.zeros(6, 2), torch.zeros(6)),
            stream,
            args["cache_size"],
            args["thetas"],
            args["lambdas"],
        )


def test_features_and_log_probs_are_in_stream_order_and_restore_mode():
    model = _Bigram().train()
    stream = torch.randint(0, 20, (50,), generator=torch.Generator().manual_seed(2))
    features, log_probs = C.features_and_log_probs(model, stream, pad_id=0, batch_size=16)
    assert model.training and features.shape == (50, 8) and log_probs.shape == (50,)
    model.eval()
    # the word before each target
    previous = torch.cat([torch.zeros(1, dtype=torch.long), stream[:-1]])
    ref = (
        F.log_softmax(model.final_layer(model.embeddings(previous)), -1)
        .gather(1, stream[:, None])
        .squeeze(1)
    )
    torch.testing.assert_close(log_probs, ref)


def test_score_with_cache_tunes_on_dev_then_scores_test(tiny_data_dir):
    train, dev, test = D.load_data_mlp_lm(tiny_data_dir, splits=("train", "validation", "test"))
    tok = D.WordTokenizer.from_texts(D.texts_of(train))
    model = _Bigram(vocab_size=tok.vocab_size)
    out = C.score_with_cache(
        model,
        tok,
        (dev, test),
        Scoring(cache_size=20, cache_thetas=[0.0, 1.0], cache_lambdas=[0.1, 0.3]),
        Reader(log=print),
    )
    grid = torch.tensor(out["grid_dev_ppl"])
    k, m = divmod(int(grid.argmin()), 2)
    assert (out["theta"], out["lambda"]) == ([0.0, 1.0][k], [0.1, 0.3][m])
    assert out["dev"]["cache_ppl"] == pytest.approx(grid.min().item())
    stream = D.encode_stream(test, tok)
    f, lp = C.features_and_log_probs(model, stream, tok.pad_token_id)
    expect = (
        C.continuous_cache_nll((f, lp), stream, 20, [out["theta"]], [out["lambda"]]).exp().item()
    )
    assert (
        out["test"]["cache_ppl"] == pytest.approx(expect)
        and out["test"]["targets"] == stream.numel()
    )
