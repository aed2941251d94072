"""Our training of the fixed-window model (`python main.py lm`): the course's `mlp_lm.train`
with the additions of an LMRunConfig (lm/config.py) turned on: our model parts, AdamW and its
schedules, the fast batches and kernels, torchrun, early stopping, the weight average, checkpoints
and resuming."""

from __future__ import annotations

import time

import torch
import torch.nn as nn

import mlp_lm
import utils
from lm.config import as_run_config
from nplm import distributed
from nplm.bookkeeping import TrainedLM, TrainOptions, fit_report
from nplm.checkpoint import check_resumable, load_training_state
from nplm.corpus import WindowBatches
from nplm.kernels import use_bit_dropout
from nplm.optim import make_optimizer


def build_model(config, vocab_size: int, device="cpu") -> mlp_lm.NPLM:
    """The NPLM of `config`, built on the CPU (the same initial weights for every device) and moved
    to `device`. config.fast swaps in nplm/kernels.py's cheaper dropout masks on a CPU; a GPU's own
    dropout kernel is fused."""
    model = mlp_lm.NPLM(vocab_size, **mlp_lm.model_fields(config))
    if config.fast and torch.device(device).type == "cpu":
        use_bit_dropout(model)
    return model.to(device)


def fit_mlp_lm(config, train_data, dev_data, log=print, state_path=None, resume=False) -> TrainedLM:
    """Build the vocabulary, batches, model and optimiser of `config`; train; return the best model
    and every number. The course's pipeline unless config.fast: a DataLoader over windows, shuffled
    by torch's seed. `state_path` keeps the training state after every epoch and every
    config.state_every_s seconds within one; `resume` continues from it (the same config), within
    an epoch too."""
    config = as_run_config(config)
    state = load_training_state(state_path) if resume else None
    if state is not None:
        check_resumable(config, state["meta"]["config"], state_path)
    device, rank, world = distributed.this_process(utils.get_device(config.device), config.fast)
    log = log if rank == 0 else (lambda *args, **kwargs: None)
    gen = utils.set_seed(config.seed)
    t_start = time.perf_counter()
    tokenizer, train_stream, dev_stream = mlp_lm.tokenize_splits(
        train_data,
        dev_data,
        config.min_count,
        (config.max_train_tokens, config.max_dev_tokens),
        log,
    )
    model = build_model(config, tokenizer.vocab_size, device)
    # the same initial weights everywhere, then each process its own dropout masks
    if world > 1:
        torch.manual_seed(config.seed + rank)
    W, pad = model.context_size, tokenizer.pad_token_id
    # ours: a global batch of batch_size, split between the processes
    if config.fast:
        train_loader = WindowBatches(
            train_stream,
            W,
            pad,
            config.batch_size,
            shuffle=gen,
            device=device,
            rank=rank,
            world=world,
        )
        dev_loader = WindowBatches(
            dev_stream, W, pad, config.eval_batch, device=device, rank=rank, world=world
        )
        # no randomness
        sample = next(iter(WindowBatches(train_stream, W, pad, config.batch_size, device=device)))
    else:
        train_loader, dev_loader = mlp_lm.window_loaders(
            train_stream, dev_stream, W, pad, (config.batch_size, config.eval_batch)
        )
        sample = tuple(t.to(device) for t in next(iter(train_loader)))
    log(
        f"{'-' * 10} Create Model: {mlp_lm.count_parameters(model):,} parameters, "
        f"{model.output_layer} softmax {'-' * 10}"
    )
    mlp_lm.test_model_forward(model, sample, config.local_window_size, tokenizer)
    optimizer, scheduler = make_optimizer(model, config, config.num_epochs * len(train_loader))
    meta = {
        "tokenizer": tokenizer.to_dict(),
        "model": mlp_lm.model_fields(config),
        "config": config.to_dict(),
    }
    net, threads = distributed.wrap(
        model, device, config.output_layer == "adaptive", config.num_threads, world
    )
    options = TrainOptions(
        patience=config.patience,
        ema_decay=config.ema_decay,
        checkpoint_meta=meta,
        log=log,
        state_path=state_path,
        state_every_s=config.state_every_s,
        resume=state,
        precision=config.precision,
    )
    with utils.torch_threads(threads):
        plan = mlp_lm.TrainPlan(config.num_epochs, config.save_path, config.print_every, options)
        run = mlp_lm.train_run(
            net, (train_loader, dev_loader), nn.NLLLoss(), (optimizer, scheduler), plan
        )
    model.load_state_dict(run.best_state)
    model.eval()
    report = fit_report(run, model, tokenizer, config, (train_stream, dev_stream), t_start)
    return TrainedLM(model, tokenizer, config, report)
