"""`course grade`: grade a class's submissions for one lesson, safely, in parallel, resumably.

Pipeline, per submission:

1. collect: a folder of ``STUDENT_ID/NOTEBOOK.ipynb``, a zip of that, or an LMS zip
   of ``STUDENTID_anything.ipynb`` files; every odd case becomes a per-student status;
2. validate: size, UTF-8, JSON, notebook format, the right lesson;
3. build: the lesson as released with only the student's answers put in
   (`integrity.build`), so tests cannot be edited away;
4. execute in a sandboxed kernel, in a worker process (`autograder.worker`) on this
   machine or on a Dask cluster, several at a time; the worker then runs the lesson's
   hidden tests (``solutions/LESSON/grading.py``) in its own trusted process, asking the
   student's kernel for data only;
5. record: each test cell's points come from its hidden tests' verdict, computed
   outside the student's process; completion markers, kernel probes and a scan of the
   answers (`integrity`) only raise flags for a person. This process alone writes the
   gradebook.

Before the class, the lesson's own solution is graded the same way (the canary): if it
does not earn every automatic point, something is wrong with the grader, not with the
students, and grading stops with the reason. Only one student per other worker runs
beside it; the rest start once it has passed. Feedback pages are made while the last
notebooks run, and the workers start (and import Keras) while the lesson is registered.

The workspace (default ``./grading``, git-ignored) is an nbgrader course folder:
``source/``, ``release/``, ``autograded/``, ``feedback/``, ``gradebook.db``, plus
``results/LESSON/STUDENT.json`` (one per finished student: what makes a re-run
resume where it stopped and skip students already graded) and ``reports/LESSON/``.
"""

from __future__ import annotations

import hashlib
import json
import os
import queue
import re
import secrets
import shutil
import sys
import threading
import zipfile
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path

from autograder import course, deadlines, integrity, nbgrader_course, notebooks, reports, worker
from autograder.hidden import Verdict
from autograder.job import Job, Outcome
from autograder.nbgrader_course import NOT_RELEASED
from autograder.reports import GRADES_FIELDS  # noqa: F401  (part of this module's interface)
from course_lib import kernel, sandbox, submission
from course_lib.errors import CourseError

STUDENT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
MAX_NOTEBOOK_BYTES = 20 * 2**20
MAX_UNZIPPED_BYTES = 2 * 2**30


@dataclass
class Grade:
    """A student's grade for one lesson, as the reports and the LMS files show it."""

    student_id: str
    lesson: str
    score: float = 0.0
    max_score: float = 0.0
    status: str = "error"
    message: str = ""
    tests: dict = field(default_factory=dict)  # grade_id -> [score, max], for the per-test report
    awaiting_manual: float = 0.0  # points of written answers that no person has graded yet
    submitted_at: str = ""  # ISO time the submissions give ("" unknown; "invalid: ..." unreadable)
    raw_score: float = 0.0  # what the work earned, before a late penalty (set with the reports)
    penalty: float = 0.0  # points taken off for lateness
    late_by: float = 0.0  # hours after the student's due time


@dataclass
class Submission:
    student_id: str
    notebook: Path | None
    problem: str = ""


@dataclass
class Kept:
    """What the grader keeps of a submission while a worker grades it: never sent with the job."""

    nonce: str  # the completion markers' secret (`integrity.build`)
    reasons: list[str]  # why answer cells were set aside
    notes: list[str]  # remarks on the notebook's structure, shown to the student
    flags: list[str]  # what a person should look at
    submitted: str = ""  # the student's notebook as handed in
    submitted_at: str = ""
    digest: str = ""  # sha256 of that notebook: a re-run skips a student whose notebook is unchanged


class GradingError(CourseError):
    """The class cannot be graded (the canary failed, the lesson has no hidden tests, ...)."""


