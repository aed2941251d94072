"""Tests of mlp_lm.py: blocks against hand-built references, windows and the target-count rule, perplexity,
generation, checkpoints, bad inputs and an end-to-end quick run on a tiny synthetic WikiText directory.

Fast (seconds) and independent of ../shared/data, except the one test that checks the 217,646 targets of the
real WikiText-2 validation split, which is skipped when that file is absent.
"""
from __future__ import annotations

import gzip
import math
import sys
from argparse import Namespace
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import mlp_lm as M  # noqa: E402
import utils  # noqa: E402

TINY_LINES = [" = Title = ", " ", " the cat sat on the mat . ", " the dog sat on the log . ", " ", " a <unk> ran . "]


@pytest.fixture(autouse=True)
def _one_thread():
    prev = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(prev)


def tiny_tokenizer():
    return M.WordTokenizer.from_texts(TINY_LINES)


def tiny_model(vocab_size=20, output_layer="full", num_blocks=2, dropout_p=0.0, W=3, E=4, H=8, seed=0):
    torch.manual_seed(seed)
    return M.NPLM(vocab_size, E, W, H, num_blocks, dropout_p, output_layer=output_layer, cutoffs=[4, 10], div_value=2.0)


# --------------------------------------------------------------------------- blocks
def test_first_block_matches_hand_computation_and_is_normalised():
    torch.manual_seed(0)
    block = M.NPLMFirstBlock(vocab_size=11, embed_dim=4, local_window_size=3, hidden_dim=6, dropout_p=0.5).eval()
    x = torch.randint(0, 11, (5, 3))
    out = block(x)
    assert out.shape == (5, 6)
    concat = block.embeddings.weight[x].reshape(5, 12).double()  # (B, W*E)
    h = torch.tanh(concat @ block.linear.weight.double().T + block.linear.bias.double())
    ref = F.layer_norm(h, (6,), block.layer_norm.weight.double(), block.layer_norm.bias.double(), eps=1e-5)
    torch.testing.assert_close(out.double(), ref, rtol=1e-5, atol=1e-5)
    assert torch.allclose(out.mean(-1), torch.zeros(5), atol=1e-5)  # LayerNorm with its initial affine
    assert block(x[0]).shape == (1, 6)  # one window


def test_block_is_linear_tanh_residual_then_layernorm():
    torch.manual_seed(1)
    block = M.NPLMBlock(hidden_dim=7, dropout_p=0.3).eval()
    with torch.no_grad():
        block.layer_norm.weight.uniform_(0.5, 2.0)
        block.layer_norm.bias.uniform_(-1, 1)
    x = torch.randn(4, 7, dtype=torch.float64)
    ref = F.layer_norm(x + torch.tanh(x @ block.linear.weight.double().T + block.linear.bias.double()), (7,),
                       block.layer_norm.weight.double(), block.layer_norm.bias.double())
    torch.testing.assert_close(block.double()(x), ref)
    # The other order (LayerNorm inside the residual) gives a different answer, so the test can tell them apart.
    wrong = x + F.layer_norm(torch.tanh(x @ block.linear.weight.T + block.linear.bias), (7,),
                             block.layer_norm.weight, block.layer_norm.bias)
    assert not torch.allclose(ref, wrong)


def test_final_block_no_bias_and_normalised():
    fb = M.NPLMFinalBlock(vocab_size=13, hidden_dim=5)
    assert fb.linear.bias is None
    out = fb(torch.randn(3, 5))
    assert out.shape == (3, 13)
    torch.testing.assert_close(out.exp().sum(-1), torch.ones(3))


def test_nplm_structure_relu_after_blocks_and_shapes():
    model = tiny_model(num_blocks=2).eval()
    assert isinstance(model.intermediate_layers, nn.ModuleList) and len(model.intermediate_layers) == 2
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
    assert M.effective_cutoffs([1000, 10000], 50) == [25]
    assert M.effective_cutoffs([10, 30], 50) == [10, 30]
    model = M.NPLM(7, 4, 2, 8, 0, 0.0, output_layer="adaptive")
    assert model(torch.zeros(2, 2, dtype=torch.long)).shape == (2, 7)


