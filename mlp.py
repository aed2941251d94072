"""IMDB sentiment classification with an MLP over averaged GloVe vectors (handout section 6.1).

A review becomes the mean of the 50-d GloVe vectors of its known words (Maas et al. 2011 for the
data, Pennington et al. 2014 for the vectors); `SentimentClassifier` maps that vector through
`len(hidden_dims) + 1` linear layers to two logits.

The public names and signatures are the course skeleton's, in the skeleton's order, so its tests
and `main.py` run unchanged. Behind them: featurization runs over all reviews at once
(common/featurize.py), batches are drawn from shuffled index tensors (common/batches.py), and the
best checkpoint is written atomically. The sweeps over configs and seeds stand above this file, in
sweeps/; main.py draws their plots with `visualize_epochs` and `visualize_configs`.
"""

from __future__ import annotations

import math
import os
import tempfile
from dataclasses import dataclass
from typing import Dict, Iterable, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn as nn
from torch.utils.data import TensorDataset

from common import datafiles
from common import glove
import utils
from common.batches import TensorBatches
from common.featurize import featurize_many
from common.settings import check_settings, setting

RawSplit = Dict[str, List[Union[int, str]]]
# the order of the course splits: fixed, so every run sees the same dev/train/test
SHUFFLE_SEED = 42
DEV_SIZE, TRAIN_END, TEST_SIZE = 5_000, 25_000, 10_000  # the course's cut of the shuffled splits
# one intra-op thread trains this small MLP fastest on a CPU (see utils.torch_threads)
CPU_THREADS = 1


# --------------------------------------------------------------------------- data
def load_data_mlp(
    data_dir: Optional[Union[str, os.PathLike]] = None, seed: int = SHUFFLE_SEED
) -> Tuple[RawSplit, RawSplit, RawSplit]:
    """The course splits of IMDB as dicts of lists (keys `text`, `label`, `id`, `rating`).

    Reads `imdb/imdb_{train,test}.csv.gz` with Hugging Face `datasets` (offline,
    `datafiles.load_dataset`), shuffles each split with `seed`, and returns dev = shuffled
    train[:5000], train = shuffled train[5000:25000], test = shuffled test[:10000]. A missing file
    is a datafiles.DataNotFoundError, a bad one (unreadable, truncated, not gzip, empty, no `text`
    or `label` column, or a train file of 5,000 rows or fewer, which would leave the train split
    empty) a datafiles.DataFileError.
    """
    files = {
        split: datafiles.data_path("imdb", f"imdb_{split}.csv.gz", data_dir=data_dir)
        for split in ("train", "test")
    }
    dataset = datafiles.load_dataset("csv", files, columns=("text", "label"))
    rows = dataset["train"].num_rows
    if rows <= DEV_SIZE:  # the cut below would leave the course's train split empty
        raise datafiles.DataFileError(
            f"data file {files['train']} has {rows:,} rows, too few for the course's cut (dev: "
            "the first "
            f"{DEV_SIZE:,} after shuffling, train: the rest, up to {TRAIN_END - DEV_SIZE:,}; "
            "test: the first "
            f"{TEST_SIZE:,} of {files['test'].name}), which needs more than {DEV_SIZE:,}; "
            f"{datafiles.RESTORE_HINT}"
        )
    dataset = dataset.shuffle(seed=seed)
    return (
        dataset["train"][:DEV_SIZE],
        dataset["train"][DEV_SIZE:TRAIN_END],
        dataset["test"][:TEST_SIZE],
    )


