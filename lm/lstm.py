"""A small LSTM language model beside the fixed-window one: `python main.py lstm`.

Zaremba, Sutskever and Vinyals. 2014. *Recurrent Neural Network Regularization.* arXiv:1409.2329.
The model has the shape of pytorch/examples' word_language_model small model (2 layers of 200
units, embeddings of 200, dropout 0.2, truncated backpropagation through time over 35 steps,
gradients clipped at 0.25), its output word vectors tied to the input embeddings (Press and Wolf
2017, *Using the Output Embedding to Improve Language Models*) through our adaptive softmax
(nplm/output.py). It trains for a fixed wall-clock budget on our vocabulary and is scored as the
fixed-window model is: every token of a split and one `<eos>` per line is a target, perplexity =
exp(mean NLL per target), alone, with the continuous cache (lm/cache.py), mixed with a Kneser-Ney
n-gram model (lm/ngram.py), with dynamic evaluation (lm/dynamic.py), and with these together.

The file reads top to bottom: the config, the model, the training (batchify, TBPTT chunks, the
wall-clock schedule), the scoring (one pass over a stream, dynamic evaluation), and the command.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional

import torch
import torch.nn as nn

import mlp_lm
import utils
from lm.dynamic import check_dynamic_args, dynamic_pass, synced_clock, trainable_params
from lm.pipeline import ModelRun, Trained, run_pipeline
from common.settings import check_settings, setting, with_default
from lm.scoring import DYNAMIC_SEGMENT, SHARE, Reader, Scoring, scoring_workers
from nplm.checkpoint import load_model, save_checkpoint
from nplm.corpus import TRAIN_FILE, WordTokenizer, encode_stream, load_data_mlp_lm
from nplm.kernels import make_adamw
from nplm.output import CUTOFFS, DEFAULT_CUTOFFS, NPLMAdaptiveFinalBlock, OutputSettings

# the command whose flags set an LSTM field
LSTM = ("lstm",)
TRAIN_LOSS_NOTE = (
    "train_loss and train_ppl: the running mean over the chunks trained since the previous "
    "evaluation, dropout on; dev_loss and dev_ppl: the whole dev stream, dropout off"
)
BUDGET_NOTE = (
    "budget_seconds counts the training steps only (forward, backward, clipping, the optimiser); "
    "dev scoring during training is timed apart (eval_seconds)"
)


# --------------------------------------------------------------------------- configuration
@dataclass
class LSTMConfig(Scoring):
    """Everything an LSTM run needs, as plain attributes: lm/scoring.Scoring's fields and the
    LSTM's; the defaults are `python main.py lstm`'s (pytorch/examples' small model, on our
    vocabulary, scored with every mode, as `lm`'s default preset), `quick` a seconds-long smoke
    run."""

    # the model
    embed_dim: int = setting(200, "word embedding size E", low=1, commands=LSTM)
    hidden_dim: int = setting(200, "hidden size H", low=1, commands=LSTM)
    num_layers: int = setting(2, "stacked LSTM layers", low=1)
    dropout_p: float = setting(
        0.2, "dropout rate, in [0, 1)", **SHARE, flag="--dropout", commands=LSTM
    )
    cutoffs: List[int] = setting(
        DEFAULT_CUTOFFS, "the adaptive softmax's cluster bounds", **CUTOFFS
    )
    div_value: float = setting(
        4.0, "the adaptive softmax's width ratio per cluster", low=0, open_low=True
    )
    # the training: TBPTT over `batch_size` contiguous columns, for `budget_seconds` of training
    bptt: int = setting(35, "steps of truncated backpropagation through time", low=1, commands=LSTM)
    batch_size: int = setting(
        32,
        "columns of the train stream (one chunk is bptt x batch_size tokens)",
        low=1,
        commands=LSTM,
    )
    lr: float = setting(2e-3, "AdamW's peak learning rate", low=0, open_low=True, commands=LSTM)
    weight_decay: float = setting(0.01, "AdamW's decoupled weight decay", low=0)
    warmup_fraction: float = setting(
        0.02, "linear warmup over this share of the budget, then a cosine", **SHARE
    )
    grad_clip: float = setting(0.25, "max gradient norm (0: none), as pytorch/examples", low=0)
    budget_seconds: float = setting(
        900.0,
        "seconds of training (the steps alone; dev scoring is timed apart), the learning-rate "
        "schedule spread over them",
        low=0,
        open_low=True,
        flag="--budget",
        commands=LSTM,
    )
    # the schedule follows whichever of the two budgets ends first: a step budget makes a run
    # repeat exactly
    max_steps: Optional[int] = setting(
        None, "also stop after this many steps", kind=int, low=1, optional=True
    )
    max_train_tokens: Optional[int] = setting(
        None,
        "train on a prefix of this many tokens",
        kind=int,
        low=2,
        optional=True,
        commands=LSTM,
    )
    max_dev_tokens: Optional[int] = setting(
        None,
        "score dev and test prefixes of this many tokens",
        kind=int,
        low=1,
        optional=True,
        commands=LSTM,
    )
    min_count: int = setting(1, "words seen fewer times in train become <unk>", low=1)
    # the scoring
    eval_batch_size: int = setting(
        10, "columns when scoring a stream (each starts from <eos>)", low=1, commands=LSTM
    )
    # Scoring's modes, on by default
    cache_size: int = with_default(Scoring, "cache_size", 2000)
    dynamic_segment: int = with_default(Scoring, "dynamic_segment", DYNAMIC_SEGMENT)
    ngram_order: int = with_default(Scoring, "ngram_order", 5)
    # bookkeeping (--seed and --device are every command's, cli/flags.py)
    seed: int = setting(0, "the run's seed", low=0)
    num_threads: Optional[int] = setting(
        2, "torch threads", kind=int, low=1, optional=True, flag="--threads", commands=LSTM
    )
    device: str = setting(
        "auto",
        "auto (CUDA, then MPS, then the CPU), cpu, cuda, cuda:N or mps",
        expected_text="a device name",
    )
    print_every: int = setting(200, "log every this many steps (0: never)", low=0, commands=LSTM)
    save_path: str = setting(
        "checkpoints/lstm_lm.pt",
        "the best model's file",
        rule=lambda p: bool(str(p)),
        expected_text="a file path",
    )
    name: str = setting("default", "the run's name")

    QUICK = dict(
        embed_dim=64,
        hidden_dim=64,
        batch_size=16,
        bptt=20,
        budget_seconds=5.0,
        max_train_tokens=60_000,
        max_dev_tokens=4_000,
        cache_size=500,
        dynamic_lrs=[0.1],
        dynamic_decays=[0.002],
        dynamic_tune_tokens=1_000,
        print_every=50,
    )

    def __post_init__(self):
        self.cutoffs = list(self.cutoffs)
        self.as_lists()
        self.validate()

    @classmethod
    def quick(cls, **overrides) -> "LSTMConfig":
        return cls(**{**cls.QUICK, "name": "quick", **overrides})

    def validate(self) -> None:
        """utils.ConfigError naming the first field out of range, then a train prefix too short for
        the batch's columns; before any data is read."""
        check_settings(self, "LSTMConfig")
        # batchify's 2 tokens per column, seen from the values alone
        if self.max_train_tokens is not None and self.max_train_tokens < 2 * self.batch_size:
            raise utils.ConfigError(
                "LSTMConfig",
                "max_train_tokens",
                f"at least 2 x batch_size ({2 * self.batch_size}), 2 tokens per column",
                self.max_train_tokens,
            )

    def model_fields(self) -> dict:
        """The arguments of `LSTMLM` after the vocabulary size: what a checkpoint rebuilds."""
        return dict(
            embed_dim=self.embed_dim,
            hidden_dim=self.hidden_dim,
            num_layers=self.num_layers,
            dropout_p=self.dropout_p,
            cutoffs=list(self.cutoffs),
            div_value=self.div_value,
        )

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


# --------------------------------------------------------------------------- model
class LSTMLM(nn.Module):
    """Embedding (V, E), dropout, a stacked `nn.LSTM(E, H, num_layers, dropout=p)`, dropout, and an
    adaptive softmax whose word vectors are the input embeddings (Press and Wolf 2017; through one
    projection H -> E per cluster, so H need not equal E; nplm/output.py). Time-major, as
    pytorch/examples' RNNModel: inputs (T, B) of token ids, state (h, c) each (num_layers, B, H).

    `final_layer` has the fixed-window model's interface (`nll`, `target_log_prob`, `forward`), so
    lm/cache.py and lm/dynamic.py read this model's features as they read the NPLM's."""

    def __init__(self, vocab_size: int, embed_dim=200, hidden_dim=200, num_layers=2, **more):
        super().__init__()
        # dropout_p (0.2), and the adaptive softmax's cutoffs and div_value (nplm/output.py)
        dropout_p = more.pop("dropout_p", 0.2)
        out = OutputSettings("adaptive", **more, tie_embeddings=True)
        self.hidden_dim, self.num_layers = hidden_dim, num_layers
        self.embedding = nn.Embedding(vocab_size, embed_dim)
        self.drop = nn.Dropout(dropout_p)
        self.lstm = nn.LSTM(
            embed_dim, hidden_dim, num_layers, dropout=dropout_p if num_layers > 1 else 0.0
        )
        self.final_layer = NPLMAdaptiveFinalBlock(
            vocab_size, hidden_dim, out.cutoffs, out.div_value, tie_to=self.embedding
        )
        # pytorch/examples: the (tied) word vectors uniform in +-0.1; the LSTM keeps torch's init
        nn.init.uniform_(self.embedding.weight, -0.1, 0.1)

    def initial_state(self, batch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Zeros (h, c), each (num_layers, B, H), on the model's device and dtype."""
        w = self.embedding.weight
        shape = (self.num_layers, batch_size, self.hidden_dim)
        return w.new_zeros(shape), w.new_zeros(shape)

    def features(self, inputs: torch.Tensor, state=None):
        """(hidden (T, B, H), new state) for inputs (T, B): the last layer's output after dropout,
        the vector the output layer reads and the continuous cache compares."""
        x = self.drop(self.embedding(inputs))  # (T, B, E)
        out, state = self.lstm(x, state)  # (T, B, H); state: (L, B, H) twice
        return self.drop(out), state

    def nll(self, inputs: torch.Tensor, targets: torch.Tensor, state=None, reduction="mean"):
        """(negative log-likelihood of targets (T, B), new state): the mean over the T * B targets,
        or (T * B,) in time-major order with reduction="none"."""
        hidden, state = self.features(inputs, state)  # (T, B, H)
        flat = hidden.reshape(-1, self.hidden_dim)  # (T * B, H)
        return self.final_layer.nll(flat, targets.reshape(-1), reduction=reduction), state


def build_lstm(vocab_size: int, **fields) -> LSTMLM:
    """The model of a checkpoint's saved fields (nplm.checkpoint.load_model's `build`)."""
    return LSTMLM(vocab_size, **fields)


def detach_state(state):
    """The state cut from the graph of the chunk that made it: TBPTT's truncation."""
    return None if state is None else tuple(s.detach() for s in state)


# --------------------------------------------------------------------------- training
class StreamTooShort(ValueError):
    """The train stream holds fewer than 2 tokens per column of the batch: the data is shorter than
    the config's values could show (one line, naming the flag to lower)."""


def batchify(stream: torch.Tensor, batch_size: int) -> torch.Tensor:
    """The stream (T,) cut into `batch_size` contiguous columns: (L, B), L = T // B; column b is
    stream[b * L : (b + 1) * L] (the last T - L * B tokens are dropped, as pytorch/examples)."""
    L = stream.numel() // batch_size
    if L < 2:
        raise StreamTooShort(
            f"the train stream of {stream.numel():,} tokens is too short for {batch_size:,} "
            f"columns of 2 tokens or more; lower --batch-size to {stream.numel() // 2:,} or less"
        )
    return stream[: L * batch_size].view(batch_size, L).t().contiguous()  # (L, B)


def tbptt_chunks(data: torch.Tensor, bptt: int):
    """(inputs (t, B), targets (t, B)) for consecutive chunks of `bptt` steps of data (L, B), t <=
    bptt: the targets are the inputs one step on, so the chunks together predict data[1:]."""
    L = data.shape[0]
    for i in range(0, L - 1, bptt):
        t = min(bptt, L - 1 - i)
        yield data[i : i + t], data[i + 1 : i + 1 + t]


def train_chunk(model, optimizer, inputs, targets, state, grad_clip: float):
    """One TBPTT step from `state` (detached here): the chunk's mean NLL, backward, clipping, the
    optimiser's step. Returns (loss, the state at the chunk's end, for the next chunk)."""
    loss, state = model.nll(inputs, targets, detach_state(state))
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if grad_clip:
        nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    optimizer.step()
    return loss.detach(), state


def lr_factor(fraction: float, warmup_fraction: float) -> float:
    """The learning rate's share of its peak when `fraction` of the budget is spent: a linear
    warmup, then a cosine to 5 % (as nplm/optim.py's cosine)."""
    if fraction < warmup_fraction:
        return (fraction + 1e-3) / (warmup_fraction + 1e-3)
    progress = min(1.0, (fraction - warmup_fraction) / max(1e-9, 1.0 - warmup_fraction))
    return 0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * progress))


