"""hw3.md as an answer sheet: every item of the handout under its own number and in order, each
opening with its result on an `**Answer:** ...` line, and that result, read from hw3.md itself,
against what the code computes (`test_answer`, one case per item, named by it).  The numbers quoted
after the answers are recomputed here too; those of the findings (6.1 and the language model) are
checked against reference/*.json in tests/docs/test_numbers.py, which also holds the answers of
6.1.3-6.1.5 to the sweeps' data.
"""

from __future__ import annotations

import ast
import math
import re
from pathlib import Path

import pytest
import torch

import main
import mlp
from sweeps import run as sweep_run
from written import answers as written
from md_answers import (
    V,
    answer_line,
    chain,
    closed,
    evaluate,
    evaluate_indexed,
    item_blocks,
    math_spans,
    shape,
)

REPO = Path(__file__).resolve().parents[2]
HW3 = (REPO / "hw3.md").read_text()
QUESTIONS = REPO.parent / "shared" / "handout" / "questions.md"
D = torch.float64

# The handout's items in order, as questions.md numbers them (kept here too, so that the check still
# runs where ../shared is not checked out; test_questions_md_lists_these_items holds the two
# together).
HANDOUT_ITEMS = (
    [f"1.{i}" for i in range(1, 11)]
    + [f"2.{i}" for i in range(1, 8)]
    + [f"3.{i}" for i in range(1, 7)]
    + [f"4.{i}" for i in range(1, 5)]
    + [f"5.{i}" for i in range(1, 5)]
    + ["6.1.2", "6.1.3", "6.1.4", "6.1.5"]
)

# The right boxes, written down independently of written/answers.py: changing either, or hw3.md,
# fails.
RIGHT_ANSWERS = {
    "1.1": ("a",),
    "1.2": False,
    "1.3": True,
    "1.4": ("d",),
    "1.9": ("a",),
    "1.10": ("a",),
}

ITEM_HEADING = re.compile(r"^#### (\d+(?:\.\d+)+) ", re.M)
BLOCKS = item_blocks(HW3)


def sentences(paragraph: str) -> int:
    return len(re.findall(r"[.!?](?=\s|$)", paragraph))


def body_paragraphs(block: str) -> list[str]:
    """The paragraphs after the answer line, whitespace collapsed (tables, images and lists left
    out)."""
    line = answer_line(block)
    body = block[block.index(line) + len(line) :]
    return [
        p
        for p in (re.sub(r"\s+", " ", p).strip() for p in re.split(r"\n\s*\n", body))
        if p and not p.startswith(("|", "!", "-", "1."))
    ]


# ------------------------------------------------------------------------------ numbering and
# coverage
def test_questions_md_lists_these_items():
    if not QUESTIONS.is_file():
        pytest.skip(f"{QUESTIONS} is not here; HANDOUT_ITEMS is checked against hw3.md anyway")
    listed = re.findall(r"^(\d+(?:\.\d+)+) ", QUESTIONS.read_text(), re.M)
    assert listed == HANDOUT_ITEMS


def test_every_handout_item_is_answered_in_order():
    """Every item of the handout appears once, under its own number, in the handout's order, nothing
    else is numbered as an item, and each opens with its answer line."""
    assert ITEM_HEADING.findall(HW3) == HANDOUT_ITEMS
    for item, block in BLOCKS.items():
        assert answer_line(block), item


def test_no_text_about_other_answers_or_a_missing_handout():
    lowered = HW3.lower()
    for phrase in (
        "worked answer",
        "we received",
        "reconstructed",
        "did not have the handout",
        "handout pdf",
        "checked by",
    ):
        assert phrase not in lowered, phrase


def test_handout_slips_are_pointed_out():
    """The Jacobian recap's n x d (it is d x n) and 3.5's d sigma_i / d z_i (it means d z_j)."""
    assert "by its own rule it is $d\\times n$" in HW3
    assert "typesets the left side as $\\partial\\sigma_i/\\partial z_i$" in BLOCKS["3.5"]


