"""Tests of lm/ngram.py: modified interpolated Kneser-Ney (Chen and Goodman 1999) against values
worked out by hand and a dict-counting reference, and its mixture with a network."""

from __future__ import annotations

import math
from collections import Counter, defaultdict

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from nplm import corpus as D
from lm import ngram as N
from lm.scoring import Scoring

A, B, C, DD, E = 0, 1, 2, 3, 4  # E never occurs in the toy corpus
TOY = [A, B, C, A, B, DD, A, B, C, B, C, A]  # a b c a b d a b c b c a
TOY_V = 5
TOY_DISCOUNTS = [(0.5, 1.0, 1.5), (0.6, 1.1, 1.6), (0.7, 1.2, 1.7)]  # unigram, bigram, trigram


def _random_corpus(seed, T=300, V=12):
    g = np.random.default_rng(seed)
    # a skewed draw so that counts of 1, 2, 3 and more all occur
    probs = 1.0 / np.arange(1, V - 1) ** 1.2
    train = g.choice(V - 2, size=T, p=probs / probs.sum())  # the last two words are never seen
    return train, g.integers(0, V, size=80), V


# --------------------------------------------------------------------------- a reference
def _reference_kn(train, V, n, pad_id=None, discounts=None):
    """Modified interpolated KN counted with dicts, one n-gram at a time (Chen and Goodman 1999):
    p(w | h) as a function of (h tuple, w); h is read with the shorter history when short."""
    s = list(train) if pad_id is None else [pad_id] * (n - 1) + list(train)
    raw = {
        k: Counter(tuple(s[i - k + 1 : i + 1]) for i in range(k - 1, len(s))) for k in range(n + 1)
    }
    counts = {n: raw[n]}
    for k in range(n - 1, 0, -1):  # continuation counts: distinct left neighbours in the text
        left = defaultdict(set)
        for gram in raw[k + 1]:
            left[gram[1:]].add(gram[0])
        counts[k] = Counter({g: len(ws) for g, ws in left.items()})
    if discounts is None:
        discounts = []
        for k in range(1, n + 1):
            nn_ = [sum(1 for c in counts[k].values() if c == i) for i in (1, 2, 3, 4)]
            y = nn_[0] / (nn_[0] + 2 * nn_[1]) if nn_[0] else 0.5
            ds = [y]
            for i in (2, 3):
                d = i - (i + 1) * y * nn_[i] / nn_[i - 1] if nn_[i - 1] else y
                ds.append(d if 0 < d <= i else y)
            discounts.append(tuple(ds))

    def disc(k, c):
        return 0.0 if c == 0 else discounts[k - 1][min(c, 3) - 1]

    def p(h, w, k=n):
        if k == 0:
            return 1.0 / V
        h = tuple(h)[max(0, len(h) - (k - 1)) :] if k > 1 else ()
        if len(h) < k - 1:
            return p(h, w, k - 1)
        row = {g[-1]: c for g, c in counts[k].items() if g[:-1] == h}
        total = sum(row.values())
        lower = p(h[1:] if k > 1 else (), w, k - 1)
        if total == 0:
            return lower
        gamma = sum(disc(k, c) for c in row.values()) / total
        c = row.get(w, 0)
        return max(c - disc(k, c), 0.0) / total + gamma * lower

    return p, discounts


# --------------------------------------------------------------------------- the model alone
@pytest.mark.parametrize("order", [2, 3, 4])
@pytest.mark.parametrize("pad_id", [None, 0])
def test_distributions_sum_to_one_and_are_positive(order, pad_id):
    train, _, V = _random_corpus(order)
    m = N.KneserNey(train, V, order, pad_id=pad_id)
    seen = list(train[10 : 10 + order - 1])
    unseen_context = [V - 3] * (order - 1)  # a seen word repeated: that history never occurs
    with_unseen_word = [V - 1] + seen[1:]  # the word V - 1 is never in train
    for context in ([], seen[:1], seen, unseen_context, with_unseen_word, [V - 1] * order):
        p = m.distribution(context)
        assert p.dtype == torch.float64 and p.shape == (V,)
        assert abs(p.sum().item() - 1.0) < 1e-12 and (p > 0).all(), context


