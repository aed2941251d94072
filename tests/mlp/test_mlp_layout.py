"""mlp.py reads as the course's file: the course's functions in the course's order, the classifier
early, and no run plumbing (the fast featurizer and batches are below it in common/, the sweeps
above it in sweeps/)."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# the course skeleton's mlp.py, top to bottom
COURSE_ORDER = [
    "load_data_mlp",
    "featurize",
    "create_tensor_dataset",
    "create_dataloader",
    "SentimentClassifier",
    "accuracy",
    "evaluate",
    "train",
    "visualize_epochs",
    "visualize_configs",
    "run_mlp",
]


def _top_level(path: Path) -> dict:
    tree = ast.parse(path.read_text())
    return {
        node.name: node.lineno
        for node in tree.body
        if isinstance(node, (ast.FunctionDef, ast.ClassDef))
    }


def test_mlp_py_holds_the_course_functions_in_the_course_order():
    lines = _top_level(REPO / "mlp.py")
    assert [name for name in sorted(lines, key=lines.get) if name in COURSE_ORDER] == COURSE_ORDER


def test_mlp_py_is_short_and_meets_the_classifier_early():
    text = (REPO / "mlp.py").read_text()
    assert len(text.splitlines()) <= 450
    assert _top_level(REPO / "mlp.py")["SentimentClassifier"] <= 200