def featurize(sentence: str, embeddings) -> Union[None, torch.FloatTensor]:
    """The mean vector (D,) of the words of `sentence` that `embeddings` knows, or None if it knows
    none.

    Lowercases, drops HTML markup, splits words from punctuation as the Penn Treebank tokenizer does
    (`movie!` -> `movie !`). `embeddings` is a `glove.WordVectors`, a gensim KeyedVectors, or any
    mapping word -> vector that raises KeyError for unknown words.
    """
    if not sentence:
        return None
    if hasattr(embeddings, "key_to_index") and hasattr(embeddings, "vectors"):
        features, known = featurize_many([sentence], embeddings)
        return features[0] if bool(known[0]) else None
    found = []
    for word in glove.word_tokenize(sentence.lower()):
        try:
            found.append(np.asarray(embeddings[word], dtype=np.float32))
        except KeyError:
            pass
    return torch.from_numpy(np.mean(found, axis=0)) if found else None


def create_tensor_dataset(raw_data: RawSplit, embeddings) -> TensorDataset:
    """TensorDataset of (features (N, D) float32, labels (N,) int64), without the texts that have no
    known word."""
    return create_tensor_datasets([raw_data], embeddings)[0]


def create_tensor_datasets(raw_splits: Sequence[RawSplit], embeddings) -> List[TensorDataset]:
    """`create_tensor_dataset` of several splits in one pass (the splits share their tokenizer
    work)."""
    texts, labels = [], []
    for raw in raw_splits:
        if len(raw["text"]) != len(raw["label"]):
            raise ValueError(
                f"raw_data has {len(raw['text'])} texts but {len(raw['label'])} labels"
            )
        texts.append(list(raw["text"]))
        labels.append(torch.as_tensor(list(raw["label"]), dtype=torch.long))
    if hasattr(embeddings, "key_to_index") and hasattr(embeddings, "vectors"):
        features, known = featurize_many([t for split in texts for t in split], embeddings)
        ends = np.cumsum([0] + [len(split) for split in texts])
        return [
            TensorDataset(features[a:b][known[a:b]], y[known[a:b]])
            for a, b, y in zip(ends[:-1], ends[1:], labels)
        ]
    datasets = []
    # any word -> vector mapping, one word at a time
    for split_texts, split_labels in zip(texts, labels):
        rows = [(featurize(t, embeddings), y) for t, y in zip(split_texts, split_labels.tolist())]
        rows = [(x, y) for x, y in rows if x is not None]
        datasets.append(
            TensorDataset(torch.stack([x for x, _ in rows]), torch.tensor([y for _, y in rows]))
            if rows
            else TensorDataset(torch.zeros(0, 0), torch.zeros(0, dtype=torch.long))
        )
    return datasets


def create_dataloader(
    dataset: TensorDataset,
    batch_size: int,
    shuffle: bool = True,
    generator: Optional[torch.Generator] = None,
) -> TensorBatches:
    """Batches of `dataset` (see TensorBatches); iterates like a torch DataLoader."""
    return TensorBatches(dataset, batch_size, shuffle=shuffle, generator=generator)


# --------------------------------------------------------------------------- model
ACTIVATION_NAMES = ["Sigmoid", "Tanh", "ReLU", "GeLU", "LeakyReLU"]  # the names the handout uses
ACTIVATIONS = {
    "sigmoid": nn.Sigmoid,
    "tanh": nn.Tanh,
    "relu": nn.ReLU,
    "gelu": nn.GELU,
    "leakyrelu": nn.LeakyReLU,
}


def _activation_key(name) -> str:
    return str(name).lower().replace("_", "").replace("-", "")


def make_activation(name: str) -> nn.Module:
    """nn.Module for an activation name, case-insensitive ('Sigmoid', 'GeLU', 'leaky_relu', ...)."""
    key = _activation_key(name)
    if key not in ACTIVATIONS:
        raise ValueError(
            f"unknown activation {name!r}; choose one of {', '.join(ACTIVATION_NAMES)} (any case)"
        )
    return ACTIVATIONS[key]()


