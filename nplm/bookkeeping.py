"""`mlp_lm.train`'s bookkeeping around the course's training step: the per-epoch history, the best dev score and
its weights (of the weight average when there is one, nplm/average.py), early stopping (`patience`), the checks
that stop a diverged run, the log lines, the best checkpoint and the training state that a run resumes from
(nplm/checkpoint.py)."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import torch

from nplm import distributed
import utils
from nplm.average import applied
from nplm.checkpoint import restore_training_state, save_checkpoint, save_training_state
from nplm.kernels import train_flops_per_token


@dataclass
class TrainedLM:
    """What mlp_lm.fit_mlp_lm gives back: the model holding its best weights (eval mode), its tokenizer, its
    config and the run's numbers (`fit_report`)."""

    model: "torch.nn.Module"
    tokenizer: object
    config: object
    report: dict


class TrainingRun:
    """`train`'s bookkeeping around the course's step: the history, the best dev score and its weights, early
    stopping, the divergence checks, the log lines, the checkpoint and the training state (resume)."""

    def __init__(
        self,
        core,
        optimizer,
        scheduler,
        average,
        train_loader,
        record,
        log,
        save_path,
        patience,
        checkpoint_meta,
        state_path,
    ):
        self.core, self.optimizer, self.scheduler, self.average = (
            core,
            optimizer,
            scheduler,
            average,
        )
        self.generator = getattr(
            train_loader, "generator", None
        )  # WindowBatches' shuffle; a DataLoader's is torch's
        writer = getattr(train_loader, "rank", 0) == 0  # only one process writes files
        self.world = getattr(
            train_loader, "world", 1
        )  # processes training together (1 but under torchrun)
        self.device = next(core.parameters()).device
        self.record = {} if record is None else record
        self.log, self.save_path, self.patience, self.meta = (
            log,
            save_path,
            patience,
            checkpoint_meta,
        )
        self.state_path, self.writer = state_path, writer
        self.hist, self.best_ppl, self.bad_epochs = ([], [], [], []), math.inf, 0
        self.first_epoch, self.stopped = 0, False

    def resume(self, state: dict) -> None:
        self.hist, self.best_ppl, self.bad_epochs, self.stopped = restore_training_state(
            state,
            self.core,
            self.optimizer,
            self.scheduler,
            self.average,
            self.generator,
            self.record,
        )
        self.first_epoch = state["epoch"] + 1
        self.log(f"{'-' * 10} resuming after epoch {state['epoch']} {'-' * 10}")

    def start_epoch(self, epoch) -> None:
        self.epoch, self.t0, self.n_tokens = epoch, time.perf_counter(), 0
        self.loss_sum = torch.zeros((), dtype=torch.float64, device=self.device)

    def add_step(self, idx, loss, batch_sum, n_targets, print_every) -> None:
        """Add a step's summed loss; stop a diverged run; log every `print_every` steps."""
        self.loss_sum += batch_sum
        self.n_tokens += n_targets
        # A CPU checks every step; an accelerator every 100, so that it need not wait for each step's loss.
        if (self.device.type == "cpu" or idx % 100 == 0) and not torch.isfinite(self.loss_sum):
            kept = (
                f"the checkpoint of epoch {self.record['best_epoch']} is kept"
                if "best_epoch" in self.record
                else "no checkpoint was kept"
            )
            raise utils.TrainingDiverged(
                f"the training loss became {loss.item()} at epoch {self.epoch}, by step {idx} (lr "
                f"{self.optimizer.param_groups[0]['lr']:.2e}); {kept}: lower the learning rate, or check the data"
            )
        if print_every and idx % print_every == 0:
            rate = self.n_tokens * self.world / max(time.perf_counter() - self.t0, 1e-9)
            self.log(
                f"  iter {idx:6d}  loss {loss.item():.4f}  ppl {math.exp(min(loss.item(), 50)):9.2f}  "
                f"lr {self.optimizer.param_groups[0]['lr']:.2e}  {rate:,.0f} tokens/s"
            )

    def epoch_mean(self) -> float:
        """The epoch's train loss per token (a mean of per-batch perplexities would overstate exp of it, by
        Jensen's inequality), over every process; recorded in the history."""
        totals = torch.stack(
            [
                self.loss_sum,
                torch.tensor(float(self.n_tokens), dtype=torch.float64, device=self.device),
            ]
        )
        distributed.sum_over_processes(totals, self.world)
        train_loss = totals[0].item() / max(totals[1].item(), 1)
        if not math.isfinite(train_loss):
            raise utils.TrainingDiverged(
                f"the training loss became {train_loss} in epoch {self.epoch}; lower the "
                f"learning rate, or check the data"
            )
        self.hist[0].append(train_loss)
        self.hist[1].append(math.exp(min(train_loss, 700)))
        return train_loss

    def score_dev(self, score):
        """(dev loss, dev perplexity, a CPU copy of the weights scored if they beat the best so far): `score()`
        of the weight average when there is one (the last iterate's perplexity recorded too)."""
        if self.average is not None:
            self.record.setdefault("dev_ppl_last_iterate", []).append(score()[1])
        with applied(self.average):
            dev_loss, dev_ppl = score()
            # the weights scored, copied (to the CPU): training goes on with the live ones
            best_state = (
                {k: v.detach().to("cpu", copy=True) for k, v in self.core.state_dict().items()}
                if dev_ppl < self.best_ppl
                else None
            )
        return dev_loss, dev_ppl, best_state

    def end_epoch(self, train_loss, dev_loss, dev_ppl, best_state) -> bool:
        """Record the dev score, save a better checkpoint, keep the training state; True to stop early."""
        epoch, t0 = self.epoch, self.t0
        if not math.isfinite(dev_loss):
            raise utils.TrainingDiverged(
                f"the dev loss became {dev_loss} after epoch {epoch}; lower the learning rate"
            )
        self.hist[2].append(dev_loss)
        self.hist[3].append(dev_ppl)
        self.log(
            f"Epoch {epoch}: train loss {train_loss:.4f} (ppl {self.hist[1][-1]:.2f}); dev loss "
            f"{dev_loss:.4f}, dev ppl {dev_ppl:.2f}; {time.perf_counter() - t0:.0f} s"
        )
        if dev_ppl < self.best_ppl:
            self.log(
                f"{'-' * 10} Epoch {epoch}: best dev perplexity improved from {self.best_ppl:.2f} to "
                f"{dev_ppl:.2f}, saving the model to {self.save_path} {'-' * 10}"
            )
            self.best_ppl, self.bad_epochs = dev_ppl, 0
            self.record.update(best_state=best_state, best_epoch=epoch)
            if self.save_path and self.writer:
                meta = (
                    None if self.meta is None else {**self.meta, "epoch": epoch, "dev_ppl": dev_ppl}
                )
                save_checkpoint(best_state, self.save_path, meta)
        else:
            self.bad_epochs += 1
            self.stopped = self.patience is not None and self.bad_epochs >= self.patience
        if self.state_path and self.writer:
            save_training_state(
                self.state_path,
                epoch,
                self.core,
                self.optimizer,
                self.scheduler,
                self.average,
                self.generator,
                self.hist,
                self.record,
                self.best_ppl,
                self.bad_epochs,
                self.stopped,
                self.meta,
            )
        if self.stopped:
            self.log(f"early stopping: no better dev perplexity for {self.patience} epochs")
        return self.stopped


