"""docs/data.md states the sources table of common/download.py: each URL, published checksum and
size."""

from __future__ import annotations

import re
from pathlib import Path

from common import download

DOC = Path(__file__).resolve().parents[2] / "docs" / "data.md"


def test_every_source_checksum_and_size_in_the_doc_is_the_table_s():
    text = DOC.read_text(encoding="utf-8")
    for dataset in download.datasets_for(full_train=True, twitter=True):
        for source in dataset.sources:
            for d in source.downloads:
                name = d.url.rsplit("/", 1)[1]
                assert name in text, d.url
                algorithm, _, value = d.digest.partition(":")
                if algorithm == "md5":
                    assert value in text, (d.url, value)
                elif algorithm == "sha256":
                    assert value[:8] in text, (d.url, value)
                if d.size:
                    assert f"{d.size:,}" in text, (d.url, d.size)
    stated = set(re.findall(r"\b[0-9a-f]{32}\b", text))
    table = {
        d.digest.partition(":")[2]
        for ds in download.datasets_for(full_train=True, twitter=True)
        for s in ds.sources
        for d in s.downloads
    }
    assert stated <= table, stated - table  # no MD5 in the doc that the code does not check
