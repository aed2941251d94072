"""`mlp_lm.train`'s bookkeeping around the course's training step: the per-epoch history, the best
dev score and its weights (of the weight average when there is one, nplm/average.py), early stopping
(`patience`), the checks that stop a diverged run, the log lines, the best checkpoint and the
training state that a run resumes from (nplm/checkpoint.py)."""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from typing import Callable, Optional

import numpy as np
import torch

from nplm import distributed
import utils
from nplm.average import applied
from nplm.checkpoint import save_checkpoint, save_training_state
from nplm.kernels import train_flops_per_token


@dataclass
class TrainedLM:
    """What lm/train.fit_mlp_lm gives back: the model holding its best weights (eval mode), its
    tokenizer, its config and the run's numbers (`fit_report`)."""

    model: "torch.nn.Module"
    tokenizer: object
    config: object
    report: dict


@dataclass
class TrainOptions:
    """What `mlp_lm.train` takes beyond the course's parameters, all off by default (the course's
    loop)."""

    patience: Optional[int] = None  # stop after this many epochs without a better dev perplexity
    ema_decay: float = 0.0  # > 0: score and save a weight average (nplm/average.py)
    checkpoint_meta: Optional[dict] = None  # the JSON saved beside the best weights
    log: Callable = print
    state_path: Optional[str] = None  # keep the training state here after every epoch
    state_every_s: float = 180.0  # ... and within an epoch, at least this often (seconds)
    resume: Optional[dict] = None  # a state of `TrainingRun.state_dict`, to go on from
    precision: str = "fp32"  # "bf16": autocast


@dataclass
class TrainingHistory:
    """One value per epoch. It unpacks and indexes as the course's 4-tuple (train losses, train
    perplexities, dev losses, dev perplexities), so `hist[3]` is the dev perplexities as in the
    course's code."""

    train_loss: list = field(default_factory=list)
    train_ppl: list = field(default_factory=list)  # exp of the epoch's running mean, dropout on
    dev_loss: list = field(default_factory=list)
    dev_ppl: list = field(default_factory=list)
    # with a weight average: the live weights'
    dev_ppl_last_iterate: list = field(default_factory=list)

    def _course(self) -> tuple:
        return self.train_loss, self.train_ppl, self.dev_loss, self.dev_ppl

    def __iter__(self):
        return iter(self._course())

    def __getitem__(self, i):
        return self._course()[i]

    def __len__(self) -> int:
        return 4


