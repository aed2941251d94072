"""Rebuild the sources' archives from a data folder laid out as ../shared/data, as a mirror tree for
$HW3_DATA_MIRROR (`<root>/<original host>/<original path>`), and a JSON of their SHA-256s for
$HW3_DATA_SOURCE_DIGESTS: the round trip of tools/data_roundtrip.sh and tests/data/test_convert.py.

    python -m tools.data_mirror DATA_DIR MIRROR_ROOT DIGESTS_JSON [--no-glove]

- aclImdb_v1.tar.gz: aclImdb/{train,test}/{pos,neg}/{id}_{rating}.txt from the CSVs, aclImdb/README;
- pytorch/examples' valid.txt and test.txt as they are; train.txt is the course's prefix followed by
  a stand-in article ` = Condom = ` (the rest of the official file is not here), so the converter's
  cut gives the prefix back;
- gensim-data's glove-wiki-gigaword-50.gz: a `400000 50` header, then the GloVe text (170 MB;
  --no-glove leaves it out).
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import shutil
import sys
import tarfile
import urllib.parse
from pathlib import Path

from common import download

IMDB_URL = download.IMDB.sources[0].downloads[0].url
WIKI_DOWNLOADS = download.WIKITEXT.sources[0].downloads  # train, valid, test
GLOVE_URL = download.GLOVE.sources[0].downloads[0].url
STAND_IN_TAIL = b" = Condom = \n \n A stand-in for the articles not in ../shared/data . \n \n"


def mirror_file(root: Path, url: str) -> Path:
    parts = urllib.parse.urlsplit(url)
    path = root / parts.netloc / parts.path.lstrip("/")
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def imdb_tar(data: Path, out: Path) -> None:
    """The tarball's layout from imdb/imdb_{train,test}.csv.gz (uncompressed tar inside gzip level
    1)."""
    with gzip.open(out, "wb", compresslevel=1) as gz, tarfile.open(fileobj=gz, mode="w|") as tar:

        def add(name: str, payload: bytes) -> None:
            info = tarfile.TarInfo(f"aclImdb/{name}")
            info.size, info.mtime = len(payload), 1303000000
            tar.addfile(info, io.BytesIO(payload))

        add("README", (data / "imdb" / "aclImdb_README.txt").read_bytes())
        for split in ("train", "test"):
            with gzip.open(
                data / "imdb" / f"imdb_{split}.csv.gz", "rt", encoding="utf-8", newline=""
            ) as f:
                reader = csv.reader(f)
                next(reader)
                for review_id, rating, label, text in reader:
                    polarity = "pos" if label == "1" else "neg"
                    add(f"{split}/{polarity}/{review_id}_{rating}.txt", text.encode("utf-8"))


def build(data: Path, root: Path, glove: bool = True, imdb: bool = True) -> dict[str, str]:
    """Write the mirror tree under `root`; {original URL: "sha256:..."} of each file written."""
    made = {}
    if imdb:
        made[IMDB_URL] = mirror_file(root, IMDB_URL)
        imdb_tar(data, made[IMDB_URL])
    wiki = data / "wikitext-2"
    texts = (
        gzip.decompress((wiki / "wiki.train.tokens.partial.gz").read_bytes()) + STAND_IN_TAIL,
        gzip.decompress((wiki / "wiki.valid.tokens.gz").read_bytes()),
        gzip.decompress((wiki / "wiki.test.tokens.gz").read_bytes()),
    )
    for d, text in zip(WIKI_DOWNLOADS, texts):
        made[d.url] = mirror_file(root, d.url)
        made[d.url].write_bytes(text)
    if glove:
        made[GLOVE_URL] = mirror_file(root, GLOVE_URL)
        with gzip.open(data / "glove" / "glove.6B.50d.txt.gz", "rb") as src:
            with gzip.open(made[GLOVE_URL], "wb", compresslevel=1) as dst:
                dst.write(b"400000 50\n")
                shutil.copyfileobj(src, dst, 1 << 20)
    digests = {}
    for url, path in made.items():
        h = hashlib.sha256()
        with open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
        digests[url] = f"sha256:{h.hexdigest()}"
    return digests


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    if len(args) != 3:
        sys.exit(__doc__.split("\n\n")[1])
    table = build(Path(args[0]), Path(args[1]), glove="--no-glove" not in sys.argv)
    Path(args[2]).write_text(json.dumps(table, indent=1) + "\n", encoding="utf-8")
    print(f"mirror tree in {args[1]}: {len(table)} files; their SHA-256s in {args[2]}")
