import os
import sys
from pathlib import Path

import pytest

# Notebooks executed by the tests (nbval, grading) run small: CI is a 2-core CPU.
os.environ.setdefault("COURSE_MODE", "smoke")
from course_lib import runtime  # noqa: E402

runtime.quiet_logs()

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

import tiny_course  # noqa: E402


@pytest.fixture
def tiny_root(tmp_path, monkeypatch):
    """A throwaway course with one two-exercise lesson; COURSE_ROOT points at it."""
    root = tiny_course.make(tmp_path / "course")
    monkeypatch.setenv("COURSE_ROOT", str(root))
    return root


def course_cmd(*args, cwd=ROOT, env=None, timeout=900):
    """Run the installed `course` command as a user would; return the CompletedProcess."""
    import subprocess

    full_env = dict(os.environ, **(env or {}))
    return subprocess.run([sys.executable, "-m", "autograder.cli", *args], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=timeout)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """A browser test that fails leaves a screenshot of the page as it was (tests/test_browser.py)."""
    report = yield
    page = getattr(item, "browser_page", None)
    if report.failed and page is not None and not page.is_closed():
        folder = ROOT / "build" / "test-artifacts" / "browser"
        folder.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(folder / f"FAILED-{item.name}-{report.when}.png"), full_page=True)
    return report
