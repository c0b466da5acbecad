"""Grading speed, measured: ``python -m autograder.benchmark [LESSON] [--students N] [--jobs J]``.

Grades the same N submissions (the lesson's sample answers, alternately right and
blank) three ways and prints a table:

* plain nbgrader: ``nbgrader autograde`` then ``generate_feedback`` for the class,
  unsandboxed, one notebook at a time (what an instructor runs by hand; it runs the
  notebook's own tests in the student's process, which `course grade` never trusts);
* ``course grade --jobs J`` (sandboxed, J notebooks at a time), right after;
* ``course grade --jobs 1`` with and without the sandbox, for its overhead per notebook
  (``--no-overhead`` skips these two, the slowest part of the benchmark).

`course grade` timings include registering the lesson in a fresh gradebook (a few
seconds); the plain nbgrader timing does not.

It is a benchmark, not a test: run it on a quiet machine. A host's speed can drift by
several per cent within minutes, so ``--rounds R`` times the pair R times, back to back,
and reports the round with the median ratio (and every round). Results also go to
``build/benchmark-grading.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from autograder import course, grading, notebooks, samples
from autograder.nbgrader_course import NOT_RELEASED, workspace_config
from autograder.nbgrader_course import run as nbgrader
from course_lib.errors import CourseError
from course_lib.runtime import QUIET_ENV


def _submissions(lesson: str, n: int, out: Path) -> Path:
    right, blank = samples.answered(lesson, 1.0), samples.answered(lesson, 0.0)
    for i in range(n):
        notebooks.write(right if i % 2 == 0 else blank, out / f"student{i:03d}" / f"{lesson}.ipynb")
    return out


def plain_nbgrader(lesson: str, subs: Path, workspace: Path) -> float:
    workspace.mkdir(parents=True)
    (workspace / "nbgrader_config.py").write_text(workspace_config(feedback=False))
    shutil.copytree(
        course.root() / "solutions" / lesson,
        workspace / "source" / lesson,
        ignore=shutil.ignore_patterns(*NOT_RELEASED),
    )
    nbgrader(["generate_assignment", lesson, "--force"], cwd=workspace)
    for folder in subs.iterdir():
        shutil.copytree(folder, workspace / "submitted" / folder.name / lesson)
    env = dict(os.environ, **QUIET_ENV, COURSE_MODE="smoke")
    start = time.perf_counter()
    done = nbgrader(["autograde", lesson, "--force"], cwd=workspace, env=env)
    nbgrader(["generate_feedback", lesson, "--force"], cwd=workspace, env=env)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise CourseError(f"plain nbgrader failed:\n{done.stdout}{done.stderr}")
    return seconds


def ours(lesson: str, subs: Path, workspace: Path, jobs: int, use_sandbox: bool = True) -> float:
    start = time.perf_counter()
    grading.grade(
        lesson, subs, workspace, grading.Settings(jobs=jobs, use_sandbox=use_sandbox, regrade=True), log=lambda m: None
    )
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lesson", nargs="?", default="01")
    parser.add_argument("--students", type=int, default=20)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument(
        "--rounds", type=int, default=1, help="plain and ours back to back this many times; the median round counts"
    )
    parser.add_argument(
        "--overhead", action=argparse.BooleanOptionalAction, default=True, help="also time --jobs 1, sandbox on and off"
    )
    args = parser.parse_args(argv)
    lesson = course.resolve([args.lesson])[0]
    n = args.students
    with tempfile.TemporaryDirectory(prefix="course-bench-") as tmp:
        tmp = Path(tmp)
        subs = _submissions(lesson, n, tmp / "subs")
        pairs = []  # (plain, ours) back to back: a host's speed drifts by several per cent in minutes
        for i in range(args.rounds):
            plain = plain_nbgrader(lesson, subs, tmp / f"plain{i}")
            pairs.append((plain, ours(lesson, subs, tmp / f"parallel{i}", args.jobs)))
        plain, parallel = sorted(pairs, key=lambda p: p[0] / p[1])[(len(pairs) - 1) // 2]  # the median round
        figures = {
            "lesson": lesson,
            "students": n,
            "jobs": args.jobs,
            "cores": os.cpu_count(),
            "plain_nbgrader_s": round(plain, 1),
            "course_grade_parallel_s": round(parallel, 1),
            "speedup": round(plain / parallel, 2),
            "rounds": [{"plain_nbgrader_s": round(a, 1), "course_grade_parallel_s": round(b, 1)} for a, b in pairs],
        }
        rounds = [
            (f"round {i + 1}: plain nbgrader / course grade", f"{a:.1f} / {b:.1f} ({a / b:.2f}x)")
            for i, (a, b) in enumerate(pairs)
        ]
        rows = (rounds if len(pairs) > 1 else []) + [
            ("plain nbgrader autograde + feedback", f"{plain:.1f}"),
            (f"course grade --jobs {args.jobs} (sandboxed)", f"{parallel:.1f} ({figures['speedup']}x faster)"),
        ]
        if args.overhead:
            serial = ours(lesson, subs, tmp / "serial", 1) / n
            unconfined = ours(lesson, subs, tmp / "unconfined", 1, use_sandbox=False) / n
            overhead_pct = round(100 * (serial - unconfined) / unconfined, 1)
            figures.update(
                sandboxed_per_notebook_s=round(serial, 2),
                unconfined_per_notebook_s=round(unconfined, 2),
                sandbox_overhead_pct=overhead_pct,
            )
            rows += [
                ("course grade --jobs 1, sandboxed, per notebook", f"{serial:.2f}"),
                (
                    "course grade --jobs 1, no sandbox, per notebook",
                    f"{unconfined:.2f} (sandbox overhead {overhead_pct} %)",
                ),
            ]
    print(f"| {lesson}, {n} submissions, {os.cpu_count()} cores | seconds |\n| --- | ---: |")
    for label, value in rows:
        print(f"| {label} | {value} |")
    out = course.root() / "build" / "benchmark-grading.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except CourseError as exc:
        sys.exit(f"error: {exc}")