class Budget:
    """How much of the run is spent: the training seconds over `seconds`, or the steps over
    `max_steps`, whichever is further on (1.0: stop)."""

    def __init__(self, seconds: float, max_steps: Optional[int] = None):
        self.seconds, self.max_steps = seconds, max_steps
        self.train_seconds, self.steps = 0.0, 0

    def fraction(self) -> float:
        spent = self.train_seconds / self.seconds
        if self.max_steps:
            spent = max(spent, self.steps / self.max_steps)
        return min(1.0, spent)


def train_lstm(model: LSTMLM, config: LSTMConfig, streams, pad_id: int, on_best=None, log=print):
    """Train on `streams` (train (T,), dev (T_dev,)) with TBPTT until the budget is spent: the state
    is carried from chunk to chunk (detached), reset to zeros at each epoch's start; AdamW on the
    wall-clock schedule (`lr_factor` of the budget's spent fraction). Dev is scored after each epoch
    and when the budget ends; the best weights are loaded back at the end (`on_best(model, record)`
    is called at each new best: the command saves the checkpoint). Returns the history and the
    times."""
    train_stream, dev_stream = streams
    device = next(model.parameters()).device
    data = batchify(train_stream, config.batch_size).to(device)  # (L, B)
    optimizer = make_adamw(model, config.lr, config.weight_decay)
    budget = Budget(config.budget_seconds, config.max_steps)
    history: dict = {
        k: []
        for k in (
            "epoch",
            "step",
            "train_loss",
            "train_ppl",
            "dev_loss",
            "dev_ppl",
            "train_seconds",
            "elapsed_seconds",
            "lr",
        )
    }
    best = {"dev_ppl": math.inf, "state": None, "step": 0, "epoch": 0}
    eval_seconds, t0, epoch = 0.0, time.perf_counter(), 0
    chunks_per_epoch = math.ceil((data.shape[0] - 1) / config.bptt)
    log(
        f"training {sum(p.numel() for p in model.parameters()):,} parameters for "
        f"{config.budget_seconds:g} s: {data.shape[1]} columns of {data.shape[0]:,} tokens, "
        f"{chunks_per_epoch:,} chunks of {config.bptt} per epoch"
    )
    while budget.fraction() < 1.0:
        epoch += 1
        model.train()
        state, loss_sum, n_chunks = model.initial_state(data.shape[1]), 0.0, 0
        for inputs, targets in tbptt_chunks(data, config.bptt):
            fraction = budget.fraction()
            if fraction >= 1.0:
                break
            lr = config.lr * lr_factor(fraction, config.warmup_fraction)
            for group in optimizer.param_groups:
                group["lr"] = lr
            t = synced_clock(device)
            loss, state = train_chunk(model, optimizer, inputs, targets, state, config.grad_clip)
            loss = loss.item()
            budget.train_seconds += synced_clock(device) - t
            budget.steps += 1
            if not math.isfinite(loss):
                raise utils.TrainingDiverged(
                    f"the LSTM's training loss is {loss} at epoch {epoch}, step {budget.steps} "
                    f"(lr {lr:.3g}); lower --lr or raise the clipping"
                )
            loss_sum, n_chunks = loss_sum + loss, n_chunks + 1
            if config.print_every and budget.steps % config.print_every == 0:
                log(
                    f"epoch {epoch} step {budget.steps:,}: loss {loss_sum / n_chunks:.3f}, lr "
                    f"{lr:.2e}, {budget.train_seconds:.0f} of {config.budget_seconds:g} s"
                )
        if n_chunks == 0:
            break
        t = time.perf_counter()
        _, log_probs = score_stream(model, dev_stream, pad_id, config.eval_batch_size)
        dev_loss = -log_probs.double().mean().item()
        eval_seconds += time.perf_counter() - t
        record = dict(
            epoch=epoch,
            step=budget.steps,
            train_loss=loss_sum / n_chunks,
            train_ppl=math.exp(loss_sum / n_chunks),
            dev_loss=dev_loss,
            dev_ppl=math.exp(dev_loss),
            train_seconds=budget.train_seconds,
            elapsed_seconds=time.perf_counter() - t0,
            lr=lr,
        )
        for k, v in record.items():
            history[k].append(v)
        ended = "the budget's end" if budget.fraction() >= 1.0 else f"epoch {epoch}"
        log(
            f"after {ended} (step {budget.steps:,}, {budget.train_seconds:.0f} s): train loss "
            f"{record['train_loss']:.3f}, dev perplexity {record['dev_ppl']:.2f}"
        )
        if best["state"] is None or record["dev_ppl"] < best["dev_ppl"]:
            best.update(
                dev_ppl=record["dev_ppl"],
                step=budget.steps,
                epoch=epoch,
                state={k: v.detach().clone() for k, v in model.state_dict().items()},
            )
            if on_best is not None:
                on_best(model, record)
    if best["state"] is not None:
        model.load_state_dict(best["state"])
    model.eval()
    tokens = budget.steps * config.bptt * config.batch_size
    return {
        "history": history,
        "history_note": TRAIN_LOSS_NOTE,
        "budget_note": BUDGET_NOTE,
        "best_dev_ppl": best["dev_ppl"],
        "best_step": best["step"],
        "best_epoch": best["epoch"],
        "steps": budget.steps,
        "epochs_started": epoch,
        "chunks_per_epoch": chunks_per_epoch,
        "train_seconds": budget.train_seconds,
        "train_tokens_seen": tokens,
        "train_tokens_per_second": tokens / max(budget.train_seconds, 1e-9),
        "eval_seconds": eval_seconds,
        "parameters": sum(p.numel() for p in model.parameters() if p.requires_grad),
    }


