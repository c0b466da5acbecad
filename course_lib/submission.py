"""A student's notebook as grading sees it.

Grading never runs the notebook a student hands in. It runs the lesson's own cells
(text, demos, tests) with only the student's answer cells put in, so a test cannot be
edited away and a cell the student added is not run. `course check` and the grader
both build that notebook here, so a student can see beforehand what will be run.

Cells are told apart by their nbgrader metadata: an *answer* is a solution cell (code
or a written answer), a *test* is a graded code cell that is not an answer.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import nbformat


def meta(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


def grade_id(cell) -> str | None:
    return meta(cell).get("grade_id")


def is_answer(cell) -> bool:
    return bool(meta(cell).get("solution"))


def is_test(cell) -> bool:
    return cell.cell_type == "code" and bool(meta(cell).get("grade")) and not is_answer(cell)


def is_written(cell) -> bool:
    return cell.cell_type == "markdown" and is_answer(cell)


def answers(submitted: nbformat.NotebookNode) -> dict[str, nbformat.NotebookNode]:
    """The student's answer cells by grade id (the first one where a cell was duplicated)."""
    found = {}
    for cell in submitted.cells:
        gid = grade_id(cell)
        if gid and is_answer(cell) and gid not in found:
            found[gid] = cell
    return found


def fill(template: nbformat.NotebookNode, submitted: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The template's cells with the student's answers in place and every output cleared.

    An answer cell keeps the template's metadata (and so its checksum); only its source
    comes from the student, and only when the cell types agree.
    """
    given = answers(submitted)
    nb = copy.deepcopy(template)
    for cell in nb.cells:
        student = given.get(grade_id(cell)) if is_answer(cell) else None
        if student is not None and student.cell_type == cell.cell_type:
            cell.source = student.source
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        cell.metadata.pop("execution", None)
    return nb


def answers_tested_by(nb: nbformat.NotebookNode) -> dict[str, list[nbformat.NotebookNode]]:
    """For each test cell, the code answer cells it tests: those since the previous test cell."""
    found, since = {}, []
    for cell in nb.cells:
        if is_answer(cell) and cell.cell_type == "code":
            since.append(cell)
        elif is_test(cell):
            found[grade_id(cell)] = since
            since = []
    return found


def first_line(source: str, width: int = 60) -> str:
    line = next((ln.strip() for ln in source.splitlines() if ln.strip()), "")
    return line if len(line) <= width else line[: width - 3] + "..."


@dataclass
class Structure:
    """How a submission differs from the lesson as released."""

    answered: list[str] = field(default_factory=list)  # answer cells the student changed
    unanswered: list[str] = field(default_factory=list)  # answer cells still as released
    missing: list[str] = field(default_factory=list)  # answer or test cells deleted (restored)
    not_run: list[str] = field(default_factory=list)  # first lines of cells added or changed outside answers
    edited_tests: list[str] = field(default_factory=list)  # test cells whose code was changed
    duplicated: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)  # graded cells the lesson does not have
    reordered: bool = False


def compare(release: nbformat.NotebookNode, submitted: nbformat.NotebookNode) -> Structure:
    """Compare a submission with the lesson's release (the notebook students were given)."""
    found = Structure()
    graded = {grade_id(c): c for c in release.cells if grade_id(c)}
    order = [grade_id(c) for c in release.cells if grade_id(c)]
    given = answers(submitted)
    for gid, cell in graded.items():
        if is_answer(cell):
            student = given.get(gid)
            changed = student is not None and student.cell_type == cell.cell_type and student.source != cell.source
            (found.answered if changed else found.unanswered).append(gid)
    sub_ids = [grade_id(c) for c in submitted.cells if grade_id(c)]
    found.missing = [g for g in order if g not in sub_ids]
    found.foreign = sorted({g for g in sub_ids if g not in graded})
    found.duplicated = sorted({g for g in sub_ids if sub_ids.count(g) > 1})
    kept = [g for g in sub_ids if g in graded]
    found.reordered = kept != [g for g in order if g in kept]
    for cell in submitted.cells:
        gid = grade_id(cell)
        if gid in graded and meta(graded[gid]).get("locked") and cell.source != graded[gid].source:
            if gid not in found.edited_tests:
                found.edited_tests.append(gid)
    # A cell without a grade id runs only if the lesson has the very same cell.
    released = {c.source.strip() for c in release.cells if not grade_id(c)}
    found.not_run = [
        first_line(c.source) or "(empty)"
        for c in submitted.cells
        if not grade_id(c) and c.source.strip() and c.source.strip() not in released
    ]
    return found


@dataclass
class TestResult:
    grade_id: str
    answer: str | None  # the answer cell the test follows
    passed: bool | None  # None: the test never ran (the notebook stopped before it)
    message: str = ""  # why it failed, as the test said it


def _error_message(cell) -> str | None:
    for out in cell.get("outputs", []):
        if out.get("output_type") == "error":
            return f"{out.get('ename', 'Error')}: {out.get('evalue', '')}".strip()
    return None


def test_results(executed: nbformat.NotebookNode, stopped_at: int | None = None) -> list[TestResult]:
    """Pass or fail of every test cell in an executed notebook, in order.

    ``stopped_at`` is the cell that was running when the run was stopped: it and the
    cells after it did not run.
    """
    results, answer = [], None
    for index, cell in enumerate(executed.cells):
        if is_answer(cell) and cell.cell_type == "code":
            answer = grade_id(cell)
        if not is_test(cell):
            continue
        if stopped_at is not None and index >= stopped_at:
            results.append(TestResult(grade_id(cell), answer, None, "did not run: the notebook was stopped before it"))
            continue
        error = _error_message(cell)
        results.append(TestResult(grade_id(cell), answer, error is None, error or ""))
    return results