@dataclass
class Settings:
    # How each notebook runs: the defaults are `course_lib.kernel.RunSettings`'s, which
    # `course check` uses too, so students see what grading will do.
    mode: str = kernel.RunSettings.mode
    jobs: int = os.cpu_count() or 1
    cell_timeout: int = kernel.RunSettings.cell_timeout
    timeout: int = kernel.RunSettings.timeout  # whole notebook, seconds of wall time
    use_sandbox: bool = True
    regrade: bool = False
    cluster: str | None = None
    limits: sandbox.Limits = field(default_factory=sandbox.Limits)
    canary: bool = True  # grade the lesson's own solution first; stop if it loses points

    def run_settings(self, threads: int) -> kernel.RunSettings:
        return kernel.RunSettings(
            mode=self.mode,
            cell_timeout=self.cell_timeout,
            timeout=self.timeout,
            sandboxed=self.use_sandbox,
            threads=threads,
            limits=self.limits,
        )


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
        raise GradingError(f"{archive} is not a readable zip file ({exc})") from None
    except ValueError as exc:
        raise GradingError(f"{archive}: {exc}") from None
    # A zip of one top folder (e.g. submissions/) is unwrapped to its contents.
    entries = [p for p in dest.iterdir() if p.name != "__MACOSX"]
    if len(entries) == 1 and entries[0].is_dir() and not any(entries[0].glob("*.ipynb")):
        return entries[0]
    return dest


def collect(lesson: str, submissions: Path, scratch: Path) -> list[Submission]:
    """Find each student's notebook: STUDENT_ID/NOTEBOOK.ipynb folders or LMS-style
    STUDENTID_anything.ipynb files (a folder, or a zip of either)."""
    if not submissions.exists():
        raise GradingError(f"No submissions at {submissions}")
    if submissions.is_file():
        submissions = _safe_extract(submissions, scratch / "incoming" / lesson)
    found: dict[str, list] = {}
    problems: dict[str, str] = {}
    for entry in sorted(submissions.iterdir()):
        if entry.name.startswith((".", "__")) or entry.name == deadlines.MANIFEST:
            continue
        if entry.is_dir():
            sid = entry.name
            candidates = [c for c in sorted(entry.rglob("*.ipynb")) if ".ipynb_checkpoints" not in c.parts]
            exact = [c for c in candidates if c.name == f"{lesson}.ipynb"]
            if exact or len(candidates) == 1:
                found.setdefault(sid, []).append((exact or candidates)[0])
            elif not candidates:
                problems[sid] = f"no notebook found; submit {lesson}.ipynb"
            else:
                problems[sid] = f"{len(candidates)} notebooks and none named {lesson}.ipynb; submit just that one"
        elif entry.suffix == ".ipynb" and "_" in entry.stem:
            found.setdefault(entry.stem.split("_", 1)[0], []).append(entry)
        else:
            problems[entry.name] = (
                "not a submission: expected a folder named after the student or a file named STUDENTID_anything.ipynb"
            )
    subs = []
    for sid in sorted(set(found) | set(problems)):
        paths = found.get(sid, [])
        if not STUDENT_RE.match(sid):
            subs.append(Submission(sid, None, "the student id is not valid (letters, digits, . _ @ - only)"))
        elif sid in problems and not paths:
            subs.append(Submission(sid, None, problems[sid]))
        elif len(paths) > 1:
            names = ", ".join(p.name for p in paths)
            subs.append(Submission(sid, None, f"{len(paths)} submissions for this student ({names}); hand in one"))
        else:
            subs.append(Submission(sid, paths[0]))
    return subs


def validate(lesson: str, path: Path, release_ids: set[str]):
    """Read and vet a submitted notebook; return it, or raise NotebookError with the reason."""
    size = path.stat().st_size
    if size > MAX_NOTEBOOK_BYTES:
        raise notebooks.NotebookError(f"{path.name} is {size // 2**20} MB; clear large outputs and submit again")
    nb = notebooks.read(path)
    ids = {c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells} - {None}
    if not ids & release_ids:
        raise notebooks.NotebookError(f"{path.name} is not the {lesson} notebook (none of its exercises are in it)")
    return nb


