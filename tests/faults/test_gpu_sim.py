"""Issue 19: where each process trains on a machine with GPUs, checked on a CPU.

A simulated GPU machine (tests/gpu_sim/sitecustomize.py on a subprocess's PYTHONPATH) makes torch
answer as a machine with 1 or 2 GPUs would, notes every set_device, process group and first use of
CUDA, and stops before anything would really touch CUDA. So CI, which has no GPU, sees the device
and backend each rank of torchrun chooses, the refusal of `--device cuda` with more processes than
GPUs, and that a sweep's runs on a GPU never use CUDA from a forked worker. The tests that need a
real GPU skip with a reason on machines without one.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import mlp
from sweeps import run as sweep_run
from common import worker_pool
import utils

REPO = Path(__file__).resolve().parents[2]
SIM = Path(__file__).resolve().parents[1] / "gpu_sim"
# seconds for one subprocess: a stuck one fails the test, well inside the per-test limit
TIMEOUT = 180


def simulated(tmp_path: Path, gpus: int, stop_at_init: bool = False, **extra) -> dict:
    """The environment of a process on a simulated machine with `gpus` GPUs; notes go to
    tmp_path/sim.jsonl."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE")
    }
    env.update(
        # keep the caller's
        PYTHONPATH=os.pathsep.join([str(SIM), str(REPO), os.environ.get("PYTHONPATH", "")]),
        HW3_SIM_GPUS=str(gpus),
        HW3_SIM_LOG=str(tmp_path / "sim.jsonl"),
        MPLBACKEND="Agg",
        OMP_NUM_THREADS="1",
        HW3_CACHE_DIR=str(tmp_path / "cache"),
        **extra,
    )
    if stop_at_init:
        env["HW3_SIM_STOP_AT_INIT"] = "1"
    return env


def notes(tmp_path: Path) -> list:
    path = tmp_path / "sim.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def per_rank(tmp_path: Path) -> dict:
    """{rank: (set_device indexes, process-group backends)} from the simulation's notes."""
    out: dict = {}
    for note in notes(tmp_path):
        devices, backends = out.setdefault(note["rank"], ([], []))
        if note["event"] == "set_device":
            devices.append(note["index"])
        elif note["event"] == "init_process_group":
            backends.append(note["backend"])
    return out


def torchrun(nproc: int, args: list, tmp_path: Path, env: dict):
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            f"--nproc_per_node={nproc}",
            str(REPO / "main.py"),
            *args,
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )


# --------------------------------------------------------------------------- the decision, in this
# process
@pytest.mark.parametrize(
    "requested, local_rank, nproc, gpus, device, backend",
    [
        ("auto", 0, 1, 0, "cpu", "gloo"),
        ("auto", 0, 1, 1, "cuda", "nccl"),
        # a one-GPU machine under `torchrun --nproc_per_node=2`
        (
            "auto",
            1,
            2,
            1,
            "cpu",
            "gloo",
        ),
        ("auto", 1, 2, 2, "cuda:1", "nccl"),
        ("auto", 2, 3, 2, "cpu", "gloo"),
        (None, 1, 2, 0, "cpu", "gloo"),
        ("cpu", 1, 2, 2, "cpu", "gloo"),
        ("cuda", 1, 2, 2, "cuda:1", "nccl"),
        ("cuda", 0, 1, 1, "cuda", "nccl"),
    ],
)
def test_each_process_gets_a_gpu_of_its_own_or_the_cpu(
    requested, local_rank, nproc, gpus, device, backend, monkeypatch
):
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    chosen, chosen_backend, message = utils.choose_device(requested, local_rank, nproc, gpus)
    assert (str(chosen), chosen_backend) == (device, backend)
    assert message and "\n" not in message
    if gpus and device == "cpu" and requested in ("auto", None):
        assert f"but {gpus} GPU(s)" in message and "gloo" in message


@pytest.mark.parametrize(
    "requested, local_rank, nproc, gpus, needle",
    [
        ("cuda", 1, 2, 1, "2 processes on this machine (LOCAL_WORLD_SIZE) but 1 GPU(s)"),
        ("cuda", 0, 3, 2, "--nproc_per_node 2 or fewer, or use --device cpu"),
        ("cuda:1", 0, 2, 2, "each process takes the GPU of its local rank"),
        ("cuda", 0, 1, 0, "no such CUDA device"),
        ("cuda:1", 0, 1, 1, "no such CUDA device"),
    ],
)
def test_cuda_with_more_processes_than_gpus_is_refused_in_one_line(
    requested, local_rank, nproc, gpus, needle
):
    with pytest.raises(ValueError) as err:
        utils.choose_device(requested, local_rank, nproc, gpus)
    assert needle in str(err.value) and "\n" not in str(err.value)


