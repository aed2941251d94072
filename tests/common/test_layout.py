"""The shape a newcomer meets: the homework's modules at the top, everything else in folders, no
import cycles among the project's modules (tools/import_cycles.py, which this checks on a cycle made
for it)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _cycles_tool():
    spec = importlib.util.spec_from_file_location(
        "import_cycles", REPO / "tools" / "import_cycles.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_top_level_holds_the_homeworks_modules_only():
    top = sorted(p.name for p in REPO.glob("*.py"))
    assert top == ["main.py", "mlp.py", "mlp_lm.py", "utils.py"]


def test_the_project_has_no_import_cycle():
    tool = _cycles_tool()
    graph = tool.import_graph(REPO)
    assert {"main", "mlp", "mlp_lm", "utils", "lm.run", "written.answers"} <= set(graph)
    assert tool.cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle_through_a_function_level_import(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "a.py").write_text("from pkg import b\n")
    (tmp_path / "pkg" / "b.py").write_text("def f():\n    from pkg import c\n")
    (tmp_path / "pkg" / "c.py").write_text("import a\n")
    (tmp_path / "d.py").write_text("import a\n")
    tool = _cycles_tool()
    assert tool.cycles(tool.import_graph(tmp_path)) == [["a", "pkg.b", "pkg.c"]]
