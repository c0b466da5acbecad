"""Hidden tests: written by the instructor, run by the grader, never in a student's process.

A lesson's hidden tests live in ``solutions/NN-topic/grading.py``, beside the instructor
notebook; the student bundle never contains them. Each is a function that receives the
student (`autograder.student.Student`) and a random generator seeded fresh for every
grading run, asks the student's process for data, and judges it here::

    from autograder.hidden import test, close

    @test("test_activations", numpy_only=True)
    def relu_on_new_inputs(student, rng):
        x = rng.normal(size=(4, 7))
        close(student.call("relu", x), np.maximum(x, 0), "relu on a random 4 x 7 array")

``test(grade_id)`` names the notebook's test cell whose points the function decides
(several functions may share one; all must pass). ``numpy_only=True`` sends the calls
to the NumPy-only process, where the student's answers run without any other library.
A failed expectation raises `Failed` with a message written here; that message is the
only thing a student sees of a hidden test.
"""

from __future__ import annotations

import linecache
import math
import time
import types
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from autograder.student import CallTimeout, ChannelError, Handle, ModelData, StudentError, Unavailable
from course_lib import submission


class Failed(AssertionError):
    """A hidden test's verdict: what was expected, in the grader's words."""


@dataclass(frozen=True)
class Spec:
    grade_id: str
    numpy_only: bool = False
    seconds: float = 120  # time allowed for each request this test makes


@dataclass
class HiddenTest:
    spec: Spec
    fn: Callable


def test(grade_id: str, *, numpy_only: bool = False, seconds: float = 120):
    """Declare a hidden test deciding the points of the notebook's test cell ``grade_id``."""

    def mark(fn):
        fn.__hidden_test__ = Spec(grade_id, numpy_only, seconds)
        return fn

    return mark


def driver(fn):
    """Mark a function that runs in the student's process (see `Student.run`); it returns data."""
    fn.__driver__ = True
    return fn


@driver
def call_keeping_arguments(fn, *args, **kwargs):
    """Call fn; return what it returned and its positional arguments as they are after the call."""
    result = fn(*args, **kwargs)
    return {"result": result, "arguments": list(args)}


def _same(before, after) -> bool:
    if isinstance(before, np.ndarray):
        return isinstance(after, np.ndarray) and after.shape == before.shape and bool(np.array_equal(after, before))
    if isinstance(before, (list, tuple)):
        return isinstance(after, (list, tuple)) and len(after) == len(before) and all(map(_same, before, after))
    return after == before


def unchanged_call(student, name: str, *args, **kwargs):
    """The student's ``name(*args, **kwargs)``, failing if the call changed one of its arguments.

    (Arguments cross the channel as copies, so a plain `Student.call` cannot see a change.)
    """
    from autograder.student import Ref

    reply = student.run(call_keeping_arguments, Ref(name), *args, **kwargs)
    true(
        isinstance(reply, dict) and "result" in reply and isinstance(reply.get("arguments"), list),
        f"`{name}` could not be called",
    )
    true(
        len(reply["arguments"]) == len(args) and all(map(_same, args, reply["arguments"])),
        f"`{name}` must not modify its arguments",
    )
    return reply["result"]


def load_source(source: str, name: str = "grading.py") -> list[HiddenTest]:
    """The hidden tests of a lesson's grading.py (its text), in the order they are written.

    The text travels in the grading job, so a worker on another machine needs no copy
    of the course's solutions.
    """
    filename = f"<hidden tests {name}>"
    # inspect.getsource (drivers are sent by their source) reads through linecache.
    linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
    module = types.ModuleType(f"hidden_tests_{zlib.crc32(source.encode())}")
    module.__file__ = filename
    exec(compile(source, filename, "exec"), module.__dict__)
    found = [
        HiddenTest(fn.__hidden_test__, fn)
        for fn in vars(module).values()
        if callable(fn) and hasattr(fn, "__hidden_test__")
    ]
    return sorted(found, key=lambda t: t.fn.__code__.co_firstlineno)


def load(path: Path) -> list[HiddenTest]:
    return load_source(Path(path).read_text(encoding="utf-8"), Path(path).name)


def numpy_answers(nb, tests: list[HiddenTest]) -> list[str]:
    """The sources of the answers that NumPy-only tests test, in notebook order."""
    wanted = {t.spec.grade_id for t in tests if t.spec.numpy_only}
    sources = []
    for gid, cells in submission.answers_tested_by(nb).items():
        if gid in wanted:
            sources += [c.source for c in cells]
    return sources


# ---------------------------------------------------------------------- expectations


def _describe(value) -> str:
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape}"
    if isinstance(value, Handle):
        return "an object (not data)"
    if isinstance(value, ModelData):
        return "a Keras model"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def array(value, what: str, dtype=float) -> np.ndarray:
    """A reply as an array of numbers, or Failed saying what came back instead."""
    if value is None:
        raise Failed(f"{what}: None came back (a missing `return`?)")
    if isinstance(value, (Handle, ModelData, str)) or (isinstance(value, dict)):
        raise Failed(f"{what}: expected numbers, got {_describe(value)}")
    try:
        return np.asarray(value, dtype=dtype)
    except (TypeError, ValueError):
        raise Failed(f"{what}: expected numbers, got {_describe(value)}") from None


# Messages say what was wrong with what came back, never what was expected: expected
# values and thresholds stay in the grader (the visible tests show worked examples).