# ------------------------------------------------------------------------ workspace


def hidden_tests(lesson: str) -> str:
    """The text of a lesson's hidden tests, ``solutions/LESSON/grading.py``."""
    path = course.hidden_tests(lesson)
    if not path.is_file():
        raise GradingError(f"{lesson} has no hidden tests: write them in {path} (see docs/authoring.md)")
    return path.read_text(encoding="utf-8")


def prepare(lesson: str, workspace: Path):
    """Lay out the nbgrader workspace, register the lesson; return (source, release) notebooks."""
    workspace.mkdir(parents=True, exist_ok=True)
    (workspace / "nbgrader_config.py").write_text(nbgrader_course.workspace_config())
    source = workspace / "source" / lesson
    if source.exists():
        shutil.rmtree(source)
    shutil.copytree(course.root() / "solutions" / lesson, source, ignore=shutil.ignore_patterns(*NOT_RELEASED))
    problem = nbgrader_course.generate_assignment(workspace, lesson)
    if problem:
        raise GradingError(f"nbgrader could not register {lesson}:\n{problem}")
    return (
        notebooks.read(source / f"{lesson}.ipynb"),
        notebooks.read(workspace / "release" / lesson / f"{lesson}.ipynb"),
    )


def _with_verdicts(graded_nb, verdicts: dict[str, Verdict]):
    """The executed notebook with each test cell's hidden-test verdict appended, in the grader's words."""
    for cell in graded_nb.cells:
        if not submission.is_test(cell):
            continue
        gid, points = submission.grade_id(cell), submission.meta(cell).get("points", 0)
        verdict = verdicts.get(gid, Verdict(False, ["this test has no hidden tests; ask your instructor"]))
        if verdict.passed:
            cell.outputs.append(
                notebooks.nbformat.v4.new_output(
                    "stream", name="stdout", text=f"Hidden tests: passed ({points:g} of {points:g} points).\n"
                )
            )
        else:
            cell.outputs.append(
                notebooks.nbformat.v4.new_output(
                    "error",
                    ename="HiddenTestsFailed",
                    evalue="; ".join(verdict.messages[:5]),
                    traceback=[f"Hidden tests failed (0 of {points:g} points): " + "; ".join(verdict.messages[:5])],
                )
            )
    return graded_nb


# -------------------------------------------------------------------------- running


def _results_dir(workspace: Path, lesson: str) -> Path:
    return workspace / "results" / lesson


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _save(workspace: Path, result: Grade, digest: str) -> None:
    folder = _results_dir(workspace, result.lesson)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{result.student_id}.tmp"
    tmp.write_text(json.dumps({"sha256": digest, "result": asdict(result)}))
    os.replace(tmp, folder / f"{result.student_id}.json")


def _previous(workspace: Path, lesson: str, sid: str, digest: str) -> Grade | None:
    path = _results_dir(workspace, lesson) / f"{sid}.json"
    try:
        saved = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return Grade(**saved["result"]) if saved.get("sha256") == digest else None


def _finish(lesson: str, sid: str, kept: Kept, outcome: Outcome, workspace: Path, total: float) -> Grade:
    graded_nb, _, flags = integrity.verdict(notebooks.nbformat.from_dict(outcome.notebook), kept.nonce)
    graded_nb = _with_verdicts(graded_nb, outcome.verdicts)
    # nbgrader's own layout: formgrader counts a class's submissions in submitted/.
    submitted = workspace / "submitted" / sid / lesson / f"{lesson}.ipynb"
    submitted.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(kept.submitted, submitted)
    notebooks.write(graded_nb, workspace / "autograded" / sid / lesson / f"{lesson}.ipynb")
    passed = {gid: v.passed for gid, v in outcome.verdicts.items()}
    score, max_score, tests = nbgrader_course.record(workspace, lesson, graded_nb, sid, passed)
    flags = kept.flags + [f"answer {r}" for r in kept.reasons] + flags
    message = list(kept.notes)
    status = "graded"
    if outcome.error:
        status, message = "error", [outcome.error] + message
    elif flags:
        status = "flagged"
    message += flags
    return Grade(
        sid,
        lesson,
        score,
        max_score or total,
        status,
        "; ".join(message),
        tests,
        submitted_at=kept.submitted_at,
    )


