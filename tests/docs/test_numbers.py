"""Every number that hw3.md, README.md and docs/*.md quote from a result file, against that file
(reference/*.json, the committed runs: what a user's own run writes to plots/ is never read).

The record of where each number comes from is data, in tab-separated tables next to this file, each
explained in its header (numbers.tsv's says how to add a row for a new sentence):
- numbers.tsv: document, phrase (the text around the number, {} where it stands), source (a path
  into reference/*.json, or a small fixed vocabulary of operations on paths, evaluate() below) and
  format (render()).  The test fills the value into the phrase and looks for it in the document.
- not_results.tsv: phrases whose numbers are not results (settings, citations, section numbers).
  Every number of a document (hw3.md from 6.1 on) must lie in a phrase of either table, or in a
  table checked cell by cell below (6.1's '±' rows, the ablation table); a number
  with no record fails test_every_result_number_is_checked.
- claims.tsv: statements of the documents (orderings, "every seed") as expressions that must hold.
When a run is redone, only the documents change; when a sentence is edited, its row does.
"""

from __future__ import annotations

import functools
import html
import json
import re
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pytest

import utils
from common import download

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
REFERENCE = REPO / "reference"
H, RESULTS_PAGE, D = "hw3.md", "docs/results.md", "mlp_depth_vs_lr"
DOCS = [H, "README.md", *sorted(f"docs/{p.name}" for p in (REPO / "docs").glob("*.md"))]


# ------------------------------------------------------------------------------ the tables
def read_table(name: str, width: int) -> list[tuple[int, list[str]]]:
    """(line number, fields) of each row of a tab-separated table next to this file."""
    rows = []
    for number, line in enumerate((HERE / name).read_text().splitlines(), 1):
        if line.strip() and not line.startswith("#"):
            fields = line.split("\t")
            assert len(fields) == width, f"{name}:{number}: {width} tab-separated fields expected"
            rows.append((number, fields))
    return rows


class Row(NamedTuple):
    line: int
    doc: str
    phrase: str
    source: str
    fmt: str

    def text(self) -> str:
        """The phrase with the value written in; a list fills several {} (a table row)."""
        value, n, fmts = evaluate(self.source), self.phrase.count("{}"), self.fmt.split()
        values, fmts = list(value) if n > 1 else [value], fmts * n if len(fmts) == 1 else fmts
        assert len(values) == len(fmts) == n, f"{self!r}: {len(values)} values for {n} places"
        return self.phrase.format(*(render(v, f) for v, f in zip(values, fmts)))

    def __repr__(self) -> str:
        return f"numbers.tsv:{self.line} {self.phrase!r}"


ROWS = [Row(n, *fields) for n, fields in read_table("numbers.tsv", 4)]
NOT_RESULTS = [(doc, phrase) for _, (doc, phrase, _why) in read_table("not_results.tsv", 3)]
CLAIM_ROWS = {claim: expr for _, (claim, expr) in read_table("claims.tsv", 2)}


# ------------------------------------------------------------------------------ sources
@functools.lru_cache(maxsize=None)
def load(name: str):
    return json.loads((REFERENCE / name).read_text())


def split_top(text: str, sep: str) -> list[str]:
    """text split at each `sep` that stands outside brackets, parentheses and "strings"."""
    parts, depth, quoted, start = [], 0, False, 0
    for i, c in enumerate(text):
        depth += (c in "([") - (c in ")]")
        quoted ^= c == '"'
        if c == sep and depth == 0 and not quoted:
            parts.append(text[start:i])
            start = i + 1
    return [*parts, text[start:]]


def walk(value, keys: list[str]):
    """Follow a path's keys into the loaded JSON (numbers.tsv's header says how paths read)."""
    if not keys:
        return value
    key, rest = keys[0], keys[1:]
    if key == "*":
        return [walk(v, rest) for v in (value.values() if isinstance(value, dict) else value)]
    if re.fullmatch(r"-?\d*:-?\d*", key):
        start, stop = (int(k) if k else None for k in key.split(":"))
        return [walk(v, rest) for v in value[start:stop]]
    if key.startswith("[") and isinstance(value, dict):
        return walk(value[key[1:-1]], rest)
    if key.startswith("["):
        field, _, wanted = key[1:-1].partition("=")
        picks = [[v for v in value if str(v[field]) == w] for w in wanted.split("|")]
        assert all(len(p) == 1 for p in picks), f"{key}: not one element each"
        if "|" not in wanted:
            return walk(picks[0][0], rest)
        return [walk(p[0], rest) for p in picks]
    if "|" in key:
        return [walk(value[int(i) if isinstance(value, list) else i], rest) for i in key.split("|")]
    return walk(value[int(key)] if isinstance(value, list) else value[key], rest)


