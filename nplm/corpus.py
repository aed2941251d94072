"""The language model's data: a word-level tokenizer, WikiText-2 read offline, and next-word
windows.

WikiText is pre-tokenized, so a word vocabulary built from the train split (`WordTokenizer`)
replaces the course's downloaded BERT tokenizer. A split becomes one token stream with one `<eos>`
per line, and every token of it is a target (the standard WikiText scoring), either as a
TensorDataset of windows (`preprocess_data`, the course's interface) or cut on the fly out of the
stream (`WindowBatches`, our fast path).
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Iterable, Sequence

import torch
from torch.utils.data import TensorDataset

from common import datafiles

WIKITEXT_DIR = "wikitext-2"
TRAIN_FILE = "wiki.train.tokens.partial.gz"  # the first 87.8 % (../shared/data/README.md)
# the whole official file (`python main.py data --full-train`)
FULL_TRAIN_FILE = "wiki.train.tokens.gz"
VALID_FILE = "wiki.valid.tokens.gz"
TEST_FILE = "wiki.test.tokens.gz"


class WordTokenizer:
    """A word-level tokenizer with the parts of a Hugging Face tokenizer's interface that the course
    uses.

    WikiText is pre-tokenized, so `tokenize` splits on whitespace. The vocabulary is built from the
    training split only (`from_texts`), ordered by frequency (ties: first occurrence), with `<unk>`
    for unknown words and `<eos>` at the end of every line. `to_dict` / `from_dict` give plain
    lists, kept in the JSON beside a checkpoint (nplm/checkpoint.py).
    """

    def __init__(self, vocab: Sequence[str], unk_token: str = "<unk>", eos_token: str = "<eos>"):
        vocab = list(vocab)
        if len(set(vocab)) != len(vocab):
            raise ValueError("the vocabulary has repeated words")
        for tok in (unk_token, eos_token):
            if tok not in vocab:
                raise ValueError(f"the vocabulary lacks the special token {tok!r}")
        self.unk_token, self.eos_token = unk_token, eos_token
        self.ids_to_tokens = vocab
        self.vocab = {w: i for i, w in enumerate(vocab)}
        self.unk_token_id = self.vocab[unk_token]
        self.eos_token_id = self.vocab[eos_token]
        # contexts before the first token are end-of-line markers
        self.pad_token_id = self.eos_token_id

    @classmethod
    def from_texts(
        cls, texts: Iterable[str], min_count: int = 1, unk_token="<unk>", eos_token="<eos>"
    ):
        """Count the words of `texts` (one `<eos>` per line) and keep those seen `min_count` times
        or more."""
        counts: Counter = Counter()
        n_lines = 0
        for line in texts:
            counts.update(line.split())
            n_lines += 1
        counts[eos_token] += n_lines
        vocab = [w for w, c in counts.most_common() if c >= min_count or w == unk_token]
        # a training text without <unk>: it still gets an id, after the seen words
        if unk_token not in vocab:
            vocab.append(unk_token)
        return cls(vocab, unk_token, eos_token)

    @property
    def vocab_size(self) -> int:
        return len(self.ids_to_tokens)

    def __len__(self) -> int:
        return self.vocab_size

    def get_vocab(self) -> dict:
        return dict(self.vocab)

    def tokenize(self, text: str) -> list[str]:
        return text.split()

    def convert_tokens_to_ids(self, tokens):
        if isinstance(tokens, str):
            return self.vocab.get(tokens, self.unk_token_id)
        get, unk = self.vocab.get, self.unk_token_id
        return [get(t, unk) for t in tokens]

    def convert_ids_to_tokens(self, ids):
        if isinstance(ids, torch.Tensor):
            ids = ids.tolist()
        if isinstance(ids, int):
            return self.ids_to_tokens[ids]
        return [self.ids_to_tokens[int(i)] for i in ids]

    def convert_tokens_to_string(self, tokens: Sequence[str]) -> str:
        """Join with spaces and undo WikiText's split markers: '1 @,@ 000' -> '1,000', 'a @-@ b' ->
        'a-b'."""
        text = " ".join(tokens)
        for marker, char in ((" @-@ ", "-"), (" @,@ ", ","), (" @.@ ", ".")):
            text = text.replace(marker, char)
        return text

    def encode(self, text: str) -> list[int]:
        return self.convert_tokens_to_ids(self.tokenize(text))

    def decode(self, ids) -> str:
        return self.convert_tokens_to_string(self.convert_ids_to_tokens(ids))

    def encode_lines(self, lines: Iterable[str]) -> torch.Tensor:
        """One long id tensor (T,): every line's words followed by one `<eos>`, empty lines
        included."""
        get, unk, eos = self.vocab.get, self.unk_token_id, self.eos_token_id
        ids: list[int] = []
        for line in lines:
            ids.extend([get(w, unk) for w in line.split()])
            ids.append(eos)
        return torch.tensor(ids, dtype=torch.long)  # (T,)

    def to_dict(self) -> dict:
        return {
            "vocab": list(self.ids_to_tokens),
            "unk_token": self.unk_token,
            "eos_token": self.eos_token,
        }

    @classmethod
    def from_dict(cls, d: dict) -> "WordTokenizer":
        return cls(d["vocab"], d["unk_token"], d["eos_token"])

    def __repr__(self) -> str:
        return f"WordTokenizer(vocab_size={self.vocab_size}, unk_token={self.unk_token!r})"


def load_data_mlp_lm(data_dir=None, splits=("train", "validation"), full_train=False):
    """(train, dev) WikiText-2 splits as Hugging Face datasets with a `text` column, read from the
    local files.

    `datasets`' "text" builder reads the gzip files offline (`datafiles.load_dataset`; it caches
    Arrow files under ~/.cache/huggingface). Lines are kept exactly (no line breaks); empty lines
    are a single space. Raises datafiles.DataNotFoundError when a file is missing and
    datafiles.DataFileError when one is unreadable, truncated, not gzip or empty. `splits` may add
    "test". `full_train` (ours): the whole official train file instead of its 87.8 % prefix.
    """
    files = {
        "train": FULL_TRAIN_FILE if full_train else TRAIN_FILE,
        "validation": VALID_FILE,
        "test": TEST_FILE,
    }
    data_files = {s: datafiles.data_path(WIKITEXT_DIR, files[s], data_dir=data_dir) for s in splits}
    # before the banner: a bad file is the only line printed
    datafiles.check_data_files(data_files.values())
    print(f"{'-' * 10} Load Dataset {'-' * 10}")
    ds = datafiles.load_dataset("text", data_files, keep_linebreaks=False)
    out = tuple(ds[s] for s in splits)
    if len(out[0]) > 10:
        print(f"{'-' * 10} an example from the train set {'-' * 10}")
        print(out[0]["text"][10][:300])
    return out


def texts_of(data) -> list[str]:
    """The lines of a dataset with a 'text' column, a dict with 'text', or a plain list of
    strings."""
    if isinstance(data, str):
        return data.split("\n")
    try:
        return list(data["text"])
    except (TypeError, KeyError, IndexError):
        return list(data)


def encode_stream(data, tokenizer: WordTokenizer, max_tokens: int | None = None) -> torch.Tensor:
    """The split's token ids as one stream (T,), one `<eos>` per line (optionally its first
    max_tokens)."""
    stream = tokenizer.encode_lines(texts_of(data))
    return stream[:max_tokens] if max_tokens else stream


def windows_from_stream(
    stream: torch.Tensor, local_window_size: int, pad_id: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Contexts (T, W) and targets (T,) for every token of the stream, by tensor operations.

    Target t's context is the W tokens before it; the first tokens' contexts are padded with
    `pad_id`.
    """
    W = local_window_size
    padded = torch.cat([torch.full((W,), pad_id, dtype=stream.dtype), stream])  # (T + W,)
    contexts = padded.unfold(0, W, 1)[: stream.numel()].contiguous()  # (T, W): padded[t : t + W]
    return contexts, stream.clone()  # (T, W), (T,)


