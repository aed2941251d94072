"""The sweeps' stacked training (sweeps/batched.py) against the course's one-run-at-a-time loop
(`mlp.run_mlp`, `torch.optim.Adam`): the same numbers bit for bit in float32, and step by step
in float64; the probe's readings against hooks on a lone SentimentClassifier; runs shared
between sweeps; groups planned by shape and cost; the features cache the sweeps train on."""

from __future__ import annotations

import math

import pytest
import torch
from torch.utils.data import TensorDataset

import mlp
import utils
from sweeps import batched
from sweeps import run as sweep_run
from sweeps.run import Sweep, SweepRun


def _datasets(dtype=torch.float32, sizes=(120, 300, 80), dim=50):
    gen = torch.Generator().manual_seed(7)

    def split(n):
        x = torch.randn(n, dim, generator=gen, dtype=dtype)
        y = (x[:, 0] + 0.7 * torch.randn(n, generator=gen, dtype=dtype) > 0).long()
        return TensorDataset(x, y)

    return tuple(split(n) for n in sizes)


def _configs(hidden_dims, activation="Sigmoid", lrs=(0.02, 0.001), seeds=(0, 1, 2), **fields):
    return [
        mlp.MLPConfig(
            hidden_dims=hidden_dims,
            activation=activation,
            lr=lr,
            seed=seed,
            num_epochs=3,
            batch_size=32,
            **fields,
        )
        for lr in lrs
        for seed in seeds
    ]


@pytest.mark.parametrize(
    "hidden_dims, activation",
    [([], "Sigmoid"), ([64], "Sigmoid"), ([64, 32], "ReLU"), ([512, 512], "Sigmoid")],
)
def test_a_stacked_group_gives_the_separate_runs_numbers_bit_for_bit(
    hidden_dims, activation, tmp_path
):
    """At the sweeps' shapes (50-d input, wide layers; some tiny widths, such as 16, take other
    kernels and differ in the last bit), on one thread."""
    datasets = _datasets()
    configs = [
        mlp.MLPConfig(**{**vars(c), "save_path": str(tmp_path / f"{c.lr}_{c.seed}.pth")})
        for c in _configs(hidden_dims, activation)
    ]
    stacked = batched.train_group(configs, datasets)
    for config, member in zip(configs, stacked):
        alone = mlp.MLPConfig(**{**vars(config), "save_path": str(tmp_path / "alone.pth")})
        with utils.torch_threads(1):  # the sweeps' workers train on one thread
            want = mlp.run_mlp(alone, None, *datasets)
        assert member.result == tuple(want), (config.lr, config.seed)
        saved, reference = (
            torch.load(p, weights_only=True) for p in (config.save_path, alone.save_path)
        )
        assert saved.keys() == reference.keys()
        assert all(torch.equal(saved[k], reference[k]) for k in saved)


