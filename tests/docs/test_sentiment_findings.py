"""The numbers that the sentiment findings quote, against reference/sentiment_ngrams.json (and the
sweep it cites).

DOCS is the one list of files that quote them: hw3.md holds the table and the findings,
docs/results.md how the rows were made (it links hw3.md's table rather than restating it). Every
table row whose first cell names a row of the JSON is read cell by cell: dev and test accuracy as
"mean ± std" over the seeds, and the seconds per seed; every row of the JSON must appear in the
table of each of TABLE_DOCS. QUOTES are phrases with {} where a number from the JSON goes; every
number of each document's section is checked.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCS = [REPO / "docs" / "results.md", REPO / "hw3.md"]
TABLE_DOCS = [REPO / "hw3.md"]  # the documents with the table and the verdict on 0.92
# Each document's sentiment section: from its heading to the next "## " heading.
HEADINGS = ("## Sentiment beyond the handout", "### How far the sentiment classifier goes")
# Numbers in the section that are not results: years of citations, sizes of the splits and the data,
# settings.
NOT_RESULTS = (
    "2011",
    "2012",
    "2015",
    "2017",
    "20,000",
    "5,000",
    "10,000",
    "25,000",
    "50,000",
    "35,000",
    "3 seeds",
    "2^21",
    "0.92 was",
    "0.25",
    "2 cores",
    "6.1 sweeps",
    "4-grams",
    "hw3.md",
)
RESULTS = REPO / "reference" / "sentiment_ngrams.json"


def results() -> dict:
    return json.loads(RESULTS.read_text())


def rows_by_label(data: dict) -> dict:
    rows = {r["label"]: r for r in data["rows"]}
    rows[data["course_row"]["label"].split(" (")[0]] = data[
        "course_row"
    ]  # "course MLP on frozen GloVe average"
    return rows


def row(data: dict, label: str) -> dict:
    return rows_by_label(data)[label]["summary"]


# (phrase with {} for the number, the number from the JSON, its format): each in one of DOCS at
# least
QUOTES = [
    (
        "best on dev: NB LR, exact uni+bi+trigrams, test {}",
        lambda d: row(d, d["best_row"])["test_acc_mean"],
        ".4f",
    ),
    ("the linear reference's {}", lambda d: row(d, d["reference_row"])["test_acc_mean"], ".4f"),
    (
        "same run) by {}, more than",
        lambda d: (
            row(d, d["best_row"])["test_acc_mean"] - row(d, d["reference_row"])["test_acc_mean"]
        ),
        ".4f",
    ),
    (
        "Exact uni+bigrams score {} on test",
        lambda d: row(d, "NB LR, exact uni+bigrams")["test_acc_mean"],
        ".4f",
    ),
    ("({} s in all, under the lock)", lambda d: d["wall_seconds"], ".0f"),
    (
        "stops at dev {}",
        lambda d: row(d, "course MLP on frozen GloVe average")["best_dev_acc_mean"],
        ".3f",
    ),
    (
        "random init {}",
        lambda d: row(d, "trained embeddings (random init)")["best_dev_acc_mean"],
        ".3f",
    ),
    (
        "dev {} with GloVe init",
        lambda d: row(d, "trained embeddings (GloVe init)")["best_dev_acc_mean"],
        ".3f",
    ),
    ("to {} dev", lambda d: row(d, "+ hashed bigrams")["best_dev_acc_mean"], ".3f"),
    (
        "featurizing the 35,000 reviews takes {} s",
        lambda d: max(d["featurize_seconds"].values()),
        ".0f",
    ),
]


def squash(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def table_rows(text: str):
    """(first cell, the other cells) of every markdown table row."""
    for line in text.splitlines():
        if line.startswith("|") and not set(line) <= set("|-: "):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            yield cells[0].strip("*` "), cells[1:]


@pytest.fixture(scope="module")
def data():
    if not RESULTS.is_file():
        pytest.skip(f"{RESULTS} not made yet (python main.py sentiment)")
    return results()


@pytest.mark.parametrize("doc", TABLE_DOCS, ids=lambda p: p.name)
def test_table_cells_are_the_json(doc, data):
    """Each row of the table is its JSON row: dev and test as mean ± std, seconds per seed; every
    row of the JSON is there."""
    labels = rows_by_label(data)
    seen = set()
    for first, cells in table_rows(doc.read_text()):
        label = next((lbl for lbl in labels if first == lbl or first.startswith(lbl + " (")), None)
        if label is None:
            continue
        seen.add(label)
        s = labels[label]["summary"]
        pairs = re.findall(r"(\d\.\d{4}) ± (\d\.\d{4})", " | ".join(cells))
        assert pairs == [
            (f"{s['best_dev_acc_mean']:.4f}", f"{s['best_dev_acc_std']:.4f}"),
            (f"{s['test_acc_mean']:.4f}", f"{s['test_acc_std']:.4f}"),
        ], (label, cells)
        assert f"{s['seconds_mean']:.1f}" in cells, (label, cells, s["seconds_mean"])
    assert seen == set(labels), (
        f"{doc.name}: rows missing from its table: {sorted(set(labels) - seen)}"
    )


@pytest.mark.parametrize("phrase, value, fmt", QUOTES, ids=[q[0] for q in QUOTES])
def test_quoted_numbers_are_the_json(data, phrase, value, fmt):
    """One of DOCS says the phrase with the JSON's number in it."""
    want = squash(phrase.format(format(value(data), fmt)))
    assert any(want in squash(doc.read_text()) for doc in DOCS), (
        f"one of {[d.name for d in DOCS]} should say {want!r}"
    )