def fit_report(
    hist,
    record,
    model,
    tokenizer,
    config,
    train_stream,
    dev_stream,
    train_seconds,
    t_start,
    device,
    world,
) -> dict:
    """The numbers of a `fit_mlp_lm` run: the history, the best epoch, the sizes, the time, the FLOPs."""
    best = int(np.argmin(hist[3]))
    extra = (
        {"dev_ppl_last_iterate": record["dev_ppl_last_iterate"]}
        if "dev_ppl_last_iterate" in record
        else {}
    )
    return {
        "history": {
            "train_loss": hist[0],
            "train_ppl": hist[1],
            "dev_loss": hist[2],
            "dev_ppl": hist[3],
            **extra,
        },
        "best_epoch": best + 1,
        "best_dev_ppl": hist[3][best],
        "best_dev_loss": hist[2][best],
        "epochs_run": len(hist[0]),
        "parameters": sum(p.numel() for p in model.parameters() if p.requires_grad),
        "vocab_size": tokenizer.vocab_size,
        "train_tokens": train_stream.numel(),
        "dev_targets": dev_stream.numel(),
        "train_seconds": train_seconds,
        "train_tokens_per_second_incl_eval": len(hist[0]) * train_stream.numel() / train_seconds,
        "seconds_total": time.perf_counter() - t_start,
        "save_path": str(config.save_path),
        "flops": train_flops_per_token(model, train_stream),
        "device": str(device),
        "processes": world,
        "global_batch_size": config.batch_size,
    }