def test_lengths():
    """Sections 1-6 (everything before "Beyond the handout") at most 3,200 words, the file at most
    4,600 (words as str.split counts them: tables, math and links included)."""
    before = HW3[: HW3.index("## Beyond the handout")]
    assert len(before.split()) <= 3200 and len(HW3.split()) <= 4600


def finding(item: str) -> str:
    """The prose of a 6.1 finding: its block without the answer line, tables and figures."""
    paragraphs = item_blocks(HW3)[item].split("\n\n")
    prose = [
        p for p in paragraphs if p.strip() and not p.lstrip().startswith(("**Answer:**", "|", "!["))
    ]
    return " ".join(prose)


@pytest.mark.parametrize("item", ["6.1.3", "6.1.4", "6.1.5"])
def test_each_finding_is_an_answer_line_and_three_sentences_of_at_most_90_words(item):
    """The handout's 2-3 sentences: the answer line, then at most 3 sentences of at most 90 words
    in all; the numbers stand in the item's table."""
    prose = finding(item)
    sentences = [s for s in re.split(r"(?<=[.!?])\s+(?=[A-Z])", prose.strip()) if s]
    assert 1 <= len(sentences) <= 3, sentences
    assert len(prose.split()) <= 90, len(prose.split())
    assert "\n| " in item_blocks(HW3)[item], f"{item} has no table of its numbers"


def test_the_samples_stand_in_6_2():
    """The language model's samples, which the handout asks for, are in 6.2, not "Beyond"."""
    six_two = HW3[HW3.index("## 6.2 Programming") : HW3.index("## Beyond the handout")]
    assert all(f"- {mode}: `The best" in six_two for mode in ("greedy", "top-p 0.3", "top-p 1.0"))
    assert "- greedy: `" not in HW3[HW3.index("## Beyond the handout") :]


# ------------------------------------------------------------------------------ the table of tests
def _test_functions(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")
    }


def _table_items(label: str) -> list[str]:
    """'1.1-1.10' -> 1.1 ... 1.10 in the handout's order; '3.5, 3.6' -> both."""
    items = []
    for part in label.split(","):
        first, _, last = part.strip().partition("-")
        if first in HANDOUT_ITEMS:
            end = HANDOUT_ITEMS.index(last) if last else HANDOUT_ITEMS.index(first)
            items += HANDOUT_ITEMS[HANDOUT_ITEMS.index(first) : end + 1]
    return items


def test_every_item_has_a_row_of_tests_that_exist():
    """The table of docs/course.md names tests for every item of hw3.md, and each test named there
    or anywhere in hw3.md exists."""
    course = (REPO / "docs" / "course.md").read_text()
    table = course[course.index("## Which test checks which answer of hw3.md") :]
    rows = [
        [c.strip() for c in line.strip().strip("|").split("|")]
        for line in table.splitlines()
        if line.startswith("| ") and "`tests/" in line
    ]
    covered = [item for label, _ in rows for item in _table_items(label)]
    assert sorted(covered, key=HANDOUT_ITEMS.index) == HANDOUT_ITEMS
    named = re.findall(r"`(tests/[\w/]+\.py)::(test_\w+)`", HW3 + table)
    functions = {}
    for path, name in named:
        if path not in functions:
            assert (REPO / path).is_file(), path
            functions[path] = _test_functions(REPO / path)
        assert name in functions[path], f"{path}::{name} does not exist"


# ------------------------------------------------------------------------------ each answer, read
# and checked
_COMPUTED: dict[int, object] = {}


def computed(claim: written.Claim):
    if id(claim) not in _COMPUTED:
        _COMPUTED[id(claim)] = claim.compute()
    return _COMPUTED[id(claim)]


def claims_of(item: str) -> list[written.Claim]:
    return [c for c in written.CLAIMS if c.item == item]