def test_flop_count_full_softmax_matches_formula():
    model = M.NPLM(100, 4, 3, 8, 2, 0.0, output_layer="full")
    fl = M.train_flops_per_token(model)
    assert fl["train_flops_per_token"] == 6 * (3 * 4 * 8 + 2 * 8 * 8 + 8 * 100)
    ada = M.NPLM(100, 4, 3, 8, 1, 0.0, output_layer="adaptive", cutoffs=[10, 50], div_value=2.0)
    targets = torch.tensor([0, 1, 20, 60])  # half in the head, a quarter in each tail
    f = M.train_flops_per_token(ada, targets)
    assert f["tail_fractions"] == {"10-50": 0.25, "50-100": 0.25}
    expected = 3 * 4 * 8 + 8 * 8 + 8 * 12 + 0.25 * (8 * 4 + 4 * 40) + 0.25 * (8 * 2 + 2 * 50)
    assert f["train_flops_per_token"] == pytest.approx(6 * expected)


# --------------------------------------------------------------------------- tokenizer and windows
def test_tokenizer_vocab_by_frequency_and_hf_interface():
    tok = tiny_tokenizer()
    vocab = tok.ids_to_tokens
    assert vocab[0] == "<eos>"  # one per line: the most frequent
    assert vocab[1] == "the"
    assert tok.convert_tokens_to_ids("zebra") == tok.unk_token_id == tok.convert_tokens_to_ids("<unk>")
    assert tok.convert_tokens_to_ids(["the", "zebra"]) == [1, tok.unk_token_id]
    assert tok.convert_ids_to_tokens(torch.tensor([1, 0])) == ["the", "<eos>"]
    assert tok.tokenize(" a  b ") == ["a", "b"]
    assert tok.vocab_size == len(set(" ".join(TINY_LINES).split())) + 1  # + <eos>
    assert tok.convert_tokens_to_string(["1", "@,@", "000", "well", "@-@", "known", "3", "@.@", "5"]) == "1,000 well-known 3.5"
    again = M.WordTokenizer.from_dict(tok.to_dict())
    assert again.ids_to_tokens == tok.ids_to_tokens and again.unk_token == "<unk>"


def test_windows_and_targets_on_tiny_text():
    tok = M.WordTokenizer(["<eos>", "<unk>", "a", "b", "c"])
    ds = M.preprocess_data({"text": [" a b ", " c "]}, 2, None, tok)
    x, y = ds.tensors
    # stream: a b <eos> c <eos> = 2 3 0 4 0; context padded with <eos> (0)
    assert y.tolist() == [2, 3, 0, 4, 0]
    assert x.tolist() == [[0, 0], [0, 2], [2, 3], [3, 0], [0, 4]]
    batches = list(M.WindowBatches(torch.tensor([2, 3, 0, 4, 0]), 2, 0, batch_size=2))
    assert torch.equal(torch.cat([b[0] for b in batches]), x) and torch.equal(torch.cat([b[1] for b in batches]), y)
    shuffled = list(M.WindowBatches(y, 2, 0, batch_size=2, shuffle=True, generator=torch.Generator().manual_seed(0)))
    pairs = sorted((tuple(c.tolist()), t.item()) for bx, by in shuffled for c, t in zip(bx, by))
    assert pairs == sorted((tuple(c), t) for c, t in zip(x.tolist(), y.tolist()))


def test_target_count_rule_every_token_plus_one_eos_per_line():
    tok = tiny_tokenizer()
    ds = M.preprocess_data({"text": TINY_LINES}, 4, None, tok)
    n_words = sum(len(line.split()) for line in TINY_LINES)
    assert len(ds) == n_words + len(TINY_LINES)  # empty lines contribute their <eos>


def test_real_valid_split_has_217646_targets():
    try:
        path = utils.data_path(M.WIKITEXT_DIR, M.VALID_FILE)
    except utils.DataNotFoundError as err:
        pytest.skip(f"WikiText-2 validation file not available: {err}")
    with gzip.open(path, "rt", encoding="utf-8") as f:
        lines = f.read().split("\n")[:-1]  # the file ends with a newline
    tok = M.WordTokenizer.from_texts(lines)
    assert len(M.preprocess_data({"text": lines}, 6, None, tok)) == 217_646


