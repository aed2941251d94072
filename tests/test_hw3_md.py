"""hw3.md as an answer sheet: every item of the handout under its own number and in order, every item
naming a test that exists, the multiple-choice and True/False answers pinned to the handout's boxes, the
numbers of the written answers recomputed, and the plots the handout asks for embedded.

The numbers of the findings (sections 6.1 and the language model) are checked against plots/*.json in
tests/test_numbers.py.
"""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import main
import utils
import written

REPO = Path(__file__).resolve().parents[1]
HW3 = (REPO / "hw3.md").read_text()
QUESTIONS = REPO.parent / "shared" / "handout" / "questions.md"

# The handout's items in order, as questions.md numbers them (kept here too, so that the check still runs
# where ../shared is not checked out; test_questions_md_lists_these_items holds the two together).
HANDOUT_ITEMS = (
    [f"1.{i}" for i in range(1, 11)] + [f"2.{i}" for i in range(1, 8)] + [f"3.{i}" for i in range(1, 7)]
    + [f"4.{i}" for i in range(1, 5)] + [f"5.{i}" for i in range(1, 5)] + ["6.1.2", "6.1.3", "6.1.4", "6.1.5"])

# The right boxes, written down independently of written.CLOSED_ANSWERS: changing either, or hw3.md, fails.
RIGHT_ANSWERS = {"1.1": ("a",), "1.2": False, "1.3": True, "1.4": ("d",), "1.9": ("a",), "1.10": ("a",)}

ITEM_HEADING = re.compile(r"^#### (\d+(?:\.\d+)+) ", re.M)


def item_blocks(text: str = HW3) -> dict[str, str]:
    """item number -> its text, from its '#### n.m' heading to the next heading of level 1-4."""
    blocks = {}
    for match in ITEM_HEADING.finditer(text):
        rest = text[match.end():].split("\n", 1)[1]  # the answer starts below the heading's line
        end = re.search(r"^#{1,4} ", rest, re.M)
        blocks[match.group(1)] = rest[:end.start()] if end else rest
    return blocks


BLOCKS = item_blocks()


def answer_of(block: str):
    """The boxes ('a', ...) or True/False that a '**Answer: ...**' line states."""
    match = re.search(r"\*\*Answer: ([^*]+?)\.?\*\*", block)
    assert match, "no **Answer: ...** line"
    stated = match.group(1)
    if stated in ("True", "False"):
        return stated == "True"
    return tuple(re.findall(r"\(([a-z])\)", stated))


def paragraphs_before_the_check(block: str) -> list[str]:
    body = block.split("Checked by")[0]
    return [p for p in (re.sub(r"\s+", " ", p).strip() for p in body.split("\n\n")) if p]


def sentences(paragraph: str) -> int:
    return len(re.findall(r"[.!?](?=\s|$)", paragraph))


# ------------------------------------------------------------------------------ numbering and coverage
def test_questions_md_lists_these_items():
    if not QUESTIONS.is_file():
        pytest.skip(f"{QUESTIONS} is not here; HANDOUT_ITEMS is checked against hw3.md anyway")
    listed = re.findall(r"^(\d+(?:\.\d+)+) ", QUESTIONS.read_text(), re.M)
    assert listed == HANDOUT_ITEMS


def test_every_handout_item_is_answered_in_order():
    """Every item of the handout appears once, under its own number, in the handout's order, and
    nothing else is numbered as an item."""
    assert ITEM_HEADING.findall(HW3) == HANDOUT_ITEMS
    for item, block in BLOCKS.items():
        assert len(paragraphs_before_the_check(block)) >= 1, f"{item} has no answer"


def test_no_text_about_other_answers_or_a_missing_handout():
    lowered = HW3.lower()
    for phrase in ("worked answer", "we received", "reconstructed", "did not have the handout", "handout pdf"):
        assert phrase not in lowered, phrase


def test_handout_slips_are_pointed_out():
    """The Jacobian recap's n x d (it is d x n) and 3.5's d sigma_i / d z_i (it means d z_j)."""
    assert "it is $d\\times n$" in HW3
    assert "typesets the left side as $\\partial\\sigma_i/\\partial z_i$" in BLOCKS["3.5"]