def lookup(path: str):
    name, _, keys = path.partition(":")
    # "runs[label=512]" is two keys, "runs" and "[label=512]"
    split = [k for key in split_top(keys, ".") for k in re.split(r"(?=\[)", key, maxsplit=1) if k]
    return walk(load(name), split)


# the documents' words for the rule's three verdicts: "rank" for scores (accuracy, and perplexity
# negated: higher is ahead), "size" for other quantities (a loss, a step)
VOCABULARIES = {
    "rank": {"within": "within the seeds' spread of", "above": "ahead of", "below": "behind"},
    "size": {"within": "within the seeds' spread of", "above": "above", "below": "below"},
}
VERDICT_WORDS = VOCABULARIES["rank"]


def verdict(a, b=None, vocabulary="rank") -> str:
    """hw3.md's rule (utils.seed_gap) on every pair of configs of a and b (of a, with b left out
    or None): the words of `vocabulary` for it, or 'mixed' where the pairs disagree."""
    a = np.atleast_2d(a)
    pairs = (
        [(x, y) for i, x in enumerate(a) for y in a[i + 1 :]]
        if b is None
        else [(x, y) for x in a for y in np.atleast_2d(b)]
    )
    found = set()
    for x, y in pairs:
        gap = utils.seed_gap(x, y)
        found.add("within" if not gap["differ"] else ("above" if gap["gap"] > 0 else "below"))
    return VOCABULARIES[vocabulary][found.pop()] if len(found) == 1 else "mixed"


# config fields that say how or where a run ran, not what it trained
RUN_FIELDS = {"save_path", "seed", "name", "device", "num_threads", "cache_size", "dynamic_segment"}


def changed(a: dict, b: dict) -> str:
    """The fields that two configs both record and that differ, but RUN_FIELDS (a field added to
    the code after an older run is missing from its JSON: that run predates it)."""
    return " ".join(sorted({k for k in set(a) & set(b) if a[k] != b[k]} - RUN_FIELDS))


def _reduce(f):
    return lambda x: f(np.asarray(x, dtype=float), axis=-1)


OPS = {
    **{n: _reduce(getattr(np, n)) for n in ("mean", "std", "min", "max", "sum", "argmax")},
    "count": lambda x: np.shape(x)[-1],
    "plus": np.add,
    "minus": np.subtract,
    "times": np.multiply,
    "ratio": np.divide,
    "abs": np.abs,
    "deltas": lambda x: np.diff(np.asarray(x, dtype=float), axis=-1),
    "transpose": lambda x: np.swapaxes(np.asarray(x, dtype=float), -1, -2),
    "concat": lambda *xs: np.concatenate([np.ravel(x) for x in xs]),
    "above": np.greater,
    "below": np.less,
    "verdict": verdict,
    "changed": changed,
    "lt": np.less,
    "le": np.less_equal,
    "gt": np.greater,
    "ge": np.greater_equal,
    "eq": lambda a, b: a == b if isinstance(a, str) else np.isclose(a, b, rtol=0, atol=1e-12),
    "and": lambda *xs: all(bool(np.all(x)) for x in xs),
    "pick": lambda test, yes, no: yes if np.all(test) else no,
}
CALL = re.compile(r"(\w+)\((.*)\)$", re.S)


def evaluate(source: str):
    """A source (a path, a "string", a number or an operation of OPS on sources) -> its value."""
    source = source.strip()
    call = CALL.match(source)
    if call and call.group(1) in OPS:
        return OPS[call.group(1)](*(evaluate(arg) for arg in split_top(call.group(2), ",")))
    if source.startswith('"'):
        return source[1:-1]
    if ":" in source:
        return lookup(source)
    return float(source)


def render(value, fmt: str) -> str:
    """A value written as the documents write it (the formats of numbers.tsv's header)."""
    if fmt == "w":
        return re.sub(r"\s+", " ", str(value))
    value = float(value)
    if fmt == "sci":
        mantissa, exponent = f"{value:.1e}".split("e")
        return f"{mantissa}e{int(exponent)}"
    if fmt.startswith("%"):
        return format(100 * value, fmt[1:])
    if fmt.endswith("d"):
        assert value == int(value), (value, fmt)
        return format(int(value), fmt)
    return format(value, fmt)


