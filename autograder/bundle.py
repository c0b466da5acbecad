"""`course bundle`: the zip students get, checked to hold no solutions or hidden tests."""

from __future__ import annotations

import tempfile
import zipfile
from pathlib import Path

import course_lib
from autograder import course, glossary, notebooks, release
from autograder.samples import MARKERS
from course_lib.errors import CourseError

HIDDEN = ("### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")
# The library students get is the one this course runs on.
LIBRARY = Path(course_lib.__file__).resolve().parent

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

[tool.setuptools.package-data]
# The lessons as released: `course check` rebuilds a student's notebook from them.
course_lib = ["releases/*.ipynb"]
"""

STUDENT_README = """\
# Deep learning with Keras: student bundle

Needs Python 3.10 to 3.13 (python.org, your package manager, or conda). In this
folder, on Linux or macOS (on Windows, write `.venv\\Scripts\\` for `.venv/bin/`):

```bash
python3 -m venv .venv
.venv/bin/pip install -r requirements.txt
.venv/bin/pip install .
.venv/bin/course doctor
.venv/bin/course data fetch fashion_mnist opencv_digits photo_patches fortunes
```

`course doctor` lists your Python, Keras backend, devices and where each dataset comes
from; `course data fetch` downloads what is missing (checked against pinned sha256), or
copies it from a mirror your instructor gives you (`--mirror URL_OR_FOLDER`).
Or, with conda: `conda env create -f environment.yml`, then `pip install .`.

Open the lessons with `.venv/bin/jupyter lab lessons/`, one folder per lesson. Write
your answers where a cell says `YOUR CODE HERE` / `YOUR ANSWER HERE` and run the
visible test under each exercise. Keep everything an answer needs inside its answer
cell: cells you add are not run when the notebook is graded.

Before you hand a lesson in, save it and run (in a terminal, JupyterLab's own included)

```bash
.venv/bin/course check 01
```

It runs your notebook the way grading will (smoke mode, the grader's limits and, on
Linux with bubblewrap, its sandbox) and tells you which exercises are answered, which
visible tests pass, which of your cells grading will not run, and whether your latest
work is saved. Hidden tests are not in this bundle; they decide the points.
"""

# Pins that only instructors need (testing, grading at scale, and nbgrader, whose
# JupyterLab tools are the instructor's: students check with `course check`).
INSTRUCTOR_ONLY = (
    "nbval",
    "pytest",
    "pytest-xdist",
    "execnet",
    "dask",
    "distributed",
    "nbgrader",
    "latex2mathml",
    "jupyter-server-mathjax",
    "playwright",
    "copydetect",
    "ruff",
)


def student_requirements(text: str) -> str:
    """requirements.txt without the instructor-only pins."""
    kept = [line for line in text.splitlines() if line.split("==")[0].strip().lower() not in INSTRUCTOR_ONLY]
    return "\n".join(kept) + "\n"


def _secrets() -> list[str]:
    """Lines of solution code and hidden tests in solutions/ that appear nowhere else in them.

    A line that also stands, whole or within a longer line, in a public part of the
    notebook (prose, a visible test, a demo) or in course_lib (which students get anyway)
    gives nothing away, so it is not a secret.
    """
    hidden, public = set(), set()
    for source in LIBRARY.rglob("*.py"):
        public |= {line.strip() for line in source.read_text(encoding="utf-8").splitlines()}
    for lesson in course.lessons():
        tests = course.hidden_tests(lesson)
        if tests.is_file():
            hidden |= {
                line.strip() for line in tests.read_text(encoding="utf-8").splitlines() if len(line.strip()) > 24
            }
        nb = notebooks.read(course.solution_notebook(lesson))
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
            if name.rsplit("/", 1)[-1] == course.HIDDEN_TESTS:
                found.append(f"{name}: hidden tests")
                continue
            for marker in (*MARKERS, *HIDDEN):
                if marker in text:
                    found.append(f"{name}: contains {marker!r}")
            for secret in secrets:
                if secret in text:
                    found.append(f"{name}: contains solution or hidden-test line {secret[:60]!r}")
                    break
    return found


def build(out: Path, released: Path | None = None) -> Path:
    """Write the student bundle; refuse (and delete it) if anything instructor-only leaked in.

    The lessons come from `released` (a folder of freshly generated lessons), else are
    generated now: never from lessons/, where a student's answers may sit.
    """
    from course_lib import __version__

    root = course.root()
    out = out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="course-bundle-") as tmp:
        if released is None:
            released = Path(tmp)
            release.generate(course.lessons(), released)
        files = [
            (p, p.relative_to(LIBRARY.parent).as_posix())
            for p in sorted(LIBRARY.rglob("*"))
            if p.is_file() and "__pycache__" not in p.parts
        ]
        for lesson in course.lessons():
            files += [
                (released / lesson / name, f"lessons/{lesson}/{name.as_posix()}")
                for name in sorted(release.lesson_files(released / lesson))
            ]
            files.append((released / lesson / f"{lesson}.ipynb", f"course_lib/releases/{lesson}.ipynb"))
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
            for path, name in files:
                zf.write(path, name)
            zf.write(root / "environment.yml", "environment.yml")
            if (root / glossary.GLOSSARY).is_file():  # the lessons link to it
                zf.write(root / glossary.GLOSSARY, glossary.GLOSSARY.as_posix())
            zf.writestr("requirements.txt", student_requirements((root / "requirements.txt").read_text()))
            zf.writestr("pyproject.toml", STUDENT_PYPROJECT.format(version=__version__))
            zf.writestr("README.md", STUDENT_README)
    problems = leaks(out)
    if problems:
        out.unlink()
        raise CourseError("The bundle would reveal instructor material; nothing written:\n  " + "\n  ".join(problems))
    return out
