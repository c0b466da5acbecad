"""A two-exercise course built on the fly, so grading mechanics test in seconds."""
from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

LESSON = "00-tiny"


def _meta(grade_id: str, *, solution=False, grade=False, locked=False, points=None) -> dict:
    meta = {"grade_id": grade_id, "solution": solution, "grade": grade, "locked": locked,
            "schema_version": 3, "task": False}
    if points is not None:
        meta["points"] = points
    return {"nbgrader": meta}


def notebook() -> nbformat.NotebookNode:
    cells = [
        new_markdown_cell("# Tiny lesson"),
        new_code_cell("import numpy as np\nfrom course_lib import checks"),
        new_code_cell(
            "def double(x):\n    \"\"\"Return 2 * x.\"\"\"\n    ### BEGIN SOLUTION\n    return 2 * np.asarray(x)\n    ### END SOLUTION",
            metadata=_meta("double", solution=True)),
        new_code_cell(
            "checks.check_close(checks.call(double, 3), 6)\n### BEGIN HIDDEN TESTS\n"
            "checks.check_close(double(np.arange(4)), [0, 2, 4, 6])\n### END HIDDEN TESTS",
            metadata=_meta("test_double", grade=True, locked=True, points=2)),
        new_code_cell(
            "def square(x):\n    \"\"\"Return x ** 2.\"\"\"\n    ### BEGIN SOLUTION\n    return np.asarray(x) ** 2\n    ### END SOLUTION",
            metadata=_meta("square", solution=True)),
        new_code_cell(
            "checks.check_close(checks.call(square, 3), 9)\n### BEGIN HIDDEN TESTS\n"
            "checks.check_close(square(np.arange(3)), [0, 1, 4])\n### END HIDDEN TESTS",
            metadata=_meta("test_square", grade=True, locked=True, points=3)),
        new_code_cell("from course_lib import runtime\nruntime.record('tiny_metric', 0.5, target=0.4)"),
        new_markdown_cell("Why square?"),
        new_markdown_cell("Because the lesson says so.", metadata=_meta("why", solution=True, grade=True, points=1)),
    ]
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


def make(root: Path) -> Path:
    """Create a course root with solutions/00-tiny and an empty lessons/."""
    (root / "solutions" / LESSON).mkdir(parents=True)
    (root / "lessons").mkdir()
    nbformat.write(notebook(), str(root / "solutions" / LESSON / f"{LESSON}.ipynb"))
    (root / "nbgrader_config.py").write_text(
        "c = get_config()\nc.CourseDirectory.source_directory = 'solutions'\n"
        "c.CourseDirectory.release_directory = 'lessons'\n")
    return root
