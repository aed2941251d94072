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


def test_each_handout_sweep_draws_one_loss_plot_per_configuration(tiny_table, tmp_path):
    """As the course's main.py does: visualize_epochs once per configuration of each of the three
    handout sweeps, named {prefix}_{label}_loss.png, beside the two across-configuration plots."""
    from conftest import review
    import random

    from sweeps.run import safe_name

    rng = random.Random(1)
    raw = lambda n: {
        "text": [review(rng, i % 2) for i in range(n)],
        "label": [i % 2 for i in range(n)],
    }  # noqa
    splits = (raw(30), raw(60), raw(30))
    for key, explore in (
        ("structures", main.explore_mlp_structures),
        ("activations", main.explore_mlp_activations),
        ("learning_rates", main.explore_mlp_learning_rates),
    ):
        out = tmp_path / key
        history = explore(*splits, tiny_table, num_epochs=1, out_dir=out, workers=1)
        sweep = main.SWEEPS[key]()
        prefix = sweep.epoch_plot_prefix
        expected = {f"{prefix}_{safe_name(label)}_loss.png" for label in sweep.labels}
        assert len(expected) == len(sweep.configs) == len(history["runs"])
        drawn = {p.name for p in out.glob(f"{prefix}_*_loss.png")}
        assert drawn == expected
        assert {f"all_{sweep.name}_acc.png", f"all_{sweep.name}_loss.png"} <= {
            p.name for p in out.iterdir()
        }
        assert all((out / name).read_bytes()[:4] == b"\x89PNG" for name in drawn)
