"""Exercises that could be passed without the idea they teach, and are not any more.

Each case grades one answer as the grader would (the lesson's setup cells, the answer,
its test cell, then the lesson's hidden tests) with a shortcut that used to earn the
points. That the solution's answers still earn them all is test_lessons.py's job.
"""
import nbformat
import pytest

from autograder import course, grading, hidden, notebooks, worker
from course_lib import submission


def graded(lesson: str, answer_id: str, source: str, setup_cells: int = 2) -> dict:
    """The hidden tests' verdicts on a notebook of the lesson's first code cells (setup and
    imports), the answer cell holding `source`, and its test cell."""
    release = notebooks.read(course.release(lesson))
    code = [c for c in release.cells if c.cell_type == "code"][:setup_cells]
    at = next(i for i, c in enumerate(release.cells) if submission.grade_id(c) == answer_id)
    answer = release.cells[at]
    answer.source = source
    test = next(c for c in release.cells[at + 1:] if submission.is_test(c))
    nb = nbformat.v4.new_notebook(cells=[*code, answer, test], metadata=release.metadata)
    job = {"notebook": nb, "settings": grading.Settings().run_settings(1).as_dict(),
           "tests": course.hidden_tests(lesson).read_text(encoding="utf-8"), "seed": 7, "student": "someone"}
    return worker.execute(job)["hidden"][submission.grade_id(test)]


HOW_MANY_FILTERS_PRINTED = '''\
def conv_layer_size(in_channels, out_channels, kernel_size):
    return 128, (3, 3, 32), 36992       # the answer for the one layer printed above
'''

RAW_PIXEL_SVM = '''\
def fit_hog_svm(images, labels):
    flat = FunctionTransformer(lambda batch: np.asarray(batch).reshape(len(batch), -1) / 255.0)
    return make_pipeline(flat, SVC(kernel="rbf", C=10)).fit(images, labels)   # 0.94 on digits
'''

# (lesson, answer, shortcut, what the hidden tests say about it)
CASES = [
    ("08-cnn-fundamentals", "how_many_filters", HOW_MANY_FILTERS_PRINTED, "number of filters: 128 is wrong"),
    ("12-traditional-vision", "fit_hog_svm", RAW_PIXEL_SVM, "in other light"),
]


@pytest.mark.parametrize("lesson, answer_id, shortcut, verdict", CASES, ids=[c[1] for c in CASES])
def test_a_shortcut_that_used_to_pass_earns_nothing(lesson, answer_id, shortcut, verdict):
    cheat = graded(lesson, answer_id, shortcut)
    assert cheat["passed"] is False, cheat
    assert any(verdict in m for m in cheat["messages"]), cheat["messages"]


class RecordingStudent:
    """Stands in for a student's process: remembers what a hidden test asks it to run."""

    def __init__(self, reply):
        self.reply, self.runs = reply, []

    def run(self, driver, *args, **kwargs):
        self.runs.append(args[1:])
        return self.reply


def test_the_regularized_mlp_is_trained_on_a_run_the_student_has_not_seen():
    tests = hidden.load_source(course.hidden_tests("06-regularization-and-training-craft").read_text(encoding="utf-8"))
    gap = next(t for t in tests if t.fn.__name__ == "regularized_model_closes_the_gap")
    seen = set()
    for student_id in ("ann", "ben", "cho"):
        student = RecordingStudent((0.85, 0.79))
        gap.fn(student, hidden.seed_for(1, student_id, gap.spec.grade_id))
        (seed, first), = student.runs
        assert (seed, first) != (0, 0) and first >= 1000, "the notebook's own try is seed 0 on the first 1,000"
        seen.add(seed)
    assert len(seen) == 3, "each student's run has its own seed"
