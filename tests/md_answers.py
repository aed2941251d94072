"""Reading hw3.md's answers: the blocks of its items, each block's answer line, and the math written
there.

Every item of hw3.md opens with one line of the form

    **Answer:** RESULT

where RESULT is the boxes ("(a)"), True or False, a sentence, or math between dollar signs: an
equation chain (`$h_3 = h_2 z = 2e^3 \\approx 40.1711$`), a Jacobian with its shape (`$J = X$, shape
$n\\times d$`), or weights (`$W_1 = \\begin{bmatrix}1&1\\\\1&1\\end{bmatrix}$`).  `evaluate` turns
the small part of LaTeX that these answers use into numbers (torch float64), so that a test compares
what hw3.md writes, not a copy of it, with what the code computes.  Juxtaposition is multiplication
(a matrix product between two matrices), every symbol is one letter with at most a one-character
subscript, and anything it does not know is an error.
"""

from __future__ import annotations

import itertools
import math
import re
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
HW3_PATH = REPO / "hw3.md"

ITEM_HEADING = re.compile(r"^#### (\d+(?:\.\d+)+) ", re.M)
ANSWER = re.compile(r"\*\*Answer:\*\* (.+)")
D = torch.float64


def item_blocks(text: str) -> dict[str, str]:
    """item number -> its text, from its '#### n.m' heading to the next heading of level 1-4."""
    blocks = {}
    for match in ITEM_HEADING.finditer(text):
        rest = text[match.end() :].split("\n", 1)[1]  # the answer starts below the heading's line
        end = re.search(r"^#{1,4} ", rest, re.M)
        blocks[match.group(1)] = rest[: end.start()] if end else rest
    return blocks


def answer_line(block: str) -> str:
    """The RESULT of the block's first non-empty line, which must be '**Answer:** RESULT'."""
    first = next(line for line in block.splitlines() if line.strip())
    match = ANSWER.fullmatch(first.strip())
    assert match, f"the item does not open with '**Answer:** ...': {first!r}"
    return match.group(1)


def closed(result: str):
    """'(a).' -> ('a',); '(d) None of the above.' -> ('d',); 'True.' -> True."""
    if result.rstrip(".") in ("True", "False"):
        return result.rstrip(".") == "True"
    boxes = re.match(r"((?:\([a-z]\)(?:,? and |, )?)+)", result)
    assert boxes, f"no boxes in {result!r}"
    return tuple(re.findall(r"\(([a-z])\)", boxes.group(1)))


def math_spans(text: str) -> list[str]:
    return re.findall(r"\$([^$]+)\$", text)


def chain(span: str) -> tuple[str, list[str]]:
    """'h_3 = h_2 z = 2e^3 \\approx 40.1711' -> ('h_3', ['h_2 z', '2e^3', '40.1711'])."""
    parts = [p.strip() for p in re.split(r"=|\\approx", span)]
    return parts[0], parts[1:]


def shape(text: str, sizes: dict[str, int]) -> tuple[int, ...]:
    """'(n\\times k)\\times(k\\times d)' with sizes {'n': 5, ...} -> (5, 4, 4, 3)."""
    symbols = [s.strip() for s in re.sub(r"[()]", "", text).split("\\times")]
    return tuple(int(s) if s.isdigit() else sizes[s] for s in symbols)


# ------------------------------------------------------------------------------ evaluating LaTeX
class V:
    """A float64 tensor in which `a * b` is a matrix product when both are matrices, and scales
    otherwise."""

    def __init__(self, value):
        self.t = value.t if isinstance(value, V) else torch.as_tensor(value, dtype=D)

    @staticmethod
    def _of(other):
        return other.t if isinstance(other, V) else torch.as_tensor(other, dtype=D)

    def __mul__(self, other):
        o = self._of(other)
        return V(self.t @ o if self.t.dim() == 2 and o.dim() == 2 else self.t * o)

    def __rmul__(self, other):
        return V(self._of(other) * self.t)

    def __add__(self, other):
        return V(self.t + self._of(other))

    __radd__ = __add__

    def __sub__(self, other):
        return V(self.t - self._of(other))

    def __rsub__(self, other):
        return V(self._of(other) - self.t)

    def __neg__(self):
        return V(-self.t)

    def __truediv__(self, other):
        return V(self.t / self._of(other))

    def __rtruediv__(self, other):
        return V(self._of(other) / self.t)

    def __pow__(self, k):
        return V(self.t ** self._of(k))

    def __getitem__(self, index):
        return V(self.t[index])

    @property
    def T(self):  # noqa: N802
        return V(self.t.T)


def _bmatrix(match: re.Match) -> str:
    rows = [row.split("&") for row in match.group(1).split("\\\\")]
    return (
        "MAT(["
        + ",".join("[" + ",".join(f"({c.strip()})" for c in row) + "]" for row in rows)
        + "])"
    )