def test_the_stacked_model_and_adam_follow_separate_runs_step_by_step_in_float64():
    """Two members at different learning rates and seeds: after every step, each member's weights
    equal those of its own SentimentClassifier trained by torch.optim.Adam on the same batch."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        configs = _configs([16, 8], lrs=(0.05, 0.003), seeds=(3,))
        model = batched.StackedMLP(configs, 50, torch.device("cpu"))
        optimizer = batched.StackedAdam(model.parameters(), [c.lr for c in configs])
        alone = []
        for config in configs:
            utils.set_seed(config.seed)
            net = mlp.SentimentClassifier(50, 2, config.hidden_dims, config.activation)
            alone.append((net, torch.optim.Adam(net.parameters(), lr=config.lr)))
        x_all, y_all = _datasets(torch.float64)[1].tensors
        gen = torch.Generator().manual_seed(0)
        for step in range(25):
            idx = torch.randint(0, len(y_all), (2, 32), generator=gen)
            x, y = x_all[idx], y_all[idx]
            for p in model.parameters():
                p.grad = None
            batched.member_losses(model.forward(x), y).sum().backward()
            optimizer.step()
            for g, (net, opt) in enumerate(alone):
                opt.zero_grad()
                net.loss(net(x[g]), y[g]).backward()
                opt.step()
                state = model.state_dict(g)
                for name, value in net.state_dict().items():
                    assert torch.equal(state[name], value), (step, g, name)
    finally:
        torch.set_default_dtype(previous)


def test_the_probe_reads_what_hooks_on_a_lone_classifier_read():
    """Early readings (every PROBE_EVERY steps of epoch 1) of member 1 against the same numbers
    taken by a forward hook and the weights' gradients of its lone SentimentClassifier."""
    datasets = _datasets()
    configs = _configs([16, 8], lrs=(0.02,), seeds=(0, 1))
    probe = batched.train_group(configs, datasets)[1].probe
    config = configs[1]
    generator = utils.set_seed(config.seed)
    net = mlp.SentimentClassifier(50, 2, config.hidden_dims, config.activation)
    optimizer = torch.optim.Adam(net.parameters(), lr=config.lr)
    outputs = []
    net.activation.register_forward_hook(lambda m, i, out: outputs.append(out.detach()))
    want = []
    x_all, y_all = datasets[1].tensors
    order = torch.randperm(len(y_all), generator=generator)
    for step, start in enumerate(range(0, len(y_all), config.batch_size)):
        idx = order[start : start + config.batch_size]
        outputs.clear()
        optimizer.zero_grad()
        net.loss(net(x_all[idx]), y_all[idx]).backward()
        before = [lin.weight.detach().clone() for lin in net.linears]
        optimizer.step()
        if step % batched.PROBE_EVERY == 0:
            s = batched.SATURATED
            moved = [(lin.weight.detach() - w).abs() for lin, w in zip(net.linears, before)]
            want.append(
                {
                    "step": step + 1,
                    "saturated": [float(((a < s) | (a > 1 - s)).float().mean()) for a in outputs],
                    "derivative": [float((a * (1 - a)).mean()) for a in outputs],
                    "unit_spread": [float(a.std(dim=0).mean()) for a in outputs],
                    "grad_norm": [float(lin.weight.grad.norm()) for lin in net.linears],
                    # the weights' own move, as lone Adam made it
                    "adam_step": [float(m.double().mean()) / config.lr for m in moved],
                }
            )
    assert [r["step"] for r in probe["early"]] == [r["step"] for r in want]
    for got, expected in zip(probe["early"], want):
        for key in batched._Probe.KEYS:
            assert got[key] == pytest.approx(expected[key], rel=1e-5, abs=1e-7), (got["step"], key)
    assert len(probe["epochs"]) == config.num_epochs
    first = probe["epochs"][0]["saturated"]
    assert first == pytest.approx(
        [sum(r["saturated"][i] for r in want) / len(want) for i in (0, 1)]
    )
    # Adam's first step moves every weight by the learning rate, whatever its gradient (but the
    # few whose gradient is within eps = 1e-8 of 0)
    assert probe["early"][0]["adam_step"] == pytest.approx([1.0] * 3, abs=1e-3)


def test_a_diverging_member_names_its_sweep_label_and_seed(tmp_path):
    configs = [
        mlp.MLPConfig(hidden_dims=[8], lr=lr, num_epochs=2, batch_size=32)
        for lr in (1e-3, math.inf)
    ]
    with pytest.raises(
        utils.TrainingDiverged, match=r"sweep s, huge, seed 0: .*epoch 1 \(lr inf\)"
    ):
        sweep_run.run_sweep(
            Sweep("s", configs, ["small", "huge"]),
            _datasets(),
            SweepRun(seeds=[0], out_dir=tmp_path, workers=1),
        )


