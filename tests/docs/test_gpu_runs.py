"""README's GPU numbers are quoted from the logs of the GPU run they name (../shared/gpu-runs/...): every line
of its `text` block under a log's name begins a line of that log (a quote may stop before the line ends). Skips where the logs are absent."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
RUN = REPO.parent / "shared" / "gpu-runs" / "2026-11-26-h200"


def quoted_blocks() -> dict:
    text = (REPO / "README.md").read_text()
    section = text[
        text.index("## Where it trains") : text.index("## Faults, interruptions and resuming")
    ]
    block = re.search(r"```text\n(.*?)```", section, re.S).group(1)
    quotes: dict = {}
    for paragraph in block.strip().split("\n\n"):
        head, *lines = paragraph.splitlines()
        quotes[head.split()[0]] = lines
    return quotes


def test_the_gpu_lines_of_the_readme_are_those_of_the_logs():
    if not RUN.is_dir():
        pytest.skip(f"needs the logs of the GPU run: {RUN} is absent")
    quotes = quoted_blocks()
    assert set(quotes) == {"lm_default.log", "lm_course.log", "benchmark_lm_cuda.log"}
    for log, lines in quotes.items():
        have = (RUN / log).read_text().splitlines()
        missing = [line for line in lines if not any(h.startswith(line) for h in have)]
        assert lines and not missing, (log, missing)
