"""Where the language model trains: the device choice, bf16 autocast, and torchrun with
DistributedDataParallel (2 gloo processes on the CPU, checked against one process with the same
global batch). Tests that need a GPU skip with a reason on machines without one."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn as nn

from nplm import kernels as lm_kernels
import mlp_lm
from lm.config import LMRunConfig
from lm.train import build_model, fit_mlp_lm
import utils

REPO = Path(__file__).resolve().parents[2]


def test_auto_picks_cuda_then_mps_then_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert utils.get_device("auto") == utils.get_device(None) == torch.device("cpu")
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    assert utils.get_device("auto") == torch.device("mps")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert utils.get_device("auto") == torch.device("cuda")
    assert utils.get_device("cuda:0") == torch.device("cuda:0")
    with pytest.raises(ValueError, match="'cuda:1': no such CUDA device"):
        utils.get_device("cuda:1")


@pytest.mark.parametrize(
    "name, message",
    [
        ("cuda", "no such CUDA device"),
        ("mps", "no MPS device"),
        ("tpu", "unknown device"),
        ("gpu0", "unknown device"),
    ],
)
def test_a_device_that_is_not_here_is_refused(monkeypatch, name, message):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    with pytest.raises(ValueError, match=message):
        utils.get_device(name)


def test_the_cpu_kernel_is_chosen_on_a_cpu_only():
    config = LMRunConfig(embed_dim=4, hidden_dim=8, local_window_size=3, num_blocks=1, fast=True)
    on_cpu, elsewhere = (
        build_model(config, 30, "cpu"),
        build_model(config, 30, "meta"),
    )
    assert {type(m) for m in on_cpu.modules() if isinstance(m, nn.Dropout)} == {
        lm_kernels.BitDropout
    }
    # a GPU's own kernel
    assert {type(m) for m in elsewhere.modules() if isinstance(m, nn.Dropout)} == {nn.Dropout}
    assert next(elsewhere.parameters()).device.type == "meta"
    cpu_state = {k: v for k, v in on_cpu.state_dict().items()}
    assert list(cpu_state) == list(elsewhere.state_dict())  # the same checkpoint either way


def test_bf16_autocast_runs_the_forward_in_bfloat16_and_keeps_the_loss_in_float32(tmp_path):
    tok = mlp_lm.WordTokenizer.from_texts([" the cat sat on the mat . "] * 6)
    stream = mlp_lm.encode_stream([" the cat sat on the mat . "] * 6, tok)
    torch.manual_seed(0)
    model = mlp_lm.NPLM(tok.vocab_size, 8, 3, 16, 1, 0.0, output_layer="adaptive", cutoffs=[4])
    seen = []
    model.first_layer.linear.register_forward_hook(lambda m, i, out: seen.append(out.dtype))
    batches = mlp_lm.WindowBatches(stream, 3, tok.pad_token_id, 8)
    hist = mlp_lm.train(
        model,
        batches,
        batches,
        None,
        torch.optim.Adam(model.parameters(), 1e-2),
        None,
        2,
        tmp_path / "m.pt",
        print_every=0,
        options=mlp_lm.TrainOptions(log=lambda *a: None, precision="bf16"),
    )
    assert torch.bfloat16 in seen and all(map(lambda x: x == x and x < 1e3, hist[3]))
    logits = torch.randn(4, 7, dtype=torch.bfloat16, requires_grad=True)
    assert lm_kernels.softmax_nll(logits, torch.tensor([0, 1, 2, 3])).dtype == torch.float32


def _lm(args, cwd, env_extra=None):
    env = dict(os.environ, MPLBACKEND="Agg", OMP_NUM_THREADS="1", **(env_extra or {}))
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=180
    )


@pytest.mark.parametrize("machine", ["cpu", "1 gpu"])
def test_two_gloo_processes_train_the_weights_of_one_process_with_the_same_global_batch(
    tiny_data_dir, tmp_path, machine
):
    """On a CPU machine, and on a simulated machine with one GPU (tests/gpu_sim): two processes
    cannot each have a GPU there, so both train on the CPU with gloo (before this was handled, rank
    1 asked for GPU 1 and crashed)."""
    common = [
        "lm",
        "--quick",
        "--data-dir",
        str(tiny_data_dir),
        "--dropout",
        "0",
        "--global-window",
        "0",
        "--epochs",
        "2",
        "--cache-size",
        "0",
    ]
    one = _lm(
        [
            str(REPO / "main.py"),
            *common,
            "--device",
            "cpu",
            "--out-dir",
            "one",
            "--ckpt-dir",
            "one",
        ],
        tmp_path,
    )
    assert one.returncode == 0, one.stderr[-2000:]
    sim = (
        {}
        if machine == "cpu"
        else {
            "PYTHONPATH": os.pathsep.join(
                [str(REPO / "tests" / "gpu_sim"), str(REPO), os.environ.get("PYTHONPATH", "")]
            ),
            "HW3_SIM_GPUS": "1",
            "HW3_SIM_LOG": str(tmp_path / "sim.jsonl"),
        }
    )
    # a real GPU machine
    cpu = ["--device", "cpu"] if machine == "cpu" and torch.cuda.is_available() else []
    two = _lm(
        [
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node=2",
            str(REPO / "main.py"),
            *common,
            *cpu,
            "--out-dir",
            "two",
            "--ckpt-dir",
            "two",
        ],
        tmp_path,
        sim,
    )
    assert two.returncode == 0, two.stdout[-2000:] + two.stderr[-3000:]
    if sim:  # no set_device, no CUDA; a gloo group in each process; the choice said once
        events = [json.loads(line) for line in (tmp_path / "sim.jsonl").read_text().splitlines()]
        assert sorted((e["event"], e.get("backend"), e["rank"]) for e in events) == [
            ("init_process_group", "gloo", 0),
            ("init_process_group", "gloo", 1),
        ]
        assert two.stdout.count("2 processes on this machine but 1 GPU(s)") == 1
    a, b = (torch.load(tmp_path / d / "mlp_lm_quick.pt", weights_only=True) for d in ("one", "two"))
    assert list(a) == list(b)
    for (
        key
    ) in a:  # the checkpoint of the 2-process run loads in one process, and holds the same weights
        torch.testing.assert_close(b[key], a[key], rtol=1e-4, atol=1e-4, msg=key)
    ra, rb = (json.loads((tmp_path / d / "mlp_lm_quick.json").read_text()) for d in ("one", "two"))
    assert (ra["processes"], rb["processes"], ra["global_batch_size"]) == (
        1,
        2,
        rb["global_batch_size"],
    )
    for split in ("dev", "test"):  # sums of loss and counts over both processes: every target once
        assert (
            rb["best_checkpoint_scores"][split]["targets"]
            == ra["best_checkpoint_scores"][split]["targets"]
        )
        assert rb["best_checkpoint_scores"][split]["loss"] == pytest.approx(
            ra["best_checkpoint_scores"][split]["loss"], rel=1e-5
        )
    assert rb["history"]["dev_ppl"] == pytest.approx(ra["history"]["dev_ppl"], rel=1e-5)
    # rank 0 alone speaks
    assert two.stdout.count("; wall time") == 1 and two.stdout.count("Load Dataset") == 1


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU; this machine has none")
def test_a_gpu_run_trains_on_the_gpu_and_its_checkpoint_loads_on_a_cpu(tiny_data_dir, tmp_path):
    result = _lm(
        [
            str(REPO / "main.py"),
            "lm",
            "--quick",
            "--device",
            "cuda",
            "--data-dir",
            str(tiny_data_dir),
            "--out-dir",
            "o",
            "--ckpt-dir",
            "o",
            "--epochs",
            "1",
        ],
        tmp_path,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads((tmp_path / "o" / "mlp_lm_quick.json").read_text())
    assert report["device"].startswith("cuda")
    model, _, _ = mlp_lm.load_checkpoint(tmp_path / "o" / "mlp_lm_quick.pt")
    assert next(model.parameters()).device.type == "cpu"


def test_auto_on_a_cpu_machine_gives_the_numbers_of_cpu(tiny_data_dir, tmp_path):
    train, dev = mlp_lm.load_data_mlp_lm(tiny_data_dir)
    base = LMRunConfig.preset("quick", num_epochs=1, save_path=str(tmp_path / "m.pt"), cache_size=0)
    a = fit_mlp_lm(dataclasses.replace(base, device="cpu"), train, dev, log=lambda *x: None)
    b = fit_mlp_lm(
        dataclasses.replace(base, device="auto" if not torch.cuda.is_available() else "cpu"),
        train,
        dev,
        log=lambda *x: None,
    )
    assert a.report["history"] == b.report["history"]