def final(lesson: str, results: list[Grade], workspace: Path) -> list[Grade]:
    """The results with the gradebook's final scores: automatic points plus whatever a
    person has given in formgrader since, a note only while points await a person, and
    the lesson's late policy applied (`autograder.deadlines`)."""
    now = nbgrader_course.scores(workspace, lesson, [r.student_id for r in results])
    out = []
    for r in results:
        r = Grade(**{**asdict(r), "awaiting_manual": 0.0})
        if r.student_id in now:  # else it never got as far as the gradebook (a broken file, ...)
            r.score, r.awaiting_manual = now[r.student_id]
            parts = [m for m in r.message.split("; ") if m and not m.endswith("await manual grading")]
            if r.awaiting_manual:
                parts.append(f"{r.awaiting_manual:g} point(s) of written answers await manual grading")
            r.message = "; ".join(parts)
        out.append(r)
    return deadlines.apply(out, deadlines.load(workspace, lesson))


def current(lesson: str, workspace: Path) -> list[Grade]:
    """The lesson's results as they stand: the saved ones, with manual grades and the late
    policy applied (`final`). No notebook runs."""
    workspace = workspace.resolve()
    saved = sorted(_results_dir(workspace, lesson).glob("*.json"))
    if not saved or not (workspace / "gradebook.db").is_file():
        raise GradingError(f"Nothing graded for {lesson} in {workspace}: run `course grade` first.")
    return final(lesson, [Grade(**json.loads(p.read_text())["result"]) for p in saved], workspace)


def refresh_reports(lesson: str, workspace: Path, log=print) -> list[Grade]:
    """Rewrite the reports from the saved results and the gradebook, without running any
    notebook: after manual grading in formgrader, say."""
    results = current(lesson, workspace)
    reports.write(lesson, results, workspace.resolve(), log=log)
    return results


@contextmanager
def _executor(settings: Settings, jobs: int) -> Iterator[Callable[[Job], Future]]:
    """A function that hands a job to a worker and returns a concurrent.futures Future of
    its Outcome: resident worker processes on this machine (as many as ``settings.jobs``
    allows for ``jobs`` jobs), or a Dask cluster's workers."""
    if settings.cluster:
        from dask.distributed import Client

        with Client(settings.cluster, timeout="30s") as client:
            pool = client.get_executor(pure=False)
            try:
                yield lambda job: pool.submit(worker.execute_safely, job)
            finally:
                pool.shutdown(wait=False)
        return
    workers = min(settings.jobs, jobs)
    residents, idle, local = [], queue.SimpleQueue(), threading.local()

    def run(job: Job) -> Outcome:
        if getattr(local, "worker", None) is None:  # one resident worker process per thread
            local.worker = idle.get()
        return local.worker.run(job)

    pool = ThreadPoolExecutor(max_workers=workers)
    try:
        for _ in range(workers):  # started now: each imports Keras while this process prepares the class
            residents.append(worker.Resident())
            residents[-1].start()
            idle.put(residents[-1])
        yield lambda job: pool.submit(run, job)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        for resident in residents:
            resident.close()


class Progress:
    """One line that fills as students finish (a plain line per student when not a terminal)."""

    def __init__(self, total: int, log):
        self.total, self.done, self.log = total, 0, log
        self.tty = sys.stderr.isatty()

    def step(self, result: Grade) -> None:
        self.done += 1
        if self.tty:
            filled = int(30 * self.done / max(self.total, 1))
            sys.stderr.write(
                f"\r[{'#' * filled}{'.' * (30 - filled)}] {self.done}/{self.total} {result.student_id:<20}"
            )
            sys.stderr.flush()
            if self.done == self.total:
                sys.stderr.write("\n")
        else:
            self.log(
                f"[{self.done}/{self.total}] {result.student_id}: {result.status} {result.score:g}/{result.max_score:g}"
            )