def check_closed(item: str, block: str):
    """Boxes or True/False: the right ones, and those that written/answers.py's claims for the item
    state and back."""
    line = answer_line(block)
    stated = closed(line)
    assert stated == RIGHT_ANSWERS[item], (
        f"{item}: hw3.md answers {stated}, the right answer is {RIGHT_ANSWERS[item]}"
    )
    assert written.CLOSED_ANSWERS[item].answer == stated, item
    for claim in claims_of(item):
        assert claim.result == stated and claim.holds(computed(claim)), (item, claim.statement)


def check_sentence(item: str, block: str):
    """A result in words: the one written/answers.py states for the item, whose computation backs
    it."""
    line = answer_line(block)
    claims = [c for c in claims_of(item) if c.result is not None]
    assert claims, f"written/answers.py states no result for {item}"
    for claim in claims:
        assert line == claim.result, (
            f"{item}: hw3.md says {line!r}, written/answers.py says {claim.result!r}"
        )
        assert claim.holds(computed(claim)), (item, claim.statement, claim.numbers(computed(claim)))


JACOBIAN_PROBLEMS = [dict(n=5, d=3, k=4, i=2, seed=0), dict(n=3, d=6, k=2, i=0, seed=7)]


def check_jacobian(item: str, block: str):
    """'$J = EXPR$, shape $SHAPE$': EXPR evaluated on two problems whose n, d, k differ, against
    autograd."""
    line = answer_line(block)
    match = re.fullmatch(r"\$(J(?:_\{(\w+),(\w+)\})?) = (.+)\$, shape \$(.+)\$\.?", line)
    assert match, f"{item}: not '$J = ...$, shape $...$': {line!r}"
    _, out_idx, in_idx, expr, shape_text = match.groups()
    jac_item = next(j for j in written.jacobian_items() if j.item == item)
    for dims in JACOBIAN_PROBLEMS:
        P = written.jacobian_problem(**dims)
        fn, inp = jac_item.f(P)
        ref = written.autograd_jacobian(fn, inp)
        n, d = P["X"].shape
        sizes = {"n": n, "d": d, "k": P["W"].shape[0]}
        assert shape(shape_text, sizes) == tuple(ref.shape), (
            f"{item}: shape {shape_text} is not {tuple(ref.shape)}"
        )
        names = {
            "w": P["w"],
            "X": P["X"],
            "x_i": P["x_i"],
            "I_d": torch.eye(d, dtype=D),
            "ZERO": torch.zeros(d, 1, dtype=D),
            "c": written.JACOBIAN_CONSTANT,
        }
        if out_idx:  # an entrywise formula, J_{ia,bc}
            letters = out_idx + in_idx
            index_sizes = dict(zip(letters, ref.shape))
            value = evaluate_indexed(expr, letters, index_sizes, {"X": P["X"]})
        else:
            value = evaluate(expr, names).t
        assert tuple(value.shape) == tuple(ref.shape), (
            f"{item}: {expr} has shape {tuple(value.shape)}"
        )
        torch.testing.assert_close(
            value, ref, rtol=1e-12, atol=1e-12, msg=f"{item}: {expr} is not the Jacobian"
        )


def check_activation_table(item: str, block: str):
    """3.2's table: the limits written for sigmoid, ReLU and tanh against the closed forms at x =
    -+40."""
    rows = {
        cells[0]: cells
        for cells in (
            [c.strip() for c in r.strip().strip("|").split("|")]
            for r in block.splitlines()
            if r.startswith("| ")
        )
    }
    far = torch.tensor([-40.0, 40.0], dtype=D)
    for label, name in (("sigmoid", "sigmoid"), ("ReLU", "relu"), ("tanh", "tanh")):
        f, df = written.activation_derivatives()[name]
        for cell, x in zip(rows[label][-2:], far):
            stated = [s.strip() for s in cell.split(",")]
            for text, fn in zip(stated, (f, df)):
                value = fn(x).item()
                if "infty" in text:
                    assert value > 10 and text.startswith("$+"), (item, label, text, value)
                else:
                    assert value == pytest.approx(float(text), abs=1e-9), (
                        item,
                        label,
                        float(x),
                        text,
                        value,
                    )