class TrainingRun:
    """`train`'s bookkeeping around the course's step. It owns the run's state: the history, the
    best dev score with its epoch and weights, the epochs without improvement, whether it stopped,
    the training time (summed over resumed sessions) and the epochs after which it was resumed;
    `state_dict` / `load_state_dict` are what the training-state file holds (nplm/checkpoint.py
    writes and reads it)."""

    def __init__(self, core, steppers, average, train_loader, save_path, options):
        """`steppers`: (optimizer, scheduler or None)."""
        (self.optimizer, self.scheduler), self.core, self.average = steppers, core, average
        self.save_path, self.options, self.log = save_path, options, options.log
        self.generator = getattr(train_loader, "generator", None)  # WindowBatches' shuffle
        self.writer = getattr(train_loader, "rank", 0) == 0  # only one process writes files
        self.world = getattr(train_loader, "world", 1)  # processes training together
        self.device = next(core.parameters()).device
        self.history = TrainingHistory()
        self.best_ppl, self.best_epoch, self.best_state = math.inf, None, None
        self.bad_epochs, self.stopped, self.first_epoch = 0, False, 0
        self.train_seconds, self.resumed_after = 0.0, []
        # a state saved within an epoch: the steps it had done, its sums and the random states
        # the epoch began with (its data order)
        self.within_epoch, self.epoch_rng = None, None

    # ------------------------------------------------------------------ the state a run resumes
    # from
    def state_dict(self) -> dict:
        """Everything needed to go on after the epoch that just ended: the live weights, the
        optimiser, the schedule, the weight average, the random states and this object's own
        fields."""
        cuda = self.device.type == "cuda"
        return {
            "epoch": self.epoch,
            "model": self.core.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": None if self.scheduler is None else self.scheduler.state_dict(),
            "average": None if self.average is None else self.average.state_dict(),
            "torch_rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state(self.device) if cuda else None,
            "loader_rng": None if self.generator is None else self.generator.get_state(),
            "history": asdict(self.history),
            "best_ppl": self.best_ppl,
            "best_epoch": self.best_epoch,
            "best_state": self.best_state,
            "bad_epochs": self.bad_epochs,
            "stopped": self.stopped,
            "train_seconds": self.train_seconds,
            "resumed_after": self.resumed_after,
            "meta": self.options.checkpoint_meta,
        }

    def load_state_dict(self, state: dict) -> None:
        """Put a state of `state_dict` back, into this run and the objects it trains; it goes on
        after the epoch that state ended."""
        self.core.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        if self.scheduler is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        if self.average is not None:
            self.average.load_state_dict(state["average"])
        torch.set_rng_state(state["torch_rng"])
        if state.get("cuda_rng") is not None and self.device.type == "cuda":
            torch.cuda.set_rng_state(state["cuda_rng"], self.device)
        if self.generator is not None:
            self.generator.set_state(state["loader_rng"])
        history = state["history"]
        # a state saved as four lists, before the history had names
        if not isinstance(history, dict):
            history = dict(
                zip(("train_loss", "train_ppl", "dev_loss", "dev_ppl"), history),
                dev_ppl_last_iterate=state.get("dev_ppl_last_iterate") or [],
            )
        self.history = TrainingHistory(**{k: list(v) for k, v in history.items()})
        self.best_ppl, self.best_epoch = state["best_ppl"], state["best_epoch"]
        self.best_state, self.bad_epochs, self.stopped = (
            state["best_state"],
            state["bad_epochs"],
            state["stopped"],
        )
        self.train_seconds = state.get("train_seconds", 0.0)
        self.resumed_after = [*state.get("resumed_after", []), state["epoch"]]
        self.first_epoch = state["epoch"] + 1
        if state.get("step") is not None:
            # within epoch `epoch`: it goes on at its step `step`
            self.resumed_after[-1] = f"epoch {state['epoch'] + 1}, step {state['step']}"
            self.first_epoch, self.epoch_rng = state["epoch"], state["epoch_rng"]
            self.within_epoch = {k: state[k] for k in ("step", "loss_sum", "n_tokens", "seconds")}
            self.log(
                f"{'-' * 10} resuming epoch {state['epoch'] + 1} at step {state['step']} {'-' * 10}"
            )
            return
        self.log(f"{'-' * 10} resuming after epoch {state['epoch'] + 1} {'-' * 10}")

    def _rng_states(self) -> dict:
        cuda = self.device.type == "cuda"
        return {
            "torch": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state(self.device) if cuda else None,
            "loader": None if self.generator is None else self.generator.get_state(),
        }

    def _set_rng_states(self, states: dict) -> None:
        torch.set_rng_state(states["torch"])
        if states.get("cuda") is not None and self.device.type == "cuda":
            torch.cuda.set_rng_state(states["cuda"], self.device)
        if self.generator is not None:
            self.generator.set_state(states["loader"])

    def batches(self, loader, epoch):
        """The epoch's (step, batch) pairs, in the course's order, under a progress bar. A run
        resumed within this epoch draws the epoch's data order again from the random states it
        began with, passes the steps done, and goes on with the random states of that moment.
        With a state path, the training state is kept every `state_every_s` seconds, and on
        Ctrl-C or SIGTERM after the step under way (then the interrupt goes on)."""
        within, self.within_epoch = self.within_epoch, None
        now = self._rng_states()
        if within is None:
            self.epoch_rng = now  # before iter(): the epoch's data order is drawn from these
        else:
            self._set_rng_states(self.epoch_rng)
        batches = iter(loader)
        first = 0 if within is None else within["step"]
        for _ in range(first):
            next(batches)
        if within is not None:
            self._set_rng_states(now)
            self.loss_sum += within["loss_sum"].to(self.device)
            self.n_tokens, self.t0 = within["n_tokens"], self.t0 - within["seconds"]
        keeps = bool(self.options.state_path) and self.writer
        last_save = time.perf_counter()
        bar = utils.progress(batches, desc=f"epoch {epoch + 1}", total=len(loader) - first)
        with utils.signals_deferred() as interrupts:
            for idx, batch in enumerate(bar, start=first):
                yield idx, batch
                due = time.perf_counter() - last_save >= self.options.state_every_s
                if keeps and (due or interrupts.pending):
                    self.save_within_epoch(idx + 1)
                    last_save = time.perf_counter()
                if interrupts.pending:
                    interrupts.deliver()

    def save_within_epoch(self, steps: int) -> None:
        """The training state after `steps` steps of the epoch under way (`load_state_dict` goes
        on from the next one)."""
        state = self.state_dict()
        state.update(
            step=steps,
            loss_sum=self.loss_sum.detach().cpu(),
            n_tokens=self.n_tokens,
            seconds=time.perf_counter() - self.t0,
            epoch_rng=self.epoch_rng,
        )
        save_training_state(self.options.state_path, state)

    # ------------------------------------------------------------------ one epoch
    def start_epoch(self, epoch) -> None:
        self.epoch, self.t0, self.n_tokens = epoch, time.perf_counter(), 0
        self.loss_sum = torch.zeros((), dtype=torch.float64, device=self.device)

    def add_step(self, idx, loss, batch_sum, n_targets, print_every) -> None:
        """Add a step's summed loss; stop a diverged run; log every `print_every` steps."""
        self.loss_sum += batch_sum
        self.n_tokens += n_targets
        # A CPU checks every step; an accelerator every 100, so that it need not wait for each
        # step's loss.
        if (self.device.type == "cpu" or idx % 100 == 0) and not torch.isfinite(self.loss_sum):
            kept = (
                f"the checkpoint of epoch {self.best_epoch + 1} is kept"
                if self.best_epoch is not None
                else "no checkpoint was kept"
            )
            raise utils.TrainingDiverged(
                f"the training loss became {loss.item()} at epoch {self.epoch + 1}, by step {idx} "
                f"(lr {self.optimizer.param_groups[0]['lr']:.2e}); {kept}: lower the learning "
                f"rate, or check the data"
            )
        if print_every and idx % print_every == 0:
            rate = self.n_tokens * self.world / max(time.perf_counter() - self.t0, 1e-9)
            self.log(
                f"  iter {idx:6d}  loss {loss.item():.4f}  ppl "
                f"{math.exp(min(loss.item(), 50)):9.2f}  "
                f"lr {self.optimizer.param_groups[0]['lr']:.2e}  {rate:,.0f} tokens/s"
            )

    def epoch_mean(self) -> float:
        """The epoch's train loss per token (a mean of per-batch perplexities would overstate exp of
        it, by Jensen's inequality), over every process; recorded in the history."""
        count = torch.tensor(float(self.n_tokens), dtype=torch.float64, device=self.device)
        totals = torch.stack([self.loss_sum, count])
        distributed.sum_over_processes(totals, self.world)
        train_loss = totals[0].item() / max(totals[1].item(), 1)
        if not math.isfinite(train_loss):
            raise utils.TrainingDiverged(
                f"the training loss became {train_loss} in epoch {self.epoch + 1}; lower the "
                f"learning rate, or check the data"
            )
        self.history.train_loss.append(train_loss)
        self.history.train_ppl.append(math.exp(min(train_loss, 700)))
        return train_loss

    def score_dev(self, score):
        """(dev loss, dev perplexity, a CPU copy of the weights scored if they beat the best so
        far): `score()` of the weight average when there is one (the last iterate's perplexity
        recorded too)."""
        if self.average is not None:
            self.history.dev_ppl_last_iterate.append(score()[1])
        with applied(self.average):
            dev_loss, dev_ppl = score()
            # the weights scored, copied (to the CPU): training goes on with the live ones
            best_state = None
            if dev_ppl < self.best_ppl:
                best_state = {
                    k: v.detach().to("cpu", copy=True) for k, v in self.core.state_dict().items()
                }
        return dev_loss, dev_ppl, best_state

    def end_epoch(self, train_loss, dev_loss, dev_ppl, best_state) -> bool:
        """Record the dev score, save a better checkpoint, keep the training state; True to stop
        early."""
        epoch = self.epoch
        if not math.isfinite(dev_loss):
            raise utils.TrainingDiverged(
                f"the dev loss became {dev_loss} after epoch {epoch + 1}; lower the learning rate"
            )
        self.history.dev_loss.append(dev_loss)
        self.history.dev_ppl.append(dev_ppl)
        seconds = time.perf_counter() - self.t0
        self.train_seconds += seconds
        self.log(
            f"Epoch {epoch + 1}: train loss {train_loss:.4f} (ppl "
            f"{self.history.train_ppl[-1]:.2f}); dev "
            f"loss {dev_loss:.4f}, dev ppl {dev_ppl:.2f}; {seconds:.0f} s"
        )
        patience = self.options.patience
        if dev_ppl < self.best_ppl:
            self.log(
                f"{'-' * 10} Epoch {epoch + 1}: best dev perplexity improved from "
                f"{self.best_ppl:.2f} to "
                f"{dev_ppl:.2f}, saving the model to {self.save_path} {'-' * 10}"
            )
            self.best_ppl, self.bad_epochs = dev_ppl, 0
            self.best_state, self.best_epoch = best_state, epoch
            meta = self.options.checkpoint_meta
            if self.save_path and self.writer:
                meta = None if meta is None else {**meta, "epoch": epoch, "dev_ppl": dev_ppl}
                save_checkpoint(best_state, self.save_path, meta)
        else:
            self.bad_epochs += 1
            self.stopped = patience is not None and self.bad_epochs >= patience
        if self.options.state_path and self.writer:
            save_training_state(self.options.state_path, self)
        if self.stopped:
            self.log(f"early stopping: no better dev perplexity for {patience} epochs")
        return self.stopped


