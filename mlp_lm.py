"""A fixed-window neural language model, as homework 3 of CS 601.471/671 builds it, on WikiText-2.

Bengio, Ducharme, Vincent and Jauvin. 2003. *A Neural Probabilistic Language Model.* JMLR 3.
The model embeds the W words before a position, concatenates them, and maps them through a tanh
layer and residual blocks to a distribution over the next word. The file reads as the course's: the
config, the blocks and `NPLM`, `train` and `evaluate`, generation, the plots, `run_mlp_lm` and
`sample_from_mlp_lm`. Given a course config (an EasyDict with the course's fields) they train the
course's model the course's way: a full softmax, a DataLoader of windows, Adam and
ExponentialLR(decay), a plain state_dict at `save_path`. The model's keyword arguments and
`train`'s `options` are our additions, off unless set, each from a module of nplm/; `python main.py
lm` sets them from its own config (lm/config.py) and trains with lm/train.py.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
from dataclasses import dataclass
from typing import NamedTuple, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

from nplm import distributed
import utils
from nplm.average import WeightAverage
from nplm.bookkeeping import TrainingRun, TrainOptions
from nplm.checkpoint import load_model
from nplm.checkpoint import CheckpointError  # noqa: F401 (what load_checkpoint raises)
from nplm.context import ContextAdditions, ContextSettings
from nplm.corpus import WordTokenizer, encode_stream, pad_id_of, texts_of, windows_from_stream
from nplm.corpus import WindowBatches
from nplm.corpus import load_data_mlp_lm, preprocess_data  # noqa: F401 (the course's names)
from nplm.kernels import softmax_nll
from nplm.sampling import top_p_filter
from common.settings import check_settings, setting
from nplm.output import NPLMAdaptiveFinalBlock, OutputSettings, TiedOutput

OUTPUT_FIELDS = {f.name for f in dataclasses.fields(OutputSettings)}
# the command whose flags set these fields, and the range of a share (a dropout rate)
LM, SHARE = ("lm",), dict(low=0, high=1, open_high=True)
GAMMA = dict(low=0, high=1, open_low=True)
COURSE_PROMPT = "The best perks of living on the east"
# torch's seed for the course's runs: the initial weights, the shuffling, the dropout masks
SEED = 42


# --------------------------------------------------------------------------- configuration
@dataclass
class LMConfig:
    """The course's fields, with the values of its `single_run_mlp_lm` except lr (the course's 2e-6
    leaves the model near its initialisation); attribute access like the course's EasyDict
    (`as_lm_config` converts one). Each field is declared once (common/settings.py): its check on
    construction, and its flag for `python main.py lm`. lm/config.py extends it with ours."""

    embed_dim: int = setting(128, "word embedding size E", low=1, commands=LM)
    hidden_dim: int = setting(512, "hidden size H", low=1, commands=LM)
    num_blocks: int = setting(2, "residual blocks after the first", low=0, commands=LM)
    dropout_p: float = setting(
        0.2, "dropout rate after each block, in [0, 1)", **SHARE, flag="--dropout", commands=LM
    )
    local_window_size: int = setting(
        6, "words W before the target", low=1, flag="--window", commands=LM
    )
    batch_size: int = setting(
        4096, "training batch size, split between torchrun's processes", low=1, commands=LM
    )
    lr: float = setting(1e-3, "peak learning rate", low=0, open_low=True, commands=LM)
    # gamma of ExponentialLR, stepped every batch as the course does
    decay: float = setting(
        1.0, "ExponentialLR's gamma per batch (--schedule exponential)", **GAMMA, commands=LM
    )
    num_epochs: int = setting(5, "epochs of training", low=1, flag="--epochs", commands=LM)
    save_path: str = setting(
        "mlp_lm.pth",
        "the best model's file",
        rule=lambda p: bool(str(p)),
        expected_text="a file path",
    )

    def __post_init__(self):
        self.validate()

    def check(self, name: str, ok: bool, expected: str) -> None:
        """utils.ConfigError "LMConfig.name must be expected, got value" unless `ok`: for a
        condition between fields."""
        if not ok:
            raise utils.ConfigError("LMConfig", name, expected, getattr(self, name))

    def validate(self) -> None:
        """utils.ConfigError naming the first field out of range; before any data is read."""
        check_settings(self, "LMConfig")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def as_lm_config(config) -> LMConfig:
    """An LMConfig from any attribute-access config (the course's EasyDict, a namespace): its
    course fields, the course's values for those it lacks. Validated here, once."""
    if isinstance(config, LMConfig):
        return config
    values = {f.name: field_of(config, f.name, None) for f in dataclasses.fields(LMConfig)}
    return LMConfig(**{k: v for k, v in values.items() if v is not None})


def field_of(config, name: str, default):
    """config.name, or `default` where it has no such field (an EasyDict may raise KeyError)."""
    try:
        return getattr(config, name)
    except (AttributeError, KeyError):
        return default


# --------------------------------------------------------------------------- model
class NPLMFirstBlock(ContextAdditions, nn.Module):
    """Embed the W context words and concatenate them (Bengio et al. 2003), then linear, tanh,
    LayerNorm, dropout: (B, W) ids -> (B, H). The keyword arguments are ours, the fields of
    nplm/context.ContextSettings, off by default: a global context of the G words before the window
    (inputs (B, G+W)), word-type and input dropout."""

    def __init__(
        self, vocab_size, embed_dim, local_window_size, hidden_dim, dropout_p, **additions
    ):
        super().__init__()
        self.local_window_size = local_window_size
        self.embed_dim = embed_dim
        self.embeddings = nn.Embedding(vocab_size, embed_dim)
        # ours: sets context_size and global_chunks (0 without a global context)
        self.init_additions(local_window_size, ContextSettings(**additions))
        self.linear = nn.Linear((local_window_size + self.global_chunks) * embed_dim, hidden_dim)
        self.layer_norm = nn.LayerNorm(hidden_dim)
        self.dropout = nn.Dropout(dropout_p)

    def forward(self, inputs):
        if not self.global_window:
            embeds = self.embeddings(inputs)  # (B, W, E), or (W, E) for one window
            # ours: the same tensor unless embed_dropout_p
            embeds = self.drop_word_types(inputs, embeds)
            embeds = embeds.reshape(-1, self.local_window_size * self.embed_dim)  # (B, W*E)
        else:  # ours: (B, G+W) ids in, the far words' chunk means added to the concatenation
            embeds = self.with_global_context(inputs)  # (B, (W+C)*E)
        embeds = self.drop_inputs(embeds)  # ours: the same tensor unless input_dropout_p
        hidden = torch.tanh(self.linear(embeds))  # (B, H)
        return self.dropout(self.layer_norm(hidden))  # (B, H)


class NPLMBlock(nn.Module):
    """linear, tanh, residual add, LayerNorm, dropout: (B, H) -> (B, H)."""

    def __init__(self, hidden_dim, dropout_p):
        super().__init__()
        self.hidden_dim = hidden_dim
        self.linear = nn.Linear(hidden_dim, hidden_dim)
        self.layer_norm = nn.LayerNorm(hidden_dim)
        self.dropout = nn.Dropout(dropout_p)

    def forward(self, inputs):
        hidden = torch.tanh(self.linear(inputs))  # (B, H)
        return self.dropout(self.layer_norm(inputs + hidden))  # (B, H)


class NPLMFinalBlock(nn.Module):
    """The course's output layer: a linear map to the vocabulary without bias, then log-softmax: (B,
    H) -> (B, V). Ours, with `tie_to` (the input `nn.Embedding`): the output word vectors are the
    input embeddings, reached through a projection (H -> E) when H differs from E
    (nplm/output.py's TiedOutput)."""

    def __init__(self, vocab_size, hidden_dim, tie_to=None):
        super().__init__()
        if tie_to is None:
            self.linear = nn.Linear(hidden_dim, vocab_size, bias=False)
        else:
            self.tied = TiedOutput(hidden_dim, tie_to, 0, vocab_size)

    def logits(self, inputs):
        return self.linear(inputs) if hasattr(self, "linear") else self.tied(inputs)  # (B, V)

    def forward(self, inputs):
        return F.log_softmax(self.logits(inputs), dim=-1)  # (B, V)

    def nll(self, inputs, targets, reduction="mean"):
        """-log p(targets (B,)) after hidden states (B, H), without a (B, V) log-softmax tensor."""
        nll = softmax_nll(self.logits(inputs), targets)  # (B,)
        return nll.mean() if reduction == "mean" else nll.sum() if reduction == "sum" else nll

    def target_log_prob(self, inputs, targets):
        return self(inputs).gather(1, targets[:, None]).squeeze(1)  # (B,)


class NPLM(nn.Module):
    """The first block, `num_blocks` residual blocks each followed by ReLU, and the output layer:
    (B, W) ids -> (B, V) log-probabilities of the next word (one window (W,) gives (1, V)). The
    keyword arguments are ours, the fields of nplm/output.OutputSettings and
    nplm/context.ContextSettings; their defaults give the course's model."""

    def __init__(
        self,
        vocab_size,
        embed_dim,
        local_window_size,
        hidden_dim,
        num_blocks,
        dropout_p,
        **additions,
    ):
        super().__init__()
        out = OutputSettings(**{k: v for k, v in additions.items() if k in OUTPUT_FIELDS})
        context = {k: v for k, v in additions.items() if k not in OUTPUT_FIELDS}
        self.first_layer = NPLMFirstBlock(
            vocab_size, embed_dim, local_window_size, hidden_dim, dropout_p, **context
        )
        self.intermediate_layers = nn.ModuleList(
            [NPLMBlock(hidden_dim, dropout_p) for _ in range(num_blocks)]
        )
        # ours
        tie_to = self.first_layer.embeddings if out.tie_embeddings else None
        # N(0, 1) rows would make the tied logits' scale sqrt(E) at the start
        if tie_to is not None:
            nn.init.normal_(tie_to.weight, std=embed_dim**-0.5)
        if out.output_layer == "full":
            self.final_layer = NPLMFinalBlock(vocab_size, hidden_dim, tie_to)
        # ours (nplm/output.py)
        elif out.output_layer == "adaptive":
            self.final_layer = NPLMAdaptiveFinalBlock(
                vocab_size, hidden_dim, out.cutoffs, out.div_value, tie_to
            )
        else:
            raise ValueError(f"output_layer must be 'full' or 'adaptive', not {out.output_layer!r}")
        self.output_layer = out.output_layer
        self.context_size = self.first_layer.context_size  # token ids read per prediction

    def features(self, inputs):
        hidden = self.first_layer(inputs)  # (B, H)
        for block in self.intermediate_layers:
            hidden = F.relu(block(hidden))  # (B, H)
        return hidden

    def forward(self, inputs, targets=None, reduction="mean"):
        """(B, V) log-probabilities, as the course's; with `targets`, their NLL instead (`nll`), so
        that a DistributedDataParallel wrapper sees the training loss computed through its own
        forward."""
        if targets is not None:
            return self.nll(inputs, targets, reduction)
        return self.final_layer(self.features(inputs))  # (B, V)

    def nll(self, inputs, targets, reduction="mean"):
        """NLL of the next words `targets` (B,) after `inputs` (B, W), without a (B, V) tensor of
        log-probabilities where the output layer can avoid one."""
        return self.final_layer.nll(self.features(inputs), targets, reduction=reduction)


# The model's hyper-parameters and their defaults (the course's model; none for the course's own):
# a config and a checkpoint carry these fields.
MODEL_FIELDS = {
    **dict.fromkeys(("embed_dim", "local_window_size", "hidden_dim", "num_blocks", "dropout_p")),
    **dataclasses.asdict(OutputSettings()),
    **dataclasses.asdict(ContextSettings()),
}


def model_fields(config) -> dict:
    """NPLM's arguments after vocab_size: the config's, NPLM's default (the course's model) for a
    field it lacks (a course config has none of our additions)."""
    return {name: field_of(config, name, default) for name, default in MODEL_FIELDS.items()}


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def test_model_forward(model, sample, local_window_size, tokenizer):
    """The course's check on one batch: one row of log-probabilities over the vocabulary per target.
    Runs in eval mode without gradients (so it draws no dropout mask) and restores the model's
    mode."""
    inp, target = sample
    with utils.evaluating(model):
        log_probs = model(inp)  # (B, V)
    assert inp.shape[-1] == getattr(model, "context_size", local_window_size), (
        "windows of the wrong width"
    )
    assert log_probs.shape[0] == target.shape[0], "one output row per target"
    assert log_probs.shape[1] == tokenizer.vocab_size, "a distribution over the whole vocabulary"


# --------------------------------------------------------------------------- training
class StepAdditions(NamedTuple):
    """Ours in `train_step`: the weight average to update, bf16 autocast, torchrun's world size."""

    average: Optional[WeightAverage] = None
    autocast: contextlib.AbstractContextManager = contextlib.nullcontext()
    world: int = 1


def train_step(model, criterion, optimizer, scheduler, batch, ours=StepAdditions()):
    """The course's step on one batch (inputs, targets): loss, gradient, the optimiser's step, the
    schedule's step; returns (loss, the batch's summed loss in float64). Ours: the weight average's
    update, bf16 autocast, and under torchrun (world > 1) this process's share of the global
    batch's mean (nplm/distributed.py)."""
    inp, target = batch
    with ours.autocast:
        loss, batch_sum = distributed.training_loss(
            _batch_loss, model, criterion, inp, target, ours.world
        )
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    if scheduler is not None:
        scheduler.step()
    if ours.average is not None:
        ours.average.update()
    return loss, batch_sum


def train(
    model,
    train_dataloader,
    dev_dataloader,
    criterion,
    optimizer,
    scheduler,
    num_epochs,
    save_path,
    print_every=100,
    options: Optional[TrainOptions] = None,
):
    """Train for num_epochs, stepping the scheduler every batch as the course does; after each epoch
    score the dev set and save the weights with the best dev perplexity so far at `save_path` (a
    state_dict, atomically). Returns the history, one value per epoch: it unpacks as the course's
    (train losses, train perplexities, dev losses, dev perplexities).

    Loaders yield (contexts (B, W), targets (B,)). A NaN or infinite loss raises
    utils.TrainingDiverged. Ours, off unless `options` (nplm.bookkeeping.TrainOptions) turns them
    on: early stopping, a weight average, the JSON beside the weights, the training state after
    every epoch and resuming from it, bf16 autocast. A DistributedDataParallel `model` with loaders
    split by rank trains on the global batch."""
    plan = TrainPlan(num_epochs, save_path, print_every, options or TrainOptions())
    loaders = (train_dataloader, dev_dataloader)
    return train_run(model, loaders, criterion, (optimizer, scheduler), plan).history


@dataclass
class TrainPlan:
    """`train`'s arguments after the optimiser and the schedule, and our options."""

    num_epochs: int
    save_path: object
    print_every: int = 100
    options: TrainOptions = dataclasses.field(default_factory=TrainOptions)


def train_run(model, loaders, criterion, steppers, plan: TrainPlan) -> TrainingRun:
    """`train`'s loop over `loaders` (train, dev) with `steppers` (optimizer, scheduler); returns
    the whole run (its history, best weights and epoch, training time)."""
    (train_dataloader, dev_dataloader), (optimizer, scheduler) = loaders, steppers
    options = plan.options
    # the NPLM itself, under DistributedDataParallel or not
    core = getattr(model, "module", model)
    device = next(core.parameters()).device
    autocast = torch.autocast(
        device.type, dtype=torch.bfloat16, enabled=options.precision == "bf16"
    )
    # ours
    average = WeightAverage(core, options.ema_decay) if options.ema_decay else None
    log = options.log
    # ours: the history, the best weights, early stopping, the training state
    run = TrainingRun(core, steppers, average, train_dataloader, plan.save_path, options)
    step_additions = StepAdditions(average, autocast, run.world)
    if options.resume is not None:
        run.load_state_dict(options.resume)
    for epoch in range(run.first_epoch, 0 if run.stopped else plan.num_epochs):
        model.train()
        # the console counts epochs from 1, as the summary, the plots and the docs do
        log(f"{'-' * 10} Epoch {epoch + 1}: Training {'-' * 10}")
        run.start_epoch(epoch)
        # ours: resumed within an epoch, the steps done are passed; the state kept within it
        for idx, (inp, target) in run.batches(train_dataloader, epoch):
            inp, target = inp.to(device, non_blocking=True), target.to(device, non_blocking=True)
            loss, batch_sum = train_step(
                model, criterion, optimizer, scheduler, (inp, target), step_additions
            )
            # ours: sums, checks, log lines
            run.add_step(idx, loss, batch_sum, target.numel(), plan.print_every)
        train_loss = run.epoch_mean()
        log(f"{'-' * 10} Epoch {epoch + 1}: Evaluation on Dev Set {'-' * 10}")
        with autocast:
            dev_loss, dev_ppl, best_state = run.score_dev(
                lambda: evaluate(core, dev_dataloader, criterion)
            )
        if run.end_epoch(train_loss, dev_loss, dev_ppl, best_state):
            break
    return run


def _batch_loss(model, criterion, inp, target, reduction="mean"):
    """The batch's NLL: criterion(log_probs, target) as the course computes it; the model's own loss
    (ours) for an adaptive softmax or without a criterion."""
    core = getattr(model, "module", model)  # under DistributedDataParallel
    if criterion is None or isinstance(getattr(core, "final_layer", None), NPLMAdaptiveFinalBlock):
        return model(inp, target, reduction=reduction)
    loss = criterion(model(inp), target)
    return loss * target.numel() if reduction == "sum" else loss


def evaluate(model, eval_dataloader, criterion):
    """(mean loss per target token, perplexity = exp(mean loss)), batches weighted by their size,
    without gradients in eval mode (then its mode back); summed over torchrun's processes."""
    device = next(model.parameters()).device
    total = torch.zeros((), dtype=torch.float64, device=device)
    count = 0
    with utils.evaluating(model):
        for inp, target in eval_dataloader:
            inp, target = inp.to(device, non_blocking=True), target.to(device, non_blocking=True)
            total += _batch_loss(model, criterion, inp, target, reduction="sum").double()
            count += target.numel()
    sums = torch.stack([total, torch.tensor(float(count), dtype=torch.float64, device=device)])
    distributed.sum_over_processes(sums, getattr(eval_dataloader, "world", 1))
    if sums[1].item() == 0:
        raise ValueError("evaluate: the evaluation data is empty")
    avg_loss = sums[0].item() / sums[1].item()
    return avg_loss, math.exp(min(avg_loss, 709.0))


# --------------------------------------------------------------------------- generation
def generate_text(
    prompt, model, tokenizer, local_window_size, top_p, max_len=30, generator=None, verbose=True
):
    """Continue `prompt` by max_len tokens; return the text (also printed, as the course does).
    Greedy when top_p is None or 0, else nucleus sampling (seedable with `generator`). Prompts
    shorter than the window are padded with `<eos>`, as training pads the first windows of a split.
    """
    if top_p is not None and (isinstance(top_p, bool) or not 0.0 <= float(top_p) <= 1.0):
        raise ValueError(f"top_p must be None or in [0, 1], got {top_p!r}")
    if max_len < 0:
        raise ValueError(f"max_len must be >= 0, got {max_len}")
    ids = tokenizer.convert_tokens_to_ids(tokenizer.tokenize(prompt))
    pad_id = pad_id_of(tokenizer)
    W = int(local_window_size)
    # far words of a global context: none before the prompt
    G = max(0, getattr(model, "context_size", W) - W)
    context = [pad_id] * W + list(ids)
    device = next(iter(model.parameters()), torch.empty(0)).device
    with utils.evaluating(model):
        for _ in range(max_len):
            far = ([-1] * G + context[W:-W])[-G:] if G else []  # (G,): -1 is "no word"
            window = torch.tensor(far + context[-W:], dtype=torch.long, device=device)  # (G+W,)
            log_probs = model(window)  # (1, V)
            # (1, V); sampled on the CPU, by its generator
            if top_p:
                filtered = top_p_filter(log_probs.float().cpu(), float(top_p))
                pred = torch.multinomial(filtered.softmax(-1), 1, generator=generator).item()
            else:
                pred = int(torch.argmax(log_probs).item())
            context.append(pred)
    generation = tokenizer.convert_tokens_to_string(tokenizer.convert_ids_to_tokens(context[W:]))
    if verbose:
        print(f"Generated text: {generation}")
    return generation


def sample_prompt(
    model, tokenizer, prompt=COURSE_PROMPT, top_ps=(None, 0.0, 0.3, 1.0), max_len=30, seed=42
):
    """{"greedy" or "top_p=P": text} for each top_p, as the course's sample_from_mlp_lm prints them;
    sampling draws from one generator seeded with `seed`."""
    gen = torch.Generator().manual_seed(seed)
    samples = {}
    for p in top_ps:
        label = "greedy" if p is None else f"top_p={p}"
        print(f"{'-' * 10} {label} {'-' * 10}")
        W = model.first_layer.local_window_size
        samples[label] = generate_text(prompt, model, tokenizer, W, p, max_len, generator=gen)
    return samples


def visualize_epochs(epoch_train_stats, epoch_dev_stats, stat_name, save_fig_path, title=None):
    """Train and dev curves of one statistic per epoch, as `train` records them (a PNG)."""
    names = (
        "train (running mean over the epoch, dropout on)",
        "dev (after the epoch, dropout off)",
    )
    return utils.plot_curves(
        dict(zip(names, (list(epoch_train_stats), list(epoch_dev_stats)))),
        ylabel=stat_name,
        save_fig_path=save_fig_path,
        title=title or f"MLP language model: {stat_name}",
    )


# --------------------------------------------------------------------------- the course's entry
# points
def tokenize_splits(train_data, dev_data, min_count=1, max_tokens=(None, None), log=print):
    """(the tokenizer of train's words, the train stream (T,), the dev stream (T_dev,));
    `max_tokens` cuts the two streams to prefixes (quick runs)."""
    train_texts = texts_of(train_data)
    tokenizer = WordTokenizer.from_texts(train_texts, min_count=min_count)
    log(f"{'-' * 10} Preprocess Data {'-' * 10}")
    train_stream = encode_stream(train_texts, tokenizer, max_tokens[0])  # (T,)
    dev_stream = encode_stream(dev_data, tokenizer, max_tokens[1])  # (T_dev,)
    log(
        f"vocabulary {tokenizer.vocab_size:,} words (train split only); train "
        f"{train_stream.numel():,} tokens, "
        f"dev {dev_stream.numel():,} targets"
    )
    return tokenizer, train_stream, dev_stream


def window_loaders(train_stream, dev_stream, context_size, pad_id, batch_sizes):
    """The course's DataLoaders over TensorDatasets of (window, next word): train shuffled by
    torch's seed, dev in order; `batch_sizes` is (train, dev)."""
    train_loader = DataLoader(
        TensorDataset(*windows_from_stream(train_stream, context_size, pad_id)),
        batch_sizes[0],
        shuffle=True,
    )
    dev_loader = DataLoader(
        TensorDataset(*windows_from_stream(dev_stream, context_size, pad_id)), batch_sizes[1]
    )
    return train_loader, dev_loader


def load_checkpoint(path, config=None) -> tuple[NPLM, WordTokenizer, dict]:
    """(model in eval mode, tokenizer, meta) for the checkpoint at `path` (nplm/checkpoint.py's
    format): the model of `config` when given (as the course's sample_from_mlp_lm builds it), else
    the one saved beside the weights."""
    return load_model(path, NPLM, None if config is None else model_fields(config))


def run_mlp_lm(config, train_data, dev_data):
    """Train the course's model of `config` on train_data, keep the best at config.save_path (with
    the vocabulary in the JSON beside it); returns (train losses, train perplexities, dev losses,
    dev perplexities), one per epoch, as the course does."""
    config = as_lm_config(config)
    utils.set_seed(SEED)
    tokenizer, train_stream, dev_stream = tokenize_splits(train_data, dev_data)
    E, W, H, B = config.embed_dim, config.local_window_size, config.hidden_dim, config.batch_size
    model = NPLM(tokenizer.vocab_size, E, W, H, config.num_blocks, config.dropout_p)
    pad = tokenizer.pad_token_id
    train_loader, dev_loader = window_loaders(train_stream, dev_stream, W, pad, (B, B))
    print(f"{'-' * 10} Create Model: {count_parameters(model):,} parameters {'-' * 10}")
    test_model_forward(model, next(iter(train_loader)), config.local_window_size, tokenizer)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=config.decay)
    # the JSON beside the weights: what sample_from_mlp_lm rebuilds the vocabulary and model from
    meta = {"tokenizer": tokenizer.to_dict(), "model": model_fields(config)}
    options = TrainOptions(checkpoint_meta={**meta, "config": config.to_dict()})
    history = train(
        model,
        train_loader,
        dev_loader,
        nn.NLLLoss(),
        optimizer,
        scheduler,
        config.num_epochs,
        config.save_path,
        options=options,
    )
    return history.train_loss, history.train_ppl, history.dev_loss, history.dev_ppl


