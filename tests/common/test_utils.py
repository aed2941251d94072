"""utils.py: data location, the GloVe table and its cache, the tokenizer, atomic writes,
plotting."""

from __future__ import annotations

import gzip
import os
import random
import re
import time

import numpy as np
import pytest
import torch

from sweeps import run as sweep_run
from common import worker_pool
from common import glove
from common import datafiles
import utils


# --------------------------------------------------------------------------- data location
def test_missing_data_dir_is_a_one_line_error_naming_the_path_and_the_fix(tmp_path, monkeypatch):
    missing = tmp_path / "nowhere"
    with pytest.raises(datafiles.DataNotFoundError) as err:
        datafiles.resolve_data_dir(missing)
    message = str(err.value)
    assert "\n" not in message and str(missing) in message
    assert "--data-dir" in message and datafiles.DATA_DIR_ENV in message

    monkeypatch.setenv(datafiles.DATA_DIR_ENV, str(missing))
    with pytest.raises(datafiles.DataNotFoundError, match=re.escape(f"${datafiles.DATA_DIR_ENV}")):
        datafiles.resolve_data_dir()


def test_data_dir_from_flag_then_env(tmp_path, monkeypatch):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    monkeypatch.setenv(datafiles.DATA_DIR_ENV, str(tmp_path / "b"))
    assert datafiles.resolve_data_dir() == tmp_path / "b"
    assert datafiles.resolve_data_dir(tmp_path / "a") == tmp_path / "a"


def test_missing_data_file_names_the_file(tmp_path):
    with pytest.raises(datafiles.DataNotFoundError, match="imdb/imdb_train.csv.gz"):
        datafiles.data_path("imdb", "imdb_train.csv.gz", data_dir=tmp_path)


# --------------------------------------------------------------------------- embeddings
def write(path, text, gz=False):
    opener = gzip.open if gz else open
    with opener(path, "wt", encoding="utf-8") as f:
        f.write(text)
    return path


def test_word_vectors_have_the_keyed_vectors_interface(tiny_table):
    assert tiny_table.vector_size == 8 and tiny_table.vectors.shape == (len(tiny_table), 8)
    assert "movie" in tiny_table and "zebra" not in tiny_table
    i = tiny_table.key_to_index["movie"]
    assert tiny_table.index_to_key[i] == "movie"
    np.testing.assert_array_equal(tiny_table["movie"], tiny_table.vectors[i])
    with pytest.raises(KeyError):
        tiny_table["zebra"]


@pytest.mark.parametrize("gz", [False, True])
def test_parse_embeddings_text(tmp_path, gz):
    path = write(
        tmp_path / ("v.txt.gz" if gz else "v.txt"), "the 1 2 3\nmovie -0.5 1e-3 4\n", gz=gz
    )
    table = glove.parse_embeddings_text(path)
    assert table.index_to_key == ["the", "movie"]
    np.testing.assert_allclose(table.vectors, [[1, 2, 3], [-0.5, 1e-3, 4]])
    assert table.vectors.dtype == np.float32
    # a word2vec header is skipped; limit reads the first N words
    header = write(tmp_path / "w2v.txt", "2 3\nthe 1 2 3\nmovie 4 5 6\n")
    assert glove.parse_embeddings_text(header).index_to_key == ["the", "movie"]
    assert glove.parse_embeddings_text(path, limit=1).index_to_key == ["the"]


@pytest.mark.parametrize(
    "text, line",
    [
        ("a 1 2 3\nb 4 5\nc 7 8 9\n", 2),  # a value missing
        ("a 1 2 3\nb 4 5 6\nc 7 x 9\n", 3),  # not a number
        ("a 1 2 3\nb 4 5 6 7\n", 2),  # one too many
    ],
)
def test_malformed_embeddings_name_the_file_and_line(tmp_path, text, line):
    path = write(tmp_path / "bad.txt", text)
    with pytest.raises(glove.EmbeddingsFormatError, match=rf"bad\.txt, line {line}:"):
        glove.parse_embeddings_text(path)


@pytest.mark.parametrize("value", ["nan", "NaN", "inf", "-inf", "1e999"])
def test_non_finite_embeddings_name_the_file_and_line(tmp_path, value):
    path = write(tmp_path / "bad.txt", f"a 1 2 3\nb 4 5 6\nc 7 {value} 9\nd 1 1 1\n")
    with pytest.raises(
        glove.EmbeddingsFormatError, match=r"bad\.txt, line 3: a value is not finite"
    ):
        glove.parse_embeddings_text(path)


