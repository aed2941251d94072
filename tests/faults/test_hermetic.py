"""Issue 19: the suite is hermetic. No test reaches the network (hermetic.py answers at the HTTP
clients and at Python's sockets), and a stuck test fails with its name within the per-test limit
(time_limit.py)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import hermetic
from conftest import NETWORK_ATTEMPTS

TESTS = Path(__file__).resolve().parents[1]


def test_a_request_from_the_hugging_face_client_is_refused_at_once():
    import datasets.load
    import huggingface_hub.utils._http as hub_http

    before = len(NETWORK_ATTEMPTS)
    started = time.perf_counter()
    with pytest.raises(hermetic.NetworkRefused, match="huggingface.co"):
        hub_http.get_session().head("https://huggingface.co/api/datasets/text", timeout=3)
    # the download-count ping: tried, refused, ignored by datasets
    datasets.load.increase_load_count("text")
    with pytest.raises(socket.gaierror):
        socket.getaddrinfo("huggingface.co", 443)
    assert time.perf_counter() - started < 1
    assert [kind for kind, _ in NETWORK_ATTEMPTS[before:]][:1] == ["http"] and len(
        NETWORK_ATTEMPTS
    ) - before >= 2
    del NETWORK_ATTEMPTS[before:]


def test_this_machine_stays_reachable():
    """Loopback and Unix sockets pass: torchrun's store and multiprocessing use them."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        with socket.create_connection(server.getsockname(), timeout=5):
            pass


def test_a_stuck_test_fails_with_its_name_within_the_limit(tmp_path):
    (tmp_path / "test_stuck.py").write_text(
        textwrap.dedent("""
        import time

        def test_waits_on_something_that_never_comes():
            time.sleep(600)

        def test_after_it_runs():
            pass
    """)
    )
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")]),
        HW3_TEST_TIMEOUT="2",
    )
    started = time.perf_counter()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "time_limit",
            "-p",
            "no:cacheprovider",
            str(tmp_path / "test_stuck.py"),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert time.perf_counter() - started < 30
    assert result.returncode == 1, result.stdout[-2000:]
    assert (
        "test_stuck.py::test_waits_on_something_that_never_comes (call) ran over the per-test "
        "limit of 2 s" in result.stdout
    )
    assert "1 failed, 1 passed" in result.stdout
