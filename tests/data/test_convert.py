"""The conversions give ../shared/data's bytes: archives rebuilt from the real data folder
(tools/data_mirror.py, GloVe left out: 170 MB) go through `python main.py data`'s fetch on a
loopback mirror and come out with the SHA-256s pinned from that folder's README; Stanford's zips and
gensim's word2vec files convert as gensim-data and our loader expect; `--embeddings twitter` runs
the sweeps on word2vec-format vectors."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

import in_process
import loopback
from common import convert, download, glove
from tools import data_mirror

REPO = Path(__file__).resolve().parents[2]
README_PINS = {  # ../shared/data/README.md: the SHA-256 of each file's decompressed content
    "imdb/imdb_train.csv.gz": "1d00e4a7a402f8abd702d70b5758823d88ae4fc65b37d130ce54856125ed6bc4",
    "imdb/imdb_test.csv.gz": "622ef57abec45eeab289d801da5c71f1a89c39cce0e0cb050ccfdccbcb7692a9",
    "imdb/aclImdb_README.txt": "a69bd3b91235c7fa1d6aadab51e257b7fa3f7b68f32b607483a72bd67f95e557",
    "glove/glove.6B.50d.txt.gz": "d8f717f8dd4b545cb7f418ef9f3d0c3e6e68a6f48b97d32f8b7aae40cb31f96f",
    "wikitext-2/wiki.valid.tokens.gz": (
        "f0737ed31fc1329026e95cb8b98e19c2a182c39c240ab909dc31abf2f8af58e8"
    ),
    "wikitext-2/wiki.test.tokens.gz": (
        "d790b833ef8cf03a90db7bf1271b7520b83c45ce07ba3c1a9699df81e239eca0"
    ),
    "wikitext-2/wiki.train.tokens.partial.gz": (
        "5bdaf2c5c5d6879f4ff8f67cafd58d040c4b474c3ba37e6ee589f8e85229df73"
    ),
}


def test_the_pins_are_the_data_readme_s():
    pins = {o.path: o.sha256 for d in download.datasets_for() for o in d.outputs}
    assert pins == README_PINS


def test_archives_rebuilt_from_the_shared_data_convert_back_byte_for_byte(
    shared_data, tmp_path, monkeypatch
):
    if not (shared_data / "imdb" / "imdb_train.csv.gz").is_file():
        pytest.skip("needs the real IMDB CSVs")
    tree = tmp_path / "mirror"
    digests = data_mirror.build(shared_data, tree, glove=False)
    (tmp_path / "digests.json").write_text(json.dumps(digests))
    files = {"/" + str(p.relative_to(tree)): p.read_bytes() for p in tree.rglob("*") if p.is_file()}
    monkeypatch.setenv(download.DIGESTS_ENV, str(tmp_path / "digests.json"))
    with loopback.Mirror(files) as mirror:
        monkeypatch.setenv(download.MIRROR_ENV, mirror.url)
        root = download.fetch_all(
            tmp_path / "data", datasets=[download.IMDB, download.WIKITEXT], say=lambda line: None
        )
    for rel in README_PINS:
        if rel.startswith("glove/"):
            continue
        sha, _ = download.content_sha256(root / rel)
        assert sha == README_PINS[rel], rel


def test_the_published_checksum_still_guards_a_rebuilt_archive(shared_data, tmp_path, monkeypatch):
    """Without the digests file, the rebuilt wikitext train.txt is not the official one: refused."""
    if not (shared_data / "wikitext-2" / "wiki.valid.tokens.gz").is_file():
        pytest.skip("needs the real WikiText-2 files")
    tree = tmp_path / "mirror"
    data_mirror.build(shared_data, tree, glove=False, imdb=False)
    files = {"/" + str(p.relative_to(tree)): p.read_bytes() for p in tree.rglob("*") if p.is_file()}
    monkeypatch.delenv(download.DIGESTS_ENV, raising=False)
    with loopback.Mirror(files) as mirror:
        monkeypatch.setenv(download.MIRROR_ENV, mirror.url)
        with pytest.raises(download.FetchError) as err:
            download.fetch_all(
                tmp_path / "data", datasets=[download.WIKITEXT], say=lambda line: None
            )
    assert "train.txt" in str(err.value) and download.WIKI_TRAIN_SHA256 in str(err.value)
    assert not (tmp_path / "data" / "wikitext-2").exists() or not list(
        (tmp_path / "data").rglob("*.gz")
    )


def test_the_train_prefix_is_cut_before_the_condom_article():
    train = b" \n = A = \n \n x . \n \n = Condom = \n \n y . \n \n = Z = \n"
    assert convert.wikitext_train_prefix(train) == b" \n = A = \n \n x . \n \n"
    with pytest.raises(convert.ConversionError):
        convert.wikitext_train_prefix(b" = A = \n x . \n")


def test_the_official_wikitext_zip_converts(tmp_path):
    members = {
        "wikitext-2/wiki.train.tokens": b" = A = \n \n = Condom = \n",
        "wikitext-2/wiki.valid.tokens": b" = V = \n",
        "wikitext-2/wiki.test.tokens": b" = T = \n",
    }
    archive = tmp_path / "wikitext-2-v1.zip"
    archive.write_bytes(loopback.zip_of(members))
    wanted = {
        convert.WIKI_VALID,
        convert.WIKI_TEST,
        convert.WIKI_TRAIN_PART,
        convert.WIKI_TRAIN_FULL,
    }
    got = {path: b"".join(chunks) for path, chunks in convert.wikitext_zip([archive], wanted)}
    assert got == {
        convert.WIKI_VALID: b" = V = \n",
        convert.WIKI_TEST: b" = T = \n",
        convert.WIKI_TRAIN_FULL: b" = A = \n \n = Condom = \n",
        convert.WIKI_TRAIN_PART: b" = A = \n \n",
    }


def test_stanford_s_zip_gives_glove_text_or_gensim_s_word2vec_text(tmp_path):
    body = b"the 0.1 0.2\nof -0.3 0.4\nand 0.5 -0.6\n"
    archive = tmp_path / "glove.twitter.27B.zip"
    archive.write_bytes(loopback.zip_of({"glove.twitter.27B.50d.txt": body, "other.txt": b"x 1\n"}))
    as_is = convert.glove_zip("glove.twitter.27B.50d.txt", add_header=False)([archive], {"a"})
    assert [(p, b"".join(c)) for p, c in as_is] == [("a", body)]
    headed = convert.glove_zip("glove.twitter.27B.50d.txt", add_header=True)([archive], {"a"})
    assert [(p, b"".join(c)) for p, c in headed] == [("a", b"3 2\n" + body)]
    with pytest.raises(convert.ConversionError):
        list(convert.glove_zip("missing.txt", add_header=False)([archive], {"a"}))


def test_gensim_s_file_loses_its_header_for_6b_and_keeps_it_for_twitter(tmp_path):
    lines = ["the 0.1 0.2", "of -0.3 0.4"]
    archive = tmp_path / "x.gz"
    archive.write_bytes(loopback.word2vec_gz(lines))
    drop = convert.word2vec_gz(keep_header=False)([archive], {"a"})
    assert [(p, b"".join(c)) for p, c in drop] == [("a", b"the 0.1 0.2\nof -0.3 0.4\n")]
    keep = convert.word2vec_gz(keep_header=True)([archive], {"a"})
    assert [(p, b"".join(c)) for p, c in keep] == [("a", b"2 2\nthe 0.1 0.2\nof -0.3 0.4\n")]
    archive.write_bytes(gzip.compress(b"the 0.1 0.2\n"))
    with pytest.raises(convert.ConversionError):
        list(b"".join(c) for _, c in convert.word2vec_gz(keep_header=False)([archive], {"a"}))


def test_the_loader_reads_the_word2vec_header_of_glove_twitter_50(tmp_path, tiny_table):
    path = tmp_path / "glove" / "glove-twitter-50.txt.gz"
    path.parent.mkdir()
    rows = [
        f"{w} " + " ".join(f"{v:.5g}" for v in vec)
        for w, vec in zip(tiny_table.index_to_key, tiny_table.vectors)
    ]
    path.write_bytes(loopback.word2vec_gz(rows))
    table = glove.load_glove(
        data_dir=tmp_path, name="twitter", cache_dir=tmp_path / "cache", verbose=False
    )
    assert table.index_to_key == tiny_table.index_to_key and table.name == "glove-twitter-50"
    assert abs(table.vectors - tiny_table.vectors).max() < 1e-4


def test_the_sweeps_run_on_twitter_vectors(tiny_data_dir, tiny_table, tmp_path):
    data = tmp_path / "data"
    for sub in ("imdb", "glove"):
        (data / sub).mkdir(parents=True)
    for name in ("imdb_train.csv.gz", "imdb_test.csv.gz"):
        (data / "imdb" / name).symlink_to(tiny_data_dir / "imdb" / name)
    rows = [
        f"{w} " + " ".join(f"{v:.5g}" for v in vec)
        for w, vec in zip(tiny_table.index_to_key, tiny_table.vectors)
    ]
    (data / "glove" / "glove-twitter-50.txt.gz").write_bytes(loopback.word2vec_gz(rows))
    env = {"HW3_CACHE_DIR": str(tmp_path / "cache")}
    # in this process: a real one proves nothing more here
    result = in_process.run_main(
        "mlp",
        "--quick",
        "--embeddings",
        "twitter",
        "--sweeps",
        "activations",
        "--data-dir",
        data,
        "--out-dir",
        tmp_path / "out",
        "--ckpt-dir",
        tmp_path / "ck",
        cwd=tmp_path,
        env_extra=env,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    history = json.loads(
        (tmp_path / "out" / "glove-twitter-50" / "mlp_activations.json").read_text()
    )
    assert {r["config"]["embeddings"] for r in history["runs"]} == {"glove-twitter-50"}
    assert not (
        tmp_path / "out" / "mlp_activations.json"
    ).exists()  # beside the 6B runs, not over them
    missing = in_process.run_main(
        "mlp",
        "--quick",
        "--embeddings",
        "twitter",
        "--data-dir",
        tiny_data_dir,
        "--out-dir",
        tmp_path / "out2",
        cwd=tmp_path,
        env_extra=env,
    )
    lines = missing.stderr.strip().splitlines()
    assert missing.returncode == 2 and len(lines) == 1, missing.stderr[-2000:]
    assert (
        "glove-twitter-50.txt.gz" in lines[0]
        and "python main.py data --embeddings twitter" in lines[0]
    )