# --------------------------------------------------------------------------- evaluation and training
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
    batches = M.WindowBatches(stream, 3, tok.pad_token_id, 16, shuffle=True, generator=torch.Generator().manual_seed(0))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    hist = M.train(model, batches, M.WindowBatches(stream, 3, tok.pad_token_id, 64), nn.NLLLoss(), opt, None,
                   60, tmp_path / "m.pt", print_every=0, log=lambda *a: None)
    assert min(hist[3]) < 1.3  # near-perfect next-word prediction
    assert hist[3][-1] < hist[3][0]
    out = M.generate_text("the cat sat", model, tok, 3, top_p=None, max_len=5, verbose=False)
    assert out == "the cat sat on the mat and the"
    assert (tmp_path / "m.pt").is_file()


def test_word_dropout_zeroes_whole_context_words_only_in_training():
    torch.manual_seed(0)
    block = M.NPLMFirstBlock(20, 4, 3, 8, 0.0, word_dropout_p=0.5)
    seen = []
    block.linear.register_forward_hook(lambda mod, inp, out: seen.append(inp[0].detach().clone()))
    x = torch.randint(0, 20, (64, 3))
    emb = block.embeddings(x).detach()  # (B, W, E)
    block.train()
    block(x)
    got = seen[-1].reshape(64, 3, 4)
    dropped = (got == 0).all(-1)  # (B, W): whole words zeroed ...
    torch.testing.assert_close(got[~dropped], emb[~dropped] / 0.5)  # ... the others scaled by 1 / (1 - p)
    assert 0.3 < dropped.float().mean() < 0.7
    block.eval()
    block(x)
    torch.testing.assert_close(seen[-1], emb.reshape(64, 12))
    with pytest.raises(ValueError, match="word_dropout_p"):
        M.NPLMFirstBlock(20, 4, 3, 8, 0.0, word_dropout_p=1.0)


def test_global_context_appends_the_mean_embedding_of_the_far_words():
    torch.manual_seed(0)
    G, W, E, H = 5, 3, 4, 8
    model = M.NPLM(20, E, W, H, 1, 0.0, output_layer="adaptive", cutoffs=[4, 10], div_value=2.0, global_window=G)
    assert model.context_size == G + W and model.first_layer.linear.in_features == (W + 1) * E
    x = torch.randint(0, 20, (6, G + W))  # far words first, the local window last
    block = model.first_layer
    emb = block.embeddings.weight.detach()
    concat = torch.cat([emb[x[:, G:]].reshape(6, W * E), emb[x[:, :G]].mean(1)], dim=1)  # (B, (W+1)*E)
    expected = block.layer_norm(torch.tanh(block.linear(concat)))
    torch.testing.assert_close(block(x), expected)
    torch.testing.assert_close(model(x[0]), model(x[:1]))  # one window (G+W,) as generation passes it
    tok = tiny_tokenizer()
    model = M.NPLM(tok.vocab_size, E, W, H, 1, 0.0, output_layer="adaptive", cutoffs=[4], global_window=G)
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
    block = M.NPLMFirstBlock(20, 4, 2, 8, 0.0, global_window=4, global_chunks=2, global_dropout_p=0.5)
    emb = block.embeddings.weight.detach()
    far = torch.tensor([[-1, 5, 6, 7], [-1, -1, 3, 3]])  # (B, G): -1 = before the prompt
    block.eval()
    got = block.global_context(far)  # (B, C*E)
    torch.testing.assert_close(got[0], torch.cat([emb[5], (emb[6] + emb[7]) / 2]))
    torch.testing.assert_close(got[1], torch.cat([torch.zeros(4), emb[3]]))  # an empty chunk gives zeros
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
    assert model.windows == [[-1, -1, -1, eos, 1]]  # the local window is padded with <eos>, as in training