def check_softmax(item: str, block: str):
    """3.5 entrywise, 3.6 as matrices: the stated right-hand side against autograd's Jacobian of
    softmax."""
    line = answer_line(block)
    lhs, (rhs,) = chain(line.strip(".").strip("$"))
    for seed in (0, 1):
        z = torch.randn(5, generator=torch.Generator().manual_seed(seed), dtype=D) * 2
        ref = torch.autograd.functional.jacobian(lambda t: torch.softmax(t, 0), z)
        s = torch.softmax(z, 0)
        if item == "3.5":
            letters = "".join(re.findall(r"_(\w)", lhs))
            value = evaluate_indexed(rhs, letters, dict.fromkeys(letters, 5), {"s": s})
        else:
            value = evaluate(rhs, {"s": s.reshape(5, 1)}).t
        torch.testing.assert_close(
            value, ref, rtol=1e-12, atol=1e-14, msg=f"{item}: {rhs} is not the Jacobian"
        )
    for claim in claims_of("3.5"):
        assert claim.holds(computed(claim))


def check_xor_weights(item: str, block: str):
    """4.2: the weights as written, run on the four inputs: exactly XOR."""
    line = answer_line(block)
    weights = {}
    for span in math_spans(line):
        name, (value,) = chain(span)
        weights[name] = V(evaluate(value, {})).t
    assert set(weights) == {"W_1", "b_1", "W_2", "b_2"}, weights
    r = written.xor_two_layer(
        W1=weights["W_1"].tolist(),
        b1=weights["b_1"].reshape(-1).tolist(),
        W2=weights["W_2"].reshape(-1).tolist(),
        b2=weights["b_2"].item(),
    )
    assert r["outputs"] == list(written.XOR_Y), (
        f"{item}: these weights give {r['outputs']}, not XOR"
    )


def _node(name: str) -> str:
    """'\\partial h_1/\\partial x' -> 'dh1/dx'; 'h_1' -> 'h1'."""
    return re.sub(r"\\partial\s*", "d", name).replace("_", "").replace(" ", "")


def check_graph(item: str, block: str):
    """5.1-5.4: every '$name = ... = value$' of the line, each side evaluated at (1, 3, 2), against
    the values of written.computation_graph_values (whose chain rule equals autograd's:
    test_written)."""
    line = answer_line(block)
    v = written.computation_graph_values()
    known = {**v["forward"], **v["local"], **v["chain"]}
    scope = {"x": 1.0, "y": 3.0, "z": 2.0, **{f"h_{i}": v["forward"][f"h{i}"] for i in (1, 2, 3)}}
    spans = math_spans(line)
    assert spans, item
    for span in spans:
        name, sides = chain(span)
        want = known[_node(name)]
        for side in sides:
            got = evaluate(side, scope)
            got = got.t.item() if hasattr(got, "t") else float(got)
            tol = 5e-5 if re.fullmatch(r"[\d.]+", side) and "." in side else 1e-12
            assert got == pytest.approx(want, abs=tol), (
                f"{item}: {name} = {side} is {got}, the graph gives {want}"
            )
    for claim in claims_of("5.2"):
        assert claim.holds(computed(claim))


def check_classifier(item: str, block: str):
    """6.1.2: the number of layers as written, evaluated for three hidden_dims, against the built
    model."""
    line = answer_line(block)
    match = re.match(r"`(.+?)` linear layers in an `nn.ModuleList`", line)
    assert match, line
    for hidden_dims in ([], [512], [64, 32, 16]):
        model = mlp.SentimentClassifier(50, 2, hidden_dims, "ReLU")
        stated = eval(match.group(1), {"__builtins__": {"len": len}}, {"hidden_dims": hidden_dims})  # noqa: S307
        assert isinstance(model.linears, torch.nn.ModuleList) and len(model.linears) == stated, (
            item,
            hidden_dims,
        )