def text_of(doc: str) -> str:
    return re.sub(r"\s+", " ", html.unescape((REPO / doc).read_text()))


NUMBER_ROWS = [r for r in ROWS if r.fmt != "w"]
VERDICT_ROWS = [r for r in ROWS if r.source.startswith("verdict(")]
TEXT_ROWS = [r for r in ROWS if r.fmt == "w" and r not in VERDICT_ROWS]


@pytest.mark.parametrize("row", NUMBER_ROWS, ids=repr)
def test_quotes_match_the_json(row):
    """The document says the row's phrase with the JSON's number in it."""
    assert row.text() in text_of(row.doc), f"{row.doc} does not say {row.text()!r}"


@pytest.mark.parametrize("row", VERDICT_ROWS, ids=repr)
def test_comparisons_follow_the_rule(row):
    """The words hw3.md uses for a comparison are the rule's verdict on the configs' seeds; the
    document edited (in memory) to claim another verdict fails."""
    text, right = text_of(row.doc), row.text()
    assert right in text
    vocabulary = "size" if row.source.rstrip(") ").endswith('"size"') else "rank"
    for wrong in set(VOCABULARIES[vocabulary].values()) - {render(evaluate(row.source), "w")}:
        assert right not in text.replace(right, row.phrase.format(wrong))


@pytest.mark.parametrize("row", TEXT_ROWS, ids=repr)
def test_hw3_md_samples_are_the_runs_samples(row):
    """The samples that hw3.md and docs/results.md show are the runs' samples, and the words of
    pick() rows are those their test gives."""
    assert row.text() in text_of(row.doc)


def test_the_rule_is_twice_the_standard_error_of_the_gap():
    """utils.seed_gap against the textbook form, with sample variances from the statistics
    module."""
    import statistics

    a, b = [0.7712, 0.7716, 0.7708, 0.7742, 0.7724], [0.7694, 0.773, 0.7696, 0.7718, 0.7708]
    se = (statistics.variance(a) / len(a) + statistics.variance(b) / len(b)) ** 0.5
    gap = utils.seed_gap(a, b)
    assert gap["gap"] == pytest.approx(statistics.mean(a) - statistics.mean(b), abs=1e-12)
    assert gap["se"] == pytest.approx(se, rel=1e-9)
    assert gap["differ"] == (abs(gap["gap"]) > 2 * se) is False  # 0.0011 against 2 x 0.0009
    assert utils.seed_gap([0.5, 0.5, 0.5], [0.76, 0.76, 0.76])["differ"]  # every seed alike: se 0
    assert not utils.seed_gap([0.7624] * 3, [0.7624] * 3)["differ"]
    with pytest.raises(ValueError):
        utils.seed_gap([0.7], [0.7, 0.71])


# ------------------------------------------------------------------------------ claims
def run(sweep: str, label: str) -> dict:
    return lookup(f"{sweep}.json:runs[label={label}]")


def same_runs(a: tuple[str, str], b: tuple[str, str]) -> bool:
    """Two configs of two sweeps trained alike: every per-epoch number and test accuracy equal,
    seed by seed."""
    ra, rb = run(*a), run(*b)
    return all(ra[k] == rb[k] for k in ("train_loss", "dev_loss", "dev_acc", "test_acc", "seeds"))


def claim(name: str) -> bool:
    return bool(np.all(evaluate(CLAIM_ROWS[name])))


@pytest.mark.parametrize("name", CLAIM_ROWS)
def test_claims_about_the_curves_hold(name):
    """What a sentence of the documents says about the runs holds on the JSON."""
    assert claim(name), name


PROBE = "6.1.3: the probe shows the collapse"


def test_the_probe_explains_the_collapse():
    """The probe trains as the sweeps do: its dev accuracies are the control's, run for run; and
    what it measured is what 6.1.3 says (the claim PROBE of claims.tsv)."""
    for r in lookup("mlp_depth_probe.json:runs"):
        assert [seed["dev_acc"] for seed in r["probe"]] == run(D, r["label"])["dev_acc"], r["label"]
    assert claim(next(c for c in CLAIM_ROWS if c.startswith(PROBE)))


