"""Every lesson grades as it should: its solution full marks, its untouched release 0.

Each lesson's solution is graded for real (notebook in the sandbox, then hidden tests).
The untouched release is graded for real on lesson 01, with a partly right and a corrupt
submission beside it; for every lesson, the hidden tests also meet a student who wrote
nothing at all, without running the notebook again (CI's two cores cannot afford a
second run of every lesson).
"""

import json

import pytest

from autograder import course, grading, hidden, samples, student
from course_lib import kernel, selfcheck

LESSONS = course.lessons()
FIRST = "01-neural-network-basics"


@pytest.fixture(scope="module", params=LESSONS)
def graded(request, tmp_path_factory):
    lesson = request.param
    subs = tmp_path_factory.mktemp("subs")
    notebooks = {"alice": samples.answered(lesson, 1.0)}
    if lesson == FIRST:
        notebooks.update(bob=samples.answered(lesson, 0.0), carol=samples.answered(lesson, 0.5))
    for sid, nb in notebooks.items():
        samples.notebooks.write(nb, subs / sid / f"{lesson}.ipynb")
    if lesson == FIRST:
        good = (subs / "alice" / f"{lesson}.ipynb").read_text()
        (subs / "zoe").mkdir()
        (subs / "zoe" / f"{lesson}.ipynb").write_text(good[: len(good) // 2])  # cut off mid-file
    workspace = tmp_path_factory.mktemp("ws")
    # alice is the solution itself, so the canary (the solution graded first) would only repeat her.
    results = grading.grade(lesson, subs, workspace, grading.Settings(canary=False), log=lambda m: None)
    return lesson, {r.student_id: r for r in results}, subs, workspace


def test_solution_scores_full_marks(graded):
    lesson, results, *_ = graded
    alice = results["alice"]
    assert alice.status == "graded", alice.message
    assert alice.score == alice.max_score - alice.awaiting_manual > 0, f"{lesson}: {alice}"


class NothingWritten:
    """The student's process as an untouched release leaves it: every answer raises
    NotImplementedError; the grader's drivers still load."""

    def __init__(self):
        self.handles = 0

    def ask(self, request, timeout):
        if request["op"] == "define":
            self.handles += 1
            return student.Handle(self.handles)
        raise student.StudentError("NotImplementedError")


@pytest.mark.parametrize("lesson", LESSONS)
def test_hidden_tests_give_no_point_for_nothing_written(lesson):
    tests = hidden.load_source(course.hidden_tests(lesson).read_text(encoding="utf-8"))
    blank = {False: student.Student(NothingWritten()), True: student.Student(NothingWritten())}
    outcomes = hidden.run(tests, blank, run_seed=1, student_id="nobody")
    release = samples.notebooks.read(course.released_notebook(lesson))
    graded_ids = {
        c.metadata.nbgrader.grade_id
        for c in release.cells
        if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("grade")
    }
    assert set(outcomes) == graded_ids, f"{lesson}: every test cell has hidden tests"
    assert not [gid for gid, o in outcomes.items() if o.passed], f"{lesson}: points for nothing written"


@pytest.mark.parametrize("graded", [FIRST], indirect=True)
def test_untouched_release_scores_zero(graded):
    lesson, results, *_ = graded
    assert results["bob"].status == "graded" and results["bob"].score == 0, f"{lesson}: {results['bob']}"


def _stdout(cell) -> str:
    return "".join(
        o.get("text", "")
        for o in cell.get("outputs", [])
        if o.get("output_type") == "stream" and o.get("name") == "stdout"
    )


def test_solution_runs_clean_and_prints_its_checked_outputs(graded):
    """What nbval did, on the solution's graded run: no cell raises, and every cell marked
    NBVAL_CHECK_OUTPUT prints exactly what the solution notebook has stored."""
    lesson, results, _, workspace = graded
    executed = samples.notebooks.read(workspace / "autograded" / "alice" / lesson / f"{lesson}.ipynb")
    errors = [
        c.source.splitlines()[0]
        for c in executed.cells
        if c.cell_type == "code" and any(o.get("output_type") == "error" for o in c.get("outputs", []))
    ]
    assert not errors, f"{lesson}: cells raised: {errors}"
    ran = {c.source: c for c in executed.cells if c.cell_type == "code"}
    checked = [
        c
        for c in samples.notebooks.read(course.solution_notebook(lesson)).cells
        if c.cell_type == "code" and samples.notebooks.CHECK_MARK in c.source
    ]
    for cell in checked:
        assert cell.get("outputs"), f"{lesson}: a checked cell is stored without its output"
        assert _stdout(ran[cell.source]) == _stdout(cell), f"{lesson}: {cell.source.splitlines()[1]}"


@pytest.mark.parametrize("graded", [FIRST], indirect=True)
def test_partial_and_corrupt_submissions_on_lesson_01(graded):
    _, results, *_ = graded
    assert results["carol"].status == "graded" and 0 < results["carol"].score < results["alice"].score
    assert results["zoe"].status == "error" and "not valid JSON" in results["zoe"].message
    assert [r.status for r in results.values()].count("graded") == 3


@pytest.mark.parametrize("graded", [FIRST], indirect=True)
def test_course_check_tells_students_what_grading_then_reports(graded):
    """`course check` on a half-done lesson 01 (some answers written, some not; some visible
    tests passing, some failing): the same answers, the same tests passing as grading.
    (The browser test checks a whole lesson too; CI cannot afford more runs of it.)"""
    from nbgrader.api import Gradebook

    lesson, results, subs, workspace = graded
    report = selfcheck.check(str(subs / "carol" / f"{lesson}.ipynb"), subs, kernel.RunSettings())
    assert report.problem is None, report.problem
    assert report.structure.answered and report.structure.unanswered, "carol is half done"
    with Gradebook(f"sqlite:///{workspace / 'gradebook.db'}") as gb:
        answered = {
            c.name
            for nb in gb.find_submission(lesson, "carol").notebooks
            for c in nb.comments
            if c.auto_comment != "No response."
        }
    assert set(report.structure.answered) == answered
    assert {t.grade_id: t.passed for t in report.tests} == {
        gid: score == points for gid, (score, points) in results["carol"].tests.items()
    }
    assert {True, False} <= {t.passed for t in report.tests}


@pytest.mark.parametrize("lesson", LESSONS)
def test_release_has_graded_exercises_and_no_answers(lesson):
    nb = json.loads(course.released_notebook(lesson).read_text())
    graded_cells = [c for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("grade")]
    assert graded_cells, f"{lesson} has no graded cells"
    text = json.dumps(nb)
    assert "BEGIN SOLUTION" not in text and "BEGIN HIDDEN TESTS" not in text
    first_code = next(c for c in nb["cells"] if c["cell_type"] == "code")
    assert "runtime.setup()" in "".join(first_code["source"]), "the first code cell must call runtime.setup()"
