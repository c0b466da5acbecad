"""Helpers for the visible tests in lessons: failures a student can act on.

Every check raises `CheckFailed` (an AssertionError, so nbgrader counts it as a
failed test) with what was expected, what came back, and a hint when one helps.
"""

from __future__ import annotations

import sys
import traceback
from pathlib import Path
from typing import Any, Callable

import numpy as np


class CheckFailed(AssertionError):
    def _render_traceback_(self) -> list[str]:
        """What Jupyter shows for a failed check (IPython asks every exception for this):
        the message first, then only the line of the test that failed, not a traceback
        through this module. It is still an error output, so the test still fails."""
        lines = [
            f"\x1b[0;31mCheckFailed\x1b[0m: {line}" if i == 0 else line for i, line in enumerate(str(self).splitlines())
        ]
        mine = Path(__file__).name
        frames = [f for f in traceback.extract_tb(self.__traceback__) if Path(f.filename).name != mine]
        if frames and frames[-1].line:
            lines.append(f"(from line {frames[-1].lineno} of the cell: {frames[-1].line.strip()})")
        return lines


def _fail(message: str, hint: str | None) -> None:
    raise CheckFailed(message + (f"\nHint: {hint}" if hint else ""))


def call(fn: Callable, *args, **kwargs) -> Any:
    """Call a student's function, turning the release's placeholder into a plain message."""
    name = getattr(fn, "__name__", "this function")
    try:
        return fn(*args, **kwargs)
    except NotImplementedError:
        pass
    _fail(
        f"`{name}` is not written yet.",
        "replace `raise NotImplementedError()` with your code, then run its cell again.",
    )


def as_array(value: Any, name: str = "your result") -> np.ndarray:
    """Convert a result (NumPy array, list, backend tensor) to a NumPy array, or explain why not."""
    if value is None:
        _fail(f"{name} is None.", "did you forget a `return` statement?")
    keras = sys.modules.get("keras")  # not imported here: NumPy-only answers are checked where Keras is absent
    if keras is not None and keras.ops.is_tensor(value):
        value = keras.ops.convert_to_numpy(value)  # np.asarray refuses a PyTorch tensor that requires grad
    try:
        return np.asarray(value, dtype=float)
    except (TypeError, ValueError) as exc:
        _fail(f"{name} could not be read as an array of numbers ({exc}).", None)


def check_shape(got: Any, expected_shape: tuple, name: str = "your result", hint: str | None = None) -> None:
    shape = tuple(as_array(got, name).shape)
    if shape != tuple(expected_shape):
        _fail(f"{name} has shape {shape}, expected {tuple(expected_shape)}.", hint)


def check_close(
    got: Any,
    expected: Any,
    name: str = "your result",
    *,
    rtol: float = 1e-5,
    atol: float = 1e-6,
    hint: str | None = None,
) -> None:
    """Values equal within tolerance; on failure show the worst element side by side."""
    got_a = as_array(got, name)
    exp_a = np.asarray(expected, dtype=float)
    if got_a.shape != exp_a.shape:
        _fail(f"{name} has shape {got_a.shape}, expected {exp_a.shape}.", hint)
    if np.isnan(got_a).any() and not np.isnan(exp_a).any():
        _fail(
            f"{name} contains NaN at index {tuple(np.argwhere(np.isnan(got_a))[0])}.",
            hint or "look for a division by zero or log of 0; clip or guard it.",
        )
    bad = ~np.isclose(got_a, exp_a, rtol=rtol, atol=atol, equal_nan=True)
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        where = f" at index {idx}" if idx else ""
        _fail(
            f"{name} is wrong{where}: expected {exp_a[idx]:.6g}, got {got_a[idx]:.6g} "
            f"({int(bad.sum())} of {bad.size} values differ beyond rtol={rtol}, atol={atol}).",
            hint,
        )


def check_equal(got: Any, expected: Any, name: str = "your answer", hint: str | None = None) -> None:
    if got != expected:
        _fail(f"{name} is {got!r}, expected {expected!r}.", hint)


def check_true(condition: bool, message: str, hint: str | None = None) -> None:
    if not condition:
        _fail(message, hint)


FRAMEWORKS = ("keras", "tensorflow", "jax", "jaxlib", "torch", "scipy")


def check_no_framework(fn: Callable, *args, forbidden: tuple[str, ...] = FRAMEWORKS, **kwargs) -> Any:
    """Call ``fn(*args, **kwargs)`` and fail if it reached into a forbidden package.

    For exercises that ask for NumPy alone: every Python and C function the call runs
    is looked at, however it was imported or renamed. Returns the call's result.
    """
    reached: set[str] = set()
    # Some extension modules (OpenCV's cv2) give their C functions no __module__; know them by
    # identity. Such functions live in compiled modules or are re-exported by a top-level
    # package, so the many pure-Python submodules of a framework are skipped (it is faster).
    anonymous = {
        id(value): name
        for name, mod in list(sys.modules.items())
        if mod is not None
        and name.split(".")[0] in forbidden
        and ("." not in name or not str(getattr(mod, "__file__", None) or "").endswith(".py"))
        for value in list(vars(mod).values())
        if type(value).__name__ == "builtin_function_or_method"
    }

    def profiler(frame, event, arg):
        if event == "call":
            module = frame.f_globals.get("__name__") or ""
        elif event == "c_call":
            module = getattr(arg, "__module__", None) or anonymous.get(id(arg), "")
        else:
            return
        if module.split(".")[0] in forbidden:
            reached.add(module)

    previous = sys.getprofile()
    sys.setprofile(profiler)
    try:
        result = call(fn, *args, **kwargs)
    finally:
        sys.setprofile(previous)
    if reached:
        name = getattr(fn, "__name__", "this function")
        _fail(
            f"`{name}` used {', '.join(sorted(reached))}; this exercise asks for NumPy only.",
            "write the computation with NumPy arrays and operations.",
        )
    return result


def passed(what: str = "the visible tests") -> None:
    print(f"✓ {what} passed.")