CHECKS = {
    **dict.fromkeys(RIGHT_ANSWERS, check_closed),
    **dict.fromkeys(
        ["1.5", "1.6", "1.7", "1.8", "3.1", "3.3", "3.4", "4.1", "4.3", "4.4"], check_sentence
    ),
    **dict.fromkeys([f"2.{i}" for i in range(1, 8)], check_jacobian),
    "3.2": check_activation_table,
    "3.5": check_softmax,
    "3.6": check_softmax,
    "4.2": check_xor_weights,
    **dict.fromkeys(["5.1", "5.2", "5.3", "5.4"], check_graph),
    "6.1.2": check_classifier,
}


def test_every_item_up_to_6_1_2_has_a_check():
    """6.1.3-6.1.5 are held to the sweeps' data in
    tests/docs/test_numbers.py::test_findings_follow_from_the_data."""
    assert list(CHECKS) != [] and set(CHECKS) == set(HANDOUT_ITEMS) - {"6.1.3", "6.1.4", "6.1.5"}


@pytest.mark.parametrize("item", sorted(CHECKS, key=HANDOUT_ITEMS.index))
def test_answer(item):
    """The item's answer line, as hw3.md writes it, against what the code computes."""
    CHECKS[item](item, BLOCKS[item])


EDITS = [  # (item, an edit of its answer in hw3.md): each alone must fail that item's check
    ("2.4", r"$J = X$, shape $n\times d$", r"$J = X$, shape $d\times n$"),
    ("4.2", r"$b_2 = -1$", r"$b_2 = 1$"),
    ("5.3", r"$\partial h_3/\partial h_2 = z = 2$", r"$\partial h_3/\partial h_2 = z = 3$"),
    ("2.6", r"$J = \operatorname{diag}(2w)$", r"$J = 2w^\top$"),
    ("4.1", "**Answer:** No.", "**Answer:** Yes."),
    ("1.1", "**Answer:** (a).", "**Answer:** (b)."),
    ("1.3", "**Answer:** True.", "**Answer:** False."),
    ("3.2", "at most 1/4 (at 0) | 0, 0 | 1, 0 |", "at most 1/4 (at 0) | 0, 0 | 1, 1 |"),
    ("3.5", r"z_j = \sigma_i(\delta_{ij} - \sigma_j)", r"z_j = \sigma_i(1 - \sigma_j)"),
    (
        "3.6",
        r"\operatorname{diag}(\sigma) - \sigma\sigma^\top",
        r"\operatorname{diag}(\sigma) + \sigma\sigma^\top",
    ),
    (
        "5.4",
        r"$\partial f/\partial y = 2e^3 \approx 40.1711$",
        r"$\partial f/\partial y = e^3 \approx 20.0855$",
    ),
    ("2.7", r"\delta_{ab}X_{ic}", r"X_{ic}"),
    ("2.2", r"$J = 2w^\top$", r"$J = w^\top$"),
    ("4.4", "true when $f$ is monotone;", "true for any $f$;"),
    ("1.7", "**Answer:** No:", "**Answer:** Yes:"),
    ("5.2", r"$h_2 = e^3 \approx 20.0855$", r"$h_2 = e^2 \approx 7.3891$"),
]


@pytest.mark.parametrize(
    "item, old, new", EDITS, ids=[f"{item}: {old[:20]} -> {new[:20]}" for item, old, new in EDITS]
)
def test_an_edited_answer_fails_its_item(item, old, new):
    """Deliberate mistakes: the edit, made to hw3.md's text of the item (in memory), fails
    test_answer's check for that item; the unedited text passes it (test_answer)."""
    block = BLOCKS[item]
    assert block.count(old) == 1, (item, old)
    with pytest.raises(AssertionError):
        CHECKS[item](item, block.replace(old, new))


# ------------------------------------------------------------------------------ form
def test_multiple_choice_answers_give_a_reason():
    for item in RIGHT_ANSWERS:
        assert sum(sentences(p) for p in body_paragraphs(BLOCKS[item])) >= 1, item


