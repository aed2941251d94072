"""The language model's files: a checkpoint (a plain state_dict, as the course saves it, with a JSON
beside it holding the vocabulary, the model's fields, the config and the weights' SHA-256) and the
training state that `python main.py lm --resume` goes on from.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path
from typing import Optional

import torch

import utils
from nplm.corpus import WordTokenizer


class CheckpointError(ValueError):
    """A checkpoint that cannot be used: missing, unreadable, from another save, or for another
    model."""


def meta_path(save_path) -> Path:
    """The JSON beside a checkpoint: the vocabulary, the config and the epoch (the .pt is a plain
    state_dict)."""
    return Path(f"{save_path}.json")


def _sha256(path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def save_checkpoint(state_dict: dict, save_path, meta: Optional[dict] = None) -> None:
    """`state_dict` at save_path, as the course saves it (so
    `model.load_state_dict(torch.load(save_path))` works); with `meta`, also the JSON beside it,
    which records the weights' SHA-256 so a half-finished save is caught on loading. Both writes are
    atomic."""
    utils.atomic_save(state_dict, save_path)
    if meta is not None:
        utils.atomic_write_json(
            {**meta, "weights_sha256": _sha256(save_path)}, meta_path(save_path)
        )


def load_checkpoint_meta(path) -> tuple[WordTokenizer, dict]:
    """(tokenizer, meta) from the JSON beside the checkpoint at `path`; CheckpointError when it is
    missing, is not ours, or belongs to other weights."""
    path, meta_file = Path(path), meta_path(path)
    if not path.is_file():
        raise CheckpointError(
            f"no checkpoint at {path}: train one with `python main.py lm` (or pass --checkpoint)"
        )
    try:
        meta = json.loads(meta_file.read_text())
        tokenizer = WordTokenizer.from_dict(meta["tokenizer"])
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise CheckpointError(
            f"{meta_file} (the vocabulary and config of {path}) is missing or unreadable "
            f"({err}); train again with `python main.py lm`"
        ) from None
    if meta.get("weights_sha256") != _sha256(path):
        raise CheckpointError(
            f"{path} and {meta_file} are from different saves (an interrupted run?); "
            f"train again with `python main.py lm`"
        )
    return tokenizer, meta


def load_model(path, build, wanted: Optional[dict] = None):
    """(model in eval mode, tokenizer, meta) for the checkpoint at `path`: `build(vocab_size,
    **fields)` of the model fields saved beside the weights, loaded with them. With `wanted` (the
    model fields of a config), CheckpointError unless the saved model is that one (a field the
    checkpoint lacks has its default)."""
    tokenizer, meta = load_checkpoint_meta(path)
    saved = meta["model"]
    differ = config_differences(wanted, {**wanted, **saved}) if wanted is not None else ""
    if differ:
        raise CheckpointError(f"the config does not match the model saved at {path}: {differ}")
    try:
        model = build(tokenizer.vocab_size, **saved)
        model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    except (
        Exception
    ) as err:  # weights that match their checksum but not their own JSON: made by other code
        raise CheckpointError(
            f"{path} does not hold the model its JSON describes ({type(err).__name__}); "
            f"train again with `python main.py lm`"
        ) from None
    return model.eval(), tokenizer, meta


def config_differences(wanted: dict, saved: dict, said: str = "trained with") -> str:
    """'name=wanted (said saved), ...' for every field of `wanted` whose value `saved` does not
    share; '' when they agree. The one comparison of a config with the one a checkpoint or a
    training state was made with."""
    return ", ".join(
        f"{k}={v!r} ({said} {saved.get(k)!r})" for k, v in wanted.items() if saved.get(k) != v
    )


def check_resumable(config, saved: dict, state_path) -> None:
    """CheckpointError unless `config` (lm/config.LMRunConfig) trains what the state at `state_path`
    was training (its `saved` config). Fields of NOT_TRAINED may differ; a state saved before the
    fields of ADDED_OFF existed ran without them."""
    trained = {f.name for f in dataclasses.fields(config)} - set(config.NOT_TRAINED)
    differ = config_differences(
        {k: v for k, v in config.to_dict().items() if k in trained},
        {**config.ADDED_OFF, **saved},
        said="the state has",
    )
    if differ:
        raise CheckpointError(f"cannot resume from {state_path} with another config: {differ}")


def load_training_state(state_path) -> dict:
    """What `train` kept at `state_path` after its last finished epoch; CheckpointError if there is
    none."""
    try:
        state = torch.load(state_path, map_location="cpu", weights_only=True)
        # the part read before training: a state of another shape stops here, not mid-run
        if not isinstance(state.get("meta", {}).get("config"), dict):
            raise KeyError("meta.config")
        return state
    except FileNotFoundError:
        raise CheckpointError(
            f"nothing to resume: no training state at {state_path}; run without --resume"
        ) from None
    except (
        Exception
    ) as err:  # truncated, not a torch file, foreign pickle: all unusable the same way
        raise CheckpointError(
            f"cannot resume from {state_path} ({type(err).__name__}); delete it and run "
            f"without --resume"
        ) from None


def save_training_state(state_path, run) -> None:
    """The state of a `nplm.bookkeeping.TrainingRun` after its last finished epoch (or a state
    dict made within an epoch), atomically at `state_path`: all that `train` needs to go on
    (`run.load_state_dict`)."""
    state = run if isinstance(run, dict) else run.state_dict()
    utils.atomic_save(state, state_path)
