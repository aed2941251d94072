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


def test_the_project_has_no_import_cycle_and_its_parts_import_one_way():
    tool = _cycles_tool()
    graph = tool.import_graph(REPO)
    assert {"main", "mlp", "mlp_lm", "utils", "lm.run", "written.answers"} <= set(graph)
    assert tool.cycles(graph) == []
    parts = tool.part_graph(graph)
    assert tool.cycles(parts) == []
    assert tool.wrong_way(parts) == []
    # the course's files stand on utils and the pieces below them only
    assert parts["mlp"] <= {"utils", "common"}
    assert parts["mlp_lm"] <= {"utils", "common", "nplm"}


def test_the_cycle_finder_finds_a_cycle_through_a_function_level_import(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "a.py").write_text("from pkg import b\n")
    (tmp_path / "pkg" / "b.py").write_text("def f():\n    from pkg import c\n")
    (tmp_path / "pkg" / "c.py").write_text("import a\n")
    (tmp_path / "d.py").write_text("import a\n")
    tool = _cycles_tool()
    assert tool.cycles(tool.import_graph(tmp_path)) == [["a", "pkg.b", "pkg.c"]]


def _write(root: Path, files: dict) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


def test_a_cycle_between_two_parts_is_found_though_no_module_cycle_is(tmp_path):
    # low/a imports high/b, and high/c imports low/d: no module cycle, a cycle between the parts
    _write(
        tmp_path,
        {
            "low/__init__.py": "",
            "low/a.py": "from high import b\n",
            "low/d.py": "",
            "high/__init__.py": "",
            "high/b.py": "",
            "high/c.py": "from low import d\n",
        },
    )
    tool = _cycles_tool()
    graph = tool.import_graph(tmp_path)
    assert tool.cycles(graph) == []
    parts = tool.part_graph(graph)
    assert tool.cycles(parts) == [["high", "low"]]
    assert tool.wrong_way(parts, layers=(("low",), ("high",))) == [
        "low imports high, a part above it"
    ]


def test_a_course_file_importing_the_runs_is_a_wrong_way_import(tmp_path):
    _write(tmp_path, {"mlp_lm.py": "import lm.run\n", "lm/__init__.py": "", "lm/run.py": ""})
    tool = _cycles_tool()
    parts = tool.part_graph(tool.import_graph(tmp_path))
    assert tool.wrong_way(parts) == ["mlp_lm imports lm, a part above it"]
    assert tool.wrong_way({"extra": set()}) == [
        "extra: a part that tools/import_cycles.py's LAYERS does not place"
    ]