@pytest.mark.parametrize(
    "text, line",
    [
        ("a 1 2\nb 4 5 6\nc 7 8 9\n", 1),  # the first line is the short one
        ("a 1 2 3 4\nb 4 5 6\nc 7 8 9\n", 1),  # the first line is the long one
        ("3 3\na 1 2\nb 4 5 6\nc 7 8 9\n", 2),  # after a word2vec header, that line is line 2
        # most lines hold two numbers: the first three-er is blamed
        (
            "a 1 2 3\nb 4 5 6\nc 7 8\nd 1 2\ne 3 4\n",
            1,
        ),
        ("a 1 2 3\nb 4 5\n", 2),  # a tie: the count met first wins
    ],
)
def test_the_dimension_is_what_most_lines_hold(tmp_path, text, line):
    path = write(tmp_path / "bad.txt", text)
    with pytest.raises(
        glove.EmbeddingsFormatError, match=rf"bad\.txt, line {line}: expected a word and"
    ):
        glove.parse_embeddings_text(path)


def test_empty_embeddings_file_is_an_error(tmp_path):
    with pytest.raises(glove.EmbeddingsFormatError, match="empty"):
        glove.parse_embeddings_text(write(tmp_path / "empty.txt", ""))


def test_load_glove_writes_a_binary_cache_and_reparses_a_changed_file(tmp_path):
    src = write(tmp_path / "g.txt.gz", "the 1 2\nmovie 3 4\n", gz=True)
    cache = tmp_path / "cache"
    first = glove.load_glove(src, cache_dir=cache, verbose=False)
    assert sorted(p.name.split(".", 4)[-1] for p in cache.iterdir()) == [
        "sha256.json",
        "vectors.npy",
        "words.txt",
    ]
    second = glove.load_glove(src, cache_dir=cache, verbose=False)
    assert second.index_to_key == first.index_to_key
    np.testing.assert_array_equal(second.vectors, first.vectors)
    # the cache is keyed by size and mtime: a new file is parsed anew
    write(src, "the 5 6\nmovie 7 8\nfilm 9 10\n", gz=True)
    os.utime(src, ns=(time.time_ns(), time.time_ns() + 10**9))
    third = glove.load_glove(src, cache_dir=cache, verbose=False)
    assert third.index_to_key == ["the", "movie", "film"] and third["the"][0] == 5


def _swap_two_words(path):
    words = path.read_text(encoding="utf-8").split("\n")
    words[0], words[1] = words[1], words[0]
    path.write_text("\n".join(words), encoding="utf-8")


def _overwrite_bytes(path):
    with open(path, "r+b") as f:  # in place: same size, same inode
        f.seek(-20, os.SEEK_END)
        f.write(b"\x7f" * 20)


def _wrong_shape(path):
    with open(path, "wb") as f:  # a valid .npy, of the wrong shape
        np.save(f, np.zeros((3, 2), dtype=np.float32))


