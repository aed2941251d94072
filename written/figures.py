"""Figures 1 and 2 of hw3.md (sections 3.2 and 5.1), drawn from what written/answers.py computes.

`python main.py written` calls `make_figures(out_dir)` after printing the checks.  matplotlib is
imported inside the functions, so importing this module draws nothing and needs no display.
"""

from __future__ import annotations

import math
from pathlib import Path

from written import answers as written

JUMP = 0.2  # a change of f' larger than this between neighbouring grid points is a jump, no slope


def broken_at_jumps(x, y):
    """(x, y, jumps) with a NaN inserted between two neighbouring points where y jumps by more than
    JUMP, so that matplotlib draws a jump as a gap, never as a vertical segment; `jumps` lists (x0,
    value at x0, the limit on the other side) for the markers (a filled dot where the function takes
    its value, an open circle for the other side's limit)."""
    import numpy as np

    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    at = np.flatnonzero(np.abs(np.diff(y)) > JUMP)
    jumps = []
    for i in at:  # the jump lies between x[i] and x[i+1]; the grid point on it is the one at 0
        k, other = (i, i + 1) if abs(x[i]) <= abs(x[i + 1]) else (i + 1, i)
        jumps.append((float(x[k]), float(y[k]), float(y[other])))
    return np.insert(x, at + 1, np.nan), np.insert(y, at + 1, np.nan), jumps


def _draw_derivative(ax, x, dy, **style):
    """f' as a line broken at its jumps, with a dot for its value there and a circle for the other
    side."""
    xs, ys, jumps = broken_at_jumps(x, dy)
    (line,) = ax.plot(xs, ys, **style)
    for x0, value, other in jumps:
        color = line.get_color()
        ax.plot([x0], [value], "o", color=color, ms=5, zorder=5)
        ax.plot([x0], [other], "o", mfc="white", mec=color, ms=5, zorder=5)
    return line