class SentimentClassifier(nn.Module):
    """MLP: embed_dim -> hidden_dims[0] -> ... -> hidden_dims[-1] -> num_classes.

    `linears` holds the `len(hidden_dims) + 1` nn.Linear layers; `activation` follows every one but
    the last; `loss` is the mean cross-entropy of the logits. With `hidden_dims=[]` it is logistic
    regression.
    """

    def __init__(
        self, embed_dim: int, num_classes: int, hidden_dims: List[int], activation: str = "Sigmoid"
    ):
        super().__init__()
        widths = [embed_dim, *list(hidden_dims), num_classes]
        for name, width in zip(
            ["embed_dim", *[f"hidden_dims[{i}]" for i in range(len(hidden_dims))], "num_classes"],
            widths,
        ):
            if isinstance(width, bool) or not isinstance(width, (int, np.integer)) or width < 1:
                raise ValueError(f"{name} must be a positive integer, got {width!r}")
        self.embed_dim = embed_dim
        self.num_classes = num_classes
        self.activation = make_activation(activation)
        self.linears = nn.ModuleList(nn.Linear(a, b) for a, b in zip(widths[:-1], widths[1:]))
        self.loss = nn.CrossEntropyLoss(reduction="mean")

    def forward(self, inp: torch.Tensor) -> torch.Tensor:
        """inp (B, embed_dim) -> logits (B, num_classes)."""
        x = inp
        for linear in self.linears[:-1]:
            x = self.activation(linear(x))  # (B, H_i)
        return self.linears[-1](x)  # (B, C)


def accuracy(logits: torch.FloatTensor, labels: torch.LongTensor) -> torch.FloatTensor:
    """1.0 where the arg-max class is the label, else 0.0: shape (B,) like `labels`."""
    assert logits.shape[0] == labels.shape[0], "logits and labels must have the same batch size"
    return (logits.argmax(dim=-1) == labels).float()


# --------------------------------------------------------------------------- training
def evaluate(model: SentimentClassifier, eval_dataloader: Iterable) -> Tuple[float, float]:
    """(mean loss per example, accuracy) over `eval_dataloader`, without gradients; restores
    train/eval mode."""
    device = next(model.parameters()).device
    loss_sum, correct, count = torch.zeros((), device=device), torch.zeros((), device=device), 0
    with utils.evaluating(model):
        for inp, labels in eval_dataloader:
            inp, labels = inp.to(device), labels.to(device)
            logits = model(inp)  # (B, C)
            loss_sum += model.loss(logits, labels) * len(labels)  # batches weighted by size
            correct += accuracy(logits, labels).sum()
            count += len(labels)
    if count == 0:
        raise ValueError("evaluate got an empty dataloader")
    return loss_sum.item() / count, correct.item() / count


def train(
    model: SentimentClassifier,
    optimizer: torch.optim.Optimizer,
    train_dataloader: Iterable,
    dev_dataloader: Iterable,
    num_epochs: int,
    save_path: Union[str, os.PathLike, None] = None,
):
    """Train for `num_epochs`; after each epoch score the dev set and, when its accuracy is the best
    so far, save the weights (state_dict) to `save_path` atomically. The bar of epochs shows the
    latest train loss and dev accuracy.

    Returns (train losses, train accs, dev losses, dev accs), one number per epoch.
    """
    device = next(model.parameters()).device
    histories: Tuple[List[float], List[float], List[float], List[float]] = ([], [], [], [])
    best_acc = -1.0
    epochs = utils.progress(range(num_epochs), desc="epochs")
    with utils.torch_threads(CPU_THREADS if device.type == "cpu" else None):
        for epoch in epochs:
            train_loss, train_acc = _train_epoch(model, optimizer, train_dataloader, device)
            # stop here rather than train on and write nulls into the results
            if not math.isfinite(train_loss):
                raise utils.TrainingDiverged(
                    f"the training loss became {train_loss} in epoch {epoch + 1} (lr "
                    f"{optimizer.param_groups[0]['lr']:g}); lower the learning rate"
                )
            dev_loss, dev_acc = evaluate(model, dev_dataloader)
            for history, value in zip(histories, (train_loss, train_acc, dev_loss, dev_acc)):
                history.append(value)
            if dev_acc > best_acc:
                best_acc = dev_acc
                if save_path:
                    utils.atomic_save(model.state_dict(), save_path)
            if hasattr(epochs, "set_postfix"):
                epochs.set_postfix(train_loss=f"{train_loss:.4f}", dev_acc=f"{dev_acc:.4f}")
    return histories