def _truncate(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


@pytest.mark.parametrize(
    "damage, part",
    [
        (_overwrite_bytes, "vectors.npy"),
        (_wrong_shape, "vectors.npy"),
        (_swap_two_words, "words.txt"),
        (_truncate, "vectors.npy"),
        (_truncate, "words.txt"),
        (_truncate, "sha256.json"),
        (os.unlink, "sha256.json"),
        (os.unlink, "vectors.npy"),
    ],
)
def test_a_damaged_glove_cache_is_named_in_one_line_and_rebuilt(tmp_path, capsys, damage, part):
    from conftest import tiny_vectors, write_glove

    src, cache = tmp_path / "g.txt.gz", tmp_path / "cache"
    write_glove(src, tiny_vectors())
    fresh = glove.parse_embeddings_text(src)
    glove.load_glove(src, cache_dir=cache, verbose=False)
    (target,) = [p for p in cache.iterdir() if p.name.endswith(part)]
    damage(target)
    capsys.readouterr()

    table = glove.load_glove(src, cache_dir=cache, verbose=False)
    assert table.index_to_key == fresh.index_to_key
    np.testing.assert_array_equal(table.vectors, fresh.vectors)
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and str(target) in lines[0] and f"rebuilding it from {src}" in lines[0]

    # the rebuilt cache passes, silently
    again = glove.load_glove(src, cache_dir=cache, verbose=False)
    np.testing.assert_array_equal(again.vectors, fresh.vectors)
    assert capsys.readouterr().err == ""


def test_a_cached_glove_table_is_writable_like_a_parsed_one(tmp_path):
    src = write(tmp_path / "g.txt", "the 1 2\nmovie 3 4\n")
    glove.load_glove(src, cache_dir=tmp_path / "cache", verbose=False)
    cached = glove.load_glove(src, cache_dir=tmp_path / "cache", verbose=False)
    assert cached.vectors.flags.writeable  # torch.as_tensor warns on a read-only array


def test_real_glove_loads_with_its_400k_words(shared_data, tmp_path):
    table = glove.load_glove(data_dir=shared_data)
    assert len(table) == 400_000 and table.vector_size == 50
    assert table.index_to_key[0] == "the" and table.index_to_key[-1] == "sandberger"
    np.testing.assert_allclose(table["the"][:3], [0.418, 0.24968, -0.41242])


# --------------------------------------------------------------------------- tokenizer
@pytest.mark.parametrize(
    "text, tokens",
    [
        ("What a movie!", ["What", "a", "movie", "!"]),
        ("I don't like it.", ["I", "do", "n't", "like", "it", "."]),
        ("It's \"great\", really...", ["It", "'s", "``", "great", "''", ",", "really", "..."]),
        ("one<br /><br />two", ["one", "two"]),
        ("(sic) cannot; 1,000 & 3:2", ["(", "sic", ")", "can", "not", ";", "1,000", "&", "3:2"]),
        ("", []),
    ],
)
def test_word_tokenize_splits_words_from_punctuation_like_treebank(text, tokens):
    assert glove.word_tokenize(text) == tokens


def test_tokenize_many_lowercases_and_keeps_texts_apart():
    assert glove.tokenize_many(["A, b.", "", "Don't\nstop"]) == [
        ["a", ",", "b", "."],
        [],
        ["do", "n't", "stop"],
    ]


def test_tokenizing_piece_by_piece_equals_tokenizing_whole_texts():
    """tokenize_many tokenizes distinct whitespace-delimited pieces; no rule may look across
    whitespace, so running the rules over whole texts must give the same tokens."""
    rng = random.Random(0)
    alphabet = "abcdeXYZ019'\".,!?;:-()[]<>&$@` \t"
    texts = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40))) for _ in range(2000)]
    texts += ["gonna Cannot, wanna!", "GIMME", "He said \"no\" -- twice...", "it's 1,000 (or 3:2)."]
    by_rules = glove.clean_text("\n".join(texts))
    for pattern, repl in glove._TREEBANK_RULES:
        by_rules = pattern.sub(repl, by_rules)
    assert glove.tokenize_many(texts, lowercase=False) == [
        line.split() for line in by_rules.split("\n")
    ]


# --------------------------------------------------------------------------- writes and plots
class Unpicklable:
    def __reduce__(self):
        raise RuntimeError("cannot pickle")


def test_atomic_save_keeps_the_old_file_when_writing_fails(tmp_path):
    path = tmp_path / "ckpt.pth"
    utils.atomic_save({"w": torch.ones(2)}, path)
    with pytest.raises(RuntimeError):
        utils.atomic_save({"w": Unpicklable()}, path)
    assert torch.equal(torch.load(path, weights_only=True)["w"], torch.ones(2))
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.pth"]  # no temporary file left behind


def test_an_atomic_write_removes_the_temporary_files_of_earlier_killed_writes(tmp_path):
    stale = [tmp_path / ".r.json.abcd_123.tmp", tmp_path / ".r.json.zzzzzzzz.tmp"]
    others = [
        tmp_path / ".r.json.bak.abcd1234.tmp",  # a longer name's temporary file: another write's
        tmp_path / ".r.jsonabcd1234.tmp",
        tmp_path / "notes.txt",
    ]
    for p in stale + others:
        p.write_text("left over")
    utils.atomic_write_json({"a": 1}, tmp_path / "r.json")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["r.json"] + [p.name for p in others]
    )