def test_probabilities_match_the_kn_formula_worked_by_hand():
    # a b c a b d a b c b c a, V = 5 (e unseen), order 3, the stream start read with the shorter
    # history (pad_id None), discounts given.
    m = N.KneserNey(torch.tensor(TOY), TOY_V, 3, discounts=TOY_DISCOUNTS)
    (D1_1, D1_2, _), (D2_1, D2_2, _), (D3_1, D3_2, _) = TOY_DISCOUNTS
    V = TOY_V
    # Unigram level: continuation counts N1+(. w) over the distinct bigrams ab bc ca bd da cb
    N1p = {A: 2, B: 2, C: 1, DD: 1, E: 0}  # ca da | ab cb | bc | bd
    N1p_all = 6  # N1+(. .)
    gamma1 = (D1_1 * 2 + D1_2 * 2) / N1p_all  # two words with 1 (c, d), two with 2 (a, b)

    def p1(w):
        d = {0: 0.0, 1: D1_1, 2: D1_2}[N1p[w]]
        return max(N1p[w] - d, 0) / N1p_all + gamma1 / V

    # Bigram level, continuation counts N1+(. v w) over the distinct trigrams
    # abc bca cab abd bda dab bcb cbc: after b: bc 2 (abc, cbc), bd 1 (abd)
    c_b = {C: 2, DD: 1}
    tot_b = 3
    gamma2_b = (D2_1 * 1 + D2_2 * 1) / tot_b
    # after c: ca 1 (bca), cb 1 (bcb); after a: ab 2 (cab, dab)
    tot_c, gamma2_c = 2, D2_1 * 2 / 2
    tot_a, gamma2_a = 2, D2_2 * 1 / 2
    # Trigram level, raw counts: c(abc) = 2, c(abd) = 1, so c(ab.) = 3, N1(ab.) = 1, N2(ab.) = 1
    c_abc, c_ab_dot = 2, 3
    gamma3_ab = (D3_1 * 1 + D3_2 * 1) / c_ab_dot

    p2_c_b = (c_b[C] - D2_2) / tot_b + gamma2_b * p1(C)
    expected = {
        ((A, B), C): (c_abc - D3_2) / c_ab_dot + gamma3_ab * p2_c_b,
        ((A, B), DD): (1 - D3_1) / c_ab_dot + gamma3_ab * ((1 - D2_1) / tot_b + gamma2_b * p1(DD)),
        ((A, B), A): gamma3_ab * (gamma2_b * p1(A)),  # aba and ba never seen
        ((A, B), E): gamma3_ab * gamma2_b * gamma1 / V,  # an unseen word: the uniform's share
        ((DD, C), A): (1 - D2_1) / tot_c + gamma2_c * p1(A),  # dc never seen: the bigram level
        ((E, A), B): (2 - D2_2) / tot_a + gamma2_a * p1(B),  # a context with an unseen word
        ((A,), B): (2 - D2_2) / tot_a + gamma2_a * p1(B),  # the stream's second token
        ((), A): p1(A),  # the stream's first token: the unigram level
    }
    for (context, w), p in expected.items():
        assert m.distribution(list(context))[w].item() == pytest.approx(p, rel=1e-12), (context, w)
    # the dict-counting reference agrees on the same numbers
    ref, _ = _reference_kn(TOY, V, 3, discounts=TOY_DISCOUNTS)
    for (context, w), p in expected.items():
        assert ref(context, w) == pytest.approx(p, rel=1e-12)


def test_discounts_from_count_of_counts_worked_by_hand():
    m = N.KneserNey(TOY, TOY_V, 3)
    # trigrams: n1 = 6 (cab abd bda dab bcb cbc), n2 = 2 (abc bca), n3 = n4 = 0
    y3 = 6 / (6 + 2 * 2)
    # bigram continuations: bc 2, ab 2, ca 1, bd 1, da 1, cb 1: n1 = 4, n2 = 2
    y2 = 4 / (4 + 2 * 2)
    # unigram continuations: a 2, b 2, c 1, d 1: n1 = 2, n2 = 2
    y1 = 2 / (2 + 2 * 2)
    # D1 = 1 - 2Y n2/n1 = Y; D2 = 2 - 3Y n3/n2 = 2 (n3 = 0); D3+: n3 = 0, undefined -> Y
    expected = [(y1, 2.0, y1), (y2, 2.0, y2), (y3, 2.0, y3)]
    assert np.ravel(m.discounts).tolist() == pytest.approx(np.ravel(expected).tolist(), rel=1e-12)
    counts = np.array([1] * 10 + [2] * 5 + [3] * 3 + [4] * 2)
    y = 10 / (10 + 2 * 5)
    assert N.modified_kn_discounts(counts) == pytest.approx(
        (1 - 2 * y * 5 / 10, 2 - 3 * y * 3 / 5, 3 - 4 * y * 2 / 3)
    )