# --------------------------------------------------------------------------- scoring
@torch.no_grad()
def score_stream(
    model: LSTMLM, stream: torch.Tensor, pad_id: int, batch_size: int = 10, chunk_len: int = 512
):
    """(features (T, H), log p(x_t | x_<t) (T,)), in stream order, for every token of the stream
    scored exactly once: the stream is cut into `batch_size` contiguous columns of ceil(T / B)
    tokens (the last padded at its end, where no earlier score can see it), each read from a
    `pad_id` (<eos>) input with the state carried through the column, `chunk_len` steps at a time.
    With batch_size 1 it is one pass over the whole stream. The same signature and outputs as
    lm/cache.py's `features_and_log_probs`, so the continuous cache reads it unchanged. Eval mode;
    the model's previous mode is restored."""
    T = stream.numel()
    device = next(model.parameters()).device
    B = max(1, min(batch_size, T))
    L = math.ceil(T / B)
    padded = torch.full((B * L,), pad_id, dtype=torch.long, device=device)
    padded[:T] = stream.to(device)
    targets = padded.view(B, L).t()  # (L, B): column b is stream[b * L : (b + 1) * L]
    inputs = torch.cat([targets.new_full((1, B), pad_id), targets[:-1]])  # (L, B)
    features, log_probs, state = [], [], None
    with utils.evaluating(model):
        for i in range(0, L, chunk_len):
            hidden, state = model.features(inputs[i : i + chunk_len], state)  # (t, B, H)
            t = hidden.shape[0]
            # (t * B,)
            lp = model.final_layer.target_log_prob(
                hidden.reshape(-1, model.hidden_dim), targets[i : i + t].reshape(-1)
            )
            features.append(hidden)
            log_probs.append(lp.view(t, B))
    features_t = torch.cat(features).transpose(0, 1).reshape(B * L, -1)[:T]  # (T, H)
    log_probs_t = torch.cat(log_probs).t().reshape(-1)[:T]  # (T,)
    return features_t, log_probs_t