def test_global_context_checkpoint_round_trip_and_flops(tmp_path):
    model = M.NPLM(20, 4, 3, 8, 1, 0.0, output_layer="full", global_window=5)
    utils.atomic_save(M.make_checkpoint(model, tiny_tokenizer()), tmp_path / "g.pt")
    loaded, _, _ = M.load_checkpoint(tmp_path / "g.pt")
    x = torch.randint(0, 20, (3, 8))
    model.eval()
    torch.testing.assert_close(loaded(x), model(x))
    assert M.train_flops_per_token(model)["macs"]["first"] == 4 * 4 * 8  # (W + 1) * E * H


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
    batches = M.WindowBatches(stream, 3, tok.pad_token_id, 8, shuffle=True, generator=torch.Generator().manual_seed(0))
    dev = M.WindowBatches(stream, 3, tok.pad_token_id, 64)
    extra = {}
    hist = M.train(model, batches, dev, nn.NLLLoss(), torch.optim.Adam(model.parameters(), lr=1e-2), None, 3,
                   tmp_path / "m.pt", print_every=0, log=lambda *a: None, ema_decay=0.9, extra_history=extra,
                   checkpoint_extra={"tokenizer": tok.to_dict()})
    assert len(extra["dev_ppl_last_iterate"]) == 3
    assert extra["dev_ppl_last_iterate"][-1] != pytest.approx(hist[3][-1])  # the average is not the last iterate
    saved, _, ckpt = M.load_checkpoint(tmp_path / "m.pt")
    best = min(range(3), key=lambda i: hist[3][i])
    assert ckpt["epoch"] == best
    _, ppl = M.evaluate(saved, dev, nn.NLLLoss())
    assert ppl == pytest.approx(hist[3][best], rel=1e-5)  # the checkpoint holds the averaged weights


# --------------------------------------------------------------------------- generation
def test_top_p_filter_matches_brute_force():
    torch.manual_seed(3)
    lp = torch.log_softmax(torch.randn(2, 12), -1)
    for p in (0.0, 0.1, 0.3, 0.7, 0.95, 1.0):
        out = M.top_p_filter(lp, p)
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
        M.top_p_filter(lp, 1.5)


def test_greedy_equals_top_p_zero_and_sampling_is_seedable(capsys):
    tok = tiny_tokenizer()
    model = tiny_model(vocab_size=tok.vocab_size, output_layer="adaptive")
    greedy = M.generate_text("the cat", model, tok, 3, top_p=None, max_len=8)
    assert "Generated text:" in capsys.readouterr().out
    assert M.generate_text("the cat", model, tok, 3, top_p=0, max_len=8, verbose=False) == greedy
    assert M.generate_text("the cat", model, tok, 3, top_p=0.0, max_len=8, verbose=False) == greedy
    a = M.generate_text("the cat", model, tok, 3, 1.0, 8, generator=torch.Generator().manual_seed(5), verbose=False)
    b = M.generate_text("the cat", model, tok, 3, 1.0, 8, generator=torch.Generator().manual_seed(5), verbose=False)
    assert a == b and a.startswith("the cat") and len(a.split()) == 10
    # a prompt shorter than the window, with an unknown word, still works
    out = M.generate_text("zebra", model, tok, 3, top_p=0.5, max_len=2, verbose=False)
    assert out.split()[0] == "<unk>" and len(out.split()) == 3


@pytest.mark.parametrize("bad", [-0.1, 1.01, 2, True])
def test_top_p_out_of_range_is_an_error(bad):
    tok = tiny_tokenizer()
    with pytest.raises(ValueError):
        M.generate_text("the", tiny_model(vocab_size=tok.vocab_size), tok, 3, top_p=bad, verbose=False)


def test_other_bad_inputs(tmp_path):
    with pytest.raises(ValueError):
        M.NPLM(10, 4, 3, 8, 1, 0.0, output_layer="hierarchical")
    with pytest.raises(ValueError):
        M.WordTokenizer(["a", "b"])  # no <unk> / <eos>
    with pytest.raises(ValueError):
        M.WordTokenizer(["<unk>", "<eos>", "a", "a"])
    with pytest.raises(FileNotFoundError):
        M.load_checkpoint(tmp_path / "missing.pt")
    torch.save({"state_dict": {}}, tmp_path / "other.pt")
    with pytest.raises(ValueError):
        M.load_checkpoint(tmp_path / "other.pt")
    with pytest.raises(utils.DataNotFoundError):
        M.load_data_mlp_lm(data_dir=tmp_path)
    with pytest.raises(ValueError):
        M.LMConfig.preset("huge")
    with pytest.raises(ValueError):
        M.evaluate(tiny_model(), [], nn.NLLLoss())


