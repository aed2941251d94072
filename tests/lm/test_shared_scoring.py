"""Tests of the shared scoring passes (issue 36): one read of dev and test feeds the static score,
the cache and the n-gram mixture with the same bits as the separate passes they replace; the cache's
distribution is computed once per theta; dynamic evaluation goes on from the tuning run's end with
the values of a pass from the start."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
import torch.nn as nn

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from lm import cache as C  # noqa: E402
from lm import dynamic as D  # noqa: E402
from lm.ngram import count_ngram, score_with_ngram  # noqa: E402
from lm.pipeline import Trained, score_after_training  # noqa: E402
from lm.scoring import Reader, Scoring  # noqa: E402
import mlp_lm as M  # noqa: E402
from nplm.corpus import WindowBatches  # noqa: E402


def _old_continuous_cache_nll(scored, stream, cache_size, thetas, lambdas, block=1024):
    """lm/cache.continuous_cache_nll as it was before the cache's distribution was shared (at
    361b50d), verbatim but for the argument checks: the bits the new one must give."""
    features, log_probs = scored
    T = stream.numel()
    device = features.device
    thetas_t = torch.tensor([float(t) for t in thetas], dtype=torch.float32, device=device)
    lambdas_t = torch.tensor([float(x) for x in lambdas], dtype=torch.float64, device=device)
    total = torch.zeros(len(thetas), len(lambdas), dtype=torch.float64, device=device)
    log_model = log_probs.double()[:, None]
    for start in range(0, T, block):
        end = min(T, start + block)
        lo = max(0, start - cache_size)
        scores = features[start:end] @ features[lo:end].T
        t_idx = torch.arange(start, end, device=device)[:, None]
        i_idx = torch.arange(lo, end, device=device)[None, :]
        in_cache = (i_idx < t_idx) & (i_idx >= t_idx - cache_size)
        same_word = stream[lo:end][None, :] == stream[start:end][:, None]
        for k, theta in enumerate(thetas_t):
            logits = (theta * scores).masked_fill(~in_cache, float("-inf"))
            weights = torch.softmax(logits, dim=1).nan_to_num(0.0)
            p_cache = (weights * same_word).sum(1).double().clamp(max=1.0)
            mixed = torch.logaddexp(
                torch.log1p(-lambdas_t)[None, :] + log_model[start:end],
                torch.log(lambdas_t)[None, :] + torch.log(p_cache)[:, None],
            )
            total[k] -= mixed.sum(0)
    return (total / T).cpu()


def test_shared_cache_probs_give_the_old_grids_bit_for_bit():
    g = torch.Generator().manual_seed(0)
    T, H, L, block = 700, 16, 90, 64
    features = torch.randn(T, H, generator=g)  # float32, as the model's
    log_probs = -torch.rand(T, generator=g) * 8
    stream = torch.randint(0, 30, (T,), generator=g)
    thetas, lambdas = [0.01, 0.2, 0.5, 1.0], [0.05, 0.3, 0.4]
    old = _old_continuous_cache_nll((features, log_probs), stream, L, thetas, lambdas, block)
    assert torch.equal(C.continuous_cache_nll((features, log_probs), stream, L, thetas, lambdas,
                                              block), old)  # fmt: skip
    # shared: one theta asked first (a test split's), then the grid, then another log-prob
    probs = C.CacheProbs(features, stream, L, block)
    one = C.continuous_cache_nll((features, log_probs), stream, L, [0.5], [0.3], block, probs)
    assert torch.equal(one, _old_continuous_cache_nll((features, log_probs), stream, L, [0.5],
                                                      [0.3], block))  # fmt: skip
    grid = C.continuous_cache_nll((features, log_probs), stream, L, thetas, lambdas, block, probs)
    assert torch.equal(grid, old)
    other = log_probs.double() - 0.25
    again = C.continuous_cache_nll((features, other), stream, L, thetas, lambdas, block, probs)
    assert torch.equal(again, _old_continuous_cache_nll((features, other), stream, L, thetas,
                                                        lambdas, block))  # fmt: skip
    assert probs.sweeps == 2  # 0.5 alone, then the three others together; none again
    with pytest.raises(ValueError, match="another cache size"):
        C.continuous_cache_nll((features, other), stream, L + 1, thetas, lambdas, block, probs)


def _model(output_layer, tie, vocab=40, seed=0):
    torch.manual_seed(seed)
    model = M.NPLM(vocab, 8, 3, 16, 1, 0.2, output_layer=output_layer, cutoffs=[6, 15],
                   div_value=2.0, global_window=5, global_chunks=1, tie_embeddings=tie)  # fmt: skip
    return model.eval()


@pytest.mark.parametrize("output_layer,tie", [("adaptive", True), ("adaptive", False),
                                               ("full", False), ("full", True)])  # fmt: skip
def test_one_read_gives_the_static_score_and_the_cache_reads_bit_for_bit(output_layer, tie):
    model = _model(output_layer, tie)
    stream = torch.randint(1, 40, (333,), generator=torch.Generator().manual_seed(3))
    batches = WindowBatches(stream, model.context_size, 0, 50)
    old_loss, old_ppl = M.evaluate(model, batches, nn.NLLLoss())
    read, (loss, ppl) = C.read_with_static_loss(model, stream, 0, 50)
    assert (loss, ppl) == (old_loss, old_ppl)
    features, log_probs = C.features_and_log_probs(model, stream, 0, 50)
    assert torch.equal(read["features"], features)
    assert torch.equal(read["model"], log_probs.double())


def _without_seconds(d):
    if isinstance(d, dict):
        return {k: _without_seconds(v) for k, v in d.items() if "seconds" not in k}
    return d


def test_the_pipeline_scores_as_the_separate_passes_did(tiny_data_dir):
    train, dev, test = M.load_data_mlp_lm(tiny_data_dir, splits=("train", "validation", "test"))
    tok = M.WordTokenizer.from_texts(M.texts_of(train))
    model = _model("adaptive", True, vocab=tok.vocab_size)
    scoring = Scoring(cache_size=15, cache_thetas=[0.0, 0.3, 1.0], cache_lambdas=[0.1, 0.3],
                      ngram_order=3, ngram_mus=[0.0, 0.2, 0.5])  # fmt: skip
    reader = Reader(batch_size=64, log=lambda *a: None)
    passes = {}
    for name, data in (("dev", dev), ("test", test)):
        stream = M.encode_stream(data, tok)
        passes[name] = C.read_with_static_loss(model, stream, tok.pad_token_id, 64)[0]
    shared, _ = score_after_training(Trained(model, tok, {}), (train, dev, test), scoring, reader,
                                     passes)  # fmt: skip
    # dev: one sweep for both grids; test: one per theta chosen
    chosen = {shared["cache"]["theta"], shared["ngram"]["cache"]["theta"]}
    assert passes["dev"]["cache_probs"].sweeps == 1
    assert passes["test"]["cache_probs"].sweeps == len(chosen)
    # each mode reading dev and test itself, as before
    cache = C.score_with_cache(model, tok, (dev, test), scoring, reader)
    ngram = count_ngram(tok, train, 3, log=lambda *a: None)
    mixed = score_with_ngram(model, tok, (None, dev, test), scoring, reader, ngram)[0]
    assert _without_seconds(shared["cache"]) == _without_seconds(cache)
    assert _without_seconds(shared["ngram"]) == _without_seconds(mixed)
    # and the cache's numbers are the old function's on the old read
    stream = M.encode_stream(dev, tok)
    f, lp = C.features_and_log_probs(model, stream, tok.pad_token_id, 64)
    grid = _old_continuous_cache_nll((f, lp), stream, 15, [0.0, 0.3, 1.0], [0.1, 0.3])
    assert shared["cache"]["grid_dev_ppl"] == grid.exp().tolist()


def test_dynamic_evaluation_goes_on_from_the_tuning_run_with_the_same_values(tiny_data_dir):
    train, dev, test = M.load_data_mlp_lm(tiny_data_dir, splits=("train", "validation", "test"))
    tok = M.WordTokenizer.from_texts(M.texts_of(train))
    model = _model("adaptive", True, vocab=tok.vocab_size).double()
    before = [p.detach().clone() for p in model.parameters()]
    scoring = Scoring(cache_size=10, cache_thetas=[0.1, 1.0], cache_lambdas=[0.1, 0.3],
                      dynamic_segment=7, dynamic_lrs=[0.1, 0.5], dynamic_decays=[0.0, 0.02],
                      dynamic_tune_tokens=35, ngram_mus=[0.0, 0.3])  # fmt: skip
    ngram = count_ngram(tok, train, 3, log=lambda *a: None)
    quiet = lambda *a: None  # noqa: E731
    new = D.score_dynamic(model, tok, (dev, test), scoring, Reader(log=quiet), ngram)
    assert all(torch.equal(p, b) for p, b in zip(model.parameters(), before))

    def from_the_start(model, stream, pad, step, timing=None):  # no carry: every pass from token 0
        return D.dynamic_eval(model, stream, pad, step, timing)

    old = D.score_dynamic(
        model, tok, (dev, test), scoring, Reader(log=quiet, dynamic_eval=from_the_start), ngram
    )
    new, old = _without_seconds(new), _without_seconds(old)
    new.pop("cost"), old.pop("cost")
    assert new.keys() == old.keys() and (new["lr"], new["decay"]) == (old["lr"], old["decay"])
    for key in ("dev", "test"):
        assert new[key] == pytest.approx(old[key], rel=1e-12)
        assert new["ngram"][key] == pytest.approx(old["ngram"][key], rel=1e-12)
    assert new["ngram"]["cache"] == old["ngram"]["cache"] and new["cache"] == old["cache"]
    assert new["grid_dev_prefix"] == old["grid_dev_prefix"]


def test_a_carried_pass_scores_only_what_follows_the_prefix():
    model = _model("adaptive", False).double()
    stream = torch.randint(1, 40, (100,), generator=torch.Generator().manual_seed(5))
    step = D.DynamicStep(0.3, 0.01, 10)
    whole_f, whole = D.dynamic_eval(model, stream, 0, step)
    carry = {}
    _, head = D.dynamic_eval(model, stream[:40], 0, step, carry=carry)
    assert carry["segments"] == 4
    tail_f, tail = D.dynamic_eval(model, stream, 0, step, carry=carry)
    assert carry["segments"] == 10 and tail.numel() == 60
    torch.testing.assert_close(torch.cat([head, tail]), whole, rtol=1e-13, atol=0)
    torch.testing.assert_close(tail_f, whole_f[40:], rtol=1e-13, atol=0)


def test_the_scoring_benchmark_old_and_new_paths_agree(tiny_data_dir):
    from benchmarks import lm_scoring as B

    data = M.load_data_mlp_lm(tiny_data_dir, splits=("train", "validation", "test"))
    tok = M.WordTokenizer.from_texts(M.texts_of(data[0]))
    model = _model("adaptive", True, vocab=tok.vocab_size)
    scoring = Scoring(
        cache_size=10,
        cache_thetas=[0.1, 1.0],
        cache_lambdas=[0.1, 0.3],
        ngram_order=3,
        ngram_mus=[0.0, 0.3],
        dynamic_segment=7,
        dynamic_lrs=[0.1],
        dynamic_decays=[0.0, 0.02],
        dynamic_tune_tokens=21,
    )
    reader = Reader(batch_size=64, log=lambda *a: None)
    saved = (D.cache_probs, D.TIMING_EVERY)
    old = B.score_old(model, tok, data, scoring, reader, 64)
    assert (D.cache_probs, D.TIMING_EVERY) == saved  # the old path is put back
    new = B.score_new(model, tok, data, scoring, reader, 64)
    assert old[0] == new[0]  # static, bit for bit
    for mode in ("cache", "ngram"):
        assert B._numbers(old[1][mode]) == B._numbers(new[1][mode])
    assert B._close(B._numbers(old[1]["dynamic"]), B._numbers(new[1]["dynamic"]), rel=1e-5)
    assert set(old[2]) == set(B.PHASES) == set(new[2])
