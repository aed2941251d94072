"""A time limit for every test, as a pytest plugin (tests/conftest.py imports its hooks; `-p
time_limit` loads it elsewhere): a test whose setup, call or teardown runs over HW3_TEST_TIMEOUT
seconds (default 240; 0: none) fails with its name instead of holding the suite. No dependency:
SIGALRM and faulthandler."""

from __future__ import annotations

import contextlib
import faulthandler
import os
import signal
import threading

import pytest

TEST_TIMEOUT_ENV = "HW3_TEST_TIMEOUT"
# seconds for one test's setup, call or teardown; the slowest takes about 40 here
TEST_TIMEOUT = 240


@contextlib.contextmanager
def _time_limit(item, phase: str):
    """SIGALRM after the limit raises in the test (a subprocess.run it waits on kills its child);
    should the test be stuck where Python cannot raise, faulthandler prints every thread's stack 30
    s later and ends the run (the stack names the test function)."""
    limit = float(os.environ.get(TEST_TIMEOUT_ENV, TEST_TIMEOUT))
    if (
        limit <= 0
        or not hasattr(signal, "SIGALRM")
        or threading.current_thread() is not threading.main_thread()
    ):
        yield
        return

    def expire(signum, frame):
        pytest.fail(
            f"{item.nodeid} ({phase}) ran over the per-test limit of {limit:g} s "
            f"(${TEST_TIMEOUT_ENV})"
        )

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, limit)
    faulthandler.dump_traceback_later(limit + 30, exit=True)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        faulthandler.cancel_dump_traceback_later()
        signal.signal(signal.SIGALRM, previous)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item):
    with _time_limit(item, "setup"):
        yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    with _time_limit(item, "call"):
        yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item):
    with _time_limit(item, "teardown"):
        yield