def _train_epoch(model, optimizer, train_dataloader: Iterable, device) -> Tuple[float, float]:
    """One pass over the training batches: (mean loss per example, accuracy)."""
    model.train()
    loss_sum, correct, count = torch.zeros((), device=device), torch.zeros((), device=device), 0
    for inp, labels in train_dataloader:
        inp, labels = inp.to(device), labels.to(device)
        optimizer.zero_grad(set_to_none=True)
        logits = model(inp)  # (B, C)
        loss = model.loss(logits, labels)
        loss.backward()
        optimizer.step()
        loss_sum += loss.detach() * len(labels)
        correct += accuracy(logits.detach(), labels).sum()
        count += len(labels)
    return loss_sum.item() / count, correct.item() / count


# --------------------------------------------------------------------------- plots
def visualize_epochs(
    epoch_train_losses: List[float],
    epoch_dev_losses: List[float],
    save_fig_path: str,
    title: Optional[str] = None,
    ylim: Optional[Tuple[float, float]] = None,
):
    """Train and dev loss per epoch (each a list, or a list of per-seed lists drawn as mean and
    band). `ylim` fixes the y-range, so that several configs' plots share one scale."""
    return utils.plot_curves(
        {"train": epoch_train_losses, "dev": epoch_dev_losses},
        "Loss",
        save_fig_path,
        title=title,
        ylim=ylim,
    )


def visualize_configs(
    all_config_epoch_stats: List[List[float]],
    config_names: List[str],
    metric_name: str,
    save_fig_path: str,
    title: Optional[str] = None,
    configs: Optional[Sequence] = None,
):
    """One curve per config of `metric_name` per epoch; a config's stats may be a list of per-seed
    lists. A second panel zooms on the range where the curves settle, so one config that spikes or
    diverges does not flatten the others (utils.curves_figure), with one legend below both
    panels. With `configs` (one per name), a name that does not state its config's learning rate
    gets it appended (`config_legend`)."""
    if len(all_config_epoch_stats) != len(config_names):
        raise ValueError(f"{len(all_config_epoch_stats)} configs but {len(config_names)} names")
    if configs is not None:
        if len(configs) != len(config_names):
            raise ValueError(f"{len(configs)} configs but {len(config_names)} names")
        config_names = [config_legend(name, config) for name, config in zip(config_names, configs)]
    import matplotlib.pyplot as plt

    fig = utils.curves_figure(
        dict(zip(config_names, all_config_epoch_stats)), metric_name, title=title, zoom=True
    )
    try:
        return utils.atomic_savefig(fig, save_fig_path)
    finally:
        plt.close(fig)


def config_legend(label: str, config) -> str:
    """'512 -> 512 -> 512, lr 0.001': a label of an across-configuration plot with its config's
    learning rate, unless the label already states it ('lr=0.001')."""
    lr = f"{config['lr']:g}"
    numbers = "".join(c if c.isdigit() or c in ".e-" else " " for c in label).split()
    return label if lr in numbers else f"{label}, lr {lr}"


