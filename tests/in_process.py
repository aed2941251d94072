"""`python main.py ARGS` run inside the test process: a subprocess.CompletedProcess with the exit
code, stdout and stderr that the real process would give, without the 2 s or more a new Python pays
to import torch. For the checks where a real process proves nothing more (a one-line error and its
exit code); each behaviour keeps one test through a real process as well."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
import traceback
from pathlib import Path
from unittest import mock

import main


@contextlib.contextmanager
def _cwd(path: Path):
    before = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)


def run_main(*args, cwd: Path, env_extra=None) -> subprocess.CompletedProcess:
    """main.main(args) in folder `cwd`, with os.environ updated by `env_extra` (both restored
    after). SystemExit gives its code, as the interpreter would (a message on stderr, code 1); any
    other exception prints its traceback on stderr with exit code 1, as an uncaught one does."""
    argv = [str(a) for a in args]
    out, err = io.StringIO(), io.StringIO()
    env = {"MPLBACKEND": "Agg", **(env_extra or {})}
    with (
        _cwd(cwd),
        mock.patch.dict(os.environ, env),
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
    ):
        try:
            code = main.main(argv)
        except SystemExit as exit_:
            code = exit_.code
            if code is None:
                code = 0
            elif not isinstance(code, int):
                print(code, file=sys.stderr)
                code = 1
        except Exception:
            traceback.print_exc()
            code = 1
    return subprocess.CompletedProcess(
        ["main.py", *argv], code, stdout=out.getvalue(), stderr=err.getvalue()
    )