class SampleRun(NamedTuple):
    """Where `sample_from_mlp_lm` runs: the device, the sampling's seed, the dev batch size."""

    device: str = "cpu"
    seed: int = SEED
    batch_size: Optional[int] = None


def sample_from_mlp_lm(
    config, dev_data, prompt=COURSE_PROMPT, top_ps=(None, 0.0, 0.3, 1.0), max_len=30, run=None
):
    """Rebuild the model of `config`, load the weights at config.save_path (the vocabulary from the
    JSON beside them), report dev perplexity when dev_data is given, and print the prompt's
    continuations: greedy, p = 0.0 (the same as greedy), 0.3 and 1.0. Returns the numbers and the
    samples. `run` (a SampleRun) places it: the CPU and the course's seed unless given."""
    run = run or SampleRun()
    print(f"{'-' * 10} Load Model Weights {'-' * 10}")
    model, tokenizer, meta = load_checkpoint(config.save_path, config)
    device = utils.get_device(run.device)
    model.to(device)
    out = {"checkpoint": str(config.save_path), "checkpoint_epoch": meta.get("epoch")}
    if dev_data is not None:
        print(f"{'-' * 10} Evaluate on the Dev Set {'-' * 10}")
        stream = encode_stream(dev_data, tokenizer)
        batch_size, pad = run.batch_size or config.batch_size, tokenizer.pad_token_id
        batches = WindowBatches(stream, model.context_size, pad, batch_size, device=device)
        out["dev_loss"], out["dev_ppl"] = evaluate(model, batches, nn.NLLLoss())
        out["dev_targets"] = stream.numel()
        print(
            f"Dev Perplexity: {out['dev_ppl']:.2f}; Dev Loss: {out['dev_loss']:.4f} "
            f"({stream.numel():,} targets)"
        )
    print(f"{'-' * 10} Sample From the Model {'-' * 10}")
    out["prompt"] = prompt
    out["samples"] = sample_prompt(model, tokenizer, prompt, top_ps, max_len, seed=run.seed)
    return out