def test_get_device_reads_torchruns_local_ranks(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert utils.get_device("auto") == torch.device("cuda")
    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")
    assert utils.get_device("auto") == torch.device("cpu")  # what the training loop then takes, too
    with pytest.raises(ValueError, match="2 processes on this machine"):
        utils.get_device("cuda")


# --------------------------------------------------------------------------- torchrun on simulated
# machines
@pytest.mark.parametrize(
    "gpus, nproc, expected",
    [
        (1, 2, {0: ([], ["gloo"]), 1: ([], ["gloo"])}),
        (2, 2, {0: ([0], ["nccl"]), 1: ([1], ["nccl"])}),
        (2, 3, {0: ([], ["gloo"]), 1: ([], ["gloo"]), 2: ([], ["gloo"])}),
    ],
)
def test_each_torchrun_rank_chooses_its_device_and_backend(
    tiny_data_dir, tmp_path, gpus, nproc, expected
):
    """The processes stop at init_process_group (HW3_SIM_STOP_AT_INIT): what is checked is the
    choice."""
    result = torchrun(
        nproc,
        ["lm", "--quick", "--data-dir", str(tiny_data_dir), "--out-dir", "o", "--ckpt-dir", "o"],
        tmp_path,
        simulated(tmp_path, gpus, stop_at_init=True),
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    assert per_rank(tmp_path) == expected
    assert not [n for n in notes(tmp_path) if n["event"] == "cuda_init"]
    if expected[0][1] == ["gloo"]:
        said = [
            line
            for line in result.stdout.splitlines()
            if "GPU(s): each process needs a GPU of its own" in line
        ]
        assert len(said) == 1 and f"{nproc} processes on this machine but {gpus} GPU(s)" in said[0]


@pytest.mark.parametrize("gpus, nproc", [(1, 2), (2, 3)])
def test_device_cuda_with_more_local_processes_than_gpus_is_one_line_before_any_data(
    tmp_path, gpus, nproc
):
    """As torchrun starts the last process of the machine (its environment), without the launcher's
    own report."""
    env = simulated(
        tmp_path,
        gpus,
        RANK=str(nproc - 1),
        WORLD_SIZE=str(nproc),
        LOCAL_RANK=str(nproc - 1),
        LOCAL_WORLD_SIZE=str(nproc),
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT="1",
    )
    result = subprocess.run(
        [
            sys.executable,
            str(REPO / "main.py"),
            "lm",
            "--quick",
            "--device",
            "cuda",
            "--data-dir",
            str(tmp_path / "no-data"),
            "--out-dir",
            "o",
            "--ckpt-dir",
            "o",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1 and "Traceback" not in result.stderr, (
        result.stderr[-2000:]
    )
    assert f"{nproc} processes on this machine (LOCAL_WORLD_SIZE) but {gpus} GPU(s)" in lines[0]
    # refused before data, set_device or a group
    assert "no-data" not in result.stderr and notes(tmp_path) == []


# --------------------------------------------------------------------------- the sweeps on a
# simulated GPU machine
@pytest.mark.parametrize("flags", [[], ["--device", "cuda"]])
def test_sweep_runs_on_a_gpu_machine_use_cuda_in_this_process_not_in_forked_workers(
    tiny_data_dir, tmp_path, flags
):
    """The simulation stops the run at CUDA's first use; what matters is where that use came
    from."""
    result = subprocess.run(
        [
            sys.executable,
            str(REPO / "main.py"),
            "mlp",
            "--quick",
            *flags,
            "--sweeps",
            "structures",
            "--data-dir",
            str(tiny_data_dir),
            "--out-dir",
            "o",
            "--ckpt-dir",
            "o",
        ],
        cwd=tmp_path,
        env=simulated(tmp_path, 1),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    uses = [n for n in notes(tmp_path) if n["event"] == "cuda_init"]
    assert uses, result.stdout[-2000:] + result.stderr[-2000:]
    assert not uses[0]["forked"], "a sweep run used CUDA in a forked worker"
    assert "[mlp_structures] runs train on cuda one after another in this process" in result.stdout


def test_sweep_workers_fork_on_a_cpu_and_stay_in_this_process_on_a_gpu(monkeypatch, capsys):
    configs = [mlp.MLPConfig(device=None), mlp.MLPConfig(device="cpu")]
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert sweep_run.sweep_workers(configs, 2) == 2 and capsys.readouterr().out == ""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert sweep_run.sweep_workers(configs, 2, "s") == 1
    assert (
        "[s] runs train on cpu, cuda one after another in this process" in capsys.readouterr().out
    )
    assert sweep_run.sweep_workers([mlp.MLPConfig(device="cpu")], 2) == 2


def test_a_process_that_initialised_cuda_does_not_fork(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_initialized", lambda: True)
    assert worker_pool.fork_map(lambda _, item: (item, os.getpid()), [1, 2, 3], 2) == [
        (i, os.getpid()) for i in (1, 2, 3)
    ]
    monkeypatch.setattr(torch.cuda, "is_initialized", lambda: False)
    pids = {
        pid for _, pid in worker_pool.fork_map(lambda _, item: (item, os.getpid()), [1, 2, 3], 2)
    }
    assert os.getpid() not in pids  # forked workers on a machine where CUDA was never initialised


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU; this machine has none")
def test_a_sweep_on_a_real_gpu_trains_in_this_process(tiny_data_dir, tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            str(REPO / "main.py"),
            "mlp",
            "--quick",
            "--device",
            "cuda",
            "--sweeps",
            "structures",
            "--data-dir",
            str(tiny_data_dir),
            "--out-dir",
            "o",
            "--ckpt-dir",
            "o",
        ],
        cwd=tmp_path,
        env=dict(os.environ, MPLBACKEND="Agg", HW3_CACHE_DIR=str(tmp_path / "c")),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    history = json.loads((tmp_path / "o" / "mlp_structures.json").read_text())
    assert history["workers"] == 1 and all(r["config"]["device"] == "cuda" for r in history["runs"])