def test_3_3_is_a_definition_and_a_reason():
    (body,) = body_paragraphs(BLOCKS["3.3"])
    assert sentences(body) <= 4
    for name in ("0.25^{10}", "tanh", "ReLU", "dead side"):
        assert name in body, name


@pytest.mark.parametrize("item", ["6.1.3", "6.1.4", "6.1.5"])
def test_findings_answer_in_two_or_three_sentences(item):
    (first,) = body_paragraphs(BLOCKS[item])
    assert 2 <= sentences(first) <= 3, first


def _images(block: str) -> list[str]:
    return re.findall(r"!\[[^\]]*\]\((reference/[^)]+)\)", block)


def test_findings_embed_the_plots_the_handout_asks_for():
    """6.1.3: the 4 per-configuration loss plots, the 2 across-configuration plots and the control's
    accuracy; 6.1.4 and 6.1.5: 2 each; the language model: the course model's loss and perplexity.
    Each is a committed file that `python main.py` (or `replot`) draws (its name follows from the
    sweeps' definitions in main.py)."""
    structures = main.SWEEPS["structures"]()
    per_config = {
        f"reference/{structures.epoch_plot_prefix}_{sweep_run.safe_name(label)}_loss.png"
        for label in structures.labels
    }
    across = {
        sweep: {f"reference/all_{main.SWEEPS[sweep]().name}_{key}.png" for key in ("acc", "loss")}
        for sweep in main.SWEEPS
    }
    control = {f"reference/all_{main.SWEEPS['depth_vs_lr']().name}_acc.png"}
    assert (
        set(_images(BLOCKS["6.1.3"])) == per_config | across["structures"] | control
        and len(per_config) == 4
    )
    assert set(_images(BLOCKS["6.1.4"])) == across["activations"]
    assert set(_images(BLOCKS["6.1.5"])) == across["learning_rates"]
    lm = HW3[
        HW3.index("## 6.2 Programming: the language model") : HW3.index("## Beyond the handout")
    ]
    assert set(_images(lm)) == {
        "reference/course_model_h200/mlp_lm_course_loss.png",
        "reference/course_model_h200/mlp_lm_course_ppl.png",
    }
    assert "reference/activations.png" in _images(BLOCKS["3.2"])
    assert "reference/computation_graph.png" in _images(BLOCKS["5.1"])
    for path in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", HW3):
        assert (REPO / path).is_file(), path
    assert "None" not in " ".join(structures.labels)


def test_beyond_the_handout_comes_after_the_answers():
    beyond = HW3.index("## Beyond the handout")
    assert beyond > HW3.index("#### 6.1.5") and beyond > HW3.index(
        "## 6.2 Programming: the language model"
    )
    assert not ITEM_HEADING.search(HW3[beyond:])


# ------------------------------------------------------------------------------ numbers of the
# written part
def sci(x: float) -> str:
    """1 significant decimal in e-notation as hw3.md writes it: 7.2e-7, 2.1e2."""
    mantissa, exponent = f"{x:.1e}".split("e")
    return f"{mantissa}e{int(exponent)}"


def _constant_init():
    return written.constant_init_mlp_symmetry("sigmoid", 0.0)