def words(a: str, b: str | None = None) -> str:
    """verdict() of two sources' per-seed numbers, as its first word: within, ahead or behind."""
    return evaluate(f"verdict({a}, {b})" if b else f"verdict({a})").split()[0]


@pytest.mark.parametrize("item", ["6.1.3", "6.1.4", "6.1.5"])
def test_findings_follow_from_the_data(item):
    """The answer line of 6.1.3-6.1.5, read from hw3.md, against the verdict the sweeps' data
    give."""
    from md_answers import answer_line, item_blocks

    line = answer_line(item_blocks((REPO / H).read_text())[item])
    if item == "6.1.3":
        match = re.match(
            r"No, deeper is (not )?always better: at their course rates one hidden layer is ahead "
            r"of none, two and three; at lr 0.001 the three depths are within the seeds' spread of "
            r"each other, and at 0.02 three layers never leave chance\.$",
            line,
        )
        assert match, line
        assert bool(match.group(1)) == claim("6.1.3: deeper is not always better")
        s = "mlp_structures.json:runs[label={}].best_dev_acc"
        others = s.format("no hidden layer|512 -> 512|512 -> 512 -> 512")
        assert words(s.format("512"), others) == "ahead"
        assert all(claim(c) for c in CLAIM_ROWS if c.startswith("6.1.3 control"))
        assert claim(next(c for c in CLAIM_ROWS if c.startswith(PROBE)))
    elif item == "6.1.4":
        match = re.match(
            r"(.+) are within the seeds' spread of each other; (\w+) is behind them, at lr 0.02 "
            r"and at its own smaller rates\.$",
            line,
        )
        assert match, line
        tied, behind = re.split(r", | and ", match.group(1)), match.group(2)
        labels = lookup("mlp_activations.json:runs.*.label")
        assert set(tied) | {behind} == set(labels) and behind not in tied, (tied, behind)
        a = "mlp_activations.json:runs[label={}].best_dev_acc"
        assert words(a.format("|".join(tied))) == "within"
        assert words(a.format(behind), a.format("|".join(tied))) == "behind"
        assert words("mlp_tanh_lr.json:runs.*.best_dev_acc", a.format("|".join(tied))) == "behind"
    else:
        match = re.match(
            r"(\S+) is ahead of every rate but (\S+), which is within the seeds' spread of it; "
            r"1e-4 is still improving after 20 epochs, and at 0.1 2 of 5 seeds stay at chance for "
            r"10 epochs\.$",
            line,
        )
        assert match, line
        lrs = map(float, lookup("mlp_learning_rates.json:runs.*.config.lr"))
        runs = dict(zip(lrs, lookup("mlp_learning_rates.json:runs.*.label")))
        lead, close = runs[float(match.group(1))], runs[float(match.group(2))]
        rest = "|".join(x for x in runs.values() if x not in (lead, close))
        r = "mlp_learning_rates.json:runs[label={}].best_dev_acc"
        assert words(r.format(close), r.format(lead)) == "within"
        assert words(r.format(lead), r.format(rest)) == "ahead"
        assert claim("6.1.5: at 1e-4 the dev loss falls at every epoch, seeds peak at 19-20")
        assert claim("6.1.5: at 0.1 every seed starts at chance, two stay 10 epochs")


# ---------------------------------------------------------------------------- tables, cell by cell
def cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


# first cells of the '±' rows that numbers.tsv records whole (the sentiment table of hw3.md)
RECORDED = {(r.doc, cells(r.phrase)[0]) for r in ROWS if re.match(r"\|.*±", r.phrase)}


def is_pm_row(doc: str, line: str) -> bool:
    """A row of 6.1's '±' tables, checked cell by cell below (not a row numbers.tsv records)."""
    return line.startswith("|") and "±" in line and (doc, cells(line)[0]) not in RECORDED


