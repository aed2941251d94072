"""The console counts the language model's epochs from 1, as the run's summary (best_epoch), the
plots and the docs do (issue 36, point 9)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import torch
import torch.nn as nn

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
import mlp_lm as M  # noqa: E402
from nplm.bookkeeping import TrainOptions  # noqa: E402
from nplm.corpus import WindowBatches  # noqa: E402


def test_the_training_loop_prints_epochs_1_to_n(monkeypatch):
    torch.manual_seed(0)
    model = M.NPLM(20, 4, 2, 8, 0, 0.0)
    stream = torch.randint(1, 20, (60,), generator=torch.Generator().manual_seed(1))
    lines, descs = [], []
    real_progress = M.utils.progress

    def progress(iterable, **kwargs):
        descs.append(kwargs.get("desc"))
        return real_progress(iterable, **kwargs)

    monkeypatch.setattr(M.utils, "progress", progress)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    batches = WindowBatches(stream, 2, 0, 30)
    M.train(model, batches, batches, nn.NLLLoss(), optimizer, None, 2, None, 0,
            TrainOptions(log=lines.append))  # fmt: skip
    said = [int(n) for line in lines for n in re.findall(r"Epoch (\d+): (?:Training|Evaluation)",
                                                          line)]  # fmt: skip
    assert said == [1, 1, 2, 2]
    assert descs == ["epoch 1", "epoch 2"]
    # every line that names an epoch: training, evaluation, the epoch's losses, a new best
    named = {int(n) for line in lines for n in re.findall(r"[Ee]poch (\d+)", line)}
    assert named == {1, 2}, lines