def close(got, expected, what: str, *, rtol: float = 1e-5, atol: float = 1e-6) -> None:
    """Numbers equal within tolerance, same shape; NaN only where NaN is expected."""
    got_a = array(got, what)
    exp_a = np.asarray(expected, dtype=float)
    if got_a.shape != exp_a.shape:
        raise Failed(f"{what}: wrong shape (got {got_a.shape})")
    bad = ~np.isclose(got_a, exp_a, rtol=rtol, atol=atol, equal_nan=True)
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        where = f" first at index {idx}" if idx else ""
        raise Failed(
            f"{what}: wrong{where} (got {got_a[idx]:.6g}; {int(bad.sum())} of {bad.size} values "
            f"differ beyond rtol={rtol:g}, atol={atol:g})"
        )


def equal(got, expected, what: str) -> None:
    """Exactly the expected plain value (same type: True is not 1, 1.0 is not 1)."""
    if type(got) is not type(expected) and not (isinstance(expected, float) and type(got) is int):
        raise Failed(f"{what}: expected a {type(expected).__name__}, got {_describe(got)}")
    if got != expected:
        raise Failed(f"{what}: wrong (got {_describe(got)})")


def integer(got, what: str) -> int:
    """A reply that must be a whole number (an int, or a float with no fraction)."""
    if type(got) is bool or not isinstance(got, (int, float)) or (isinstance(got, float) and not got.is_integer()):
        raise Failed(f"{what}: expected a whole number, got {_describe(got)}")
    return int(got)


def number(got, what: str) -> float:
    if type(got) is bool or not isinstance(got, (int, float)) or not math.isfinite(got):
        raise Failed(f"{what}: expected a finite number, got {_describe(got)}")
    return float(got)


def true(condition: bool, message: str) -> None:
    if not condition:
        raise Failed(message)


def raises(kind: str, call: Callable, what: str) -> None:
    """The student's code, called by ``call()``, raises an exception of type ``kind``."""
    try:
        call()
    except StudentError as exc:
        if str(exc) != kind:
            raise Failed(f"{what}: raised {exc}, expected {kind}") from None
        return
    raise Failed(f"{what}: should raise {kind}")


def shape(got, expected: tuple, what: str) -> np.ndarray:
    got_a = array(got, what)
    if got_a.shape != tuple(expected):
        raise Failed(f"{what}: wrong shape (got {got_a.shape})")
    return got_a


# --------------------------------------------------------------------------- running


@dataclass
class Verdict:
    """The hidden tests' verdict on one test cell: its points are all or nothing."""

    passed: bool = True
    messages: list[str] = field(default_factory=list)


def _why(exc: BaseException, numpy_only: bool, problems: list[str]) -> str:
    """The grader's words for why a hidden test did not pass."""
    if isinstance(exc, Failed):
        return str(exc)
    if isinstance(exc, StudentError):
        kind = str(exc)
        if kind == "NotImplementedError":
            return "not written yet (it raises NotImplementedError)"
        if kind == "NotDefined":
            if numpy_only and problems:
                return (
                    "a NumPy-only answer cell could not run on its own (" + ", ".join(problems[:3]) + "): "
                    "it may use only NumPy (np), math and what earlier NumPy-only answers define"
                )
            return "a function or name the test needs is not defined once the notebook has run"
        if kind in ("NameError",) and numpy_only:
            return (
                "raised NameError: a NumPy-only answer runs on its own, so it may use only what its answer "
                "cells define, NumPy (np) and math"
            )
        if kind in ("ModuleNotFoundError", "ImportError") and numpy_only:
            return "imports a library other than NumPy, which a NumPy-only exercise cannot use"
        return f"raised {kind} on the hidden test's inputs"
    if isinstance(exc, CallTimeout):
        return f"took too long ({exc})"
    if isinstance(exc, Unavailable):
        return f"could not be tested: {exc}"
    if isinstance(exc, ChannelError):
        return f"returned something the grader cannot take as an answer ({exc})"
    return f"the result could not be checked ({type(exc).__name__})"


def seed_for(run_seed: int, student_id: str, grade_id: str) -> np.random.Generator:
    """The generator for one test of one student in one grading run."""
    return np.random.default_rng([run_seed, zlib.crc32(student_id.encode()), zlib.crc32(grade_id.encode())])


BUDGET_SECONDS = 900  # for all of a student's hidden tests together


def run(
    tests: list[HiddenTest],
    students: dict[bool, object],
    run_seed: int,
    student_id: str,
    budget: float = BUDGET_SECONDS,
    problems: list[str] | None = None,
) -> dict[str, Verdict]:
    """Run every hidden test; return {grade_id: Verdict}. ``students`` maps numpy_only to a Student;
    ``problems`` are the exception types of NumPy-only answer cells that could not run."""
    verdicts: dict[str, Verdict] = {}
    deadline = time.monotonic() + budget
    for t in tests:
        verdict = verdicts.setdefault(t.spec.grade_id, Verdict())
        student = students.get(t.spec.numpy_only)
        rng = seed_for(run_seed, student_id, t.spec.grade_id + ":" + t.fn.__name__)
        try:
            if student is None:
                raise Unavailable("the student's process did not start")
            if time.monotonic() > deadline:
                raise Unavailable(f"the {budget:g} s allowed for all hidden tests ran out before this one")
            student.timeout = min(t.spec.seconds, max(1.0, deadline - time.monotonic()))
            t.fn(student, rng)
        except Exception as exc:  # every failure of a test is that test's, and only that student's
            verdict.passed = False
            verdict.messages.append(_why(exc, t.spec.numpy_only, problems or []))
    return verdicts
