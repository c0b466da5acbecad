"""Sample submissions for the demo and the tests: full marks, untouched, partly right."""

from __future__ import annotations

import copy
from pathlib import Path

from autograder import course, notebooks

MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION")
SAMPLE_STUDENTS = {"alice": "full", "bob": "untouched", "carol": "partial"}


def _answer(source: str) -> str:
    """The solution cell as a student who got it right would hand it in (no markers)."""
    return "\n".join(line for line in source.splitlines() if line.strip() not in MARKERS)


def answered(lesson: str, fraction: float = 1.0, release=None):
    """The release notebook (lessons/'s, or a copy of `release`) with the first `fraction`
    of its code answers filled in. Written answers are filled in whenever fraction > 0.
    """
    release = notebooks.read(course.released_notebook(lesson)) if release is None else copy.deepcopy(release)
    solution = notebooks.read(course.solution_notebook(lesson))
    answers = {
        c.metadata["nbgrader"]["grade_id"]: c.source
        for c in solution.cells
        if c.metadata.get("nbgrader", {}).get("solution")
    }
    code_ids = [
        c.metadata["nbgrader"]["grade_id"]
        for c in release.cells
        if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("solution")
    ]
    keep = set(code_ids[: round(len(code_ids) * fraction)])
    for cell in release.cells:
        meta = cell.metadata.get("nbgrader", {})
        if not meta.get("solution"):
            continue
        if cell.cell_type == "markdown" and fraction > 0 or meta["grade_id"] in keep:
            cell.source = _answer(answers[meta["grade_id"]])
    return release


def write_samples(lesson: str, out_dir: Path, release=None) -> Path:
    """Write STUDENT/LESSON.ipynb for the three sample students; return out_dir."""
    fractions = {"full": 1.0, "untouched": 0.0, "partial": 0.5}
    for student, kind in SAMPLE_STUDENTS.items():
        notebooks.write(answered(lesson, fractions[kind], release), out_dir / student / f"{lesson}.ipynb")
    return out_dir
