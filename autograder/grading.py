"""`course grade`: autograde a class's submissions for one lesson with nbgrader.

The grading workspace (default ``./grading``, git-ignored) holds nbgrader's course
layout: ``source/`` (a copy of the lesson's solution), ``submitted/``,
``autograded/``, ``feedback/``, the gradebook, and ``reports/LESSON/`` with
``grades.csv`` and one feedback page per student. Each submission is checked before
it runs; one that cannot be graded gets status ``error`` and a message the student
understands, and the rest of the class is graded all the same.
"""
from __future__ import annotations

import csv
import os
import re
import shutil
import subprocess
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path

from autograder import course, notebooks
from autograder.release import nbgrader
from course_lib.runtime import QUIET_ENV

STUDENT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
MAX_NOTEBOOK_BYTES = 20 * 2**20
MAX_UNZIPPED_BYTES = 2 * 2**30
GRADES_FIELDS = ["student_id", "lesson", "score", "max_score", "status", "message"]

WORKSPACE_CONFIG = """\
from nbgrader.preprocessors import ClearHiddenTests, GetGrades
from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
from autograder.feedback import ShortTracebacks

c = get_config()
c.CourseDirectory.course_id = "keras-course"
c.CourseDirectory.source_directory = "source"
c.CourseDirectory.release_directory = "release"
c.Execute.timeout = {cell_timeout}
# Feedback shows students their results, not the hidden tests' code.
c.GenerateFeedback.preprocessors = [GetGrades, ClearHiddenTests, ShortTracebacks, CSSHTMLHeaderPreprocessor]
"""


@dataclass
class Result:
    student_id: str
    lesson: str
    score: float = 0.0
    max_score: float = 0.0
    status: str = "error"
    message: str = ""


@dataclass
class Submission:
    student_id: str
    notebook: Path | None
    problem: str = ""


# ------------------------------------------------------------------------ collecting


def _safe_extract(archive: Path, dest: Path) -> Path:
    """Unpack a zip without letting a member escape dest or balloon past a sane size."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    try:
        with zipfile.ZipFile(archive) as zf:
            total = 0
            for info in zf.infolist():
                target = (dest / info.filename).resolve()
                if not target.is_relative_to(dest.resolve()):
                    raise ValueError(f"the zip holds a path outside its folder: {info.filename}")
                total += info.file_size
                if total > MAX_UNZIPPED_BYTES:
                    raise ValueError(f"the zip unpacks to more than {MAX_UNZIPPED_BYTES // 2**30} GB")
            zf.extractall(dest)
    except zipfile.BadZipFile as exc:
        raise SystemExit(f"{archive} is not a readable zip file ({exc})") from exc
    except ValueError as exc:
        raise SystemExit(f"{archive}: {exc}") from exc
    # A zip of one top folder (e.g. submissions/) is unwrapped to its contents.
    entries = [p for p in dest.iterdir() if p.name != "__MACOSX"]
    if len(entries) == 1 and entries[0].is_dir() and not any(entries[0].glob("*.ipynb")):
        return entries[0]
    return dest


def collect(lesson: str, submissions: Path, scratch: Path) -> list[Submission]:
    """Find each student's notebook in a folder (or zip) of STUDENT_ID/NOTEBOOK.ipynb."""
    if not submissions.exists():
        raise SystemExit(f"No submissions at {submissions}")
    if submissions.is_file():
        submissions = _safe_extract(submissions, scratch / "incoming" / lesson)
    found = []
    for folder in sorted(p for p in submissions.iterdir() if p.is_dir() and not p.name.startswith((".", "__"))):
        sid = folder.name
        if not STUDENT_RE.match(sid):
            found.append(Submission(sid, None, "the folder name is not a valid student id (letters, digits, . _ @ -)"))
            continue
        candidates = sorted(folder.rglob("*.ipynb"))
        candidates = [c for c in candidates if ".ipynb_checkpoints" not in c.parts]
        exact = [c for c in candidates if c.name == f"{lesson}.ipynb"]
        if exact:
            found.append(Submission(sid, exact[0]))
        elif len(candidates) == 1:
            found.append(Submission(sid, candidates[0]))
        elif not candidates:
            found.append(Submission(sid, None, f"no notebook found; submit {lesson}.ipynb"))
        else:
            found.append(Submission(sid, None, f"{len(candidates)} notebooks and none named {lesson}.ipynb; submit just that one"))
    return found


def check(lesson: str, sub: Submission, release_ids: set[str]):
    """Read and vet a submitted notebook; return it, or raise NotebookError with the reason."""
    size = sub.notebook.stat().st_size
    if size > MAX_NOTEBOOK_BYTES:
        raise notebooks.NotebookError(f"{sub.notebook.name} is {size // 2**20} MB; clear large outputs and submit again")
    nb = notebooks.read(sub.notebook)
    ids = {c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells} - {None}
    if not ids & release_ids:
        raise notebooks.NotebookError(f"{sub.notebook.name} is not the {lesson} notebook (none of its exercises are in it)")
    return nb


# -------------------------------------------------------------------------- grading