# ------------------------------------------------------------------------------ named tests
def _test_functions(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {node.name for node in tree.body if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")}


def test_every_item_names_a_test_that_exists():
    """Each item ends with 'Checked by' and at least one tests/FILE.py::test_NAME, and each one named
    anywhere in hw3.md is a test function of that file."""
    named = re.findall(r"`(tests/[\w/]+\.py)::(test_\w+)`", HW3)
    for item, block in BLOCKS.items():
        assert "Checked by" in block and re.search(r"`tests/[\w/]+\.py::test_\w+`", block), item
    assert len(named) > len(BLOCKS)
    functions = {}
    for path, name in named:
        if path not in functions:
            assert (REPO / path).is_file(), path
            functions[path] = _test_functions(REPO / path)
        assert name in functions[path], f"{path}::{name} does not exist"


# ------------------------------------------------------------------------------ closed answers
@pytest.mark.parametrize("item", sorted(RIGHT_ANSWERS))
def test_closed_answers_match_the_handouts_boxes(item):
    """hw3.md states the right box (or True/False) for each closed item, and so does written.py."""
    stated = answer_of(BLOCKS[item])
    assert stated == RIGHT_ANSWERS[item], (item, stated)
    assert written.CLOSED_ANSWERS[item].answer == RIGHT_ANSWERS[item]


def test_multiple_choice_answers_give_a_reason():
    for item, answer in RIGHT_ANSWERS.items():
        after = BLOCKS[item].split("**", 3)[-1] if isinstance(answer, tuple) else BLOCKS[item]
        assert sentences(re.sub(r"\s+", " ", after)) >= 1, item


# ------------------------------------------------------------------------------ form of 3.3 and 6.1
def test_3_3_is_a_definition_and_a_reason_in_three_sentences_each():
    definition, which = paragraphs_before_the_check(BLOCKS["3.3"])
    assert sentences(definition) <= 3 and "vanishing gradient" in definition
    assert sentences(which) <= 3
    for name in ("Sigmoid", "tanh", "ReLU", "dead side"):
        assert name in which, name


@pytest.mark.parametrize("item", ["6.1.3", "6.1.4", "6.1.5"])
def test_findings_answer_in_two_or_three_sentences(item):
    first = paragraphs_before_the_check(BLOCKS[item])[0]
    assert 2 <= sentences(first) <= 3, first


def _images(block: str) -> list[str]:
    return re.findall(r"!\[[^\]]*\]\((plots/[^)]+)\)", block)


def test_findings_embed_the_plots_the_handout_asks_for():
    """6.1.3: the 4 per-configuration loss plots and the 2 across-configuration plots; 6.1.4 and 6.1.5:
    2 each; the language model: loss and perplexity.  Each is a committed file that `python main.py`
    draws (its name follows from the sweeps' definitions in main.py)."""
    structures = main.SWEEPS["structures"]()
    per_config = {f"plots/{structures.epoch_plot_prefix}_{utils.safe_name(label)}_loss.png"
                  for label in structures.labels}
    across = {sweep: {f"plots/all_{main.SWEEPS[sweep]().name}_{key}.png" for key in ("acc", "loss")}
              for sweep in main.SWEEPS}
    assert set(_images(BLOCKS["6.1.3"])) == per_config | across["structures"] and len(per_config) == 4
    assert set(_images(BLOCKS["6.1.4"])) == across["activations"]
    assert set(_images(BLOCKS["6.1.5"])) == across["learning_rates"]
    lm = HW3[HW3.index("### The language model: findings"):HW3.index("## Beyond the handout")]
    assert set(_images(lm)) == {"plots/mlp_lm_loss.png", "plots/mlp_lm_ppl.png"}
    assert "plots/activations.png" in _images(BLOCKS["3.2"])
    assert "plots/computation_graph.png" in _images(BLOCKS["5.1"])
    for path in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", HW3):
        assert (REPO / path).is_file(), path
    assert "None" not in " ".join(structures.labels)


def test_beyond_the_handout_comes_after_the_answers():
    beyond = HW3.index("## Beyond the handout")
    assert beyond > HW3.index("#### 6.1.5") and beyond > HW3.index("### The language model: findings")
    assert not ITEM_HEADING.search(HW3[beyond:])


# ------------------------------------------------------------------------------ numbers of the written part
def sci(x: float) -> str:
    """1 significant decimal in e-notation as hw3.md writes it: 7.2e-7, 2.1e2."""
    mantissa, exponent = f"{x:.1e}".split("e")
    return f"{mantissa}e{int(exponent)}"


def _constant_init():
    return written.constant_init_mlp_symmetry("sigmoid", 0.0)


WRITTEN_QUOTES = [  # (item, text with {} for the number, the number as written.py computes it now)
    ("1.1", "differ by {}", lambda: f"{_constant_init()['random_init_spread_after']:.2f}"),
    ("1.2", "changes the output by {}", lambda: f"{written.layers_need_a_loop()['layers_merged_vs_net']:.2f}"),
    ("1.3", "the mean output is {} for sigmoid", lambda: f"{written.zero_centred_check()['sigmoid_mean']:.3f}"),
    ("1.5", "training-mode passes is {}", lambda: f"{written.dropout_demo()['inverted_mean']:.4f}"),
    ("1.7", "falls from {} at", lambda: f"{written.sigmoid_saturation_grads()[0]['grad_norm']:.2f}"),
    ("1.7", "to {} at $s = 5$", lambda: sci(written.sigmoid_saturation_grads()[-1]["grad_norm"])),
    ("1.8", "is {} without the shortcut", lambda: sci(written.residual_gradient_norms()["plain_first_grad"])),
    ("1.8", "{} with it", lambda: sci(written.residual_gradient_norms()["residual_first_grad"])),
    ("3.1", "product to {}", lambda: sci(written.linear_layers_collapse()["linear_stack_vs_one_layer"])),
    ("3.1", "RMS residual of {}",
     lambda: f"{written.linear_layers_collapse()['tanh_stack_best_affine_rms_residual']:.2f}"),
    ("3.1", "outputs of RMS {}", lambda: f"{written.linear_layers_collapse()['tanh_stack_rms']:.2f}"),
    ("3.3", "({} at most through ten", lambda: sci(written.vanishing_chain()["sigmoid"])),
    ("3.3", "({} through ten layers from", lambda: sci(written.vanishing_chain()["tanh_at_2"])),
    ("3.4", "{} % of the per-example",
     lambda: f"{100 * written.zero_centred_check()['single_sign_rows_sigmoid']:.0f}"),
    ("3.4", "and {} % when", lambda: f"{100 * written.zero_centred_check()['single_sign_rows_tanh']:.0f}"),
    ("4.1", "largest error of {}", lambda: f"{written.xor_single_layer_search()['grid_best_max_abs_err']:.3f}"),
    ("4.1", "squared error of {}", lambda: f"{written.xor_single_layer_search()['gd_best_mse']:.3f}"),
    ("4.4", "error of {} with outputs",
     lambda: sci(written.xor_constant_init_training("gelu", 0.5, steps=2000)["loss_last"])),
    ("4.4", "lowest loss is {} (sigmoid)",
     lambda: f"{written.xor_constant_init_training('sigmoid', 0.5)['loss_min']:.3f}"),
    ("4.4", "{} (tanh)", lambda: f"{written.xor_constant_init_training('tanh', 0.5)['loss_min']:.3f}"),
    ("4.4", "{} (ReLU, exactly the bound)", lambda: f"{written.xor_constant_init_training('relu', 0.5)['loss_min']:.4f}"),
    ("5.2", "$h_2 = e^3$ | $\\approx {}$", lambda: f"{written.computation_graph_values()['forward']['h2']:.4f}"),
    ("5.2", "$f = h_1 + h_3 = 2e^3$ | $\\approx {}$",
     lambda: f"{written.computation_graph_values()['forward']['f']:.4f}"),
    ("5.4", "= 2e^3 \\approx {}$", lambda: f"{written.computation_graph_values()['chain']['df/dy']:.4f}"),
]


@pytest.mark.parametrize("item, template, value", WRITTEN_QUOTES,
                         ids=[f"{item}:{template[:24]}" for item, template, _ in WRITTEN_QUOTES])
def test_written_answers_quote_what_the_code_computes(item, template, value):
    block = re.sub(r"\s+", " ", BLOCKS[item])
    assert template.format(value()) in block
