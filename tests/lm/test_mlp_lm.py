"""Tests of mlp_lm.py: blocks against hand-built references, windows and the target-count rule,
perplexity, generation, checkpoints, bad inputs and an end-to-end quick run on a tiny synthetic
WikiText directory.

Fast (seconds) and independent of ../shared/data, except the one test that checks the 217,646
targets of the real WikiText-2 validation split, which is skipped when that file is absent.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from lm import cache as lm_cache  # noqa: E402
import mlp_lm as M  # noqa: E402
from lm.config import LMRunConfig  # noqa: E402
from lm.train import build_model  # noqa: E402
from nplm import kernels  # noqa: E402
import utils  # noqa: E402
from nplm.kernels import train_flops_per_token  # noqa: E402
from nplm.checkpoint import save_checkpoint  # noqa: E402
from nplm.sampling import top_p_filter  # noqa: E402

TINY_LINES = [
    " = Title = ",
    " ",
    " the cat sat on the mat . ",
    " the dog sat on the log . ",
    " ",
    " a <unk> ran . ",
]


@pytest.fixture(autouse=True)
def _one_thread():
    prev = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(prev)


def tiny_tokenizer():
    return M.WordTokenizer.from_texts(TINY_LINES)


def tiny_model(
    vocab_size=20, output_layer="full", num_blocks=2, dropout_p=0.0, W=3, E=4, H=8, seed=0
):
    torch.manual_seed(seed)
    return M.NPLM(
        vocab_size,
        E,
        W,
        H,
        num_blocks,
        dropout_p,
        output_layer=output_layer,
        cutoffs=[4, 10],
        div_value=2.0,
    )


def test_first_block_matches_hand_computation_and_is_normalised():
    torch.manual_seed(0)
    block = M.NPLMFirstBlock(
        vocab_size=11, embed_dim=4, local_window_size=3, hidden_dim=6, dropout_p=0.5
    ).eval()
    x = torch.randint(0, 11, (5, 3))
    out = block(x)
    assert out.shape == (5, 6)
    concat = block.embeddings.weight[x].reshape(5, 12).double()  # (B, W*E)
    h = torch.tanh(concat @ block.linear.weight.double().T + block.linear.bias.double())
    ref = F.layer_norm(
        h, (6,), block.layer_norm.weight.double(), block.layer_norm.bias.double(), eps=1e-5
    )
    torch.testing.assert_close(out.double(), ref, rtol=1e-5, atol=1e-5)
    # LayerNorm with its initial affine
    assert torch.allclose(out.mean(-1), torch.zeros(5), atol=1e-5)
    assert block(x[0]).shape == (1, 6)  # one window


def test_block_is_linear_tanh_residual_then_layernorm():
    torch.manual_seed(1)
    block = M.NPLMBlock(hidden_dim=7, dropout_p=0.3).eval()
    with torch.no_grad():
        block.layer_norm.weight.uniform_(0.5, 2.0)
        block.layer_norm.bias.uniform_(-1, 1)
    x = torch.randn(4, 7, dtype=torch.float64)
    ref = F.layer_norm(
        x + torch.tanh(x @ block.linear.weight.double().T + block.linear.bias.double()),
        (7,),
        block.layer_norm.weight.double(),
        block.layer_norm.bias.double(),
    )
    torch.testing.assert_close(block.double()(x), ref)
    # The other order (LayerNorm inside the residual) gives a different answer, so the test can tell
    # them apart.
    wrong = x + F.layer_norm(
        torch.tanh(x @ block.linear.weight.T + block.linear.bias),
        (7,),
        block.layer_norm.weight,
        block.layer_norm.bias,
    )
    assert not torch.allclose(ref, wrong)


def test_final_block_no_bias_and_normalised():
    fb = M.NPLMFinalBlock(vocab_size=13, hidden_dim=5)
    assert fb.linear.bias is None
    out = fb(torch.randn(3, 5))
    assert out.shape == (3, 13)
    torch.testing.assert_close(out.exp().sum(-1), torch.ones(3))


def test_nplm_structure_relu_after_blocks_and_shapes():
    model = tiny_model(num_blocks=2).eval()
    assert (
        isinstance(model.intermediate_layers, nn.ModuleList) and len(model.intermediate_layers) == 2
    )
    x = torch.randint(0, 20, (6, 3))
    out = model(x)
    assert out.shape == (6, 20)
    torch.testing.assert_close(out.exp().sum(-1), torch.ones(6))
    h = model.first_layer(x)
    for blk in model.intermediate_layers:
        h = torch.relu(blk(h))
    torch.testing.assert_close(out, model.final_layer(h))
    assert model(x[0]).shape == (1, 20)  # a single window, as generate_text passes it
    torch.testing.assert_close(model(x[0])[0], out[0])


def test_dropout_only_in_training():
    model = tiny_model(dropout_p=0.5)
    x = torch.randint(0, 20, (8, 3))
    model.train()
    assert not torch.allclose(model(x), model(x))
    model.eval()
    torch.testing.assert_close(model(x), model(x))


@pytest.mark.parametrize("output_layer", ["full", "adaptive"])
def test_nll_equals_log_prob_of_targets(output_layer):
    model = tiny_model(output_layer=output_layer).double().eval()
    x, y = torch.randint(0, 20, (9, 3)), torch.randint(0, 20, (9,))
    log_probs = model(x)  # (B, V)
    torch.testing.assert_close(log_probs.exp().sum(-1), torch.ones(9, dtype=torch.float64))
    ref = -log_probs.gather(1, y[:, None]).mean()
    torch.testing.assert_close(model.nll(x, y), ref)
    torch.testing.assert_close(model.nll(x, y, reduction="sum"), ref * 9)


def test_adaptive_cutoffs_fit_small_vocabularies():
    assert M.NPLMAdaptiveFinalBlock(50, 8, [1000, 10000]).cutoffs == [25]
    assert M.NPLMAdaptiveFinalBlock(50, 8, [10, 30]).cutoffs == [10, 30]
    model = M.NPLM(7, 4, 2, 8, 0, 0.0, output_layer="adaptive")
    assert model(torch.zeros(2, 2, dtype=torch.long)).shape == (2, 7)


def test_evaluate_is_exp_of_token_weighted_mean_and_restores_mode():
    model = tiny_model(dropout_p=0.3).double()
    x, y = torch.randint(0, 20, (10, 3)), torch.randint(0, 20, (10,))
    batches = [(x[:7], y[:7]), (x[7:], y[7:])]  # uneven: a plain mean of batch means would be wrong
    model.train()
    loss, ppl = M.evaluate(model, batches, nn.NLLLoss())
    assert model.training
    model.eval()
    ref = F.nll_loss(model(x), y).item()
    assert loss == pytest.approx(ref, rel=1e-9)
    assert ppl == pytest.approx(math.exp(ref), rel=1e-9)


def test_tiny_model_memorises_tiny_corpus(tmp_path):
    torch.manual_seed(0)
    text = {"text": [" the cat sat on the mat and the dog ate the log "] * 4}
    tok = M.WordTokenizer.from_texts(text["text"])
    stream = M.encode_stream(text, tok)
    model = M.NPLM(tok.vocab_size, 16, 3, 64, 1, 0.0, output_layer="adaptive", cutoffs=[4])
    batches = M.WindowBatches(
        stream, 3, tok.pad_token_id, 16, shuffle=torch.Generator().manual_seed(0)
    )
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    hist = M.train(
        model,
        batches,
        M.WindowBatches(stream, 3, tok.pad_token_id, 64),
        nn.NLLLoss(),
        opt,
        None,
        60,
        tmp_path / "m.pt",
        print_every=0,
        options=M.TrainOptions(log=lambda *a: None),
    )
    assert min(hist[3]) < 1.3  # near-perfect next-word prediction
    assert hist[3][-1] < hist[3][0]
    out = M.generate_text("the cat sat", model, tok, 3, top_p=None, max_len=5, verbose=False)
    assert out == "the cat sat on the mat and the"
    assert (tmp_path / "m.pt").is_file()


def test_global_context_appends_the_mean_embedding_of_the_far_words():
    torch.manual_seed(0)
    G, W, E, H = 5, 3, 4, 8
    model = M.NPLM(
        20,
        E,
        W,
        H,
        1,
        0.0,
        output_layer="adaptive",
        cutoffs=[4, 10],
        div_value=2.0,
        global_window=G,
    )
    assert model.context_size == G + W and model.first_layer.linear.in_features == (W + 1) * E
    x = torch.randint(0, 20, (6, G + W))  # far words first, the local window last
    block = model.first_layer
    emb = block.embeddings.weight.detach()
    # (B, (W+1)*E)
    concat = torch.cat([emb[x[:, G:]].reshape(6, W * E), emb[x[:, :G]].mean(1)], dim=1)
    expected = block.layer_norm(torch.tanh(block.linear(concat)))
    torch.testing.assert_close(block(x), expected)
    # one window (G+W,) as generation passes it
    torch.testing.assert_close(model(x[0]), model(x[:1]))
    tok = tiny_tokenizer()
    model = M.NPLM(
        tok.vocab_size, E, W, H, 1, 0.0, output_layer="adaptive", cutoffs=[4], global_window=G
    )
    out = M.generate_text("the cat", model, tok, W, top_p=None, max_len=4, verbose=False)
    assert out.startswith("the cat") and len(out.split()) == 6
    with pytest.raises(ValueError, match="global_window"):
        M.NPLMFirstBlock(20, 4, 3, 8, 0.0, global_window=-1)
    with pytest.raises(ValueError, match="global_chunks"):
        M.NPLMFirstBlock(20, 4, 3, 8, 0.0, global_window=6, global_chunks=4)


def test_global_chunks_are_means_of_consecutive_far_words():
    torch.manual_seed(0)
    block = M.NPLMFirstBlock(20, 4, 2, 8, 0.0, global_window=6, global_chunks=3)
    assert block.linear.in_features == (2 + 3) * 4
    x = torch.randint(0, 20, (5, 8))
    emb = block.embeddings.weight.detach()
    parts = [emb[x[:, 6:]].reshape(5, 8)] + [emb[x[:, i : i + 2]].mean(1) for i in (0, 2, 4)]
    expected = block.layer_norm(torch.tanh(block.linear(torch.cat(parts, dim=1))))
    torch.testing.assert_close(block(x), expected)


def test_global_context_leaves_unknown_far_words_out_and_drops_only_in_training():
    torch.manual_seed(0)
    block = M.NPLMFirstBlock(
        20, 4, 2, 8, 0.0, global_window=4, global_chunks=2, global_dropout_p=0.5
    )
    emb = block.embeddings.weight.detach()
    far = torch.tensor([[-1, 5, 6, 7], [-1, -1, 3, 3]])  # (B, G): -1 = before the prompt
    block.eval()
    got = block.global_context(far)  # (B, C*E)
    torch.testing.assert_close(got[0], torch.cat([emb[5], (emb[6] + emb[7]) / 2]))
    # an empty chunk gives zeros
    torch.testing.assert_close(got[1], torch.cat([torch.zeros(4), emb[3]]))
    block.train()
    far = torch.randint(0, 20, (200, 4))
    with torch.no_grad():
        train_out, eval_out = block.global_context(far), block.eval().global_context(far)
    zeroed = (train_out == 0).all(1)
    torch.testing.assert_close(train_out[~zeroed], eval_out[~zeroed])  # kept rows are not rescaled
    assert 0.3 < zeroed.float().mean() < 0.7


def test_generation_gives_a_global_model_only_real_far_words():
    class Recorder(nn.Module):
        context_size = 5  # G = 3 far words + a local window of 2

        def __init__(self):
            super().__init__()
            self.windows = []

        def forward(self, window):
            self.windows.append(window.tolist())
            return F.log_softmax(torch.arange(20.0), dim=0)[None]  # always predicts id 19

    tok = M.WordTokenizer([f"w{i}" for i in range(18)] + ["<unk>", "<eos>"])
    model = Recorder()
    M.generate_text("w1 w2 w3", model, tok, 2, top_p=None, max_len=3, verbose=False)
    eos = tok.eos_token_id
    assert model.windows == [[-1, -1, 1, 2, 3], [-1, 1, 2, 3, eos], [1, 2, 3, eos, eos]]
    model.windows.clear()
    M.generate_text("w1", model, tok, 2, top_p=None, max_len=1, verbose=False)
    # the local window is padded with <eos>, as in training
    assert model.windows == [[-1, -1, -1, eos, 1]]


def test_global_context_checkpoint_round_trip_and_flops(tmp_path):
    model = M.NPLM(
        tiny_tokenizer().vocab_size, 4, 3, 8, 1, 0.0, output_layer="full", global_window=5
    )
    meta = {
        "tokenizer": tiny_tokenizer().to_dict(),
        "model": M.model_fields(
            LMRunConfig(
                embed_dim=4,
                local_window_size=3,
                hidden_dim=8,
                num_blocks=1,
                dropout_p=0.0,
                global_window=5,
            )
        ),
    }
    save_checkpoint(model.state_dict(), tmp_path / "g.pt", meta)
    loaded, _, _ = M.load_checkpoint(tmp_path / "g.pt")
    x = torch.randint(0, tiny_tokenizer().vocab_size, (3, 8))
    model.eval()
    torch.testing.assert_close(loaded(x), model(x))
    assert train_flops_per_token(model)["macs"]["first"] == 4 * 4 * 8  # (W + 1) * E * H


def test_weight_average_is_an_ema_and_applied_restores_the_trained_weights():
    model = nn.Linear(3, 2)
    avg = M.WeightAverage(model, decay=0.9)
    history = [model.weight.detach().clone()]
    expected = history[0].clone()
    for step in range(1, 30):
        with torch.no_grad():
            model.weight.add_(torch.randn_like(model.weight))
        avg.update()
        d = min(0.9, (1 + step) / (10 + step))
        expected = d * expected + (1 - d) * model.weight.detach()
    trained = model.weight.detach().clone()
    with avg.applied():
        torch.testing.assert_close(model.weight.detach(), expected)
    torch.testing.assert_close(model.weight.detach(), trained)
    for bad in (0.0, 1.0, -0.5):
        with pytest.raises(ValueError, match="ema_decay"):
            M.WeightAverage(model, bad)


def test_train_with_weight_average_scores_and_saves_the_average(tmp_path):
    torch.manual_seed(0)
    tok = tiny_tokenizer()
    stream = M.encode_stream({"text": TINY_LINES}, tok)
    model = M.NPLM(tok.vocab_size, 8, 3, 16, 1, 0.1, output_layer="adaptive", cutoffs=[4])
    batches = M.WindowBatches(
        stream, 3, tok.pad_token_id, 8, shuffle=torch.Generator().manual_seed(0)
    )
    dev = M.WindowBatches(stream, 3, tok.pad_token_id, 64)
    config = LMRunConfig(
        embed_dim=8,
        local_window_size=3,
        hidden_dim=16,
        num_blocks=1,
        dropout_p=0.1,
        output_layer="adaptive",
        cutoffs=[4],
    )
    meta = {"tokenizer": tok.to_dict(), "model": M.model_fields(config)}
    options = M.TrainOptions(log=lambda *a: None, ema_decay=0.9, checkpoint_meta=meta)
    run = M.train_run(
        model,
        (batches, dev),
        nn.NLLLoss(),
        (torch.optim.Adam(model.parameters(), lr=1e-2), None),
        M.TrainPlan(3, tmp_path / "m.pt", 0, options),
    )
    hist = run.history
    assert len(hist.dev_ppl_last_iterate) == 3
    # the average is not the last iterate
    assert hist.dev_ppl_last_iterate[-1] != pytest.approx(hist[3][-1])
    saved, _, meta = M.load_checkpoint(tmp_path / "m.pt", config)
    best = min(range(3), key=lambda i: hist[3][i])
    assert meta["epoch"] == best == run.best_epoch
    _, ppl = M.evaluate(saved, dev, nn.NLLLoss())
    # the checkpoint holds the averaged weights
    assert ppl == pytest.approx(hist[3][best], rel=1e-5)
    model.load_state_dict(run.best_state)  # and so does the copy kept in memory
    assert M.evaluate(model, dev, nn.NLLLoss())[1] == pytest.approx(ppl, rel=1e-12)


def test_top_p_filter_matches_brute_force():
    torch.manual_seed(3)
    lp = torch.log_softmax(torch.randn(2, 12), -1)
    for p in (0.0, 0.1, 0.3, 0.7, 0.95, 1.0):
        out = top_p_filter(lp, p)
        for row in range(2):
            order = torch.argsort(lp[row], descending=True).tolist()
            kept, mass = [], 0.0
            for i in order:
                if kept and mass >= p:
                    break
                kept.append(i)
                mass += lp[row, i].exp().item()
            assert set(torch.isfinite(out[row]).nonzero().flatten().tolist()) == set(kept), p
    with pytest.raises(ValueError):
        top_p_filter(lp, 1.5)


def test_greedy_equals_top_p_zero_and_sampling_is_seedable(capsys):
    tok = tiny_tokenizer()
    model = tiny_model(vocab_size=tok.vocab_size, output_layer="adaptive")
    greedy = M.generate_text("the cat", model, tok, 3, top_p=None, max_len=8)
    assert "Generated text:" in capsys.readouterr().out
    assert M.generate_text("the cat", model, tok, 3, top_p=0, max_len=8, verbose=False) == greedy
    assert M.generate_text("the cat", model, tok, 3, top_p=0.0, max_len=8, verbose=False) == greedy
    a = M.generate_text(
        "the cat", model, tok, 3, 1.0, 8, generator=torch.Generator().manual_seed(5), verbose=False
    )
    b = M.generate_text(
        "the cat", model, tok, 3, 1.0, 8, generator=torch.Generator().manual_seed(5), verbose=False
    )
    assert a == b and a.startswith("the cat") and len(a.split()) == 10
    # a prompt shorter than the window, with an unknown word, still works
    out = M.generate_text("zebra", model, tok, 3, top_p=0.5, max_len=2, verbose=False)
    assert out.split()[0] == "<unk>" and len(out.split()) == 3


@pytest.mark.parametrize("bad", [-0.1, 1.01, 2, True])
def test_top_p_out_of_range_is_an_error(bad):
    tok = tiny_tokenizer()
    with pytest.raises(ValueError):
        M.generate_text(
            "the", tiny_model(vocab_size=tok.vocab_size), tok, 3, top_p=bad, verbose=False
        )


def test_other_bad_inputs(tmp_path):
    with pytest.raises(ValueError):
        M.NPLM(10, 4, 3, 8, 1, 0.0, output_layer="hierarchical")
    with pytest.raises(M.CheckpointError, match="missing.pt"):
        M.load_checkpoint(tmp_path / "missing.pt")
    torch.save({"state_dict": {}}, tmp_path / "other.pt")
    # weights without the JSON beside them
    with pytest.raises(M.CheckpointError, match=r"other\.pt\.json"):
        M.load_checkpoint(tmp_path / "other.pt")
    with pytest.raises(ValueError):
        LMRunConfig.preset("huge")
    with pytest.raises(ValueError):
        M.evaluate(tiny_model(), [], nn.NLLLoss())


def test_checkpoint_and_tokenizer_round_trip(tmp_path):
    tok = tiny_tokenizer()
    model = tiny_model(vocab_size=tok.vocab_size, output_layer="adaptive").eval()
    cfg = LMRunConfig(
        embed_dim=4,
        local_window_size=3,
        hidden_dim=8,
        num_blocks=2,
        dropout_p=0.0,
        output_layer="adaptive",
        cutoffs=[4, 10],
        div_value=2.0,
    )
    path = tmp_path / "c.pt"
    save_checkpoint(
        model.state_dict(),
        path,
        {
            "tokenizer": tok.to_dict(),
            "model": M.model_fields(cfg),
            "config": cfg.to_dict(),
            "epoch": 2,
        },
    )
    # a plain state_dict, as the course's
    assert set(torch.load(path, weights_only=True)) == set(model.state_dict())
    model2, tok2, meta = M.load_checkpoint(path, cfg)
    assert tok2.ids_to_tokens == tok.ids_to_tokens
    assert meta["config"]["local_window_size"] == 3 and meta["epoch"] == 2
    x = torch.randint(0, tok.vocab_size, (4, 3))
    torch.testing.assert_close(model2(x), model(x))
    assert M.generate_text("the cat", model2, tok2, 3, None, 5, verbose=False) == M.generate_text(
        "the cat", model, tok, 3, None, 5, verbose=False
    )


def test_context_vectors_match_separate_lookups_with_gradients():
    torch.manual_seed(0)
    block = M.NPLMFirstBlock(30, 4, 3, 8, 0.0, global_window=6, global_chunks=2).double().eval()
    near = torch.randint(0, 30, (5, 3))
    far = torch.randint(0, 30, (5, 6))
    far[0, :4] = -1  # a chunk with no word and a chunk with one
    far[1, :] = -1
    weight = block.embeddings.weight
    got = block.context_vectors(near, far)
    # Reference: an independent lookup and mean per chunk, in float64 autograd.
    ref_weight = weight.detach().clone().requires_grad_()
    parts = [ref_weight[near].reshape(5, 12)]
    for c in range(2):
        ids = far[:, 3 * c : 3 * c + 3]
        known = (ids >= 0).double()[:, :, None]
        parts.append((ref_weight[ids.clamp(min=0)] * known).sum(1) / known.sum(1).clamp(min=1))
    ref = torch.cat(parts, dim=1)  # (B, (W+C)*E)
    torch.testing.assert_close(got, ref)
    torch.testing.assert_close(got[:, 12:], block.global_context(far))
    upstream = torch.randn_like(ref)
    (got * upstream).sum().backward()
    (ref * upstream).sum().backward()
    torch.testing.assert_close(weight.grad, ref_weight.grad)


def test_context_vectors_global_dropout_zeroes_whole_rows_of_far_words_only():
    torch.manual_seed(0)
    block = M.NPLMFirstBlock(
        30, 4, 2, 8, 0.0, global_window=4, global_chunks=2, global_dropout_p=0.5
    )
    near, far = torch.randint(0, 30, (300, 2)), torch.randint(0, 30, (300, 4))
    with torch.no_grad():
        train_out = block.train().context_vectors(near, far)
        eval_out = block.eval().context_vectors(near, far)
    torch.testing.assert_close(train_out[:, :8], eval_out[:, :8])  # local words untouched
    zeroed = (train_out[:, 8:] == 0).all(1)
    torch.testing.assert_close(train_out[~zeroed], eval_out[~zeroed])  # kept rows are not rescaled
    assert 0.35 < zeroed.float().mean() < 0.65


@pytest.mark.parametrize("output_layer", ["full", "adaptive"])
def test_features_and_log_probs_agree_with_evaluate_and_restore_mode(output_layer):
    model = tiny_model(output_layer=output_layer, dropout_p=0.3).train()
    stream = torch.randint(0, 20, (50,), generator=torch.Generator().manual_seed(2))
    features, log_probs = lm_cache.features_and_log_probs(model, stream, pad_id=0, batch_size=16)
    assert model.training and features.shape == (50, 8) and log_probs.shape == (50,)
    loss, _ = M.evaluate(model, M.WindowBatches(stream, 3, 0, 16), nn.NLLLoss())
    assert math.isclose(-log_probs.double().mean().item(), loss, rel_tol=1e-5)


def test_keep_freed_memory_is_safe_to_call_twice():
    first, second = kernels.keep_freed_memory(), kernels.keep_freed_memory()
    assert first == second and isinstance(first, bool)
    x = torch.randn(3000, 3000)  # larger than glibc's default mmap threshold, now from the heap
    assert torch.isfinite(x.sum())


def test_a_checkpoint_from_another_save_or_for_another_model_is_refused(tmp_path):
    tok = tiny_tokenizer()
    cfg = LMRunConfig(embed_dim=4, local_window_size=3, hidden_dim=8, num_blocks=2, dropout_p=0.0)
    model = build_model(cfg, tok.vocab_size)
    path = tmp_path / "c.pt"
    save_checkpoint(
        model.state_dict(), path, {"tokenizer": tok.to_dict(), "model": M.model_fields(cfg)}
    )
    with pytest.raises(M.CheckpointError, match=r"hidden_dim=16 \(trained with 8\)"):
        M.load_checkpoint(path, LMRunConfig(**{**cfg.to_dict(), "hidden_dim": 16}))
    other = build_model(cfg, tok.vocab_size)
    # new weights, old JSON: as if a save was cut off between the two
    utils.atomic_save(other.state_dict(), path)
    with pytest.raises(M.CheckpointError, match="different saves"):
        M.load_checkpoint(path)


@pytest.mark.parametrize(
    "field, value",
    [
        ("embed_dim", 0),
        ("local_window_size", -3),
        ("dropout_p", 1.0),
        ("ema_decay", 1.5),
        ("global_window", -5),
        ("output_layer", "tree"),
        ("schedule", "step"),
        ("lr", float("nan")),
        ("decay", 0.0),
        ("global_chunks", 3),
        ("patience", 0),
        ("cutoffs", [50, 10]),
    ],
)
def test_config_values_are_checked_on_construction(field, value):
    with pytest.raises(ValueError, match=f"LMConfig.{field}"):
        LMRunConfig(**{"global_window": 8, field: value})


def test_a_saved_config_fills_fields_added_since_from_its_preset():
    saved = LMRunConfig.preset("default").to_dict()
    for added_later in ("optimizer", "fast", "device"):
        del saved[added_later]
    saved["word_dropout_p"] = 0.0  # a field since removed
    config = LMRunConfig.from_dict(saved, seed=7)
    assert config == LMRunConfig.preset("default", seed=7)
    # the course's config round-trips
    assert LMRunConfig.from_dict(LMRunConfig().to_dict()) == LMRunConfig()
    # a run saved before these fields existed ran without them
    before_tying = {
        k: v
        for k, v in LMRunConfig.preset("default").to_dict().items()
        if k not in LMRunConfig.ADDED_OFF
    }
    config = LMRunConfig.from_dict(before_tying)
    assert all(getattr(config, k) == v for k, v in LMRunConfig.ADDED_OFF.items())
    assert LMRunConfig.from_dict(LMRunConfig.preset("default").to_dict()) == LMRunConfig.preset(
        "default"
    )


def test_history_plots_name_the_seed_and_the_changed_fields(tmp_path, monkeypatch):
    """Two runs of one config with different seeds get different titles (each names its seed), and
    a run of the preset itself names no changed field."""
    from lm import run as lm_run

    titles = []
    monkeypatch.setattr(
        M, "visualize_epochs", lambda *a, title=None, **k: titles.append(title) or a[3]
    )
    history = {f"{s}_{k}": [1.0, 0.5] for s in ("train", "dev") for k in ("loss", "ppl")}
    lm_run.plot_lm_history(history, LMRunConfig.preset("default", seed=0), tmp_path / "a")
    lm_run.plot_lm_history(history, LMRunConfig.preset("default", seed=1), tmp_path / "b")
    assert titles[0].startswith("MLP language model, default config, seed 0\n")
    assert titles[2].startswith("MLP language model, default config, seed 1\n")