# (item, text with {} for the number, the number as written/answers.py computes it now)
WRITTEN_QUOTES = [
    ("1.1", "unit 0's ends at {}.", lambda: f"{_constant_init()['random_init_spread_after']:.2f}"),
    (
        "1.2",
        "per-example loop to rounding (below {}).",
        lambda: (
            "1e-12"
            if written.layers_need_a_loop()["batch_vs_loop"] < 1e-12
            else "(not below 1e-12)"
        ),
    ),
    (
        "1.3",
        "the mean output is {} for sigmoid",
        lambda: f"{written.zero_centred_check()['sigmoid_mean']:.3f}",
    ),
    ("1.5", "training-mode passes is {}", lambda: f"{written.dropout_demo()['inverted_mean']:.4f}"),
    (
        "1.7",
        "falls from {} at",
        lambda: f"{written.sigmoid_saturation_grads()[0]['grad_norm']:.2f}",
    ),
    ("1.7", "to {} at $s = 5$", lambda: sci(written.sigmoid_saturation_grads()[-1]["grad_norm"])),
    (
        "1.8",
        "weight gradient is {} times the last block's without",
        lambda: sci(written.residual_gradient_norms()["plain_first_over_last"]),
    ),
    (
        "1.8",
        "and {} times it with the shortcut",
        lambda: f"{written.residual_gradient_norms()['residual_first_over_last']:.1f}",
    ),
    # a rounding residual depends on the machine's BLAS (5.7e-14 here, 8.5e-14 on an H200): quoted
    # as its bound
    (
        "3.1",
        "product to rounding (below {});",
        lambda: (
            "1e-9"
            if written.linear_layers_collapse()["linear_stack_vs_one_layer"] < 1e-9
            else "(not below 1e-9)"
        ),
    ),
    (
        "3.1",
        "RMS residual of {}",
        lambda: f"{written.linear_layers_collapse()['tanh_stack_best_affine_rms_residual']:.2f}",
    ),
    (
        "3.1",
        "outputs of RMS {}",
        lambda: f"{written.linear_layers_collapse()['tanh_stack_rms']:.2f}",
    ),
    ("3.3", "({} through ten unit-weight", lambda: sci(written.vanishing_chain()["sigmoid"])),
    ("3.3", "({} through ten layers from", lambda: sci(written.vanishing_chain()["tanh_at_2"])),
    (
        "3.4",
        "{} % of the per-example",
        lambda: f"{100 * written.zero_centred_check()['single_sign_rows_sigmoid']:.0f}",
    ),
    (
        "3.4",
        "and {} % with",
        lambda: f"{100 * written.zero_centred_check()['single_sign_rows_tanh']:.0f}",
    ),
    (
        "4.1",
        "largest error of {}",
        lambda: f"{written.xor_single_layer_search()['grid_best_max_abs_err']:.3f}",
    ),
    (
        "4.1",
        "squared error of {}.",
        lambda: f"{written.xor_single_layer_search()['gd_best_mse']:.3f}",
    ),
    ("4.4", "{} steps from 0.5 reach", lambda: "2,000"),
    (
        "4.4",
        "squared error of {}, the units",
        lambda: sci(written.xor_constant_init_training("gelu", 0.5, steps=2000)["loss_last"]),
    ),
    (
        "4.4",
        "lowest losses {} (sigmoid)",
        lambda: f"{written.xor_constant_init_training('sigmoid', 0.5)['loss_min']:.3f}",
    ),
    (
        "4.4",
        "{} (tanh)",
        lambda: f"{written.xor_constant_init_training('tanh', 0.5)['loss_min']:.3f}",
    ),
    (
        "4.4",
        "{} (ReLU, exactly the bound)",
        lambda: f"{written.xor_constant_init_training('relu', 0.5)['loss_min']:.4f}",
    ),
    (
        "4.4",
        "From every parameter at 0.5, {} steps",
        lambda: f"{written.xor_constant_init_training('relu', 0.5)['steps']}",
    ),
]


@pytest.mark.parametrize(
    "item, template, value",
    WRITTEN_QUOTES,
    ids=[f"{item}:{template[:24]}" for item, template, _ in WRITTEN_QUOTES],
)
def test_written_answers_quote_what_the_code_computes(item, template, value):
    block = re.sub(r"\s+", " ", BLOCKS[item])
    assert template.format(value()) in block


def test_the_gelu_steps_quoted_are_the_claims():
    """4.4's '2,000 steps' is the number of steps of written/answers.py's GELU claim."""
    claim = next(c for c in claims_of("4.4") if "GELU units learns" in c.statement)
    assert computed(claim)["steps"] == 2000 and "2,000 steps" in BLOCKS["4.4"]
    assert math.isfinite(computed(claim)["loss_last"])
