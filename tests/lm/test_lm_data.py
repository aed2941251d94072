"""Tests of nplm/corpus.py alone: the word tokenizer, the token stream, windows and the target-count
rule."""

from __future__ import annotations

import gzip

import pytest
import torch

from nplm import corpus as D
from common import datafiles

TINY_LINES = [
    " = Title = ",
    " ",
    " the cat sat on the mat . ",
    " the dog sat on the log . ",
    " ",
    " a <unk> ran . ",
]


def tiny_tokenizer():
    return D.WordTokenizer.from_texts(TINY_LINES)


def test_tokenizer_vocab_by_frequency_and_hf_interface():
    tok = tiny_tokenizer()
    vocab = tok.ids_to_tokens
    assert vocab[0] == "<eos>"  # one per line: the most frequent
    assert vocab[1] == "the"
    assert (
        tok.convert_tokens_to_ids("zebra") == tok.unk_token_id == tok.convert_tokens_to_ids("<unk>")
    )
    assert tok.convert_tokens_to_ids(["the", "zebra"]) == [1, tok.unk_token_id]
    assert tok.convert_ids_to_tokens(torch.tensor([1, 0])) == ["the", "<eos>"]
    assert tok.tokenize(" a  b ") == ["a", "b"]
    assert tok.vocab_size == len(set(" ".join(TINY_LINES).split())) + 1  # + <eos>
    assert (
        tok.convert_tokens_to_string(["1", "@,@", "000", "well", "@-@", "known", "3", "@.@", "5"])
        == "1,000 well-known 3.5"
    )
    again = D.WordTokenizer.from_dict(tok.to_dict())
    assert again.ids_to_tokens == tok.ids_to_tokens and again.unk_token == "<unk>"


def test_windows_and_targets_on_tiny_text():
    tok = D.WordTokenizer(["<eos>", "<unk>", "a", "b", "c"])
    ds = D.preprocess_data({"text": [" a b ", " c "]}, 2, None, tok)
    x, y = ds.tensors
    # stream: a b <eos> c <eos> = 2 3 0 4 0; context padded with <eos> (0)
    assert y.tolist() == [2, 3, 0, 4, 0]
    assert x.tolist() == [[0, 0], [0, 2], [2, 3], [3, 0], [0, 4]]
    batches = list(D.WindowBatches(torch.tensor([2, 3, 0, 4, 0]), 2, 0, batch_size=2))
    assert torch.equal(torch.cat([b[0] for b in batches]), x) and torch.equal(
        torch.cat([b[1] for b in batches]), y
    )
    shuffled = list(
        D.WindowBatches(y, 2, 0, batch_size=2, shuffle=torch.Generator().manual_seed(0))
    )
    pairs = sorted((tuple(c.tolist()), t.item()) for bx, by in shuffled for c, t in zip(bx, by))
    assert pairs == sorted((tuple(c), t) for c, t in zip(x.tolist(), y.tolist()))


def test_target_count_rule_every_token_plus_one_eos_per_line():
    tok = tiny_tokenizer()
    ds = D.preprocess_data({"text": TINY_LINES}, 4, None, tok)
    n_words = sum(len(line.split()) for line in TINY_LINES)
    assert len(ds) == n_words + len(TINY_LINES)  # empty lines contribute their <eos>


def test_real_valid_split_has_217646_targets():
    try:
        path = datafiles.data_path(D.WIKITEXT_DIR, D.VALID_FILE)
    except datafiles.DataNotFoundError as err:
        pytest.skip(f"WikiText-2 validation file not available: {err}")
    with gzip.open(path, "rt", encoding="utf-8") as f:
        lines = f.read().split("\n")[:-1]  # the file ends with a newline
    tok = D.WordTokenizer.from_texts(lines)
    assert len(D.preprocess_data({"text": lines}, 6, None, tok)) == 217_646


def test_bad_tokenizers_and_missing_data_are_errors(tmp_path):
    with pytest.raises(ValueError):
        D.WordTokenizer(["a", "b"])  # no <unk> / <eos>
    with pytest.raises(ValueError):
        D.WordTokenizer(["<unk>", "<eos>", "a", "a"])
    with pytest.raises(datafiles.DataNotFoundError):
        D.load_data_mlp_lm(data_dir=tmp_path)


def test_window_batches_split_between_processes_cover_every_target_once():
    stream = torch.arange(2, 39)  # 37 targets
    whole = D.WindowBatches(stream, 3, 0, 8)
    shards = [D.WindowBatches(stream, 3, 0, 8, rank=r, world=3) for r in range(3)]
    targets = torch.cat([t for shard in shards for _, t in shard])
    # contiguous blocks, in order
    assert targets.tolist() == torch.cat([t for _, t in whole]).tolist()
    contexts = torch.cat([c for shard in shards for c, _ in shard])
    # contexts reach across the blocks
    torch.testing.assert_close(contexts, torch.cat([c for c, _ in whole]))
    gen = lambda: torch.Generator().manual_seed(4)  # noqa: E731
    one = list(D.WindowBatches(stream, 3, 0, 8, shuffle=gen()))
    parts = [list(D.WindowBatches(stream, 3, 0, 8, shuffle=gen(), rank=r, world=2)) for r in (0, 1)]
    assert len(parts[0]) == len(parts[1]) == len(one)
    # each global batch split in two, nothing lost or doubled
    for (x, y), (x0, y0), (x1, y1) in zip(one, *parts):
        assert sorted(y.tolist()) == sorted(y0.tolist() + y1.tolist())
        assert abs(len(y0) - len(y1)) <= 1
    with pytest.raises(ValueError):
        D.WindowBatches(stream, 3, 0, 8, rank=2, world=2)