@pytest.mark.parametrize("order", [2, 3, 4, 5])
@pytest.mark.parametrize("pad_id", [None, 1])
def test_matches_a_dict_counting_reference(order, pad_id):
    train, test, V = _random_corpus(10 + order)
    m = N.KneserNey(train, V, order, pad_id=pad_id)
    ref, discounts = _reference_kn(train, V, order, pad_id=pad_id)
    assert np.ravel(m.discounts).tolist() == pytest.approx(np.ravel(discounts).tolist(), rel=1e-12)
    padded = ([pad_id] * (order - 1) if pad_id is not None else []) + list(test)
    lead = len(padded) - len(test)
    got = m.target_log_probs(torch.tensor(test))
    want = [math.log(ref(padded[: lead + t], int(w))) for t, w in enumerate(test)]
    assert got.tolist() == pytest.approx(want, rel=1e-12, abs=1e-12)


@pytest.mark.parametrize("order", [2, 3, 4])
@pytest.mark.parametrize("pad_id", [None, 2])
def test_target_log_probs_agree_with_distribution_everywhere(order, pad_id):
    train, test, V = _random_corpus(20 + order)
    m = N.KneserNey(train, V, order, pad_id=pad_id)
    lp = m.target_log_probs(torch.tensor(test))
    assert lp.dtype == torch.float64 and lp.shape == (len(test),)
    for t, w in enumerate(test):
        assert lp[t].item() == pytest.approx(
            math.log(m.distribution(test[:t])[w].item()), rel=1e-13, abs=1e-14
        )


def test_more_data_of_the_same_kind_lowers_perplexity_and_order_helps_a_repetitive_text():
    text = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5] * 30
    ppl = {
        n: math.exp(-N.KneserNey(text, 10, n).target_log_probs(text[:44]).mean().item())
        for n in (2, 3, 4)
    }
    assert ppl[4] < ppl[3] < ppl[2] < 10


# --------------------------------------------------------------------------- the mixture
def _log_probs(seed, T=200):
    g = torch.Generator().manual_seed(seed)
    return torch.log(torch.rand(T, generator=g, dtype=torch.float64).clamp(min=1e-6))


def test_mix_log_probs_is_the_mixture_computed_directly():
    a, b = _log_probs(0).float(), _log_probs(1)
    for mu in (0.0, 0.1, 0.5, 0.9):
        got = N.mix_log_probs(a, b, mu)
        want = torch.log((1 - mu) * a.double().exp() + mu * b.exp())
        assert got.dtype == torch.float64
        torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)
    assert torch.equal(N.mix_log_probs(a, b, 0.0), a.double())


def test_score_mixture_chooses_the_dev_argmin_and_mu_zero_is_the_network():
    dev_a, dev_b, test_a, test_b = (_log_probs(s) for s in range(4))
    mus = [0.0, 0.05, 0.2, 0.5, 0.8]
    out = N.score_mixture((dev_a, dev_b), (test_a, test_b), mus=mus, log=lambda *a: None)
    grid = [math.exp(-N.mix_log_probs(dev_a, dev_b, mu).mean().item()) for mu in mus]
    assert out["grid_dev_ppl"] == pytest.approx(grid, rel=1e-12)
    assert out["mu"] == mus[int(np.argmin(grid))] and out["dev"]["mix_ppl"] == min(grid)
    assert out["grid_dev_ppl"][0] == math.exp(-dev_a.mean().item())  # mu = 0: the network
    assert out["dev"]["model_ppl"] == math.exp(-dev_a.mean().item())
    assert out["dev"]["ngram_ppl"] == pytest.approx(math.exp(-dev_b.mean().item()))
    mix = N.mix_log_probs(test_a, test_b, out["mu"])
    assert out["test"]["mix_ppl"] == pytest.approx(math.exp(-mix.mean().item()), rel=1e-12)
    assert out["test"]["targets"] == 200 and out["dev"]["targets"] == 200
    assert set(out) == {
        "method",
        "order",
        "discounts",
        "mus",
        "grid_dev_ppl",
        "mu",
        "dev",
        "test",
        "seconds",
    }
    only_network = N.score_mixture((dev_a, dev_a - 5.0), mus=mus, log=lambda *a: None)
    assert only_network["mu"] == 0.0 and "test" not in only_network


