import sys

import numpy as np
import pytest

from course_lib import checks


def test_check_close_names_the_first_wrong_value():
    with pytest.raises(checks.CheckFailed) as err:
        checks.check_close([1.0, 2.5, 3.0], [1.0, 2.0, 3.0], name="relu(x)", hint="look at x > 0")
    text = str(err.value)
    assert "relu(x) is wrong at index (1,)" in text and "expected 2" in text and "got 2.5" in text
    assert "Hint: look at x > 0" in text


def test_check_close_reports_shape_and_none_and_nan():
    with pytest.raises(checks.CheckFailed, match=r"has shape \(2,\), expected \(3,\)"):
        checks.check_close([1, 2], [1, 2, 3])
    with pytest.raises(checks.CheckFailed, match="forget a `return`"):
        checks.check_close(None, [1])
    with pytest.raises(checks.CheckFailed, match="NaN"):
        checks.check_close([np.nan], [1.0])


def test_passing_checks_are_silent_and_passed_prints(capsys):
    checks.check_close(np.float32([0.1, 0.2]), [0.1, 0.2])
    checks.check_shape(np.zeros((2, 3)), (2, 3))
    checks.check_equal("a", "a")
    checks.check_true(True, "never shown")
    checks.passed("Exercise 1")
    assert "Exercise 1 passed" in capsys.readouterr().out


def test_call_turns_the_release_placeholder_into_advice():
    def relu(x):
        raise NotImplementedError()

    with pytest.raises(checks.CheckFailed, match="`relu` is not written yet"):
        checks.call(relu, 1)
    assert checks.call(abs, -2) == 2


def test_check_failures_count_as_failed_tests():
    assert issubclass(checks.CheckFailed, AssertionError)


def test_check_no_framework_catches_calls_however_imported():
    import keras
    import scipy.signal

    from course_lib.checks import CheckFailed, check_no_framework

    def numpy_only(x):
        return np.maximum(x, 0)

    relu = keras.ops.relu  # renamed, so a search of the source would miss it

    def sneaky(x):
        return np.asarray(relu(x))

    x = np.array([-1.0, 2.0])
    assert check_no_framework(numpy_only, x).tolist() == [0.0, 2.0]
    with pytest.raises(CheckFailed, match="keras"):
        check_no_framework(sneaky, x)
    with pytest.raises(CheckFailed, match="scipy"):
        check_no_framework(lambda a: scipy.signal.correlate(a, a), x)
    assert sys.getprofile() is None  # the profiler is always taken off again


def test_check_no_framework_knows_opencv_functions_without_a_module():
    import cv2

    from course_lib.checks import CheckFailed, check_no_framework

    hist = cv2.calcHist  # OpenCV's C functions carry no __module__
    image = np.zeros((4, 4, 3), np.uint8)
    with pytest.raises(CheckFailed, match="cv2"):
        check_no_framework(lambda im: hist([im], [0], None, [4], [0, 256]), image, forbidden=("cv2",))
    assert check_no_framework(
        lambda im: np.bincount(im[..., 0].ravel(), minlength=4), image, forbidden=("cv2",)
    ).tolist() == [16, 0, 0, 0]


def test_a_failed_check_shows_its_message_first_and_no_traceback_through_the_helpers():
    """In Jupyter (IPython), the student reads the message, then the test line, in a few lines."""
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output

    shell = InteractiveShell.instance()
    with capture_output() as shown:
        result = shell.run_cell(
            "from course_lib import checks\n"
            "def double(x):\n    raise NotImplementedError()\n"
            "checks.check_equal(checks.call(double, 2), 4, 'double(2)')\n"
        )
    assert isinstance(result.error_in_exec, checks.CheckFailed), "it must still fail the cell"
    lines = [line for line in shown.stdout.splitlines() if line.strip()]
    assert "`double` is not written yet." in lines[0]
    assert lines[1].startswith("Hint: replace `raise NotImplementedError()`")
    assert "checks.check_equal(checks.call(double, 2), 4, 'double(2)')" in lines[2]
    assert len(lines) == 3 and "checks.py" not in shown.stdout and "During handling" not in shown.stdout
