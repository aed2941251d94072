"""Training throughput of the MLP language model: our pipeline against one faithful to the course
skeleton.

Pipelines (same model sizes as lm/config.LMRunConfig.preset("default"), same batch size, same
optimizer learning rate, same seed):
- ours:      adaptive softmax (Grave et al. 2017) with its loss computed by adaptive_nll, batches
             cut from one token tensor (nplm/corpus.WindowBatches), the global context, tied
             embeddings, nplm/kernels.BitDropout, fused AdamW (nplm/kernels.make_adamw) and the
             weight average, as the default config has them;
- ours_full: our model, batches and optimizer, but the course's full softmax, untied (isolates
             the output layer);
- course:    the course skeleton: the same window, embedding and hidden sizes without our
             additions (global context, tied embeddings, weight average), nn.Dropout, full
             softmax + log_softmax + nn.NLLLoss, DataLoader(TensorDataset, shuffle=True) over
             preprocess_data's (N, W) windows, torch.optim.Adam.
Each trains for the same wall-clock budget; tokens/s is the batch size over the median step time
(data loading included); then each is scored on the whole WikiText-2 validation split (217,646
targets; not timed).

It also counts the matrix-multiply FLOPs of one training token (train_flops_per_token) and sets the
achieved FLOP rate beside torch.mm on large float32 matrices measured in the same run (each
measurement the median of several products): before the pipelines and after each one.
After scoring, ours trains --profile-steps more steps under torch.profiler: the operators that take
the time that is not a matrix product. Results go to plots/benchmark_lm.json (atomically).

    python -m benchmarks.lm_speed --budget 60       # alone: another busy process halves the numbers
    python -m benchmarks.lm_speed --cutoff-products # why the cutoffs are 1022 and 9982
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import platform
import statistics
import sys
import time
from typing import NamedTuple
from pathlib import Path

import torch
import torch.nn as nn
from torch.utils.data import DataLoader

from benchmarks.machine import machine_record
from nplm import kernels as lm_kernels
import mlp_lm as M
from lm.config import LMRunConfig
from lm.train import build_model, fit_mlp_lm
import utils
from nplm.kernels import make_adamw, train_flops_per_token


def sync(device) -> None:
    """Wait for the device's queued work, so that a wall-clock time covers it (a no-op on the
    CPU)."""
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def mm_gflops(n: int = 2048, repeats: int = 9, device="cpu") -> float:
    """Median float32 torch.mm rate (GFLOP/s) on n x n matrices (n 8192 on a GPU: 2048 would not
    fill it)."""
    if torch.device(device).type == "cuda":
        n = max(n, 8192)
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    for _ in range(2):
        torch.mm(a, b)
    times = []
    for _ in range(repeats):
        sync(device)
        t = time.perf_counter()
        torch.mm(a, b)
        sync(device)
        times.append(time.perf_counter() - t)
    return 2 * n**3 / statistics.median(times) / 1e9


def cutoff_products(
    cutoff_sets=((1000, 10000), (1022, 9982)),
    hidden: int = 512,
    div_value: float = 4.0,
    batch: int = 2048,
    tail_share: float = 0.225,
    repeats: int = 41,
) -> dict:
    """Time the adaptive softmax's two largest products, the head and the first tail, for each
    choice of cutoffs: the head is (batch, hidden) x (hidden, cutoffs[0] + number of tails); the
    first tail is (tail_share * batch, hidden / div_value) x (hidden / div_value, cutoffs[1] -
    cutoffs[0]); 0.225 is the share of WikiText-2 training tokens that falls in it. Each product is
    timed forward alone (`F.linear`) and forward plus its two backward products. The cases are timed
    in turn, `repeats` rounds, so the machine's drift reaches them all alike. Returns the median ms
    and GFLOP/s of each."""
    cases = []
    for cut in cutoff_sets:
        name = ",".join(str(c) for c in cut)
        cases.append((name, "head", batch, hidden, cut[0] + len(cut)))
        cases.append(
            (
                name,
                "first_tail",
                round(batch * tail_share),
                int(hidden // div_value),
                cut[1] - cut[0],
            )
        )
    tensors = {}
    for name, part, m, k, n in cases:
        x, w = torch.randn(m, k, requires_grad=True), torch.randn(n, k, requires_grad=True)
        tensors[name, part] = (x, w, torch.randn(m, n))

    def forward(x, w, grad_out):
        with torch.no_grad():
            torch.nn.functional.linear(x, w)  # (m, n)

    def forward_backward(x, w, grad_out):
        # (m, n), then (m, k) and (n, k)
        torch.autograd.grad(torch.nn.functional.linear(x, w), (x, w), grad_out)

    runs = {"forward": forward, "forward_backward": forward_backward}
    times = {(key, run): [] for key in tensors for run in runs}
    for key in tensors:
        for fn in runs.values():
            fn(*tensors[key])  # warm-up
    for _ in range(repeats):
        for key in tensors:
            for run, fn in runs.items():
                t = time.perf_counter()
                fn(*tensors[key])
                times[key, run].append(time.perf_counter() - t)
    out = {}
    for name, part, m, k, n in cases:
        entry = out.setdefault(name, {}).setdefault(part, {"shape_mkn": [m, k, n]})
        for run, products in (("forward", 1), ("forward_backward", 3)):
            sec = statistics.median(times[(name, part), run])
            entry[f"{run}_ms"] = sec * 1e3
            entry[f"{run}_gflops"] = products * 2 * m * k * n / sec / 1e9
    return out


def profile_steps(step, loader, steps: int, top: int = 12) -> dict:
    """Self CPU time per training step of the most expensive operators over `steps` steps
    (torch.profiler, which adds some overhead of its own), in ms: where the time that is not a
    matrix product goes."""
    from torch.profiler import ProfilerActivity, profile

    it = iter(loader)
    batches = [next(it) for _ in range(steps + 1)]
    step(*batches[0])  # warm-up, not profiled
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for inp, target in batches[1:]:
            step(inp, target)
    events = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
    total_us = sum(e.self_cpu_time_total for e in events)
    return {
        "steps": steps,
        "total_ms_per_step": total_us / steps / 1e3,
        "self_ms_per_step": {e.key: e.self_cpu_time_total / steps / 1e3 for e in events[:top]},
    }


class BenchData(NamedTuple):
    """What both pipelines train on: the tokenizer, the train texts and their stream, dev's."""

    tok: object
    train_texts: list
    train_stream: torch.Tensor
    dev_stream: torch.Tensor