def pad_id_of(tokenizer) -> int:
    """The id that pads contexts before a split's first tokens: the tokenizer's pad token, else its
    `<eos>`."""
    pad_id = getattr(tokenizer, "pad_token_id", None)
    return (
        tokenizer.convert_tokens_to_ids(getattr(tokenizer, "eos_token", "<eos>"))
        if pad_id is None
        else pad_id
    )


def preprocess_data(data, local_window_size, splitter, tokenizer):
    """TensorDataset of contexts (N, local_window_size) and next-token targets (N,), N = tokens of
    the split.

    Standard WikiText scoring: the lines form one token stream with one `<eos>` per line (empty
    lines too), every token is a target, and the first `local_window_size` targets get contexts
    padded with `<eos>`. On the WikiText-2 validation split that is 213,886 + 3,760 = 217,646
    targets. `splitter` is kept for the course's signature and not used: windows run over the whole
    stream, across sentence and line boundaries.
    """
    pad_id = pad_id_of(tokenizer)
    if hasattr(tokenizer, "encode_lines"):
        stream = tokenizer.encode_lines(texts_of(data))
    else:  # any HF-like tokenizer
        ids = []
        for line in texts_of(data):
            ids.extend(tokenizer.convert_tokens_to_ids(tokenizer.tokenize(line)) + [pad_id])
        stream = torch.tensor(ids, dtype=torch.long)
    contexts, targets = windows_from_stream(stream, local_window_size, pad_id)
    return TensorDataset(contexts, targets)