# --------------------------------------------------------------------------- checkpoints, configs, runs
def test_checkpoint_and_tokenizer_round_trip(tmp_path):
    tok = tiny_tokenizer()
    model = tiny_model(vocab_size=tok.vocab_size, output_layer="adaptive").eval()
    cfg = M.LMConfig(local_window_size=3)
    path = utils.atomic_save(M.make_checkpoint(model, tok, cfg, epoch=2, dev_ppl=12.5), tmp_path / "c.pt")
    model2, tok2, ckpt = M.load_checkpoint(path)  # weights_only=True inside
    assert tok2.ids_to_tokens == tok.ids_to_tokens
    assert ckpt["config"]["local_window_size"] == 3 and ckpt["epoch"] == 2
    x = torch.randint(0, tok.vocab_size, (4, 3))
    torch.testing.assert_close(model2(x), model(x))
    assert M.generate_text("the cat", model2, tok2, 3, None, 5, verbose=False) == \
        M.generate_text("the cat", model, tok, 3, None, 5, verbose=False)


def test_course_style_config_without_new_fields():
    course = SimpleNamespace(embed_dim=8, hidden_dim=16, num_blocks=2, dropout_p=0.1, local_window_size=3,
                             batch_size=4, lr=1e-3, num_epochs=1, decay=0.99, save_path="x.pt")
    model = M.build_model(course, 50)
    assert model.output_layer == M.LMConfig().output_layer and len(model.intermediate_layers) == 2
    assert M.config_to_dict(course)["hidden_dim"] == 16


def _write_tiny_wikitext(root: Path) -> Path:
    d = root / "wikitext-2"
    d.mkdir(parents=True)
    words = "the cat sat on a mat and dog ate log in house by river with tree".split()
    g = torch.Generator().manual_seed(0)

    def lines(n):
        out = []
        for i in range(n):
            k = int(torch.randint(0, 12, (1,), generator=g))
            out.append(" " + " ".join(words[int(j)] for j in torch.randint(0, len(words), (k,), generator=g)) + " ")
        return "\n".join(out) + "\n"

    for name, n in ((M.TRAIN_FILE, 300), (M.VALID_FILE, 60), (M.TEST_FILE, 60)):
        with gzip.open(d / name, "wt", encoding="utf-8") as f:
            f.write(lines(n))
    return root


def test_main_lm_quick_and_main_sample_on_tiny_data(tmp_path, capsys):
    data = _write_tiny_wikitext(tmp_path / "data")
    args = Namespace(data_dir=data, out_dir=tmp_path / "out", ckpt_dir=tmp_path / "ck", quick=True, seed=1,
                     device=None, config="default", epochs=None, output_layer=None)
    report = M.main_lm(args)
    for name in ("mlp_lm_quick_loss.png", "mlp_lm_quick_ppl.png", "mlp_lm_quick.json"):
        assert (tmp_path / "out" / name).is_file()
    assert report["best_dev_ppl"] == min(report["history"]["dev_ppl"])
    assert math.isclose(report["history"]["dev_ppl"][0], math.exp(report["history"]["dev_loss"][0]))
    assert set(report["samples"]) == {"greedy", "top_p=0.0", "top_p=0.3", "top_p=1.0"}
    sample_args = Namespace(data_dir=data, ckpt_dir=tmp_path / "ck", checkpoint=tmp_path / "ck" / "mlp_lm_quick.pt",
                            seed=1, prompt="the cat", top_p=None, max_len=5)
    out = M.main_sample(sample_args)
    assert out["dev_ppl"] > 1 and set(out["samples"]) == {"greedy", "top_p=0.3", "top_p=1.0"}
    assert "Generated text: the cat" in capsys.readouterr().out