def figure_activations():
    """Figure 1 as a matplotlib Figure (not saved): one panel per activation with f (solid) and f'
    (dashed) drawn from the closed forms of `activation_derivatives`, its limits as x -> -inf and
    x -> +inf written under the panel (written.ACTIVATION_LIMITS), and a last panel with every
    derivative. Each activation's panel carries the activation's name as its Axes label, for tests
    to find it."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = written.activation_grid()
    funcs = written.activation_derivatives()
    titles = {
        "sigmoid": "sigmoid",
        "tanh": "tanh",
        "relu": "ReLU",
        "leaky_relu": f"LeakyReLU (slope {written.LEAKY_SLOPE:g} for x < 0, as nn.LeakyReLU)",
        "gelu": "GELU (exact, x Phi(x))",
    }
    fig, axes = plt.subplots(2, 3, figsize=(14, 8.2))
    for ax, (name, (f, df)) in zip(axes.flat, funcs.items()):
        ax.set_label(name)
        ax.plot(x, f(x), label="f(x)", color="C0", lw=2)
        _draw_derivative(ax, x, df(x), label="f'(x)", color="C3", lw=2, ls="--")
        ax.axhline(0, color="0.6", lw=0.8)
        ax.axvline(0, color="0.6", lw=0.8)
        ax.set_title(titles[name])
        ax.set_xlabel("x  (drawn on [-6, 6]; the limits beyond are below)")
        ax.text(
            0.5,
            -0.2,
            written.limits_caption(name),
            transform=ax.transAxes,
            ha="center",
            va="top",
            fontsize=8.5,
            gid=f"limits:{name}",
        )
        ax.grid(alpha=0.3)
        ax.legend(loc="upper left")
    ax = axes.flat[5]
    ax.set_label("all derivatives")
    # each derivative its own colour and line style; ReLU' wide and pale under LeakyReLU's dotted
    # line, which differs from it only by the slope 0.01 for x < 0
    styles = {
        "sigmoid": dict(ls="-", lw=1.8),
        "tanh": dict(ls="--", lw=1.8),
        "relu": dict(ls="-", lw=5, alpha=0.45),
        "leaky_relu": dict(ls=":", lw=2.2),
        "gelu": dict(ls="-.", lw=1.8),
    }
    for c, (name, (_, df)) in enumerate(funcs.items()):
        _draw_derivative(
            ax, x, df(x), label=titles[name].split(" (")[0], color=f"C{c}", **styles[name]
        )
    ax.axhline(0.25, color="k", lw=0.8, ls=":", label="1/4 = max sigmoid'")
    ax.set_title(
        "all derivatives: sigmoid' <= 1/4, tanh' <= 1\n"
        "(dot: the value at 0, circle: the other side)",
        fontsize="medium",
    )
    ax.set_xlabel("x")
    ax.set_ylabel("f'(x)")
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    fig.suptitle(
        "Figure 1. Activation functions (solid) and their derivatives (dashed), from the "
        "closed forms"
    )
    fig.tight_layout()
    return fig


def _save(fig, path: Path) -> Path:
    import matplotlib.pyplot as plt
    from utils import atomic_savefig

    try:
        return atomic_savefig(fig, path)
    finally:
        plt.close(fig)


def figure_computation_graph():
    """Figure 2 as a matplotlib Figure (not saved): the nodes x, y, z, h1, h2, h3, f of
    f = ln x + exp(y) z with their forward values and gradients df/dnode, and each edge's local
    derivative.  The texts carry gids ('label:h1', 'value:h1', 'grad:h1', 'edge:h2->h3') for
    tests."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyBboxPatch

    v = written.computation_graph_values()
    fw, gr, loc, inp = v["forward"], v["autograd"], v["local"], v["inputs"]
    nodes = {  # name: (x, y, label, forward value, gradient df/dnode)
        "x": (0.0, 4.0, "x", inp["x"], gr["df/dx"]),
        "y": (0.0, 2.0, "y", inp["y"], gr["df/dy"]),
        "z": (0.0, 0.0, "z", inp["z"], gr["df/dz"]),
        "h1": (4.4, 4.0, "h1 = ln x", fw["h1"], gr["df/dh1"]),
        "h2": (4.4, 2.0, "h2 = exp(y)", fw["h2"], gr["df/dh2"]),
        "h3": (8.8, 1.0, "h3 = h2 * z", fw["h3"], gr["df/dh3"]),
        "f": (13.2, 2.5, "f = h1 + h3", fw["f"], 1.0),
    }
    edges = [  # (parent, child, local derivative d child / d parent)
        ("x", "h1", f"dh1/dx = 1/x\n= {loc['dh1/dx']:.3g}"),
        ("y", "h2", f"dh2/dy = e^y\n= {loc['dh2/dy']:.4g}"),
        ("h2", "h3", f"dh3/dh2 = z\n= {loc['dh3/dh2']:.3g}"),
        ("z", "h3", f"dh3/dz = h2\n= {loc['dh3/dz']:.4g}"),
        ("h1", "f", f"df/dh1 = {loc['df/dh1']:.3g}"),
        ("h3", "f", f"df/dh3 = {loc['df/dh3']:.3g}"),
    ]
    bw, bh = 2.3, 1.05
    fig, ax = plt.subplots(figsize=(14, 6.4))
    for name, (cx, cy, label, val, grad) in nodes.items():
        ax.add_patch(
            FancyBboxPatch(
                (cx - bw / 2, cy - bh / 2),
                bw,
                bh,
                boxstyle="round,pad=0.08",
                fc="#eef3fb" if name in "xyz" else "#fdf6e3",
                ec="0.2",
                lw=1.3,
            )
        )
        # each box: its label, its value and the gradient of f with respect to it, top to bottom
        lines = (
            (0.27, label, dict(fontsize=11, weight="bold"), "label"),
            (0.0, f"value = {val:.4g}", dict(fontsize=10, color="C0"), "value"),
            (-0.27, f"df/d{name} = {grad:.4g}", dict(fontsize=10, color="C3"), "grad"),
        )
        for dy, text, style, kind in lines:
            ax.text(cx, cy + dy, text, ha="center", va="center", gid=f"{kind}:{name}", **style)
    for parent, child, text in edges:
        (x0, y0), (x1, y1) = nodes[parent][:2], nodes[child][:2]
        ax.annotate(
            "",
            xy=(x1 - bw / 2 - 0.1, y1),
            xytext=(x0 + bw / 2 + 0.1, y0),
            arrowprops=dict(arrowstyle="-|>", color="0.25", lw=1.4, shrinkA=0, shrinkB=0),
        )
        # label beside the middle of the visible arrow, pushed off it along the normal
        sx, sy, ex, ey = x0 + bw / 2, y0, x1 - bw / 2, y1
        length = math.hypot(ex - sx, ey - sy)
        nx, ny = -(ey - sy) / length, (ex - sx) / length
        if ny < 0:
            nx, ny = -nx, -ny
        ax.text(
            (sx + ex) / 2 + 0.4 * nx,
            (sy + ey) / 2 + 0.4 * ny,
            text,
            ha="center",
            va="center",
            fontsize=9,
            color="C2",
            gid=f"edge:{parent}->{child}",
        )
    ax.text(
        0.0,
        -1.25,
        "chain rule: df/dy = df/dh3 * dh3/dh2 * dh2/dy = 1 * z * e^y = 2e^3;   "
        "df/dx = df/dh1 * dh1/dx = 1;   df/dz = df/dh3 * dh3/dz = e^3",
        ha="left",
        va="center",
        fontsize=10,
    )
    from matplotlib.lines import Line2D

    handles = [
        Line2D(
            [], [], color="C0", marker="s", ls="", label="forward value at (x, y, z) = (1, 3, 2)"
        ),
        Line2D(
            [], [], color="C3", marker="s", ls="", label="backward gradient df/d(node) (autograd)"
        ),
        Line2D([], [], color="C2", marker="s", ls="", label="local derivative on each edge"),
    ]
    ax.legend(handles=handles, loc="upper right", fontsize=9)
    ax.set_xlim(-1.5, 14.7)
    ax.set_ylim(-1.7, 5.2)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(
        "Figure 2. Computation graph of f(x, y, z) = ln x + exp(y) z: forward values and "
        "backward gradients"
    )
    fig.tight_layout()
    return fig


# what `make_figures` writes into its folder: Figure 1, Figure 2
FIGURE_FILES = ("activations.png", "computation_graph.png")


def make_figures(out_dir) -> list[Path]:
    """Draw Figure 1 (out_dir/activations.png) and Figure 2 (out_dir/computation_graph.png)."""
    out_dir = Path(out_dir)
    return [
        _save(figure_activations(), out_dir / FIGURE_FILES[0]),
        _save(figure_computation_graph(), out_dir / FIGURE_FILES[1]),
    ]