def test_a_write_killed_midway_leaves_a_temporary_file_that_the_next_write_removes(tmp_path):
    import signal
    import subprocess
    import sys
    import textwrap

    target = tmp_path / "ckpt.json"
    script = textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(utils.REPO_DIR)!r})
        import utils
        def slow_write(tmp):
            open(tmp, "w").write("half of it")
            print("writing", flush=True)
            time.sleep(120)
        utils._atomic_write({str(target)!r}, slow_write)
    """)
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "writing"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    left = [p.name for p in tmp_path.iterdir()]
    # no target yet
    assert len(left) == 1 and left[0].startswith(".ckpt.json.") and left[0].endswith(".tmp")

    utils.atomic_write_json({"step": 2}, target)
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.json"]
    assert target.read_text().replace(" ", "").replace("\n", "") == '{"step":2}'


def test_atomic_write_json_writes_nan_as_null(tmp_path):
    path = utils.atomic_write_json(
        {"a": [1.0, float("nan")], "b": np.float32(2.5), "t": torch.tensor([1, 2])},
        tmp_path / "r.json",
    )
    assert (
        path.read_text().replace(" ", "").replace("\n", "") == '{"a":[1.0,null],"b":2.5,"t":[1,2]}'
    )


def test_plot_curves_draws_png_with_seed_bands(tmp_path):
    path = utils.plot_curves(
        {
            "one seed": [0.5, 0.6, 0.7],
            "three seeds": [[0.5, 0.6, 0.7], [0.4, 0.6, 0.8], [0.5, 0.5, 0.9]],
        },
        "Accuracy",
        tmp_path / "p.png",
    )
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="equal-length"):
        utils.plot_curves({"ragged": [[1, 2], [3]]}, "x", tmp_path / "q.png")


@pytest.mark.parametrize(
    "label, name",
    [
        ("512 -> 512 -> 512", "512-512-512"),
        ("None", "None"),
        ("lr=0.001", "lr-0.001"),
        ("a/b c", "a-b-c"),
    ],
)
def test_safe_name(label, name):
    assert sweep_run.safe_name(label) == name


def test_torch_threads_restores_the_previous_count():
    before = torch.get_num_threads()
    with utils.torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before


def _bar_is_off(context, item):
    return utils.progress(range(3)).disable


def test_progress_bars_stay_off_inside_fork_map_jobs(monkeypatch):
    import sys

    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)  # as on a terminal
    assert utils.progress(range(3)).disable is False
    # in worker processes
    assert worker_pool.fork_map(_bar_is_off, [0, 1, 2], workers=2) == [
        True,
        True,
        True,
    ]
    assert worker_pool.fork_map(_bar_is_off, [0, 1], workers=1) == [True, True]  # run inline
    assert utils.progress(range(3)).disable is False  # and the caller's bars are back afterwards
    seen = [
        utils.progress(range(1)).disable
        for _ in worker_pool.fork_imap(_bar_is_off, [0, 1], workers=1)
    ]
    assert seen == [False, False]  # between two results the caller's own bar may draw


def test_atomic_save_writes_the_same_bytes_for_the_same_tensors(tmp_path):
    import hashlib

    state = {"w": torch.arange(6.0).reshape(2, 3)}
    a, b = utils.atomic_save(state, tmp_path / "a.pt"), utils.atomic_save(state, tmp_path / "b.pt")
    assert hashlib.sha256(a.read_bytes()).digest() == hashlib.sha256(b.read_bytes()).digest()
    assert torch.equal(torch.load(a, weights_only=True)["w"], state["w"])


def _square(context, item):
    return item * item


def test_ctrl_c_while_fork_map_starts_its_workers_is_not_lost(monkeypatch):
    import multiprocessing.context as mpc
    import signal

    real_pool = mpc.ForkContext.Pool

    # Ctrl-C arrives while the workers are forked ...
    def pool_pressed_midway(self, *args, **kwargs):
        try:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.05)
        # ... inside an at-fork hook, where Python prints the exception and goes on
        except KeyboardInterrupt:
            pass
        return real_pool(self, *args, **kwargs)

    monkeypatch.setattr(mpc.ForkContext, "Pool", pool_pressed_midway)
    # the fork path is the one under test: a pytest process that ran a CUDA test earlier would not
    # fork
    monkeypatch.setattr(torch.cuda, "is_initialized", lambda: False)
    with pytest.raises(KeyboardInterrupt):
        worker_pool.fork_map(_square, [1, 2, 3], workers=2)
    # the usual handler is back
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    monkeypatch.setattr(mpc.ForkContext, "Pool", real_pool)
    assert worker_pool.fork_map(_square, [1, 2, 3], workers=2) == [1, 4, 9]