def prepare(lesson: str, workspace: Path, cell_timeout: int) -> set[str]:
    """Lay out the nbgrader workspace and register the lesson in its gradebook."""
    workspace.mkdir(parents=True, exist_ok=True)
    (workspace / "nbgrader_config.py").write_text(WORKSPACE_CONFIG.format(cell_timeout=cell_timeout))
    source = workspace / "source" / lesson
    if source.exists():
        shutil.rmtree(source)
    shutil.copytree(course.root() / "solutions" / lesson, source,
                    ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
    done = nbgrader(["generate_assignment", lesson, "--force"], cwd=workspace)
    if done.returncode != 0:
        raise SystemExit(f"nbgrader could not register {lesson}:\n{done.stdout}{done.stderr}")
    release = notebooks.read(workspace / "release" / lesson / f"{lesson}.ipynb")
    return {c.metadata.get("nbgrader", {}).get("grade_id") for c in release.cells} - {None}


def _nbgrader_error(done: subprocess.CompletedProcess) -> str:
    lines = [ln.strip() for ln in (done.stdout + done.stderr).splitlines() if ln.strip()]
    useful = [ln for ln in lines if "Error" in ln or "error" in ln]
    return (useful or lines or ["nbgrader failed without a message"])[-1][:300]


def autograde(lesson: str, sid: str, workspace: Path, mode: str, timeout: int) -> str | None:
    """Run nbgrader autograde for one student; return None on success or why it failed."""
    try:
        done = nbgrader(["autograde", lesson, "--student", sid, "--force"], cwd=workspace, timeout=timeout,
                        env=_kernel_env(mode))
    except subprocess.TimeoutExpired:
        return f"grading stopped after {timeout} s; look for an endless loop or very long training"
    if done.returncode != 0 or not (workspace / "autograded" / sid / lesson / f"{lesson}.ipynb").exists():
        return f"the notebook could not be graded: {_nbgrader_error(done)}"
    return None


def _kernel_env(mode: str) -> dict:
    return dict(os.environ, **QUIET_ENV, COURSE_MODE=mode, PYTHONWARNINGS="ignore")


def scores(lesson: str, sid: str, workspace: Path) -> tuple[float, float, float]:
    """(score, max_score, points awaiting manual grading) from the gradebook."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{workspace / 'gradebook.db'}") as gb:
        sub = gb.find_submission(lesson, sid)
        pending = sum(g.max_score for nb in sub.notebooks for g in nb.grades if g.needs_manual_grade)
        return float(sub.score), float(sub.max_score), float(pending)


def max_score(lesson: str, workspace: Path) -> float:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{workspace / 'gradebook.db'}") as gb:
        return float(gb.find_assignment(lesson).max_score)


def feedback(lesson: str, sid: str, workspace: Path, reports: Path) -> None:
    done = nbgrader(["generate_feedback", lesson, "--student", sid, "--force"], cwd=workspace)
    page = workspace / "feedback" / sid / lesson / f"{lesson}.html"
    if done.returncode == 0 and page.exists():
        (reports / "feedback").mkdir(parents=True, exist_ok=True)
        shutil.copy(page, reports / "feedback" / f"{sid}.html")


def grade_one(lesson: str, sub: Submission, workspace: Path, release_ids: set[str], mode: str,
              timeout: int, reports: Path, total: float) -> Result:
    result = Result(sub.student_id, lesson, 0.0, total)
    if sub.notebook is None:
        result.message = sub.problem
        return result
    try:
        nb = check(lesson, sub, release_ids)
    except notebooks.NotebookError as exc:
        result.message = str(exc)
        return result
    target = workspace / "submitted" / sub.student_id / lesson / f"{lesson}.ipynb"
    if target.parent.exists():
        shutil.rmtree(target.parent)
    notebooks.write(nb, target)
    problem = autograde(lesson, sub.student_id, workspace, mode, timeout)
    if problem:
        result.message = problem
        return result
    result.score, result.max_score, pending = scores(lesson, sub.student_id, workspace)
    result.status = "graded"
    if pending:
        result.message = f"{pending:g} point(s) of written answers await manual grading"
    feedback(lesson, sub.student_id, workspace, reports)
    return result


def grade(lesson: str, submissions: Path, workspace: Path, mode: str = "smoke", timeout: int = 1200,
          cell_timeout: int = 600, log=print) -> list[Result]:
    """Grade every submission for a lesson; write reports/LESSON/grades.csv; return the results."""
    workspace = workspace.resolve()
    release_ids = prepare(lesson, workspace, cell_timeout)
    total = max_score(lesson, workspace)
    subs = collect(lesson, submissions.resolve(), workspace)
    reports = workspace / "reports" / lesson
    reports.mkdir(parents=True, exist_ok=True)
    results = []
    for i, sub in enumerate(subs, 1):
        log(f"[{i}/{len(subs)}] {sub.student_id}")
        results.append(grade_one(lesson, sub, workspace, release_ids, mode, timeout, reports, total))
    write_csv(results, reports / "grades.csv")
    return results


def write_csv(results: list[Result], path: Path) -> None:
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=GRADES_FIELDS)
        writer.writeheader()
        for r in results:
            writer.writerow(asdict(r))
    tmp.replace(path)


def summary(results: list[Result]) -> str:
    width = max([len(r.student_id) for r in results] + [10])
    lines = [f"{'student':<{width}}  {'score':>13}  status  message"]
    for r in results:
        lines.append(f"{r.student_id:<{width}}  {r.score:>6.1f} / {r.max_score:<4g}  {r.status:<6}  {r.message}")
    return "\n".join(lines)
