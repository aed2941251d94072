"""Batches of a TensorDataset without per-example Python work: what the sentiment MLP trains on
(`mlp.create_dataloader` returns one)."""

from __future__ import annotations

from typing import Optional

import torch
from torch.utils.data import TensorDataset


class TensorBatches:
    """Batches of a TensorDataset drawn by slicing its tensors with a (shuffled) index tensor.

    It is what `DataLoader(dataset, batch_size, shuffle)` yields, without per-example Python work:
    one `randperm` per epoch and one gather per batch. `generator` fixes the order; `device` moves
    the tensors once.
    """

    def __init__(
        self,
        dataset: TensorDataset,
        batch_size: int,
        shuffle: bool = True,
        generator: Optional[torch.Generator] = None,
        device: Optional[torch.device] = None,
    ):
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.dataset = dataset
        self.tensors = tuple(t.to(device) if device is not None else t for t in dataset.tensors)
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.generator = generator

    def __len__(self) -> int:
        return (len(self.tensors[0]) + self.batch_size - 1) // self.batch_size

    def __iter__(self):
        n = len(self.tensors[0])
        if self.shuffle:
            order = torch.randperm(n, generator=self.generator).to(self.tensors[0].device)
            for start in range(0, n, self.batch_size):
                idx = order[start : start + self.batch_size]
                yield tuple(t[idx] for t in self.tensors)
        else:
            for start in range(0, n, self.batch_size):
                yield tuple(t[start : start + self.batch_size] for t in self.tensors)
