import os
import re
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
    return subprocess.run(
        [sys.executable, "-m", "autograder.cli", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


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


# `make test` spreads groups of tests over pytest-xdist workers in the order collected: a
# module's tests stay together (they share its fixtures), except that each lesson's tests
# in test_lessons.py (its graded run, and the tests that read it) form a group of their
# own, so the lessons are graded side by side. The slowest groups go first, so that the
# workers finish together: lessons by their smoke-mode grading time, then slow modules.
SLOWEST_FIRST = (
    "test_bundle.py",
    "09-",
    "11-",
    "01-",
    "04-",
    "test_non_debian.py",
    "test_grading.py",
    "07-",
    "05-",
    "12-",
    "06-",
    "13-",
    "10-",
    "03-",
    "test_lab.py",
    "test_exercises.py",
    "08-",
    "02-",
    "test_selfcheck.py",
    "test_browser.py",
)
LESSON_PARAM = re.compile(r"^tests/test_lessons\.py::.*\[(\d\d-[a-z0-9-]+)\]$")


def test_group(nodeid: str) -> str:
    lesson = LESSON_PARAM.match(nodeid)
    return lesson.group(1) if lesson else nodeid.split("::")[0].rsplit("/", 1)[-1]


@pytest.hookimpl(trylast=True)  # after pytest has ordered the tests by their fixtures
def pytest_collection_modifyitems(config, items):
    def rank(item):
        group = test_group(item.nodeid)
        return next((i for i, prefix in enumerate(SLOWEST_FIRST) if group.startswith(prefix)), len(SLOWEST_FIRST))

    items.sort(key=rank)  # stable: a group keeps its own order


def pytest_xdist_make_scheduler(config, log):
    """xdist's loadscope, with the groups above as its scopes. (Its loadgroup marks
    cannot do this under pytest 9: the group it appends to a test's id never reaches
    the scheduler.)"""
    from xdist.scheduler import LoadScopeScheduling

    class ByGroup(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return test_group(nodeid)

    return ByGroup(config, log)
