"""Which train file a language-model run reads, and what a resumed run records of its training
time."""

from __future__ import annotations

import json
import shutil
import time

import torch
import torch.nn as nn

import main
import mlp_lm
from conftest import write_wikitext
from nplm.corpus import WindowBatches, WordTokenizer, encode_stream

LINES = [" the cat sat on the mat . ", " a dog ran to the cat . "] * 8


def test_full_train_reads_the_whole_file_and_names_its_files_apart(tiny_data_dir, tmp_path):
    """`lm --full-train` trains on wiki.train.tokens.gz, not the prefix: its train token count is
    the whole file's, its files are mlp_lm_quick_fulltrain.*, its JSON names the file it read."""
    data = tmp_path / "data"
    shutil.copytree(tiny_data_dir, data)
    write_wikitext(data / "wikitext-2" / "wiki.train.tokens.gz", 600, seed=7)
    common = ["lm", "--quick", "--data-dir", str(data), "--ckpt-dir", str(tmp_path / "ck")]
    assert main.main([*common, "--out-dir", str(tmp_path / "prefix")]) == 0
    assert main.main([*common, "--out-dir", str(tmp_path / "full"), "--full-train"]) == 0
    prefix = json.loads((tmp_path / "prefix" / "mlp_lm_quick.json").read_text())
    full = json.loads((tmp_path / "full" / "mlp_lm_quick_fulltrain.json").read_text())
    assert prefix["train_file"] == "wiki.train.tokens.partial.gz"
    assert full["train_file"] == "wiki.train.tokens.gz"
    assert full["train_tokens"] > prefix["train_tokens"]
    assert (tmp_path / "ck" / "mlp_lm_quick_fulltrain.pt").is_file()
    assert not (tmp_path / "full" / "mlp_lm_quick.json").exists()


def _run(tmp_path, epochs, resume=None):
    torch.manual_seed(0)
    tok = WordTokenizer.from_texts(LINES)
    stream = encode_stream(LINES, tok)
    model = mlp_lm.NPLM(tok.vocab_size, 8, 3, 16, 1, 0.0)
    gen = torch.Generator().manual_seed(0)
    batches = WindowBatches(stream, 3, tok.pad_token_id, 8, shuffle=gen)
    options = mlp_lm.TrainOptions(
        log=lambda *a: None, state_path=str(tmp_path / "s.pt"), resume=resume
    )
    return mlp_lm.train_run(
        model,
        (batches, WindowBatches(stream, 3, tok.pad_token_id, 64)),
        nn.NLLLoss(),
        (torch.optim.Adam(model.parameters(), 1e-2), None),
        mlp_lm.TrainPlan(epochs, tmp_path / "m.pt", 0, options),
    )


def test_a_resumed_run_keeps_the_training_time_of_the_run_it_resumes(tmp_path):
    """The state after each epoch holds the training time so far; a run resumed from it adds its own
    epochs' time to that, and records the epoch after which it went on."""
    first = _run(tmp_path, 2)
    state = torch.load(tmp_path / "s.pt", weights_only=True)
    assert state["train_seconds"] == first.train_seconds > 0 and state["resumed_after"] == []
    state["train_seconds"] = 1000.0  # as if the first run had trained for 1,000 s
    started = time.perf_counter()
    again = _run(tmp_path, 4, resume=state)
    took = time.perf_counter() - started
    assert again.resumed_after == [1] and len(again.history.dev_ppl) == 4
    assert 1000.0 < again.train_seconds <= 1000.0 + took
    assert again.history.dev_ppl[:2] == first.history.dev_ppl
