"""main.py's course face: the explore_* functions keep the skeleton's signatures, take the raw
splits as the course passes them, and run the handout's sweeps."""

from __future__ import annotations
import inspect
from pathlib import Path
import main

REPO = Path(__file__).resolve().parents[2]


def test_explore_functions_keep_the_course_signatures():
    for fn in (
        main.explore_mlp_structures,
        main.explore_mlp_activations,
        main.explore_mlp_learning_rates,
    ):
        positional = [
            p.name
            for p in inspect.signature(fn).parameters.values()
            if p.kind == p.POSITIONAL_OR_KEYWORD
        ]
        assert positional == ["dev_d", "train_d", "test_d", "embeddings"]


def test_explore_accepts_the_raw_splits_as_the_course_passes_them(tiny_table, tmp_path):
    from conftest import review
    import random

    rng = random.Random(0)
    raw = lambda n: {
        "text": [review(rng, i % 2) for i in range(n)],
        "label": [i % 2 for i in range(n)],
    }  # noqa
    history = main.explore_mlp_activations(
        raw(40), raw(80), raw(40), tiny_table, num_epochs=1, out_dir=tmp_path
    )
    assert [r["label"] for r in history["runs"]] == ["Sigmoid", "Tanh", "ReLU", "GeLU", "LeakyReLU"]
    assert history["sizes"] == {"dev": 40, "train": 80, "test": 40}
    assert (tmp_path / "all_mlp_activations_acc.png").is_file()


def test_sweeps_follow_the_handout():
    structures, activations, rates = (
        main.SWEEPS[k]() for k in ("structures", "activations", "learning_rates")
    )
    assert [(c.hidden_dims, c.lr) for c in structures.configs] == [
        ([], 0.025),
        ([512], 0.02),
        ([512, 512], 0.01),
        ([512, 512, 512], 0.001),
    ]
    assert {(c.activation, c.batch_size, c.num_epochs) for c in structures.configs} == {
        ("Sigmoid", 64, 20)
    }
    assert [c.activation for c in activations.configs] == [
        "Sigmoid",
        "Tanh",
        "ReLU",
        "GeLU",
        "LeakyReLU",
    ]
    assert {(tuple(c.hidden_dims), c.lr, c.batch_size) for c in activations.configs} == {
        ((512,), 0.02, 128)
    }
    lrs = [c.lr for c in rates.configs]
    assert len(lrs) >= 5 and min(lrs) == 1e-4 and max(lrs) == 1e-1
    assert {(tuple(c.hidden_dims), c.activation, c.batch_size) for c in rates.configs} == {
        ((512,), "Sigmoid", 64)
    }
