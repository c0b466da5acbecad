"""`course bundle`: the zip students get, checked to hold no solutions or hidden tests."""
from __future__ import annotations

import zipfile
from pathlib import Path

from autograder import course, notebooks
from autograder.samples import MARKERS

HIDDEN = ("### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")

STUDENT_PYPROJECT = """\
[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "keras-course-student"
version = "{version}"
description = "Deep learning with Keras: the student's helper library"
requires-python = ">=3.10"

[project.scripts]
course = "course_lib.cli:main"

[tool.setuptools]
packages = ["course_lib"]
"""

STUDENT_README = """\
# Deep learning with Keras: student bundle

1. Create an environment: `python3 -m venv .venv && .venv/bin/pip install -r requirements.txt`
   (or `conda env create -f environment.yml`), then `.venv/bin/pip install -e .`
2. Check it: `.venv/bin/course doctor` lists your Keras backend, devices and datasets;
   `course data fetch fashion_mnist` provisions the main dataset.
3. Open the lessons: `.venv/bin/jupyter lab lessons/`, one folder per lesson.
   Write your answers where a cell says `YOUR CODE HERE` / `YOUR ANSWER HERE`,
   run the visible tests under each exercise, and hand in the notebook.
   Keep everything an answer needs inside its answer cell: cells you add are not run
   when the notebook is graded.
"""


def _secrets() -> list[str]:
    """Lines of solution code and hidden tests in solutions/ that appear nowhere else in them.

    A line that also stands, whole or within a longer line, in a public part of the
    notebook (prose, a visible test, a demo) gives nothing away, so it is not a secret.
    """
    hidden, public = set(), set()
    for lesson in course.lessons():
        nb = notebooks.read(course.solution(lesson))
        for cell in nb.cells:
            # A written answer is replaced whole in the release, so all of it is secret.
            inside = cell.cell_type == "markdown" and cell.metadata.get("nbgrader", {}).get("solution", False)
            for line in cell.source.splitlines():
                stripped = line.strip()
                if stripped in (MARKERS[0], HIDDEN[0]):
                    inside = True
                elif stripped in (MARKERS[1], HIDDEN[1]):
                    inside = False
                elif len(stripped) > 24:
                    (hidden if inside else public).add(stripped)
    public_text = "\n".join(public)
    return sorted(h for h in hidden if h not in public_text)


def leaks(zip_path: Path) -> list[str]:
    """Files in the bundle that contain solution or hidden-test text, and what gave them away."""
    secrets = _secrets()
    found = []
    with zipfile.ZipFile(zip_path) as zf:
        for name in zf.namelist():
            text = zf.read(name).decode("utf-8", errors="replace")
            if name.startswith("autograder/") or name.startswith("solutions/"):
                found.append(f"{name}: instructor-only folder")
                continue
            for marker in (*MARKERS, *HIDDEN):
                if marker in text:
                    found.append(f"{name}: contains {marker!r}")
            for secret in secrets:
                if secret in text:
                    found.append(f"{name}: contains solution or hidden-test line {secret[:60]!r}")
                    break
    return found


def build(out: Path) -> Path:
    """Write the student bundle; refuse (and delete it) if anything instructor-only leaked in."""
    from course_lib import __version__

    root = course.root()
    out = out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    files = [p for folder in ("lessons", "course_lib") for p in sorted((root / folder).rglob("*"))
             if p.is_file() and "__pycache__" not in p.parts and ".ipynb_checkpoints" not in p.parts]
    files += [root / name for name in ("requirements.txt", "environment.yml")]
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in files:
            zf.write(path, path.relative_to(root).as_posix())
        zf.writestr("pyproject.toml", STUDENT_PYPROJECT.format(version=__version__))
        zf.writestr("README.md", STUDENT_README)
    problems = leaks(out)
    if problems:
        out.unlink()
        raise SystemExit("The bundle would reveal instructor material; nothing written:\n  " + "\n  ".join(problems))
    return out
