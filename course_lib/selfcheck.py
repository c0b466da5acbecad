"""`course check`: a student's notebook run the way grading will run it, before handing it in.

The notebook is rebuilt from the lesson as released with only the student's answers
put in (`course_lib.submission`), then run in a fresh kernel with the grader's mode,
limits and time allowed (`course_lib.kernel`), in the grader's sandbox where
bubblewrap exists. The report says which exercises are answered, which visible tests
pass, which cells grading will not run, a cell that ran out of time, and a notebook
whose latest work is not saved. Hidden tests are never run here: they are not in the
student's copy of the course.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import nbformat

from course_lib import kernel, sandbox, submission
from course_lib.errors import CourseError

LESSON_RE = re.compile(r"^(\d\d)-[a-z0-9-]+$")
# A cell that takes more than this share of the time a cell may run is worth a warning.
SLOW_SHARE = 0.5


class CheckError(CourseError):
    """The notebook to check, or the lesson it belongs to, cannot be found or read."""


# ------------------------------------------------------------------------- finding


def find_notebook(target: str, cwd: Path) -> Path:
    """The notebook ``target`` names: a path, or a lesson by number or name under ``cwd``.

    A lesson is looked for as ``NAME.ipynb`` in ``cwd``, in its folders, and in
    ``cwd/lessons/*/``.
    """
    path = Path(target).expanduser()
    if path.suffix == ".ipynb" or path.is_file():
        if not path.is_file():
            raise CheckError(f"{path} does not exist")
        return path.resolve()
    pattern = re.compile(rf"^{re.escape(target)}(-[a-z0-9-]+)?\.ipynb$")
    places = [cwd, *sorted(p for p in cwd.iterdir() if p.is_dir())]
    if (cwd / "lessons").is_dir():
        places += sorted(p for p in (cwd / "lessons").iterdir() if p.is_dir())
    found = sorted(
        {
            nb.resolve()
            for folder in places
            for nb in folder.glob("*.ipynb")
            if pattern.match(nb.name) and LESSON_RE.match(nb.stem)
        }
    )
    if not found:
        raise CheckError(
            f"no notebook for lesson {target!r} in {cwd}: run `course check` in the folder that holds "
            "lessons/, or give the notebook's path"
        )
    if len(found) > 1:
        raise CheckError(
            f"{len(found)} notebooks match lesson {target!r}: "
            + ", ".join(str(p) for p in found)
            + "; give the path of the one to check"
        )
    return found[0]


def _lesson_of(notebook: Path) -> str:
    if LESSON_RE.match(notebook.stem):
        return notebook.stem
    if LESSON_RE.match(notebook.parent.name):
        return notebook.parent.name
    raise CheckError(
        f"{notebook.name} is not named after a lesson (NN-topic.ipynb); rename it as the lesson "
        "was released, or check it by its lesson number"
    )


def _read(data: str, what: str) -> nbformat.NotebookNode:
    try:
        return nbformat.reads(data, as_version=4)
    except Exception as exc:  # nbformat raises many kinds of errors for bad files
        raise CheckError(f"{what} is not a readable notebook ({exc.__class__.__name__}: {exc})") from exc


def released(lesson: str, notebook: Path) -> tuple[nbformat.NotebookNode, str]:
    """The lesson as it was released, and where it came from.

    Student bundles carry the releases inside the installed package (``releases/``);
    in a course checkout (``COURSE_ROOT``, else the one this package lives in) they are
    its ``lessons/``, taken from git when the student works in that very file.
    """
    package = Path(__file__).resolve().parent
    shipped = package / "releases" / f"{lesson}.ipynb"
    if shipped.is_file():
        return _read(shipped.read_text(encoding="utf-8"), str(shipped)), "the release installed with course_lib"
    checkout = Path(os.environ["COURSE_ROOT"]).resolve() if os.environ.get("COURSE_ROOT") else package.parent
    committed = checkout / "lessons" / lesson / f"{lesson}.ipynb"
    if not committed.is_file():
        raise CheckError(
            f"the release of {lesson} is not installed here: reinstall the student bundle "
            "(`pip install -e .` in its folder)"
        )
    if committed.resolve() != notebook.resolve():
        return _read(committed.read_text(encoding="utf-8"), str(committed)), str(committed)
    rel = committed.relative_to(checkout).as_posix()
    done = subprocess.run(["git", "-C", str(checkout), "show", f"HEAD:{rel}"], capture_output=True, text=True)
    if done.returncode == 0:
        return _read(done.stdout, f"{rel} in git"), f"{rel} as committed in git"
    return (
        _read(committed.read_text(encoding="utf-8"), str(committed)),
        "your own notebook (the release was not found, so cells you added cannot be told apart)",
    )


# ------------------------------------------------------------------------ unsaved


def _running_servers() -> list[dict]:
    try:
        from jupyter_server.serverapp import list_running_servers
    except ImportError:
        return []
    try:
        return list(list_running_servers())
    except Exception:  # a stale or unreadable runtime file is not the student's problem here
        return []


def _when(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).astimezone(timezone.utc).timestamp()


def unsaved(notebook: Path, servers: list[dict] | None = None) -> str | None:
    """A warning when a running Jupyter server's kernel for this notebook ran code after
    the file was last saved (its newest work may exist only in the browser)."""
    saved = notebook.stat().st_mtime
    for server in _running_servers() if servers is None else servers:
        try:
            rel = notebook.resolve().relative_to(Path(server["root_dir"]).resolve()).as_posix()
            request = urllib.request.Request(
                server["url"].rstrip("/") + "/api/sessions",
                headers={"Authorization": f"token {server.get('token', '')}"},
            )
            with urllib.request.urlopen(request, timeout=3) as response:
                sessions = json.loads(response.read())
        except (KeyError, ValueError, OSError):
            continue
        for session in sessions:
            if session.get("path") != rel or not session.get("kernel"):
                continue
            active = _when(session["kernel"]["last_activity"])
            if active > saved + 2:
                ago = int(time.time() - saved)
                return (
                    f"the notebook is open in Jupyter ({server['url']}) and its kernel ran code after the file "
                    f"was last saved ({ago // 60} min {ago % 60} s ago): save it (Ctrl+S) and check again, "
                    "or what you hand in will not have your latest work"
                )
    return None


# -------------------------------------------------------------------------- check


@dataclass
class Report:
    lesson: str
    notebook: Path
    release_from: str
    settings: kernel.RunSettings
    sandbox_note: str
    structure: submission.Structure
    written: list[str]  # written answers (graded by a person)
    tests: list[submission.TestResult]
    problem: str | None = None  # why the run stopped early
    stopped_cell: str | None = None  # first line of the cell that was running then
    slow: list[tuple[str, float]] = field(default_factory=list)
    unsaved: str | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return (
            not self.problem
            and not self.unsaved
            and not self.structure.unanswered
            and all(t.passed for t in self.tests)
        )


def check(target: str, cwd: Path, settings: kernel.RunSettings | None = None) -> Report:
    """Run a student's notebook as grading will and report what grading will see."""
    path = find_notebook(target, cwd)
    lesson = _lesson_of(path)
    try:
        student = _read(path.read_text(encoding="utf-8"), path.name)
    except UnicodeDecodeError as exc:
        raise CheckError(f"{path.name} is not UTF-8 text; save it again from Jupyter") from exc
    release, release_from = released(lesson, path)
    settings = settings or kernel.RunSettings()
    note = "in the grader's sandbox (bubblewrap: no network, no files outside its folder)"
    if settings.sandboxed:
        try:
            sandbox.require()
        except sandbox.SandboxUnavailable as exc:
            settings = dataclasses.replace(settings, sandboxed=False)
            note = f"NOT sandboxed ({exc}); grading runs it in a sandbox with no network and no files of yours"
    else:
        note = "not sandboxed (--no-sandbox)"
    built = submission.fill(release, student)
    done = kernel.run(built, settings)
    slow = [
        (submission.first_line(cell.source), secs)
        for cell, secs in zip(done.notebook.cells, done.cell_seconds)
        if secs is not None and secs > SLOW_SHARE * settings.cell_timeout
    ]
    stopped = None
    if done.stopped_at is not None:
        stopped = submission.first_line(done.notebook.cells[done.stopped_at].source)
    written = [submission.grade_id(c) for c in release.cells if submission.is_written(c)]
    return Report(
        lesson,
        path,
        release_from,
        settings,
        note,
        submission.compare(release, student),
        written,
        submission.test_results(done.notebook, done.stopped_at),
        done.problem,
        stopped,
        slow,
        unsaved(path),
        done.seconds,
    )


def render(report: Report) -> str:
    s, st = report.settings, report.structure
    lines = [
        f"course check {report.lesson}",
        f"  notebook: {report.notebook}",
        f"  run as grading runs it: {s.mode} mode, {report.sandbox_note}, "
        f"{s.cell_timeout} s per cell, {s.timeout} s in all; took {report.seconds:.1f} s",
        f"  lesson as released: {report.release_from}",
        "",
    ]
    if report.unsaved:
        lines += [f"! {report.unsaved}", ""]
    if report.problem:
        where = f" (in the cell starting {report.stopped_cell!r})" if report.stopped_cell else ""
        lines += [
            f"! The run stopped: {report.problem}{where}. Grading would stop there too; tests after it get no points.",
            "",
        ]
    by_answer: dict[str | None, list[submission.TestResult]] = {}
    for t in report.tests:
        by_answer.setdefault(t.answer, []).append(t)
    exercises = [g for g in st.answered + st.unanswered if g not in report.written]
    order = [t.answer for t in report.tests if t.answer] + exercises
    lines.append("Exercises")
    for gid in dict.fromkeys(order):
        state = "answered" if gid in st.answered else "NOT ANSWERED"
        tests = by_answer.get(gid, [])
        if not tests:
            lines.append(f"  {gid:<28}{state}")
        for i, t in enumerate(tests):
            verdict = "passes" if t.passed else ("did not run" if t.passed is None else "FAILS")
            head = f"  {gid:<28}{state:<14}" if i == 0 else " " * 44
            lines.append(f"{head}visible test {t.grade_id}: {verdict}")
            if t.passed is False and t.message:
                lines += [" " * 46 + ln for ln in t.message.splitlines()[:4]]
    for gid in report.written:
        state = "answered" if gid in st.answered else "NOT ANSWERED"
        lines.append(f"  {gid:<28}{state:<14}written answer: graded by a person")
    passed = sum(1 for t in report.tests if t.passed)
    lines += [
        "",
        f"{len(st.answered)} of {len(st.answered) + len(st.unanswered)} answers written; "
        f"{passed} of {len(report.tests)} visible tests pass.",
    ]
    if st.not_run:
        lines += [
            "",
            f"Not run when graded: {len(st.not_run)} cell(s) you added or changed outside the answer "
            "cells. Move what an answer needs into its answer cell:",
        ]
        lines += [f"  - {first!r}" for first in st.not_run[:10]]
        if len(st.not_run) > 10:
            lines.append(f"  - ... and {len(st.not_run) - 10} more")
    if st.edited_tests:
        lines += ["", "Test cells you changed (grading runs the lesson's own): " + ", ".join(st.edited_tests)]
    if st.missing:
        lines += ["", "Cells you deleted (grading puts them back, answers empty): " + ", ".join(st.missing)]
    if st.reordered:
        lines += ["", "Exercise cells are out of order; grading puts them back in the lesson's order."]
    for first, secs in report.slow:
        lines += [
            "",
            f"! The cell starting {first!r} took {secs:.0f} s of the {s.cell_timeout} s a cell may run when graded.",
        ]
    lines += [
        "",
        "Hidden tests were not run: when graded they check more cases than the visible tests, "
        "and they decide the points.",
    ]
    return "\n".join(lines)
