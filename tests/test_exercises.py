"""Exercises that could be passed without the idea they teach, and are not any more.

Each case grades one answer as the grader would (the lesson's setup cells, the answer,
its test cell, then the lesson's hidden tests) with a shortcut that used to earn the
points. That the solution's answers still earn them all is test_lessons.py's job.
"""

import nbformat
import pytest

from autograder import course, grading, hidden, notebooks, worker
from autograder.job import Job
from course_lib import submission


def graded(lesson: str, answer_id: str, source: str, setup_cells: int = 2) -> hidden.Verdict:
    """The hidden tests' verdicts on a notebook of the lesson's first code cells (setup and
    imports), the answer cell holding `source`, and its test cell."""
    release = notebooks.read(course.released_notebook(lesson))
    code = [c for c in release.cells if c.cell_type == "code"][:setup_cells]
    at = next(i for i, c in enumerate(release.cells) if submission.grade_id(c) == answer_id)
    answer = release.cells[at]
    answer.source = source
    test = next(c for c in release.cells[at + 1 :] if submission.is_test(c))
    nb = nbformat.v4.new_notebook(cells=[*code, answer, test], metadata=release.metadata)
    tests = course.hidden_tests(lesson).read_text(encoding="utf-8")
    job = Job(nb, grading.Settings().run_settings(1), tests, seed=7, student="someone")
    return worker.execute(job).verdicts[submission.grade_id(test)]


HOW_MANY_FILTERS_PRINTED = """\
def conv_layer_size(in_channels, out_channels, kernel_size):
    return 128, (3, 3, 32), 36992       # the answer for the one layer printed above
"""

RAW_PIXEL_SVM = """\
def fit_hog_svm(images, labels):
    flat = FunctionTransformer(lambda batch: np.asarray(batch).reshape(len(batch), -1) / 255.0)
    return make_pipeline(flat, SVC(kernel="rbf", C=10)).fit(images, labels)   # 0.94 on digits
"""

# (lesson, answer, shortcut, what the hidden tests say about it)
CASES = [
    ("08-cnn-fundamentals", "how_many_filters", HOW_MANY_FILTERS_PRINTED, "number of filters: 128 is wrong"),
    ("12-traditional-vision", "fit_hog_svm", RAW_PIXEL_SVM, "in other light"),
]


@pytest.mark.parametrize("lesson, answer_id, shortcut, verdict", CASES, ids=[c[1] for c in CASES])
def test_a_shortcut_that_used_to_pass_earns_nothing(lesson, answer_id, shortcut, verdict):
    cheat = graded(lesson, answer_id, shortcut)
    assert cheat.passed is False, cheat
    assert any(verdict in m for m in cheat.messages), cheat.messages


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
        ((seed, first),) = student.runs
        assert (seed, first) != (0, 0) and first >= 1000, "the notebook's own try is seed 0 on the first 1,000"
        seen.add(seed)
    assert len(seen) == 3, "each student's run has its own seed"


# Residual blocks as students might write them, the specified one first. Each runs here
# through the grader's own driver and is judged by lesson 09's hidden tests.
RESIDUAL_BLOCKS = """
import keras


def conv(filters, size, stride=1):
    return keras.layers.Conv2D(filters, size, strides=stride, padding="same", use_bias=False)


def bn_relu(x):
    return keras.layers.Activation("relu")(keras.layers.BatchNormalization()(x))


def main_path(x, filters, stride):
    return keras.layers.BatchNormalization()(conv(filters, 3)(bn_relu(conv(filters, 3, stride)(x))))


def projection(x, filters, stride):
    if stride == 1 and x.shape[-1] == filters:
        return x
    return keras.layers.BatchNormalization()(conv(filters, 1, stride)(x))


def specified(x, filters, stride=1):
    return keras.layers.ReLU()(keras.layers.Add()([main_path(x, filters, stride), projection(x, filters, stride)]))


def shortcut_first(x, filters, stride=1):
    skip = projection(x, filters, stride)      # the same block, its layers made in another order
    return keras.layers.Activation("relu")(keras.layers.Add()([skip, main_path(x, filters, stride)]))


def no_shortcut(x, filters, stride=1):
    return keras.layers.Activation("relu")(main_path(x, filters, stride))


def projection_without_bn(x, filters, stride=1):
    skip = x if stride == 1 and x.shape[-1] == filters else conv(filters, 1, stride)(x)
    return keras.layers.ReLU()(keras.layers.Add()([main_path(x, filters, stride), skip]))


def relu_before_bn(x, filters, stride=1):
    y = conv(filters, 3)(keras.layers.BatchNormalization()(keras.layers.ReLU()(conv(filters, 3, stride)(x))))
    y = keras.layers.BatchNormalization()(y)
    return keras.layers.ReLU()(keras.layers.Add()([y, projection(x, filters, stride)]))


def no_final_relu(x, filters, stride=1):
    return keras.layers.Add()([main_path(x, filters, stride), projection(x, filters, stride)])


def stride_in_the_second_conv(x, filters, stride=1):
    y = keras.layers.BatchNormalization()(conv(filters, 3, stride)(bn_relu(conv(filters, 3)(x))))
    return keras.layers.ReLU()(keras.layers.Add()([y, projection(x, filters, stride)]))
"""


class LocalStudent:
    """A student's process stood in for here: runs the grader's driver on a block defined
    above and sends the model back as the channel would."""

    def __init__(self, block):
        self.block = block

    def run(self, driver, ref, *args, **kwargs):
        from course_lib import exchange

        return exchange._as_model(driver(self.block, *args, **kwargs))


@pytest.mark.parametrize(
    "name, passes",
    [
        ("specified", True),
        ("shortcut_first", True),
        ("no_shortcut", False),
        ("projection_without_bn", False),
        ("relu_before_bn", False),
        ("no_final_relu", False),
        ("stride_in_the_second_conv", False),
    ],
)
def test_residual_block_hidden_tests_tell_the_block_from_near_misses(name, passes):
    blocks = {}
    exec(RESIDUAL_BLOCKS, blocks)
    tests = [
        t
        for t in hidden.load_source(course.hidden_tests("09-cnn-image-classifiers").read_text(encoding="utf-8"))
        if t.spec.grade_id == "test_residual_block"
    ]
    assert len(tests) == 2
    outcome = hidden.run(tests, {False: LocalStudent(blocks[name])}, run_seed=3, student_id=name)["test_residual_block"]
    assert outcome.passed is passes, outcome.messages