class BenchRun(NamedTuple):
    """How long a pipeline trains (seconds), its seed, how many steps to profile, its device."""

    budget_s: float
    seed: int
    profile: int = 0
    device: str = "cpu"


def run_pipeline(kind: str, cfg: LMRunConfig, data: BenchData, run: BenchRun) -> dict:
    tok, train_texts, train_stream, dev_stream = data
    budget_s, seed, profile, device = run
    gen = utils.set_seed(seed)
    average = None
    B = cfg.batch_size
    # the course's model: its window only (no global context), full softmax, no average
    if kind == "course":
        course_cfg = dataclasses.replace(
            cfg,
            output_layer="full",
            global_window=0,
            ema_decay=0.0,
            fast=False,
            tie_embeddings=False,
        )
        model = build_model(course_cfg, tok.vocab_size, device)  # nn.Dropout, as the course has it
        W = model.context_size  # the local window
        # TensorDataset of (N, W) windows, (N,) targets
        dataset = M.preprocess_data(train_texts, W, None, tok)
        loader = DataLoader(dataset, batch_size=B, shuffle=True, generator=gen)
        optimizer = torch.optim.Adam(model.parameters(), lr=cfg.lr)
        criterion = nn.NLLLoss()  # criterion(log_probs, target), as the course computes the loss
    else:
        # ours_full: our pipeline with the course's output layer (a full softmax of its own, untied)
        ours_cfg = (
            cfg
            if kind == "ours"
            else dataclasses.replace(cfg, output_layer="full", tie_embeddings=False)
        )
        model = build_model(ours_cfg, tok.vocab_size, device)
        # ids read per prediction: the window, plus the far words of a global context
        W = model.context_size
        loader = M.WindowBatches(train_stream, W, tok.pad_token_id, B, shuffle=gen, device=device)
        optimizer = make_adamw(model, cfg.lr, cfg.weight_decay)
        # as mlp_lm.train does
        average = M.WeightAverage(model, cfg.ema_decay) if cfg.ema_decay else None
        criterion = None  # the model's own loss (model.nll), as our pipeline computes it

    # mlp_lm.train's step, without a schedule (the learning rate stays cfg.lr)
    def step(inp, target):
        # the course's DataLoader batches are on the CPU
        inp, target = (
            inp.to(device),
            target.to(device),
        )
        return M.train_step(
            model, criterion, optimizer, None, (inp, target), M.StepAdditions(average)
        )[0]

    model.train()
    step_times, tokens, t_start = [], 0, time.perf_counter()
    done = False
    while not done:
        it = iter(loader)
        while True:
            t0 = time.perf_counter()
            try:
                inp, target = next(it)  # data loading is part of the step
            except StopIteration:
                break
            loss = step(inp, target)
            sync(device)
            step_times.append(time.perf_counter() - t0)
            tokens += target.numel()
            if time.perf_counter() - t_start >= budget_s:
                done = True
                break
    elapsed = time.perf_counter() - t_start
    timed = step_times[2:] if len(step_times) > 4 else step_times  # skip warm-up steps
    med = statistics.median(timed)
    t_eval = time.perf_counter()
    # scored as mlp_lm.train does
    with average.applied() if average is not None else contextlib.nullcontext():
        dev_loss, dev_ppl = M.evaluate(
            model,
            M.WindowBatches(dev_stream, W, tok.pad_token_id, cfg.eval_batch_size, device=device),
            nn.NLLLoss(),
        )
    flops = train_flops_per_token(model, train_stream)
    # after scoring: it trains on
    profiled = profile_steps(step, loader, profile) if profile else None
    result = {
        "output_layer": model.output_layer,
        "steps": len(step_times),
        "tokens_trained": tokens,
        "train_seconds": elapsed,
        "median_step_seconds": med,
        "tokens_per_second_median": B / med,
        "tokens_per_second_overall": tokens / elapsed,
        "last_train_loss": float(loss.item()),
        "dev_loss": dev_loss,
        "dev_ppl": dev_ppl,
        "dev_targets": dev_stream.numel(),
        "eval_seconds": time.perf_counter() - t_eval,
        "parameters": M.count_parameters(model),
        "train_flops_per_token": flops["train_flops_per_token"],
        "tail_fractions": flops["tail_fractions"],
        "achieved_gflops": flops["train_flops_per_token"] * B / med / 1e9,
        "profile": profiled,
    }
    print(
        f"{kind:10s} {result['tokens_per_second_median']:8.0f} tokens/s (median step "
        f"{med * 1e3:.0f} ms, "
        f"{len(step_times)} steps, {tokens:,} tokens in {elapsed:.0f} s); dev ppl {dev_ppl:.1f}; "
        f"{result['achieved_gflops']:.1f} GFLOP/s",
        flush=True,
    )
    return result


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--budget", type=float, default=120.0, help="training seconds per pipeline")
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch threads (default: the default preset's num_threads)",
    )
    p.add_argument("--pipelines", default="ours,ours_full,course")
    p.add_argument("--data-dir", type=Path, default=None)
    p.add_argument("--out", type=Path, default=Path("plots/benchmark_lm.json"))
    p.add_argument("--seed", type=int, default=42)
    p.add_argument(
        "--profile-steps",
        type=int,
        default=10,
        help="after scoring ours, profile this many more of its steps (0: no profile)",
    )
    p.add_argument(
        "--device",
        default="auto",
        help="auto (CUDA, then MPS, then the CPU), cpu, cuda, cuda:N or mps",
    )
    p.add_argument(
        "--processes",
        type=int,
        default=0,
        help="instead: time main.py's training step in this many gloo processes of threads/N "
        "threads "
        "each against one process of all the threads (torchrun), and write "
        "plots/benchmark_lm_processes.json",
    )
    p.add_argument(
        "--steps", type=int, default=100, help="training steps per --processes measurement"
    )
    p.add_argument(
        "--repeats", type=int, default=3, help="measurements of each side for --processes"
    )
    # a --processes worker
    p.add_argument("--worker-out", type=Path, default=None, help=argparse.SUPPRESS)
    p.add_argument(
        "--cutoff-products",
        action="store_true",
        help="only time the head and first-tail products of the old and new default cutoffs "
        "and write "
        "them to plots/benchmark_lm_cutoffs.json (seconds; no data needed)",
    )
    args = p.parse_args(argv)
    cfg = LMRunConfig.preset("default")
    threads = args.threads or cfg.num_threads or torch.get_num_threads()
    # as main.py lm does: bit-identical results, fewer page faults
    lm_kernels.keep_freed_memory()
    command = "python -m benchmarks.lm_speed " + " ".join(sys.argv[1:] if argv is None else argv)
    if args.worker_out is not None:
        return processes_worker(args, cfg, threads)
    if args.processes:
        return processes_against_threads(args, threads, command)
    device = utils.get_device(args.device)
    if args.cutoff_products:
        torch.set_num_threads(threads)
        report = {
            "command": command,
            "threads": threads,
            "mm_gflops_before": mm_gflops(),
            "cutoffs": cutoff_products(
                hidden=cfg.hidden_dim, div_value=cfg.div_value, batch=cfg.batch_size
            ),
        }
        report["mm_gflops_after"] = mm_gflops()
        for name, parts in report["cutoffs"].items():
            print(
                name,
                {
                    part: f"forward {v['forward_gflops']:.1f}, with backward "
                    f"{v['forward_backward_gflops']:.1f} "
                    f"GFLOP/s"
                    for part, v in parts.items()
                },
            )
        out = (
            args.out
            if args.out != Path("plots/benchmark_lm.json")
            else Path("plots/benchmark_lm_cutoffs.json")
        )
        utils.atomic_write_json(report, out)
        print(f"wrote {out}")
        return report
    load_start = os.getloadavg()
    (train_data, dev_data) = M.load_data_mlp_lm(args.data_dir)
    train_texts = M.texts_of(train_data)
    tok = M.WordTokenizer.from_texts(train_texts)
    train_stream, dev_stream = M.encode_stream(train_texts, tok), M.encode_stream(dev_data, tok)
    mm = {}
    for n in sorted({threads, 2}):
        torch.set_num_threads(n)
        mm[n] = mm_gflops(device=device)
        print(f"torch.mm 2048x2048 float32 with {n} thread(s): {mm[n]:.1f} GFLOP/s", flush=True)
    torch.set_num_threads(threads)
    # The machine's mm rate drifts during a run (another tenant, clocks), so it is measured again
    # after each pipeline; ours is set against the two measurements around its own run, and against
    # the best of all.
    mm_runs = [("before", mm[threads])]
    results = {}
    for kind in args.pipelines.split(","):
        profile = args.profile_steps if kind == "ours" else 0
        results[kind] = run_pipeline(
            kind,
            cfg,
            BenchData(tok, train_texts, train_stream, dev_stream),
            BenchRun(args.budget, args.seed, profile, device),
        )
        mm_runs.append((f"after_{kind}", mm_gflops(device=device)))
        print(f"torch.mm after {kind}: {mm_runs[-1][1]:.1f} GFLOP/s", flush=True)
    mm_after = mm_runs[-1][1]
    names = [name for name, _ in mm_runs]
    around_ours = (
        [mm_runs[names.index("after_ours") - 1][1], mm_runs[names.index("after_ours")][1]]
        if "after_ours" in names
        else [v for _, v in mm_runs]
    )
    peak = statistics.median(around_ours)
    best_mm = max(v for _, v in mm_runs)
    report = {
        "command": command,
        "budget_seconds_per_pipeline": args.budget,
        "threads": threads,
        "config": cfg.to_dict(),
        "vocab_size": tok.vocab_size,
        "train_tokens": train_stream.numel(),
        "mm_gflops": {
            "by_threads_before": {str(k): v for k, v in mm.items()},
            "after": mm_after,
            "runs": dict(mm_runs),
            "around_ours": around_ours,
            "peak_used": peak,
            "best": best_mm,
        },
        "device": str(device),
        "device_name": torch.cuda.get_device_name(device)
        if device.type == "cuda"
        else platform.processor() or platform.machine(),
        "pipelines": results,
        "machine": machine_record(load_start),
    }
    if "ours" in results:
        ours = results["ours"]
        ours["fraction_of_mm_peak"] = ours["achieved_gflops"] / peak
        ours["fraction_of_best_mm"] = ours["achieved_gflops"] / best_mm
        ours["fraction_of_2thread_mm"] = ours["achieved_gflops"] / mm[2]
        for other in ("course", "ours_full"):
            if other in results:
                report[f"throughput_ratio_ours_vs_{other}"] = (
                    ours["tokens_per_second_median"] / results[other]["tokens_per_second_median"]
                )
                report[f"dev_ppl_ours_minus_{other}"] = ours["dev_ppl"] - results[other]["dev_ppl"]
        print(
            f"ours: {ours['achieved_gflops']:.1f} GFLOP/s = {ours['fraction_of_mm_peak']:.0%} "
            "of torch.mm around "
            f"its run ({peak:.1f} GFLOP/s, {threads} thread(s)); "
            f"{ours['fraction_of_best_mm']:.0%} of the best "
            f"torch.mm of the run ({best_mm:.1f})"
        )
        for other in ("course", "ours_full"):
            if other in results:
                print(
                    f"throughput ours / {other}: "
                    f"{report[f'throughput_ratio_ours_vs_{other}']:.2f}x; dev ppl "
                    f"{ours['dev_ppl']:.1f} vs {results[other]['dev_ppl']:.1f} after "
                    f"{args.budget:.0f} s"
                )
    utils.atomic_write_json(report, args.out)
    print(f"wrote {args.out}")
    return report