def test_main_lm_flags_override_the_preset(tmp_path):
    data = _write_tiny_wikitext(tmp_path / "data")
    args = Namespace(data_dir=data, out_dir=tmp_path / "out", ckpt_dir=tmp_path / "ck", quick=True, seed=1,
                     device=None, config="default", epochs=1, output_layer=None, window=3, global_window=0,
                     ema_decay=0.0)
    report = M.main_lm(args)
    cfg = report["config"]
    assert (cfg["local_window_size"], cfg["global_window"], cfg["ema_decay"], cfg["num_epochs"]) == (3, 0, 0.0, 1)
    assert "dev_ppl_last_iterate" not in report["history"]  # no average, nothing to compare
    model, _, _ = M.load_checkpoint(tmp_path / "ck" / "mlp_lm_quick.pt")
    assert model.context_size == 3


# --------------------------------------------------------------------------- continuous cache
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
    log_probs = torch.log_softmax(torch.randn(T, 6, generator=g), 1).gather(1, stream[:, None]).squeeze(1)
    thetas, lambdas = [0.0, 0.3, 2.0], [0.0, 0.1, 0.5]
    for L, block in ((4, 8), (10, 5), (100, 1024)):  # blocks smaller and larger than the cache
        grid = M.continuous_cache_nll(features, log_probs, stream, L, thetas, lambdas, block=block)
        ref = torch.tensor([[_naive_cache_nll(features, log_probs, stream, L, th, la) for la in lambdas]
                            for th in thetas], dtype=torch.float64)
        torch.testing.assert_close(grid, ref, rtol=1e-6, atol=1e-9)
    assert math.isclose(grid[1, 0].item(), -log_probs.double().mean().item(), rel_tol=1e-12)  # lambda 0: the model


def test_continuous_cache_only_looks_back():
    # Change a token: the scores of earlier targets must not move (nothing is read from the future).
    g = torch.Generator().manual_seed(1)
    T = 30
    stream = torch.randint(0, 4, (T,), generator=g)
    features, log_probs = torch.randn(T, 3, generator=g), torch.full((T,), math.log(0.25))
    per_token = lambda s, f: [M.continuous_cache_nll(f[: t + 1], log_probs[: t + 1], s[: t + 1], 8, [1.0], [0.3],
                                                    block=7).item() * (t + 1) for t in range(T)]
    before = per_token(stream, features)
    stream2, features2 = stream.clone(), features.clone()
    stream2[20], features2[20] = (stream[20] + 1) % 4, torch.randn(3, generator=g)
    after = per_token(stream2, features2)
    assert before[:20] == pytest.approx(after[:20], rel=1e-12) and before[20] != pytest.approx(after[20])


def test_cache_lowers_perplexity_of_a_repetitive_text_for_a_uniform_model():
    stream = torch.tensor([3, 1, 4, 1, 5, 9, 2, 6] * 20)
    log_probs = torch.full((stream.numel(),), -math.log(10.0))  # a model that knows nothing: ppl 10
    features = torch.nn.functional.one_hot(torch.arange(stream.numel()) % 8, 8).float()  # position in the cycle
    grid = M.continuous_cache_nll(features, log_probs, stream, 50, [0.0, 5.0], [0.5])
    assert math.exp(grid[0, 0]) < 10 and math.exp(grid[1, 0]) < math.exp(grid[0, 0]) < 10


@pytest.mark.parametrize("kwargs", [dict(cache_size=0), dict(cache_size=2.5), dict(thetas=[-1.0]),
                                    dict(lambdas=[1.0]), dict(lambdas=[]), dict(thetas=[float("nan")])])
def test_cache_bad_arguments_are_errors(kwargs):
    args = {**dict(cache_size=5, thetas=[0.1], lambdas=[0.1]), **kwargs}
    stream = torch.arange(6)
    with pytest.raises(ValueError):
        M.continuous_cache_nll(torch.zeros(6, 2), torch.zeros(6), stream, args["cache_size"], args["thetas"],
                               args["lambdas"])