def lstm_dynamic_eval(model: LSTMLM, stream: torch.Tensor, pad_id: int, step, timing=None):
    """Dynamic evaluation of the LSTM (Krause, Kahembwe, Murray and Renals 2018): the stream is read
    in one column, step.segment_len tokens at a time (`step`: lm/dynamic.DynamicStep), the state
    carried (detached) from segment to segment; each segment is scored, then the weights take one
    SGD step on its mean NLL with a decay to the trained weights (lm/dynamic.py's
    `sgd_step_with_decay`). A token is scored before any step has seen it. Returns (features (T, H),
    log p (T,)) in stream order, as lm/dynamic.py's `dynamic_eval` does (its signature:
    lm/scoring.Reader.dynamic_eval takes it); the weights and the mode are restored
    (lm/dynamic.dynamic_pass)."""
    lr, decay, segment_len = step
    check_dynamic_args([lr], [decay], segment_len)
    device = trainable_params(model)[0].device
    column = stream.long().to(device)  # (T,)
    inputs_all = torch.cat([column.new_full((1,), pad_id), column[:-1]])  # (T,)
    # (S, 1) inputs, (S,) targets
    segments = (
        (inputs_all[i : i + segment_len].view(-1, 1), column[i : i + segment_len])
        for i in range(0, column.numel(), segment_len)
    )
    state = None

    def read(inputs, targets, static: bool):
        nonlocal state
        if static:
            return model.nll(inputs, targets, state)
        hidden, new_state = model.features(inputs, state)  # (S, 1, H)
        # carried to the next segment, cut from this one's graph
        state = detach_state(new_state)
        return hidden.view(-1, model.hidden_dim)  # (S, H)

    return dynamic_pass(model, segments, (lr, decay), read, timing)