def processes_worker(args, cfg, threads: int) -> dict:
    """One side of --processes, run under torchrun: main.py's own training (fit_mlp_lm,
    DistributedDataParallel when there are several processes) on the first --steps global batches,
    one epoch; rank 0 writes the rate."""
    import tempfile

    rank, world = utils.process_ranks()[:2]
    if world > 1:
        torch.distributed.init_process_group("gloo")
    try:
        (train_data, dev_data) = M.load_data_mlp_lm(args.data_dir)
        with tempfile.TemporaryDirectory() as scratch:
            run_cfg = dataclasses.replace(
                cfg,
                num_threads=threads,
                num_epochs=1,
                cache_size=0,
                device="cpu",
                max_train_tokens=args.steps * cfg.batch_size,
                max_dev_tokens=4096,
                print_every=0,
                save_path=str(Path(scratch) / "m.pt"),
            )
            run = fit_mlp_lm(run_cfg, train_data, dev_data, log=lambda *a: None)
        out = {
            "processes": world,
            "threads_per_process": torch.get_num_threads(),
            "steps": args.steps,
            "tokens": run.report["train_tokens"],
            "seconds": run.report["train_seconds"],
            "tokens_per_second": run.report["train_tokens"] / run.report["train_seconds"],
        }
        if rank == 0:
            utils.atomic_write_json(out, args.worker_out)
        return out
    finally:
        if world > 1:
            torch.distributed.destroy_process_group()