@pytest.mark.parametrize("output_layer", ["full", "adaptive"])
def test_features_and_log_probs_agree_with_evaluate_and_restore_mode(output_layer):
    model = tiny_model(output_layer=output_layer, dropout_p=0.3).train()
    stream = torch.randint(0, 20, (50,), generator=torch.Generator().manual_seed(2))
    features, log_probs = M.features_and_log_probs(model, stream, pad_id=0, batch_size=16)
    assert model.training and features.shape == (50, 8) and log_probs.shape == (50,)
    loss, _ = M.evaluate(model, M.WindowBatches(stream, 3, 0, 16), nn.NLLLoss())
    assert math.isclose(-log_probs.double().mean().item(), loss, rel_tol=1e-5)


def test_score_with_cache_tunes_on_dev_then_scores_test(tmp_path):
    data = _write_tiny_wikitext(tmp_path / "data")
    train, dev, test = M.load_data_mlp_lm(data, splits=("train", "validation", "test"))
    tok = M.WordTokenizer.from_texts(M._texts(train))
    model = tiny_model(vocab_size=tok.vocab_size, output_layer="adaptive")
    out = M.score_with_cache(model, tok, dev, test, cache_size=20, thetas=[0.0, 1.0], lambdas=[0.1, 0.3], log=print)
    grid = torch.tensor(out["grid_dev_ppl"])
    k, m = divmod(int(grid.argmin()), 2)
    assert (out["theta"], out["lambda"]) == ([0.0, 1.0][k], [0.1, 0.3][m])
    assert out["dev"]["cache_ppl"] == pytest.approx(grid.min().item())
    stream = M.encode_stream(test, tok)
    f, lp = M.features_and_log_probs(model, stream, tok.pad_token_id)
    expect = M.continuous_cache_nll(f, lp, stream, 20, [out["theta"]], [out["lambda"]]).exp().item()
    assert out["test"]["cache_ppl"] == pytest.approx(expect) and out["test"]["targets"] == stream.numel()


def test_main_cache_and_lm_cache_flag_on_tiny_data(tmp_path):
    data = _write_tiny_wikitext(tmp_path / "data")
    args = Namespace(data_dir=data, out_dir=tmp_path / "out", ckpt_dir=tmp_path / "ck", quick=True, seed=1,
                     device=None, config="default", epochs=1, output_layer=None, cache_size=30)
    report = M.main_lm(args)
    assert report["cache"]["cache_size"] == 30 and report["cache"]["dev"]["model_ppl"] == pytest.approx(
        report["best_checkpoint_scores"]["dev"]["ppl"])
    out = M.main_cache(Namespace(data_dir=data, out_dir=tmp_path / "out", ckpt_dir=tmp_path / "ck", quick=True,
                                 checkpoint=None, cache_size=30))
    assert (tmp_path / "out" / "mlp_lm_quick_cache.json").is_file()
    assert out["dev"]["cache_ppl"] == pytest.approx(report["cache"]["dev"]["cache_ppl"])
    with pytest.raises(ValueError, match="cache_size"):
        M.main_cache(Namespace(data_dir=data, out_dir=tmp_path / "out", ckpt_dir=tmp_path / "ck", quick=True,
                               checkpoint=None, cache_size=0))


def test_keep_freed_memory_is_safe_to_call_twice():
    first, second = utils.keep_freed_memory(), utils.keep_freed_memory()
    assert first == second and isinstance(first, bool)
    x = torch.randn(3000, 3000)  # larger than glibc's default mmap threshold, now from the heap
    assert torch.isfinite(x.sum())


# --------------------------------------------------------------------------- fast training kernels
def test_bit_dropout_rate_scale_gradient_and_eval_identity():
    drop = M.BitDropout(0.2)
    assert isinstance(drop, nn.Dropout) and drop.p == 0.2
    x = torch.ones(512, 1024, requires_grad=True)
    torch.manual_seed(0)
    out = drop(x)
    dropped = round(0.2 * 65536)
    scale = 65536 / (65536 - dropped)
    kept = out != 0
    assert abs((~kept).float().mean().item() - dropped / 65536) < 0.003  # 524,288 draws: 4 sigma is 0.0022
    torch.testing.assert_close(out[kept], torch.full_like(out[kept], scale))
    g = torch.randn_like(out)
    out.backward(g)
    torch.testing.assert_close(x.grad, g * kept * scale)  # the gradient goes through the kept elements only
    torch.manual_seed(0)
    assert torch.equal(drop(x), out)  # same seed, same mask
    odd = torch.ones(3, 5, 7)  # a size that is not a multiple of 4
    assert drop(odd).shape == odd.shape
    assert drop.eval()(x) is x and M.BitDropout(0.0)(x) is x
    assert torch.equal(M.BitDropout(1.0)(odd), torch.zeros_like(odd))
    block = M.NPLMFirstBlock(20, 4, 3, 8, 0.3)
    assert isinstance(block.dropout, M.BitDropout) and block.dropout.p == 0.3