def score_splits(model, tokenizer, splits: dict, config: LSTMConfig) -> dict:
    """{split: {loss, ppl, targets, seconds}}: each split's stream scored once (`score_stream`)."""
    out = {}
    for split, data in splits.items():
        t = time.perf_counter()
        stream = encode_stream(data, tokenizer, config.max_dev_tokens)
        _, lp = score_stream(model, stream, tokenizer.pad_token_id, config.eval_batch_size)
        loss = -lp.double().mean().item()
        out[split] = {
            "loss": loss,
            "ppl": math.exp(loss),
            "targets": stream.numel(),
            "seconds": time.perf_counter() - t,
        }
    return out


# --------------------------------------------------------------------------- the command
def lstm_stem(name: Optional[str]) -> str:
    """lstm_lm for the default run, lstm_lm_NAME otherwise (--name, or quick with --quick)."""
    return "lstm_lm" if name in (None, "default") else f"lstm_lm_{name}"


def load_lstm_checkpoint(path) -> tuple[LSTMLM, WordTokenizer, dict]:
    """(model in eval mode, tokenizer, meta) of a checkpoint `cmd_lstm` saved: the model rebuilt
    from the fields saved beside its weights alone."""
    return load_model(path, build_lstm)


class LSTMRun(ModelRun):
    """The LSTM's part of the pipeline (lm/pipeline.py): trained for its budget, scored one stream
    per split in columns (`score_stream`), dynamic evaluation in one column."""

    CHECKPOINT_KEYS = ("epoch", "step", "weights_sha256")

    def __init__(self, args, config: LSTMConfig):
        self.args, self.config = args, config
        self.reader = Reader(
            features_of=score_stream,
            dynamic_eval=lstm_dynamic_eval,
            batch_size=config.eval_batch_size,
            max_tokens=config.max_dev_tokens,
            max_train_tokens=config.max_train_tokens,
            workers=scoring_workers(config),
        )

    def load_data(self) -> tuple:
        return load_data_mlp_lm(self.args.data_dir, splits=("train", "validation", "test"))

    def train(self, data) -> Trained:
        config = self.config
        # the initial weights and the dropout masks
        utils.set_seed(config.seed)
        self.device = utils.get_device(config.device)
        tokenizer, train_stream, dev_stream = mlp_lm.tokenize_splits(
            data[0], data[1], config.min_count, (config.max_train_tokens, config.max_dev_tokens)
        )
        model = LSTMLM(tokenizer.vocab_size, **config.model_fields()).to(self.device)
        meta = {
            "kind": "lstm",
            "tokenizer": tokenizer.to_dict(),
            "model": config.model_fields(),
            "config": config.to_dict(),
        }

        def save_best(model, record):
            best = {k: record[k] for k in ("epoch", "step", "dev_ppl")}
            save_checkpoint(model.state_dict(), config.save_path, {**meta, **best})

        pad = tokenizer.pad_token_id
        streams = (train_stream, dev_stream)
        report = train_lstm(model, config, streams, pad, on_best=save_best)
        sizes = {
            "vocab_size": tokenizer.vocab_size,
            "train_tokens": train_stream.numel(),
            "dev_targets": dev_stream.numel(),
        }
        return Trained(model, tokenizer, {**sizes, **report})

    def score_static(self, trained: Trained, data) -> dict:
        splits = {"dev": data[1], "test": data[2]}
        return score_splits(trained.model, trained.tokenizer, splits, self.config)

    def report(self, trained: Trained, scored: dict) -> dict:
        return {
            "model": "LSTM language model (pytorch/examples word_language_model small, tied)",
            "config": self.config.to_dict(),
            "train_file": TRAIN_FILE,
            **trained.report,
            **scored,
            "device": str(self.device),
        }

    def json_path(self) -> Path:
        return Path(self.args.out_dir) / f"{lstm_stem(self.config.name)}.json"

    def summary(self, report: dict, json_path: Path) -> str:
        return (
            f"LSTM: best dev perplexity {report['best_dev_ppl']:.2f} after "
            f"{report['train_seconds']:.0f} s of training "
            f"({report['train_tokens_per_second']:,.0f} tokens/s); wall time "
            f"{report['wall_seconds']:.0f} s; wrote {json_path}"
        )


def cmd_lstm(args) -> dict:
    """Train the LSTM of `args.lstm_config` for its budget, keep the best checkpoint, score dev and
    test alone, with the cache, with the n-gram mixture, with dynamic evaluation and together; write
    OUT_DIR/lstm_lm[_NAME].json atomically (lm/pipeline.py)."""
    config: LSTMConfig = args.lstm_config
    with utils.torch_threads(config.num_threads):
        return run_pipeline(LSTMRun(args, config))