@pytest.mark.parametrize("doc", TABLE_DOCS, ids=lambda p: p.name)
def test_the_verdict_on_092_follows_the_json(doc, data):
    """Whether 0.92 was reached, and how the best row stands against the reference: as the JSON
    says."""
    best = row(data, data["best_row"])["test_acc_mean"]
    reference = row(data, data["reference_row"])["test_acc_mean"]
    text = squash(section(doc))  # the section's own comparisons (6.1's use the same words)
    reached = (
        best >= 0.92 and best > reference
    )  # the goal: 0.92, above the reference of the same run
    assert ("0.92 was reached" in text) == reached and ("0.92 was not reached" in text) == (
        not reached
    )
    if (
        "within the seeds' spread" in text
    ):  # the claim that the best row does not clearly beat the reference
        spread = (
            row(data, data["best_row"])["test_acc_std"]
            + row(data, data["reference_row"])["test_acc_std"]
        )
        assert abs(best - reference) <= spread
    if "more than twice the gap's standard error" in text:  # hw3.md's one rule (utils.seed_gap)
        import utils

        rows = rows_by_label(data)
        gap = utils.seed_gap(
            rows[data["best_row"]]["test_acc"], rows[data["reference_row"]]["test_acc"]
        )
        assert gap["differ"] and gap["gap"] > 0, gap
    if "more than the two rows' spreads together" in text:
        spread = (
            row(data, data["best_row"])["test_acc_std"]
            + row(data, data["reference_row"])["test_acc_std"]
        )
        assert best - reference > spread


def test_the_best_row_is_the_best_on_dev(data):
    """The row the JSON calls best has the highest dev accuracy; every row trains in under 2
    minutes."""
    means = {r["label"]: r["summary"]["best_dev_acc_mean"] for r in data["rows"]}
    assert data["best_row"] == max(means, key=means.get)
    assert (
        max(r["summary"]["seconds_mean"] for r in data["rows"]) < 120
    )  # every row trains in under 2 minutes


def section(doc: Path) -> str:
    text = doc.read_text()
    heading = next(h for h in HEADINGS if h in text)
    start = text.index(heading)
    return text[start : text.index("\n## ", start)]


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_number_in_the_section_is_checked(doc, data):
    """Every number of the section is in a checked table row, a checked phrase, or NOT_RESULTS."""
    lines = [
        line
        for line in section(doc).splitlines()[1:]
        if not (line.startswith("|") or line.startswith("!["))
    ]  # table rows: test_table_cells_are_the_json
    text = re.sub(r"`[^`]*`", " ", squash("\n".join(lines)))
    covered = []
    for phrase in [squash(p.format(format(v(data), f))) for p, v, f in QUOTES] + list(NOT_RESULTS):
        covered += [(m.start(), m.end()) for m in re.finditer(re.escape(phrase), text)]
    loose = [
        f"{m.group(0)!r} in ...{text[max(0, m.start() - 40) : m.end() + 20]}..."
        for m in re.finditer(r"\d[\d,.]*\d|\d", text)
        if not any(a <= m.start() and m.end() <= b for a, b in covered)
    ]
    assert not loose, (
        f"{doc.name}: numbers of the sentiment section that no test checks:\n" + "\n".join(loose)
    )