def test_softmax_nll_matches_cross_entropy_in_float64():
    torch.manual_seed(0)
    logits = (3 * torch.randn(7, 11, dtype=torch.float64)).requires_grad_()
    target = torch.randint(0, 11, (7,))
    upstream = torch.randn(7, dtype=torch.float64)
    ref_logits = logits.detach().clone().requires_grad_()
    ref = F.cross_entropy(ref_logits, target, reduction="none")
    got = M.softmax_nll(logits, target)
    torch.testing.assert_close(got, ref)
    (got * upstream).sum().backward()
    (ref * upstream).sum().backward()
    torch.testing.assert_close(logits.grad, ref_logits.grad)
    with torch.no_grad():
        torch.testing.assert_close(M.softmax_nll(logits, target), ref.detach())
    twice = (M.softmax_nll(logits, target) * upstream).sum()
    twice.backward(retain_graph=True)
    with pytest.raises(RuntimeError, match="once per forward"):
        twice.backward()  # would silently be wrong: the first backward overwrote the saved buffer


@pytest.mark.parametrize("targets", [[0, 3, 4, 9, 10, 19, 2, 12], [0, 1, 2, 3, 0, 1, 2, 3]])
def test_adaptive_nll_matches_the_modules_own_loss_in_float64(targets):
    torch.manual_seed(0)
    ours = nn.AdaptiveLogSoftmaxWithLoss(6, 20, [4, 10], div_value=2.0).double()
    ref = nn.AdaptiveLogSoftmaxWithLoss(6, 20, [4, 10], div_value=2.0).double()
    ref.load_state_dict(ours.state_dict())
    hidden = torch.randn(8, 6, dtype=torch.float64)
    targets = torch.tensor(targets)  # the second case leaves both tails empty
    expected = ref(hidden, targets)
    torch.testing.assert_close(M.adaptive_nll(ours, hidden, targets, reduction="none"), -expected.output)
    torch.testing.assert_close(M.adaptive_nll(ours, hidden, targets, reduction="sum"), expected.loss * 8)
    loss = M.adaptive_nll(ours, hidden, targets)
    torch.testing.assert_close(loss, expected.loss)
    loss.backward()
    expected.loss.backward()
    for (name, p), q in zip(ours.named_parameters(), ref.parameters()):
        assert (p.grad is None) == (q.grad is None), name
        if p.grad is not None:
            torch.testing.assert_close(p.grad, q.grad, msg=name)
    with pytest.raises(ValueError, match="reduction"):
        M.adaptive_nll(ours, hidden, targets, reduction="max")
    with pytest.raises(ValueError, match=r"word ids in \[0, 20\)"):
        M.adaptive_nll(ours, hidden, torch.full((8,), 20))


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
    block = M.NPLMFirstBlock(30, 4, 2, 8, 0.0, global_window=4, global_chunks=2, global_dropout_p=0.5)
    near, far = torch.randint(0, 30, (300, 2)), torch.randint(0, 30, (300, 4))
    with torch.no_grad():
        train_out = block.train().context_vectors(near, far)
        eval_out = block.eval().context_vectors(near, far)
    torch.testing.assert_close(train_out[:, :8], eval_out[:, :8])  # local words untouched
    zeroed = (train_out[:, 8:] == 0).all(1)
    torch.testing.assert_close(train_out[~zeroed], eval_out[~zeroed])  # kept rows are not rescaled
    assert 0.35 < zeroed.float().mean() < 0.65