@pytest.mark.parametrize("doc", [H, RESULTS_PAGE])
def test_result_tables_match_the_sweeps(doc):
    """Each row of 6.1's '±' tables is one config of the sweeps and depth's control, in order: its
    cells are the JSON's mean ± std (hw3.md: best dev and dev at epoch 20, without a config that
    repeats an earlier row's runs, as its text says; docs/results.md: best dev and test), and the
    row names the config's lr or label."""
    runs = []
    for sweep in ("mlp_structures", "mlp_activations", "mlp_learning_rates", D):
        for label in lookup(f"{sweep}.json:runs.*.label"):
            if doc == RESULTS_PAGE or not any(same_runs((sweep, label), k) for k in runs):
                runs.append((sweep, label))
    text = (REPO / doc).read_text()
    rows = [cells(line) for line in text.splitlines() if is_pm_row(doc, line)]
    assert len(rows) == len(runs)
    for row, (sweep, label) in zip(rows, runs):
        r, pm = run(sweep, label), "{0[0]:.4f} ± {0[1]:.4f}".format
        s = r["summary"]
        dev = pm((s["best_dev_acc_mean"], s["best_dev_acc_std"]))
        if doc == H:
            end = [seed[-1] for seed in r["dev_acc"]]
            assert row[1:3] == [dev, pm((np.mean(end), np.std(end)))], (label, row)
        else:
            assert row[-2:] == [dev, pm((s["test_acc_mean"], s["test_acc_std"]))], (label, row)
        name = " ".join(row[:-2] if doc == RESULTS_PAGE else row[:1])
        assert f"{r['config']['lr']:g}" in name or label in name, (name, label)


# the ablation table's number columns after the row's name, as (section, split, key) of a run's
# JSON: docs/results.md has them all, hw3.md those of ABLATION_PICK (both splits alone, test with
# the Kneser-Ney mixture, and with everything)
ABLATION_COLUMNS = [
    (section, split, key)
    for section, key in (
        column.split(".")
        for column in "best_checkpoint_scores.ppl cache.cache_ppl dynamic.ppl "
        "dynamic.with_cache_ppl ngram.mix_ppl dynamic_ngram.mix_cache_ppl".split()
    )
    for split in ("dev", "test")
]
ABLATION_PICK = {H: (0, 1, 9, 11), RESULTS_PAGE: tuple(range(len(ABLATION_COLUMNS)))}


def is_ablation_row(line: str, width: int) -> bool:
    """A row of the name, `width` numbers, (docs/results.md only) the command, and the JSON."""
    row = line.strip().strip("|").split("|")
    return (
        line.startswith("|")
        and len(row) in (width + 2, width + 3)
        and bool(re.search(r"`reference/[\w/-]*(mlp|lstm)_lm[\w-]*\.json`", row[-1]))
    )


def ablation_value(files: list[str], section: str, split: str, key: str):
    """The number from the first of the row's files that has it: a training run's JSON holds its
    network's, its cache's, its n-gram mixture's and its dynamic evaluation's scores (with its own
    mixture under "ngram"); `python main.py dynamic` writes a dynamic evaluation alone."""
    for report in map(load, files):
        found = report.get(section.replace("dynamic_ngram", "dynamic"))
        if section == "cache" and "dev" not in (found or {}):
            found = None
        if section.startswith("dynamic") and str(report.get("method", "")).startswith("dynamic"):
            found = found or report
        if section == "dynamic_ngram":
            found = (found or {}).get("ngram")
        if found is not None:
            return found[split][key]
    return None


@pytest.mark.parametrize("doc", [H, RESULTS_PAGE])
def test_ablation_table_matches_the_json(doc):
    """Each number of the ablation table is its files' number, to one decimal; "-" where none scored
    it."""
    pick = ABLATION_PICK[doc]
    rows = [
        cells(line)
        for line in (REPO / doc).read_text().splitlines()
        if is_ablation_row(line, len(pick))
    ]
    assert len(rows) >= 6, rows
    for row in rows:
        files = re.findall(r"`reference/([\w/.-]+\.json)`", row[-1])
        assert files and all((REFERENCE / f).is_file() for f in files), row[-1]
        for cell, i in zip(row[1 : 1 + len(pick)], pick, strict=True):
            value = ablation_value(files, *ABLATION_COLUMNS[i])
            want = "-" if value is None else f"{value:.1f}"
            assert cell.strip("*") == want, (row[0], ABLATION_COLUMNS[i], cell, want)


# ------------------------------------------------------------------------------ the scan
NUMBER = re.compile(r"(?<![\w.\-/])\d(?:[\d,]*\d)?(?:\.\d+)?(?:e-?\d+)?(?![\w.]\w)")
# docs/data.md's download sizes, compared with common/download.py by tests/data/test_data_doc.py
SIZES = [
    f"({d.size:,} bytes)"
    for ds in download.datasets_for(full_train=True, twitter=True)
    for s in ds.sources
    for d in s.downloads
    if d.size
]