class _Bigram(nn.Module):
    """A stand-in language model with the interface features_and_log_probs uses."""

    def __init__(self, vocab_size, hidden=8):
        super().__init__()
        torch.manual_seed(0)
        self.context_size = 3
        self.embeddings = nn.Embedding(vocab_size, hidden)
        self.final_layer = nn.Linear(hidden, vocab_size)
        self.final_layer.target_log_prob = lambda h, t: (
            F.log_softmax(self.final_layer(h), -1).gather(1, t[:, None]).squeeze(1)
        )

    def features(self, inputs):
        return self.embeddings(inputs[:, -1])


def test_score_with_ngram_counts_train_and_mixes(tiny_data_dir):
    train, dev, test = D.load_data_mlp_lm(tiny_data_dir, splits=("train", "validation", "test"))
    tok = D.WordTokenizer.from_texts(D.texts_of(train))
    model = _Bigram(tok.vocab_size)
    out, per_token = N.score_with_ngram(
        model, tok, (train, dev, test), Scoring(ngram_order=3, ngram_mus=[0.0, 0.3, 0.6])
    )
    kn = N.KneserNey(D.encode_stream(train, tok), tok.vocab_size, 3, pad_id=D.pad_id_of(tok))
    for name, data in (("dev", dev), ("test", test)):
        stream = D.encode_stream(data, tok)
        split = per_token[name]
        assert torch.equal(split["stream"], stream) and out[name]["targets"] == stream.numel()
        torch.testing.assert_close(split["ngram"], kn.target_log_probs(stream), rtol=0, atol=0)
        assert out[name]["ngram_ppl"] == pytest.approx(math.exp(-split["ngram"].mean().item()))
        torch.testing.assert_close(
            split["mixed"], N.mix_log_probs(split["model"], split["ngram"], out["mu"])
        )
        assert split["features"].shape == (stream.numel(), 8)
    assert out["order"] == 3 and out["discounts"] == [list(d) for d in kn.discounts]
    assert out["mu"] in (0.0, 0.3, 0.6) and out["dev"]["mix_ppl"] == min(out["grid_dev_ppl"])


# --------------------------------------------------------------------------- bad arguments
@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(order=1), "order"),
        (dict(order=6), "order"),
        (dict(order=2.5), "order"),
        (dict(order=True), "order"),
        (dict(vocab_size=0), "vocab_size"),
        (dict(vocab_size=3), r"outside \[0, 3\)"),
        (dict(train_ids=[]), "empty"),
        (dict(train_ids=[[0, 1]]), "1-D"),
        (dict(train_ids=[0.5, 1.0]), "integer"),
        (dict(pad_id=9), "pad_id"),
        (dict(pad_id=1.5), "pad_id"),
        (dict(discounts=[(0.5, 1.0, 1.5)]), "triples"),
        (dict(discounts=[(0.5, 1.0, 1.5), (1.5, 1.0, 1.0), (0.5, 1, 1)]), "D1 <= 1"),
    ],
)
def test_bad_model_arguments_are_errors(kwargs, match):
    args = {**dict(train_ids=TOY, vocab_size=TOY_V, order=3), **kwargs}
    with pytest.raises(ValueError, match=match):
        N.KneserNey(**args)


def test_bad_streams_and_mixture_arguments_are_errors():
    m = N.KneserNey(TOY, TOY_V, 2)
    with pytest.raises(ValueError, match="outside"):
        m.target_log_probs([0, 5])
    with pytest.raises(ValueError, match="outside"):
        m.distribution([-1])
    a = _log_probs(0)
    for mus in ([1.0], [-0.1], [], [float("nan")]):
        with pytest.raises(ValueError, match=r"\[0, 1\)"):
            N.score_mixture((a, a), mus=mus, log=lambda *x: None)
    with pytest.raises(ValueError, match="same targets"):
        N.mix_log_probs(a, a[:-1], 0.1)
    with pytest.raises(ValueError, match="neither"):
        N.score_mixture((a, a), (a, None), log=lambda *x: None)