FUNCTIONS = {
    "diag": lambda v: V(torch.diag(V(v).t.reshape(-1))),
    "exp": lambda v: V(torch.exp(V(v).t)),
    "ln": lambda v: V(torch.log(V(v).t)),
    "delta": lambda a, b: float(a == b),
    "MAT": lambda rows: V([[V(c).t.item() for c in row] for row in rows]),
}
TOKEN = re.compile(
    r"\s*(?:(?P<fn>diag|exp|ln|delta|MAT|ZERO)|(?P<num>\d+(?:\.\d+)?)|(?P<T>\.T)|"
    r"(?P<id>[A-Za-z](?:_[A-Za-z0-9])?)|(?P<op>\*\*|[-+*/(),\[\]]))"
)


def to_python(latex: str, indexed: frozenset = frozenset()) -> str:
    """The LaTeX of one side of an equation as a Python expression (see the module docstring).
    Symbols in `indexed` are arrays: `X_{ic}` becomes `X[i][c]` and `\\sigma_i` becomes `s[i]`."""
    s = latex
    s = re.sub(r"\\begin\{bmatrix\}(.*?)\\end\{bmatrix\}", _bmatrix, s)
    s = re.sub(r"\\frac\{([^{}]*)\}\{([^{}]*)\}", r"(\1)/(\2)", s)
    s = s.replace("\\operatorname{diag}", "diag").replace("\\ln", "ln ").replace("\\cdot", "*")
    s = s.replace("\\left", "").replace("\\right", "").replace("\\,", " ").replace("\\sigma", "s")
    s = re.sub(r"\\delta_\{?(\w)(\w)\}?", r"delta(\1,\2)", s)
    s = re.sub(r"(?<![A-Za-z])0\^\\top", "ZERO.T", s)
    s = re.sub(r"\^\\top", ".T", s)
    s = re.sub(r"(?<![A-Za-z])e\^\{([^{}]*)\}", r"exp(\1)", s)
    s = re.sub(r"(?<![A-Za-z])e\^(\w)", r"exp(\1)", s)
    s = re.sub(r"\^\{([^{}]*)\}", r"**(\1)", s)
    s = re.sub(r"\^(\w)", r"**\1", s)
    if indexed:
        s = re.sub(
            r"(?<![A-Za-z])([A-Za-z])_\{(\w+)\}|(?<![A-Za-z])([A-Za-z])_(\w)",
            lambda m: (
                (f"{m.group(1) or m.group(3)}[" + "][".join(m.group(2) or m.group(4)) + "]")
                if (m.group(1) or m.group(3)) in indexed
                else m.group(0)
            ),
            s,
        )
    s = re.sub(r"_\{(\w)\}", r"_\1", s)
    assert "\\" not in s and "{" not in s, f"cannot read {latex!r} (left: {s!r})"
    out, pos, prev = [], 0, None
    while pos < len(s.rstrip()):
        match = TOKEN.match(s, pos)
        assert match and match.end() > pos, f"cannot read {latex!r} at {s[pos:]!r}"
        kind = match.lastgroup
        text = match.group(kind)
        starts_operand = kind in ("num", "id", "fn") or text == "("
        ends_operand = prev in ("num", "id", "T", ")", "]", "ZERO")
        if starts_operand and ends_operand:
            out.append("*")
        if prev == "fn" and text != "(" and kind in ("num", "id"):  # \ln x: a one-symbol argument
            text = f"({text})"
        out.append(text)
        prev = "ZERO" if text == "ZERO" else (text if kind == "op" else kind)
        pos = match.end()
    return "".join(out)


def evaluate(latex: str, names: dict, indexed: frozenset = frozenset()):
    """The value of `latex` with `names` bound (tensors become V, numbers stay numbers)."""
    scope = {k: (V(v) if isinstance(v, torch.Tensor) else v) for k, v in names.items()}
    return eval(to_python(latex, indexed), {"__builtins__": {}}, {**FUNCTIONS, **scope})  # noqa: S307


def evaluate_indexed(latex: str, indices: str, sizes: dict[str, int], names: dict) -> torch.Tensor:
    """An entrywise formula over `indices` (e.g. 'iabc'), each letter running over
    range(sizes[letter])."""
    arrays = frozenset(k for k, v in names.items() if isinstance(v, torch.Tensor))
    code = to_python(latex, arrays)
    scope = {
        **FUNCTIONS,
        **{k: (v.tolist() if isinstance(v, torch.Tensor) else v) for k, v in names.items()},
    }
    out = torch.empty([sizes[i] for i in indices], dtype=D)
    for combo in itertools.product(*(range(sizes[i]) for i in indices)):
        out[combo] = float(eval(code, {"__builtins__": {}}, {**scope, **dict(zip(indices, combo))}))  # noqa: S307
    return out


def number(text: str) -> float:
    """'40.1711' or '1' -> float; the approximate values hw3.md writes after \\approx."""
    return float(text.replace(",", ""))


E = math.e
