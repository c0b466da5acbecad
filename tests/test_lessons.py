"""Every lesson grades as it should: its solution full marks, its untouched release 0.

Lesson 01 also carries a partly right submission and a corrupt one, to show the
grader end to end on a real lesson.
"""
import json

import pytest

from autograder import course, grading, samples

LESSONS = course.lessons()
FIRST = "01-neural-network-basics"


@pytest.fixture(scope="module", params=LESSONS)
def graded(request, tmp_path_factory):
    lesson = request.param
    subs = tmp_path_factory.mktemp("subs")
    notebooks = {"alice": samples.answered(lesson, 1.0), "bob": samples.answered(lesson, 0.0)}
    if lesson == FIRST:
        notebooks["carol"] = samples.answered(lesson, 0.5)
    for student, nb in notebooks.items():
        samples.notebooks.write(nb, subs / student / f"{lesson}.ipynb")
    if lesson == FIRST:
        good = (subs / "alice" / f"{lesson}.ipynb").read_text()
        (subs / "zoe").mkdir()
        (subs / "zoe" / f"{lesson}.ipynb").write_text(good[: len(good) // 2])  # cut off mid-file
    results = grading.grade(lesson, subs, tmp_path_factory.mktemp("ws"), log=lambda m: None)
    return lesson, {r.student_id: r for r in results}


def _pending(result):
    return float(result.message.split()[0]) if "await manual grading" in result.message else 0.0


def test_solution_scores_full_marks(graded):
    lesson, results = graded
    alice = results["alice"]
    assert alice.status == "graded", alice.message
    assert alice.score == alice.max_score - _pending(alice) > 0, f"{lesson}: {alice}"


def test_untouched_release_scores_zero(graded):
    lesson, results = graded
    assert results["bob"].status == "graded" and results["bob"].score == 0, f"{lesson}: {results['bob']}"


@pytest.mark.parametrize("graded", [FIRST], indirect=True)
def test_partial_and_corrupt_submissions_on_lesson_01(graded):
    _, results = graded
    assert results["carol"].status == "graded" and 0 < results["carol"].score < results["alice"].score
    assert results["zoe"].status == "error" and "not valid JSON" in results["zoe"].message
    assert [r.status for r in results.values()].count("graded") == 3


@pytest.mark.parametrize("lesson", LESSONS)
def test_release_has_graded_exercises_and_no_answers(lesson):
    nb = json.loads(course.release(lesson).read_text())
    graded_cells = [c for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("grade")]
    assert graded_cells, f"{lesson} has no graded cells"
    text = json.dumps(nb)
    assert "BEGIN SOLUTION" not in text and "BEGIN HIDDEN TESTS" not in text
    first_code = next(c for c in nb["cells"] if c["cell_type"] == "code")
    assert "runtime.setup()" in "".join(first_code["source"]), "the first code cell must call runtime.setup()"