def scanned(doc: str) -> str:
    """The part of a document whose numbers must have a record (hw3.md from 6.1 on; all of README.md
    and of a page of docs/ but docs/course.md's table of tests), whitespace collapsed, with
    headings, the tables checked cell by cell, code, link targets and math blanked out."""
    text = (REPO / doc).read_text()
    if doc == H:
        text = text[text.index("## 6.1 Programming") :]
    if doc == "docs/course.md":  # its last table numbers the handout's items, not results
        text = text[: text.index("## Which test checks which answer of hw3.md")]
    lines = [
        ""
        if line.startswith("#")
        or is_pm_row(doc, line)
        or any(is_ablation_row(line, len(pick)) for pick in ABLATION_PICK.values())
        else line
        for line in text.splitlines()
    ]
    part = re.sub(r"\s+", " ", "\n".join(lines))
    for pattern in (r"`[^`]*`", r"!\[[^\]]*\]\([^)]*\)", r"\]\([^)]*\)", r"\$[^$]*\$"):
        part = re.sub(pattern, lambda m: " " * len(m.group(0)), part)
    return part


@pytest.mark.parametrize("doc", DOCS)
def test_every_result_number_is_checked(doc):
    """Every number of the document's scanned part lies in a phrase of numbers.tsv, a table checked
    cell by cell, or a phrase of not_results.tsv."""
    part = scanned(doc)
    phrases = [r.text() for r in NUMBER_ROWS if r.doc == doc] + SIZES
    phrases += [phrase for d, phrase in NOT_RESULTS if d == doc]
    spans = [(m.start(), m.end()) for p in phrases for m in re.finditer(re.escape(p), part)]
    unchecked = [
        f"{m.group(0)!r} in ...{part[max(0, m.start() - 40) : m.end() + 20]}..."
        for m in NUMBER.finditer(part)
        if not any(a <= m.start() and m.end() <= b for a, b in spans)
    ]
    message = "numbers with no row in numbers.tsv or not_results.tsv:\n" + "\n".join(unchecked)
    assert not unchecked, message


# ------------------------------------------------------------------------------ every comparison
# Words that compare: in hw3.md from 6.1 on, each must stand in the phrase of a numbers.tsv row
# whose words the rule gives (verdict) or a claim decides (pick), or in a phrase of comparisons.tsv,
# which says what else it is (a threshold, a pointer, the rule's own statement).
COMPARATIVE = re.compile(
    r"\b(ahead|behind|within the seeds' spread|better|worse|beats?|wins?|outperforms?|level|above"
    r"|below|higher|lower|lowers|highest|lowest|more than|less than|less well|differs?|leads?"
    r"|exceeds?|helps?|hurts?)\b"
)
OTHER_COMPARATIVES = [(doc, phrase) for _, (doc, phrase, _why) in read_table("comparisons.tsv", 3)]


def comparisons_unchecked(text: str) -> list[str]:
    """The comparative words of `text` (hw3.md's scanned part) that no row checks."""
    phrases = [r.text() for r in ROWS if r.doc == H and r.source.startswith(("verdict(", "pick("))]
    phrases += [phrase for doc, phrase in OTHER_COMPARATIVES if doc == H]
    spans = [(m.start(), m.end()) for p in phrases for m in re.finditer(re.escape(p), text)]
    return [
        f"{m.group(0)!r} in ...{text[max(0, m.start() - 50) : m.end() + 30]}..."
        for m in COMPARATIVE.finditer(text)
        if not any(a <= m.start() and m.end() <= b for a, b in spans)
    ]


def test_every_comparison_is_the_rules_or_checked():
    """Every comparison hw3.md makes from 6.1 on (the findings, the language model, "Beyond") is
    worded by the rule's verdict on the seeds, or decided by a claim, or is not a comparison of
    runs (comparisons.tsv); a comparison added without a row fails, as does one whose row's verdict
    disagrees (test_comparisons_follow_the_rule)."""
    unchecked = comparisons_unchecked(scanned(H))
    assert not unchecked, "comparisons with no rule or check:\n" + "\n".join(unchecked)


def test_a_comparison_the_rule_does_not_grant_is_caught():
    """Two configurations the rule calls within the seeds' spread, called "ahead of" in an added
    sentence, fail; so does "better" in a sentence with no row."""
    text = scanned(H)
    assert comparisons_unchecked(text) == []
    added = text + " At lr 0.001 two layers are ahead of three. Tanh is better here."
    assert len(comparisons_unchecked(added)) == 2
