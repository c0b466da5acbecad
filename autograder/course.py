"""Where things are in a course checkout: the root, the lessons, their notebooks."""

from __future__ import annotations

import os
import re
from pathlib import Path

from course_lib.errors import CourseError

LESSON_RE = re.compile(r"^\d\d-[a-z0-9-]+$")
HIDDEN_TESTS = "grading.py"  # beside each instructor notebook; never released


def root() -> Path:
    """The course root: ``COURSE_ROOT``, else the nearest folder up from here with solutions/."""
    if os.environ.get("COURSE_ROOT"):
        return Path(os.environ["COURSE_ROOT"]).resolve()
    for folder in [Path.cwd(), *Path.cwd().parents]:
        if (folder / "solutions").is_dir() and (folder / "nbgrader_config.py").is_file():
            return folder
    here = Path(__file__).resolve().parent.parent
    if (here / "solutions").is_dir():
        return here
    raise CourseError(
        "Not inside the course: run this from the course folder (the one with solutions/), or set COURSE_ROOT."
    )


def lessons() -> list[str]:
    """Every lesson in solutions/, in syllabus order."""
    return sorted(p.name for p in (root() / "solutions").iterdir() if p.is_dir() and LESSON_RE.match(p.name))


def resolve(names: list[str] | None) -> list[str]:
    """Expand lesson arguments: full names or their number prefix ('01'); none means all."""
    known = lessons()
    if not names:
        return known
    chosen = []
    for name in names:
        matches = [k for k in known if k == name or k.split("-", 1)[0] == name]
        if not matches:
            raise CourseError(f"Unknown lesson {name!r}; lessons are: {', '.join(known)}")
        chosen.extend(m for m in matches if m not in chosen)
    return chosen


def solution_notebook(lesson: str) -> Path:
    return root() / "solutions" / lesson / f"{lesson}.ipynb"


def released_notebook(lesson: str) -> Path:
    return root() / "lessons" / lesson / f"{lesson}.ipynb"


def hidden_tests(lesson: str) -> Path:
    return root() / "solutions" / lesson / HIDDEN_TESTS
