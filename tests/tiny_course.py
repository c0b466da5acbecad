"""A two-exercise course built on the fly, so grading mechanics test in seconds.

`double` is tested in the student's kernel; `square` is a NumPy-only exercise, tested in
the process that has nothing but NumPy. Each test cell is worth the points its hidden
tests (grading.py) decide.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

LESSON = "00-tiny"


def _meta(grade_id: str, *, solution=False, grade=False, locked=False, points=None) -> dict:
    meta = {
        "grade_id": grade_id,
        "solution": solution,
        "grade": grade,
        "locked": locked,
        "schema_version": 3,
        "task": False,
    }
    if points is not None:
        meta["points"] = points
    return {"nbgrader": meta}


def notebook() -> nbformat.NotebookNode:
    cells = [
        new_markdown_cell("# Tiny lesson"),
        new_code_cell("import numpy as np\nfrom course_lib import checks"),
        new_code_cell(
            'def double(x):\n    """Return 2 * x."""\n    ### BEGIN SOLUTION\n    return 2 * np.asarray(x)\n    ### END SOLUTION',
            metadata=_meta("double", solution=True),
        ),
        new_code_cell(
            "checks.check_close(checks.call(double, 3), 6)",
            metadata=_meta("test_double", grade=True, locked=True, points=2),
        ),
        new_code_cell(
            'def square(x):\n    """Return x ** 2."""\n    ### BEGIN SOLUTION\n    return np.asarray(x) ** 2\n    ### END SOLUTION',
            metadata=_meta("square", solution=True),
        ),
        new_code_cell(
            "checks.check_close(checks.call(square, 3), 9)",
            metadata=_meta("test_square", grade=True, locked=True, points=3),
        ),
        new_code_cell("from course_lib import runtime\nruntime.record('tiny_metric', 0.5, target=0.4)"),
        new_markdown_cell("Why square? Because $x^2 \\ge 0$ for every $x$, and $$\\frac{d}{dx} x^2 = 2x$$"),
        new_markdown_cell("Because the lesson says so.", metadata=_meta("why", solution=True, grade=True, points=1)),
    ]
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


HIDDEN_TESTS = """\
import numpy as np

from autograder.hidden import close, test


@test("test_double", seconds=15)
def double_on_new_inputs(student, rng):
    x = rng.normal(size=(3, 4))
    close(student.call("double", x), 2 * x, "double on a random 3 x 4 array")
    close(student.call("double", 7), 14, "double(7)")


@test("test_square", numpy_only=True, seconds=15)
def square_on_new_inputs(student, rng):
    x = rng.integers(-9, 9, size=6)
    close(student.call("square", x), x ** 2, "square on random integers")
"""


def make(root: Path) -> Path:
    """Create a course root with solutions/00-tiny (notebook and hidden tests), an empty
    lessons/, and the real course's install files (the student bundle ships them)."""
    (root / "solutions" / LESSON).mkdir(parents=True)
    (root / "lessons").mkdir()
    nbformat.write(notebook(), str(root / "solutions" / LESSON / f"{LESSON}.ipynb"))
    (root / "solutions" / LESSON / "grading.py").write_text(HIDDEN_TESTS)
    (root / "nbgrader_config.py").write_text(
        "c = get_config()\nc.CourseDirectory.source_directory = 'solutions'\n"
        "c.CourseDirectory.release_directory = 'lessons'\n"
    )
    for name in ("requirements.txt", "environment.yml"):
        shutil.copyfile(Path(__file__).resolve().parent.parent / name, root / name)
    return root