# WindowBatches' placement and its defaults: the stream's device, one process
PLACEMENT = {"device": None, "rank": 0, "world": 1}


class WindowBatches:
    """Batches (contexts (B, W), targets (B,)) cut on the fly out of one token stream; no
    DataLoader.

    The stream lives on `device` and batches are cut there with one gather, padded[idx[:, None] +
    arange(W)]. With `shuffle` (True, or the torch.Generator to draw from) each pass draws a fresh
    permutation of the target positions (on the CPU, so every device and every process sees the same
    order). `placement` is where the batches go: `device`, and under torchrun (`world` > 1
    processes) the `rank` of this process, which takes its share: of each global batch of
    `batch_size` when shuffling (every `world`-th position), of the stream's positions when not (a
    contiguous block), so that every target is scored exactly once.
    """

    def __init__(
        self,
        stream,
        local_window_size: int,
        pad_id: int,
        batch_size: int,
        shuffle=False,
        **placement,
    ):
        device, rank, world = (placement.pop(k, v) for k, v in PLACEMENT.items())
        if placement:
            raise TypeError(f"WindowBatches got unknown placement {sorted(placement)}")
        generator = shuffle if isinstance(shuffle, torch.Generator) else None
        shuffle = shuffle is not False and shuffle is not None
        if not 0 <= rank < world:
            raise ValueError(f"rank must be in [0, world), got rank {rank} of {world}")
        device = torch.device(device) if device is not None else stream.device
        self.W = local_window_size
        self.stream = stream.long().to(device)  # (T,)
        # (T+W,)
        self.padded = torch.cat(
            [torch.full((self.W,), pad_id, dtype=torch.long, device=device), self.stream]
        )
        self.offsets = torch.arange(self.W, device=device)  # (W,)
        self.batch_size, self.shuffle, self.generator = batch_size, shuffle, generator
        self.rank, self.world = rank, world

    def _block(self) -> tuple[int, int]:
        """The positions [lo, hi) this process scores when not shuffling."""
        T = self.stream.numel()
        return self.rank * T // self.world, (self.rank + 1) * T // self.world

    def __len__(self) -> int:
        lo, hi = (0, self.stream.numel()) if self.shuffle else self._block()
        return math.ceil((hi - lo) / self.batch_size)

    @property
    def num_tokens(self) -> int:
        return self.stream.numel()

    def __iter__(self):
        if self.shuffle:
            order = torch.randperm(self.stream.numel(), generator=self.generator).to(
                self.stream.device
            )
        else:
            order = torch.arange(*self._block(), device=self.stream.device)
        for start in range(0, order.numel(), self.batch_size):
            idx = order[start : start + self.batch_size]  # (B,)
            if self.shuffle and self.world > 1:
                idx = idx[self.rank :: self.world]  # this process's share of the global batch
            yield self.windows(idx)

    def windows(self, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The contexts and targets of the stream positions `idx` (B,): (B, W), (B,)."""
        return self.padded[idx[:, None] + self.offsets], self.stream[idx]