def _job(nb, release, tests: str, seed: int, sid: str, settings: Settings, threads: int) -> tuple[Job, Kept]:
    """What a worker needs to grade one notebook, and what only this process keeps."""
    built, nonce, reasons = integrity.build(release, nb, release)
    notes, flags = integrity.structure_notes(nb, release)
    job = Job(built, settings.run_settings(threads), tests, seed, sid)
    return job, Kept(nonce, reasons, notes, flags)


def _canary_problem(outcome: Outcome, release) -> str | None:
    """Why the lesson's own solution did not earn every automatic point, or None."""
    if outcome.error:
        return f"its notebook did not run to the end: {outcome.error}"
    failed = [f"{gid}: {'; '.join(v.messages[:2])}" for gid, v in outcome.verdicts.items() if not v.passed]
    missing = [
        submission.grade_id(c)
        for c in release.cells
        if submission.is_test(c) and submission.grade_id(c) not in outcome.verdicts
    ]
    if missing:
        failed += [f"{gid}: no hidden test decides its points" for gid in missing]
    return "; ".join(failed) or None


def grade(
    lesson: str,
    submissions: Path,
    workspace: Path,
    settings: Settings | None = None,
    log=print,
    policy: deadlines.Policy | None = None,
) -> list[Grade]:
    """Grade every submission for a lesson; write the reports; return the results.

    ``policy`` (due date, late work, when results are shown) is kept for the lesson; without
    one, the policy its last grading set stays."""
    from autograder import samples

    settings = settings or Settings()
    if settings.use_sandbox:
        try:
            sandbox.require()
        except sandbox.SandboxUnavailable as exc:
            raise GradingError(f"Cannot grade safely: {exc}") from None
    workspace = workspace.resolve()
    tests = hidden_tests(lesson)
    folder = submissions.resolve()
    if folder.is_file():
        folder = _safe_extract(folder, workspace / "incoming" / lesson)
    subs = collect(lesson, folder, workspace)
    digests = {s.student_id: _digest(s.notebook) for s in subs if s.notebook is not None}
    previous = {} if settings.regrade else {sid: _previous(workspace, lesson, sid, d) for sid, d in digests.items()}
    # Workers start before the lesson is registered, so that their imports overlap it.
    to_run = sum(previous.get(sid) is None for sid in digests)
    with _executor(settings, to_run + settings.canary) if to_run else nullcontext() as submit:
        source, release = prepare(lesson, workspace)
        seed = secrets.randbits(63)  # hidden-test inputs are new in every grading run
        threads = max(1, (os.cpu_count() or 1) // max(1, settings.jobs))
        # The canary starts first, and the other workers take a student each as soon as their
        # notebook is built; the rest wait for its verdict, so that a failing canary stops
        # the class after at most those few.
        canary = None
        if settings.canary and to_run:
            canary, _ = _job(samples.answered(lesson, 1.0, release), release, tests, seed, "canary", settings, threads)
        futures = {submit(canary): None} if canary is not None else {}
        total = nbgrader_course.max_score(workspace, lesson)
        if policy is not None:
            deadlines.save(policy, workspace, lesson)
        policy = deadlines.load(workspace, lesson)
        times = deadlines.submission_times(folder, policy.zone) if folder.is_dir() else {}
        if policy.due:
            log(
                f"{lesson}: {policy.describe()}; submission times found for "
                f"{sum(s.student_id in times for s in subs)} of {len(subs)} student(s)"
            )
        release_ids = {c.metadata.get("nbgrader", {}).get("grade_id") for c in release.cells} - {None}
        results: dict[str, Grade] = {}
        pending: dict[str, tuple[Job, Kept]] = {}
        first = settings.jobs - 1 if canary is not None else to_run  # students started before its verdict
        waiting = []
        for sub in subs:
            sid, when = sub.student_id, times.get(sub.student_id, "")
            if sub.notebook is None:
                results[sid] = Grade(sid, lesson, 0.0, total, "error", sub.problem)
                continue
            if previous.get(sid) is not None:
                if previous[sid].submitted_at != when:  # a corrected timestamp needs no new run
                    previous[sid].submitted_at = when
                    _save(workspace, previous[sid], digests[sid])
                results[sid] = previous[sid]
                continue
            try:
                nb = validate(lesson, sub.notebook, release_ids)
            except notebooks.NotebookError as exc:
                results[sid] = Grade(sid, lesson, 0.0, total, "error", str(exc), submitted_at=when)
                _save(workspace, results[sid], digests[sid])
                continue
            job, kept = _job(nb, release, tests, seed, sid, settings, threads)
            kept.submitted, kept.submitted_at, kept.digest = str(sub.notebook), when, digests[sid]
            pending[sid] = (job, kept)
            if len(pending) <= first:
                futures[submit(job)] = sid
            else:
                waiting.append((sid, job))
        reused = sum(1 for sid in digests if sid in results and sid not in pending and results[sid].tests)
        if reused:
            log(f"{reused} student(s) already graded with the same notebook: kept (use --regrade to grade again)")
        # Each student's nbgrader page is made here once a worker has no notebook left to
        # start (on a cluster at once: this machine's processors are free), while the last
        # notebooks still run; not while only the visible tests may be shown (`reports.early_feedback`).
        pages = policy.shows_results
        running = set(futures)
        progress = Progress(len(pending), log)
        held, unpaged, made = [], [], {}  # held: students who finish before the canary, recorded once it has passed
        with ThreadPoolExecutor(max_workers=1) as page_maker:
            while running:
                finished, running = wait(running, return_when=FIRST_COMPLETED)
                for fut in finished:
                    sid = futures[fut]
                    job = canary if sid is None else pending[sid][0]
                    try:
                        outcome = fut.result()
                    except Exception as exc:  # a lost worker costs this student, not the batch
                        outcome = Outcome.failed(job, f"the grader's worker failed ({exc})")
                    if sid is None:
                        problem = _canary_problem(outcome, release)
                        if problem:
                            raise GradingError(
                                f"Grading stopped: the lesson's own solution, graded as a canary in the same "
                                f"sandbox, lost points ({problem}). Fix the grader or the lesson; no student "
                                "was graded."
                            )
                        canary = None
                        rest = {submit(job): sid for sid, job in waiting}
                        futures.update(rest)
                        running |= set(rest)
                    else:
                        held.append((sid, outcome))
                while held and canary is None:
                    sid, outcome = held.pop(0)
                    kept = pending[sid][1]
                    result = _finish(lesson, sid, kept, outcome, workspace, total)
                    _save(workspace, result, kept.digest)  # last: a result file means this student is done
                    results[sid] = result
                    progress.step(result)
                    if pages and (result.status != "error" or result.tests):
                        unpaged.append(sid)
                if settings.cluster or len(running) < settings.jobs:
                    made.update(
                        {s: page_maker.submit(nbgrader_course.feedback_page, workspace, lesson, s) for s in unpaged}
                    )
                    unpaged = []
    fresh = frozenset(s for s, page in made.items() if page.result())
    ordered = final(lesson, [results[s.student_id] for s in subs], workspace)
    reports.write(lesson, ordered, workspace, log=log, fresh=fresh)
    return ordered


def summary(results: list[Grade]) -> str:
    width = max([len(r.student_id) for r in results] + [10])
    lines = [f"{'student':<{width}}  {'score':>13}  {'status':<7}  message"]
    for r in results:
        lines.append(f"{r.student_id:<{width}}  {r.score:>6.1f} / {r.max_score:<4g}  {r.status:<7}  {r.message}")
    return "\n".join(lines)
