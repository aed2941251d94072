"""The GPU lines that docs/devices.md quotes are those of the logs of the GPU run it names
(../shared/gpu-runs/...): every line of its `text` block under a log's name begins a line of that
log (a quote may stop before the line ends), and the page names that run's machine and commit.
Skips where the logs are absent."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
RUN = REPO.parent / "shared" / "gpu-runs" / "2026-11-26-h200"
PAGE = REPO / "docs" / "devices.md"


def quoted_blocks() -> dict:
    block = re.search(r"```text\n(.*?)```", PAGE.read_text(), re.S).group(1)
    quotes: dict = {}
    for paragraph in block.strip().split("\n\n"):
        head, *lines = paragraph.splitlines()
        quotes[head.split()[0]] = lines
    return quotes


def test_the_gpu_lines_of_the_devices_page_are_those_of_the_logs():
    """Each quoted line begins a line of the log it is quoted under; the three logs, no others."""
    if not RUN.is_dir():
        pytest.skip(f"needs the logs of the GPU run: {RUN} is absent")
    quotes = quoted_blocks()
    assert set(quotes) == {"lm_default.log", "lm_course.log", "benchmark_lm_cuda.log"}
    for log, lines in quotes.items():
        have = (RUN / log).read_text().splitlines()
        missing = [line for line in lines if not any(h.startswith(line) for h in have)]
        assert lines and not missing, (log, missing)


def test_the_devices_page_names_the_machine_and_commit_of_the_logs():
    """The page says where its GPU lines come from: the run's folder, its commit and its machine,
    as the run's own README states them."""
    if not RUN.is_dir():
        pytest.skip(f"needs the logs of the GPU run: {RUN} is absent")
    page = re.sub(r"\s+", " ", PAGE.read_text())
    head = (RUN / "README.md").read_text().splitlines()[0]
    commit = re.search(r"commit (\w+)", head).group(1)
    assert f"../shared/gpu-runs/{RUN.name}/" in page
    assert f"at commit {commit}, on one NVIDIA H200" in page
