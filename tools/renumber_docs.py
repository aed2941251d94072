"""Write reference/'s numbers into the documents after reference/ is regenerated.

    python tools/renumber_docs.py          # rewrite README.md, hw3.md, docs/*.md in place
    python tools/renumber_docs.py --check  # only list the phrases whose number changed

For each row of tests/docs/numbers.tsv whose phrase the document no longer says with the JSON's
number (what tests/docs/test_numbers.py::test_quotes_match_the_json checks), the phrase is found in
the document with any number in each {} (whitespace may differ) and the number is replaced by the
JSON's, written in the row's format. A phrase found zero or several times is listed, not changed:
those need a person. Words (format w) are never rewritten: a changed verdict is a finding to reread.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
NUMBER = r"[-+−]?\d[\d,]*(?:\.\d+)?(?:e[-+]?\d+)?"


def phrase_pattern(phrase: str) -> re.Pattern:
    """The phrase with a number group in each {} and any whitespace where it has some."""
    parts = [re.escape(part) for part in phrase.split("{}")]
    parts = [re.sub(r"(\\\s|\\ )+", r"\\s+", part) for part in parts]
    return re.compile(f"({NUMBER})".join(parts))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    sys.path.insert(0, str(REPO / "tests" / "docs"))
    sys.path.insert(0, str(REPO))
    import test_numbers as numbers

    texts, left, changed = {}, [], 0
    for row in numbers.NUMBER_ROWS:
        want = row.text()
        if want in numbers.text_of(row.doc):
            continue
        text = texts.setdefault(row.doc, (REPO / row.doc).read_text())
        found = list(phrase_pattern(row.phrase).finditer(text))
        if len(found) != 1:
            left.append(f"{row!r}: found {len(found)} times in {row.doc}")
            continue
        value, n, fmts = numbers.evaluate(row.source), row.phrase.count("{}"), row.fmt.split()
        values = list(value) if n > 1 else [value]
        fmts = fmts * n if len(fmts) == 1 else fmts
        written = [numbers.render(v, f) for v, f in zip(values, fmts)]
        match = found[0]
        pieces, last = [], match.start()
        for i, number in enumerate(written, start=1):
            pieces += [text[last : match.start(i)], number]
            last = match.end(i)
        new = "".join(pieces) + text[last : match.end()]
        print(f"{row.doc}: {match.group(0)!r} -> {new!r}")
        texts[row.doc] = text[: match.start()] + new + text[match.end() :]
        changed += 1
    if not args.check:
        for doc, text in texts.items():
            (REPO / doc).write_text(text)
    for line in left:
        print(f"left for a person: {line}", file=sys.stderr)
    print(f"{changed} number(s) {'to change' if args.check else 'changed'}, {len(left)} left")
    return 1 if left else 0


if __name__ == "__main__":
    sys.exit(main())
