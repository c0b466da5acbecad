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

Before you hand a lesson in, save it and run

```bash
.venv/bin/course check 01
```

It runs your notebook the way grading will (smoke mode, the grader's limits and, on
Linux with bubblewrap, its sandbox) and tells you which exercises are answered, which
visible tests pass, which of your cells grading will not run, and whether your latest
work is saved. Hidden tests are not in this bundle; they decide the points.
"""

# Pins that only instructors need (testing and grading at scale).
INSTRUCTOR_ONLY = ("nbval", "pytest", "dask", "distributed")


def student_requirements(text: str) -> str:
    """requirements.txt without the instructor-only pins."""
    kept = [line for line in text.splitlines()
            if line.split("==")[0].strip().lower() not in INSTRUCTOR_ONLY]
    return "\n".join(kept) + "\n"


def _secrets() -> list[str]:
    """Lines of solution code and hidden tests in solutions/ that appear nowhere else in them.

    A line that also stands, whole or within a longer line, in a public part of the
    notebook (prose, a visible test, a demo) gives nothing away, so it is not a secret.
    """
    hidden, public = set(), set()
    for lesson in course.lessons():
        tests = course.hidden_tests(lesson)
        if tests.is_file():
            hidden |= {line.strip() for line in tests.read_text(encoding="utf-8").splitlines()
                       if len(line.strip()) > 24}
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


def build(out: Path) -> Path:
    """Write the student bundle; refuse (and delete it) if anything instructor-only leaked in."""
    from course_lib import __version__

    root = course.root()
    out = out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    files = [p for folder in ("lessons", "course_lib") for p in sorted((root / folder).rglob("*"))
             if p.is_file() and "__pycache__" not in p.parts and ".ipynb_checkpoints" not in p.parts]
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in files:
            zf.write(path, path.relative_to(root).as_posix())
        for lesson in course.lessons():
            zf.write(course.release(lesson), f"course_lib/releases/{lesson}.ipynb")
        zf.write(root / "environment.yml", "environment.yml")
        zf.writestr("requirements.txt", student_requirements((root / "requirements.txt").read_text()))
        zf.writestr("pyproject.toml", STUDENT_PYPROJECT.format(version=__version__))
        zf.writestr("README.md", STUDENT_README)
    problems = leaks(out)
    if problems:
        out.unlink()
        raise SystemExit("The bundle would reveal instructor material; nothing written:\n  " + "\n  ".join(problems))
    return out
