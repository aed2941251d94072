"""benchmarks/lm_speed.py's profile of training steps, on a tiny model (no shared data)."""

from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from benchmarks import lm_speed as benchmark_lm  # noqa: E402
import mlp_lm as M  # noqa: E402
from lm.config import LMRunConfig  # noqa: E402


def test_profile_steps_reports_per_step_operator_times():
    torch.manual_seed(0)
    model = M.NPLM(30, 4, 3, 16, 1, 0.1, output_layer="adaptive", cutoffs=[10, 20])
    stream = torch.randint(0, 30, (500,))
    loader = M.WindowBatches(stream, model.context_size, 0, 64, shuffle=torch.Generator())
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    calls = []

    def step(inp, target):
        calls.append(target.numel())
        loss = model.nll(inp, target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss

    out = benchmark_lm.profile_steps(step, loader, steps=3, top=100)
    assert len(calls) == 4 and out["steps"] == 3  # one warm-up step, three profiled
    ops = out["self_ms_per_step"]
    assert 0 < len(ops) <= 100 and all(v >= 0 for v in ops.values())
    assert list(ops.values()) == sorted(ops.values(), reverse=True)
    assert sum(ops.values()) <= out["total_ms_per_step"] + 1e-9
    assert any(name in ops for name in ("aten::mm", "aten::addmm"))


def test_cutoff_products_times_head_and_first_tail_of_each_choice():
    out = benchmark_lm.cutoff_products(
        cutoff_sets=((10, 40), (12, 38)),
        hidden=16,
        div_value=4.0,
        batch=32,
        tail_share=0.25,
        repeats=2,
    )
    assert set(out) == {"10,40", "12,38"}
    assert out["10,40"]["head"]["shape_mkn"] == [32, 16, 12]  # 10 words + 2 cluster tokens
    assert out["12,38"]["first_tail"]["shape_mkn"] == [8, 4, 26]
    for parts in out.values():
        for v in parts.values():
            assert v["forward_ms"] > 0 and v["forward_backward_ms"] > 0
            assert v["forward_gflops"] > 0 and v["forward_backward_gflops"] > 0


def test_the_pipelines_train_on_tiny_data_and_the_course_one_is_the_course_model():
    import dataclasses

    lines = [" the cat sat on the mat and the dog sat on the log . "] * 30
    tok = M.WordTokenizer.from_texts(lines)
    stream = M.encode_stream(lines, tok)
    cfg = dataclasses.replace(
        LMRunConfig.preset("quick"), batch_size=32, eval_batch_size=64, global_window=4
    )
    out = {
        kind: benchmark_lm.run_pipeline(
            kind,
            cfg,
            benchmark_lm.BenchData(tok, lines, stream, stream[:100]),
            benchmark_lm.BenchRun(budget_s=0.2, seed=0),
        )
        for kind in ("ours", "ours_full", "course")
    }
    assert (
        out["ours"]["output_layer"],
        out["ours_full"]["output_layer"],
        out["course"]["output_layer"],
    ) == ("adaptive", "full", "full")
    for result in out.values():
        assert (
            result["steps"] >= 1
            and result["tokens_per_second_median"] > 0
            and result["dev_ppl"] > 1
        )
    # the course's model has no global context: fewer inputs to its first layer than ours
    assert out["course"]["train_flops_per_token"] < out["ours_full"]["train_flops_per_token"]


def test_processes_against_threads_writes_both_rates(tiny_data_dir, tmp_path):
    from argparse import Namespace

    args = Namespace(
        processes=2, steps=2, repeats=1, data_dir=tiny_data_dir, out=tmp_path / "p.json"
    )
    report = benchmark_lm.processes_against_threads(args, threads=2, command="test")
    assert list(report["median_tokens_per_second"]) == [
        "1 process x 2 threads",
        "2 processes x 1 thread(s)",
    ]
    assert all(v > 0 for v in report["median_tokens_per_second"].values())
    one, two = report["median_tokens_per_second"].values()
    assert report["ratio_processes_vs_threads"] == two / one and (tmp_path / "p.json").is_file()