def fit_report(run: TrainingRun, model, tokenizer, config, streams, t_start) -> dict:
    """The numbers of a `fit_mlp_lm` run: the history, the best epoch, the sizes, the time, the
    FLOPs. The training time is summed over every session of a resumed run, whose `resumed_after`
    lists the epochs after which it went on. `streams`: (train (T,), dev (T_dev,))."""
    train_stream, dev_stream = streams
    history = asdict(run.history)
    if not history["dev_ppl_last_iterate"]:
        del history["dev_ppl_last_iterate"]
    dev_ppl = run.history.dev_ppl
    best = int(np.argmin(dev_ppl))
    epochs = len(dev_ppl)
    return {
        "history": history,
        "best_epoch": best + 1,
        "best_dev_ppl": dev_ppl[best],
        "best_dev_loss": run.history.dev_loss[best],
        "epochs_run": epochs,
        "parameters": sum(p.numel() for p in model.parameters() if p.requires_grad),
        "vocab_size": tokenizer.vocab_size,
        "train_tokens": train_stream.numel(),
        "dev_targets": dev_stream.numel(),
        "train_seconds": run.train_seconds,
        "train_tokens_per_second_incl_eval": epochs
        * train_stream.numel()
        / max(run.train_seconds, 1e-9),
        "resumed_after": run.resumed_after,
        "seconds_total": time.perf_counter() - t_start,
        "save_path": str(config.save_path),
        "flops": train_flops_per_token(model, train_stream),
        "device": str(run.device),
        "processes": run.world,
        "global_batch_size": config.batch_size,
    }