# --------------------------------------------------------------------------- experiments
@dataclass
class MLPConfig:
    """One training run of the classifier (attribute access, like the course's EasyDict). Each
    field is declared once (common/settings.py): its check here, its flag where a command takes
    it."""

    hidden_dims: List[int] = setting(
        [512], "widths of the hidden layers ([] for none)", kind=int, low=1, empty_ok=True
    )
    activation: str = setting(
        "Sigmoid",
        "the hidden layers' activation",
        rule=lambda name: _activation_key(name) in ACTIVATIONS,
        expected_text=f"one of {', '.join(ACTIVATION_NAMES)} (any case)",
    )
    # lr = inf is allowed: a diverging run is reported by the training loop, with its epoch
    lr: float = setting(
        0.02,
        "Adam's learning rate",
        rule=lambda lr: isinstance(lr, (int, float)) and not isinstance(lr, bool) and lr > 0,
        expected_text="a number > 0",
    )
    batch_size: int = setting(64, "training batch size", low=1)
    num_epochs: int = setting(20, "epochs per run", low=1, flag="--epochs", commands=("all", "mlp"))
    num_classes: int = setting(2, "output classes", low=1)
    seed: int = setting(0, "the run's seed", low=0)
    save_path: Optional[str] = setting(
        None, "where the best model's state_dict goes", optional=True
    )
    embeddings: str = setting("glove.6B.50d", "the word vectors' name")
    device: Optional[str] = setting(None, "the run's device (None: the sweep's)", optional=True)

    def __post_init__(self):
        check_settings(self, "MLPConfig")

    def __getitem__(self, key):  # dict-style access too, as EasyDict allows
        return getattr(self, key)


def _option(config, name: str, default):
    """config.name, or `default` when an EasyDict/dataclass/namespace config lacks it."""
    try:
        return getattr(config, name)
    except (AttributeError, KeyError):
        return default


def as_tensor_datasets(splits: Sequence[Union[RawSplit, TensorDataset]], embeddings) -> tuple:
    """TensorDatasets as given; raw splits ({"text": [...], "label": [...]}) featurized together in
    one pass."""
    raw = [s for s in splits if not isinstance(s, TensorDataset)]
    featurized = iter(create_tensor_datasets(raw, embeddings) if raw else [])
    return tuple(s if isinstance(s, TensorDataset) else next(featurized) for s in splits)


def run_mlp(
    config,
    embeddings,
    dev_dataset: Union[RawSplit, TensorDataset],
    train_dataset: Union[RawSplit, TensorDataset],
    test_dataset: Union[RawSplit, TensorDataset],
):
    """Train one classifier per `config`, reload its best-dev checkpoint and score the test set.

    The splits are TensorDatasets (Spring 2024's driver) or the raw splits of `load_data_mlp`
    (Spring 2025's), featurized here. `config` needs batch_size, lr, num_epochs, hidden_dims and
    num_classes; activation (default Sigmoid, the course's), save_path, seed and device are
    optional. Returns (train losses, train accs, dev losses, dev accs, test loss, test acc).
    """
    dev_dataset, train_dataset, test_dataset = as_tensor_datasets(
        (dev_dataset, train_dataset, test_dataset), embeddings
    )
    seed = int(_option(config, "seed", 0) or 0)
    device = utils.get_device(_option(config, "device", None))
    generator = utils.set_seed(seed)
    embed_dim = train_dataset.tensors[0].shape[1] if embeddings is None else embeddings.vector_size
    model = SentimentClassifier(
        embed_dim, config.num_classes, config.hidden_dims, _option(config, "activation", "Sigmoid")
    ).to(device)
    # Adam, as the course skeleton uses; the learning rates of the handout are tuned for it.
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    train_loader = TensorBatches(
        train_dataset, config.batch_size, shuffle=True, generator=generator, device=device
    )
    dev_loader = TensorBatches(dev_dataset, 4096, shuffle=False, device=device)
    test_loader = TensorBatches(test_dataset, 4096, shuffle=False, device=device)

    save_path = _option(config, "save_path", None)
    with tempfile.TemporaryDirectory() as scratch:
        path = save_path or os.path.join(scratch, "best.pth")
        histories = train(model, optimizer, train_loader, dev_loader, config.num_epochs, path)
        model.load_state_dict(torch.load(path, map_location=device, weights_only=True))
    test_loss, test_acc = evaluate(model, test_loader)
    return (*histories, test_loss, test_acc)