def test_a_run_that_two_sweeps_ask_for_trains_once(tmp_path, monkeypatch):
    datasets = _datasets()
    shared = mlp.MLPConfig(hidden_dims=[8], lr=0.01, num_epochs=2, batch_size=32)
    other = mlp.MLPConfig(hidden_dims=[8], lr=0.003, num_epochs=2, batch_size=32)
    made, calls = {}, []
    real = batched.train_group

    def counted(configs, *a):
        calls.extend((c.lr, c.seed) for c in configs)
        return real(configs, *a)

    monkeypatch.setattr(batched, "train_group", counted)
    run = dict(seeds=[0, 1], out_dir=tmp_path, ckpt_dir=tmp_path / "ck", workers=1, made=made)
    first = sweep_run.run_sweep(Sweep("a", [shared], ["x"]), datasets, SweepRun(**run))
    second = sweep_run.run_sweep(Sweep("b", [other, shared], ["y", "z"]), datasets, SweepRun(**run))
    assert calls == [(0.01, 0), (0.01, 1), (0.003, 0), (0.003, 1)]
    for key in sweep_run.RESULT_KEYS:
        assert second["runs"][1][key] == first["runs"][0][key]
    for seed in (0, 1):
        assert (tmp_path / "ck" / f"b_z_seed{seed}.pth").read_bytes() == (
            tmp_path / "ck" / f"a_x_seed{seed}.pth"
        ).read_bytes()


def test_groups_are_one_shape_sorted_by_lr_cut_by_cost_and_largest_first():
    configs = [
        mlp.MLPConfig(hidden_dims=[512], lr=0.02),
        mlp.MLPConfig(hidden_dims=[512, 512], lr=0.02),
        mlp.MLPConfig(hidden_dims=[512], lr=0.001),
        mlp.MLPConfig(hidden_dims=[512], activation="Tanh", lr=0.001),
        mlp.MLPConfig(hidden_dims=[512, 512], lr=0.001),
    ]
    groups = batched.plan_groups(configs, workers=1, embed_dim=50)
    # 2 two-layer nets are most of the work: cut, each its own group, first
    assert groups == [[4], [1], [2, 0], [3]]
    for group in groups:
        assert len({batched.shape_key(configs[i]) for i in group}) == 1
    assert batched.plan_groups(configs, workers=1, embed_dim=50) == groups
    with pytest.raises(ValueError, match="one shape"):
        batched.train_group([configs[0], configs[1]], _datasets())


def test_the_features_cache_is_read_when_nothing_changed_and_checked(tiny_table, tmp_path, capsys):
    from common import featurize

    splits = [
        {"text": ["a great movie", "an awful film !", "plot"], "label": [1, 0, 1]},
        {"text": ["good fun", "dull and boring"], "label": [1, 0]},
    ]
    builds = []

    def build():
        builds.append(1)
        return mlp.create_tensor_datasets(splits, tiny_table)

    first = featurize.cached_datasets(splits, tiny_table, build, cache_dir=tmp_path)
    second = featurize.cached_datasets(splits, tiny_table, build, cache_dir=tmp_path)
    assert len(builds) == 1
    for a, b in zip(first, second):
        assert all(torch.equal(x, y) for x, y in zip(a.tensors, b.tensors))
    # another text, another key: built again
    changed = [{**splits[0], "text": ["a great movie", "an awful film", "plot"]}, splits[1]]
    featurize.cached_datasets(changed, tiny_table, build, cache_dir=tmp_path)
    assert len(builds) == 2
    # a damaged cache file is named and made again, never read
    for path in tmp_path.glob("features.*.pt"):
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0xFF
        path.write_bytes(bytes(data))
    again = featurize.cached_datasets(splits, tiny_table, build, cache_dir=tmp_path)
    assert len(builds) == 3
    assert "does not match its SHA-256" in capsys.readouterr().err
    for a, b in zip(first, again):
        assert all(torch.equal(x, y) for x, y in zip(a.tensors, b.tensors))