def processes_against_threads(args, threads: int, command: str) -> dict:
    """N gloo processes of threads/N threads each against 1 process of `threads` threads,
    alternating, each side measured --repeats times: the cost of the all-reduce where the cores are
    the same."""
    import subprocess
    import tempfile

    sides = {
        f"1 process x {threads} threads": (1, threads),
        f"{args.processes} processes x {max(1, threads // args.processes)} thread(s)": (
            args.processes,
            threads,
        ),
    }
    rates = {name: [] for name in sides}
    with tempfile.TemporaryDirectory() as scratch:
        for i in range(args.repeats):
            for name, (nproc, side_threads) in sides.items():
                out = Path(scratch) / f"{i}_{nproc}.json"
                cmd = [
                    sys.executable,
                    "-m",
                    "torch.distributed.run",
                    "--standalone",
                    f"--nproc_per_node={nproc}",
                    "-m",
                    "benchmarks.lm_speed",
                    "--worker-out",
                    str(out),
                    "--threads",
                    str(side_threads),
                    "--steps",
                    str(args.steps),
                ] + (["--data-dir", str(args.data_dir)] if args.data_dir else [])
                subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=utils.REPO_DIR)
                result = json.loads(out.read_text())
                rates[name].append(result["tokens_per_second"])
                print(
                    f"{name}: {result['tokens_per_second']:,.0f} tokens/s ({result['steps']} "
                    "steps, "
                    f"{result['threads_per_process']} thread(s) each)",
                    flush=True,
                )
    medians = {name: statistics.median(v) for name, v in rates.items()}
    one, many = medians.values()
    report = {
        "command": command,
        "steps": args.steps,
        "global_batch_size": LMRunConfig.preset("default").batch_size,
        "tokens_per_second": rates,
        "median_tokens_per_second": medians,
        "ratio_processes_vs_threads": many / one,
        "machine": machine_record(),
    }
    out = (
        args.out
        if args.out != Path("plots/benchmark_lm.json")
        else Path("plots/benchmark_lm_processes.json")
    )
    utils.atomic_write_json(report, out)
    print(
        f"{args.processes} processes run at {many / one:.2f} times the rate of 1 process; "
        f"wrote {out}"
    )
    return report


if __name__ == "__main__":
    main()
