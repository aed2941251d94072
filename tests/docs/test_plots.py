"""The sweeps' plots as a student reads them: per-configuration titles that name the configuration
and its learning rate, one y-scale for the per-configuration loss plots, and across-configuration
plots whose zoom panel is not stretched by one configuration's spike."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

import main  # noqa: E402
import mlp  # noqa: E402
import utils  # noqa: E402


def fake_run(label, hidden_dims, lr, train, dev):
    return {
        "label": label,
        "config": {"hidden_dims": hidden_dims, "lr": lr, "activation": "Sigmoid"},
        "train_loss": train,
        "dev_loss": dev,
    }


def test_structure_sweep_labels_say_no_hidden_layer():
    labels = main.SWEEPS["structures"]().labels
    assert labels[0] == "no hidden layer" and "None" not in labels


def test_per_config_plots_share_one_scale_and_name_config_and_lr(tmp_path, monkeypatch):
    """Every per-configuration plot gets the same y-limits, and they hold every seed's point of
    every configuration; the title names the configuration, its learning rate and (with hidden
    layers) its activation."""
    runs = [
        fake_run(
            "no hidden layer", [], 0.025, [[0.6, 0.5], [0.62, 0.51]], [[0.55, 0.52], [0.56, 0.5]]
        ),
        fake_run(
            "512 -> 512", [512, 512], 0.01, [[0.7, 0.45], [0.71, 0.46]], [[0.66, 0.48], [0.9, 0.49]]
        ),
    ]
    drawn = []
    monkeypatch.setattr(
        mlp,
        "visualize_epochs",
        lambda train, dev, path, title=None, ylim=None: drawn.append((title, ylim, path)) or path,
    )
    main.visualize_sweep_epochs(runs, tmp_path, "mlp_structure", " (2 seeds)")
    (title0, ylim0, path0), (title1, ylim1, path1) = drawn
    assert ylim0 == ylim1
    assert ylim0[0] < 0.45 and ylim0[1] > 0.9  # every seed's point, the 0.9 spike included
    assert title0 == "no hidden layer, lr 0.025: train and dev loss (2 seeds)"
    assert title1 == "512 -> 512, lr 0.01, Sigmoid: train and dev loss (2 seeds)"
    assert (
        path0.name == "mlp_structure_no-hidden-layer_loss.png"
        and path1.name == "mlp_structure_512-512_loss.png"
    )


def test_the_shared_ylim_reaches_the_saved_figure():
    fig = utils.curves_figure({"train": [0.6, 0.5], "dev": [0.55, 0.52]}, "Loss", ylim=(0.3, 0.9))
    try:
        assert fig.axes[0].get_ylim() == (0.3, 0.9)
    finally:
        plt.close(fig)


def test_zoom_panel_is_not_stretched_by_one_spike():
    """One config's dev loss jumps to 1.6 at one epoch: the left panel shows it, the zoom panel
    keeps the range where the configs settle (about 0.48-0.52), tells them apart and names the one
    that leaves it."""
    epochs = 20
    settle = {
        name: list(level + 0.01 * np.cos(np.arange(epochs)))
        for name, level in (("lr=0.005", 0.50), ("lr=0.02", 0.49), ("lr=0.05", 0.495))
    }
    settle["lr=0.05"][15] = 1.6
    fig = utils.curves_figure(settle, "Dev loss", zoom=True)
    try:
        full, zoom = fig.axes[:2]
        assert full.get_ylim()[1] > 1.6
        low, high = zoom.get_ylim()
        assert 0.45 < low < 0.48 and 0.51 < high < 0.56
        assert zoom.get_xlim()[0] > epochs // 2  # a zoom: the second half of the epochs
        assert "epochs 11-20" in zoom.get_title() and "lr=0.05" in zoom.get_title()
        (legend,) = fig.legends
        assert [t.get_text() for t in legend.get_texts()] == list(settle)
    finally:
        plt.close(fig)


def test_zoom_panel_leaves_out_a_config_at_chance_and_says_so():
    """depth_vs_lr: three nets settle near 0.76, one stays at 0.50; the zoom panel's range is the
    three's (not the full panel's) and its title names the one left out."""
    rng = np.random.default_rng(0)
    curves = {
        f"net {i}": list(0.76 + 0.005 * i + 0.002 * rng.standard_normal(20)) for i in range(3)
    }
    curves["stuck"] = list(0.50 + 0.001 * rng.standard_normal(20))
    fig = utils.curves_figure(curves, "Dev accuracy", zoom=True)
    try:
        full, zoom = fig.axes[:2]
        assert zoom.get_ylim()[0] > 0.74 and full.get_ylim()[0] < 0.51
        assert "not shown: stuck" in zoom.get_title()
        assert {line.get_label() for line in zoom.get_lines()} == {"net 0", "net 1", "net 2"}
    finally:
        plt.close(fig)
    # depth_vs_lr: a mean between chance and the learners (2 of 5 seeds at chance) is left out too
    curves["split"] = list(0.66 + 0.002 * rng.standard_normal(20))
    assert sorted(utils.zoom_outliers(curves)) == ["split", "stuck"]
    # five activations within a point of each other: none is left out
    close = {f"act {i}": list(0.76 + 0.002 * i + 0.001 * rng.standard_normal(20)) for i in range(5)}
    assert utils.zoom_outliers(close) == []


def test_seeds_in_different_regimes_are_drawn_and_series_differ_in_style():
    """lr 0.1: two seeds at chance for 10 epochs while one learns; the mean is a value no seed had,
    so the seeds are drawn as thin lines and the legend says so. Eleven series: no two alike in
    colour and style."""
    learn = [0.70 + 0.005 * e for e in range(12)]
    stuck = [0.50] * 6 + learn[6:]
    curves = {"lr=0.1": [stuck, stuck, learn], "lr=0.02": [learn, learn, learn]}
    fig = utils.curves_figure(curves, "Dev accuracy")
    try:
        labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
        assert labels == ["lr=0.1 (thin: each seed)", "lr=0.02"]
        thin = [ln for ln in fig.axes[0].get_lines() if ln.get_label().startswith("_")]
        assert len(thin) == 3
    finally:
        plt.close(fig)
    styles = [(utils.series_style(i)["color"], utils.series_style(i)["ls"]) for i in range(11)]
    assert len(set(styles)) == 11
    # up to 20 series, colour alone tells them apart (the sentiment table draws 11)
    assert len({utils.series_style(i)["color"] for i in range(20)}) == 20


def test_many_series_put_the_legend_below_the_plot():
    curves = {f"row {i}": [0.8 + 0.01 * i, 0.81 + 0.01 * i] for i in range(11)}
    fig = utils.curves_figure(curves, "Dev accuracy")
    try:
        (legend,) = fig.legends
        assert fig.axes[0].get_legend() is None
        fig.canvas.draw()
        box = legend.get_window_extent()
        assert box.y1 <= fig.axes[0].get_window_extent().y0  # under the axes, not on the curves
    finally:
        plt.close(fig)


def _saved_figure(monkeypatch):
    seen = {}

    def save(fig, path, **kw):
        seen["legends"] = [[t.get_text() for t in legend.get_texts()] for legend in fig.legends]
        return path

    monkeypatch.setattr(utils, "atomic_savefig", save)
    return seen


def test_visualize_configs_draws_the_zoom_panel_with_one_legend_below(tmp_path, monkeypatch):
    seen = _saved_figure(monkeypatch)
    mlp.visualize_configs([[0.6, 0.7], [0.5, 0.8]], ["a", "b"], "Accuracy", str(tmp_path / "c.png"))
    assert seen["legends"] == [["a", "b"]]


def test_across_configuration_legends_state_each_learning_rate(tmp_path, monkeypatch):
    """The structures sweep's labels do not name the learning rate, so the legend adds it (the
    three-layer net's 0.001 must be visible); labels that state it already ('lr=0.001') are left
    alone."""
    seen = _saved_figure(monkeypatch)
    sweep = main.SWEEPS["structures"]()
    configs = [{"lr": c.lr} for c in sweep.configs]
    mlp.visualize_configs(
        [[0.6, 0.7]] * 4, sweep.labels, "Accuracy", str(tmp_path / "c.png"), configs=configs
    )
    assert seen["legends"][0] == [
        "no hidden layer, lr 0.025",
        "512, lr 0.02",
        "512 -> 512, lr 0.01",
        "512 -> 512 -> 512, lr 0.001",
    ]
    rates = main.SWEEPS["learning_rates"]()
    assert [
        mlp.config_legend(label, {"lr": c.lr}) for label, c in zip(rates.labels, rates.configs)
    ] == rates.labels
    assert mlp.config_legend("Tanh", {"lr": 0.02}) == "Tanh, lr 0.02"
    with pytest.raises(ValueError):
        mlp.visualize_configs(
            [[0.6, 0.7]], ["a"], "Accuracy", str(tmp_path / "c.png"), configs=configs
        )


@pytest.mark.parametrize("values", [[[1.0, 2.0], [3.0]], []])
def test_bad_curves_are_value_errors(values):
    with pytest.raises(ValueError):
        utils.curve_limits({"bad": values})


def test_a_zoom_of_curves_of_several_lengths_shows_the_short_ones():
    """The sentiment rows (6 epochs) beside the course's MLP (20): the zoom spans the rows' second
    halves, with a line for each row, and leaves the far-off MLP out."""
    rows = {f"row {i}": [[0.90 + 0.002 * i + 0.001 * e for e in range(6)]] for i in range(4)}
    curves = {"mlp": [[0.70 + 0.001 * e for e in range(20)]], **rows}
    fig = utils.curves_figure(curves, "Dev accuracy", zoom=True)
    try:
        zoom = fig.axes[1]
        assert zoom.get_xlim() == (3.5, 6.5)
        drawn = [line for line in zoom.get_lines() if not line.get_label().startswith("_")]
        assert sorted(line.get_label() for line in drawn) == sorted(rows)
        low, high = zoom.get_ylim()
        assert all(low <= y <= high for line in drawn for y in line.get_ydata())
    finally:
        plt.close(fig)
