"""Our glue for training the language model in several processes (torchrun): DistributedDataParallel
(Li et al. 2020, *PyTorch Distributed*) on a global batch split between the processes, gloo on CPUs
and NCCL on GPUs.

Each process's loss is its share of the global batch's mean, so that DDP's mean of the gradients
over the processes is the gradient of that mean; sums of losses and counts are added over the
processes, so every target counts once. mlp_lm.train, evaluate and lm/train.fit_mlp_lm call these
hooks; with one process they do nothing.
"""

from __future__ import annotations

import contextlib
import os

import torch
import torch.nn as nn

import utils


def rank_and_world() -> tuple[int, int]:
    """(this process's rank, the number of processes) of the initialised process group, else (0,
    1)."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


def this_process(device: torch.device, fast: bool) -> tuple[torch.device, int, int]:
    """(this process's device, rank, number of processes): under torchrun, the GPU set from
    LOCAL_RANK; the course's DataLoader pipeline (not `fast`) trains in one process only."""
    rank, world = rank_and_world()
    if world > 1 and not fast:
        raise ValueError(
            "several processes (torchrun) train the fast pipeline only (LMRunConfig.fast); the "
            "course's "
            "DataLoader pipeline runs in one process"
        )
    if world > 1 and device.type == "cuda":
        device = torch.device("cuda", torch.cuda.current_device())
    return device, rank, world


def sum_over_processes(tensor: torch.Tensor, world: int) -> torch.Tensor:
    """`tensor` summed over the processes, in place (itself with one process)."""
    if world > 1:
        torch.distributed.all_reduce(tensor)
    return tensor


def training_loss(batch_loss, model, criterion, inp, target, world: int):
    """(the loss to differentiate, the batch's summed loss in float64): the batch's mean of
    `batch_loss(model, criterion, inp, target, reduction)`, or with several processes this one's
    share of the global batch's mean."""
    if world > 1:
        return share_of_global_mean(batch_loss(model, criterion, inp, target, "sum"), target, world)
    loss = batch_loss(model, criterion, inp, target)
    return loss, loss.detach().double() * target.numel()


def share_of_global_mean(share_sum: torch.Tensor, target: torch.Tensor, world: int):
    """(loss to differentiate, this share's loss sum) for a process whose batch is `target`, one
    share of a global batch: its summed loss over the global batch's size, times `world` because DDP
    averages gradients."""
    count = sum_over_processes(torch.tensor(float(target.numel()), device=share_sum.device), world)
    return share_sum * (world / count), share_sum.detach().double()


def wrap(model: nn.Module, device: torch.device, adaptive: bool, threads, world: int):
    """(the module to train, torch threads per process): `model` itself with one process, else
    wrapped in DistributedDataParallel, with the cores of one machine shared between its
    processes."""
    if world == 1:
        return model, threads
    # a batch may leave a tail cluster of the adaptive softmax unused
    net = nn.parallel.DistributedDataParallel(
        model,
        device_ids=[device.index] if device.type == "cuda" else None,
        find_unused_parameters=adaptive,
    )
    if device.type == "cpu":
        threads = max(1, (threads or os.cpu_count() or 1) // utils.process_ranks().local_world)
    return net, threads


@contextlib.contextmanager
def process_group(device_name: str, rank: int, world: int):
    """Join the process group of torchrun's `world` processes for the block (nothing with one
    process): NCCL on the GPUs of `device_name`, else gloo, as utils.choose_device decides (rank 0
    says which); at its end wait for every process, so that none tears the group down under another
    still writing."""
    if world == 1:
        yield
        return
    # each process's device and backend, from its local rank and the GPUs present
    # (utils.choose_device)
    place = utils.process_ranks()
    device, backend, message = utils.choose_device(device_name, place.local_rank, place.local_world)
    if rank == 0:
        print(message, flush=True)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    torch.distributed.init_process_group(backend)
    try:
        yield
        torch.distributed.barrier()
    finally:
        torch.distributed.destroy_process_group()
