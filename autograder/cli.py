"""The instructor's `course` command: the student commands, then release, refresh, run,
results, grade, feedback, export, similarity, bundle and demo.

Each command's work lives in the module named after it; this file only parses
arguments and prints. Library errors (`CourseError`) become a message and exit status 1.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from autograder import (
    bundle,
    course,
    deadlines,
    demo,
    glossary,
    grading,
    lab,
    lms,
    notebooks,
    records,
    release,
    runner,
    similarity,
)
from course_lib import cli as student_cli
from course_lib import runtime, sandbox
from course_lib.errors import CourseError


def cmd_release(args) -> int:
    lessons = course.resolve(args.lessons)
    drift, set_aside = release.release(lessons, check=args.check, force=args.force)
    for path in set_aside:
        print(f"moved aside (it held changes no release made): {path}")
    if args.check:
        if drift:
            print("lessons/ is out of date with solutions/ (run `course release`):")
            print("\n".join(f"  {d}" for d in drift))
            return 1
        print(f"lessons/ matches solutions/ for {len(lessons)} lesson(s)")
        return 0
    print(f"released {len(lessons)} lesson(s)" + (f"; updated: {len(drift)} file(s)" if drift else "; nothing changed"))
    return 0


def cmd_refresh(args) -> int:
    lessons = course.resolve(args.lessons)
    for lesson in lessons:
        path = course.solution_notebook(lesson)
        nb = notebooks.read(path)
        seconds = notebooks.execute(nb, cwd=path.parent, mode="smoke")
        notebooks.write(notebooks.keep_checked_outputs(nb), path)
        print(f"{lesson}: executed in smoke mode in {seconds:.1f} s; kept the outputs nbval checks")
    release.release(lessons)
    print("lessons/ regenerated")
    return 0


def cmd_run(args) -> int:
    lessons = course.resolve(args.lessons)
    out = Path(args.out or course.root() / "build" / f"run-{args.mode}")
    missing = runner.backend_missing(args.backend)
    if missing and not args.record:
        raise CourseError(f"Cannot run on the {args.backend} backend: {missing}.")
    report = runner.run(lessons, args.mode, out, backend=args.backend, timeout=args.timeout)
    print((out / "report.md").read_text())
    print(f"executed notebooks and report.json/report.md in {out}")
    if args.record:
        print(f"recorded in {records.add(report)}; docs/results.md regenerated")
        records.write()
    return 0 if all(r["status"] == "passed" for r in report["lessons"]) else 1


def cmd_glossary(args) -> int:
    terms = glossary.collect()
    problems = glossary.conflicts(terms)
    if problems:
        raise CourseError("The lessons name a concept two ways; make them agree first:\n  " + "\n  ".join(problems))
    if args.check:
        if glossary.write(check=True):
            print(f"{glossary.GLOSSARY} matches the lessons")
            return 0
        print(f"{glossary.GLOSSARY} is out of date with the lessons (run `course glossary`)")
        return 1
    glossary.write()
    print(f"{glossary.GLOSSARY}: {len({glossary.concept(t.english) for t in terms})} terms")
    return 0


def cmd_results(args) -> int:
    for path in args.add:
        try:
            report = json.loads(Path(path).read_text())
        except (OSError, ValueError) as exc:
            raise CourseError(f"Cannot read run report {path}: {exc}") from None
        print(f"{path} recorded in {records.add(report)}")
    if args.check:
        if records.write(check=True):
            print("docs/results.md matches docs/runs/")
            return 0
        print("docs/results.md is out of date with docs/runs/ (run `course results`)")
        return 1
    records.write()
    print("docs/results.md and docs/figures/ regenerated")
    return 0


def _policy(args) -> deadlines.Policy | None:
    """The policy the command line sets, or None to keep the lesson's saved one."""
    if args.due is None:
        if args.late_policy != "none" or args.extensions or args.grace or args.results:
            raise CourseError(
                "--late-policy, --grace, --extensions and --results go with --due (--due none: no due date)"
            )
        return None
    return deadlines.Policy.from_args(
        "" if args.due == "none" else args.due,
        args.timezone,
        args.grace,
        args.late_policy,
        Path(args.extensions) if args.extensions else None,
        args.results or "immediate",
    )


def cmd_grade(args) -> int:
    lesson = course.resolve([args.lesson])[0]
    workspace = Path(args.workspace or course.root() / "grading")
    policy = _policy(args)
    if args.reports_only:
        if policy is not None:
            deadlines.save(policy, workspace.resolve(), lesson)
        print(grading.summary(grading.refresh_reports(lesson, workspace)))
        return 0
    if not args.submissions:
        raise CourseError("Name the submissions: --submissions FOLDER_OR_ZIP (or --reports-only).")
    settings = grading.Settings(
        mode=args.mode,
        jobs=args.jobs,
        cell_timeout=args.cell_timeout,
        timeout=args.timeout,
        use_sandbox=not args.no_sandbox,
        regrade=args.regrade,
        cluster=args.cluster,
        limits=sandbox.Limits(memory_mb=args.memory_mb, cpu_seconds=args.cpu_seconds),
    )
    if args.no_sandbox:
        print(
            "warning: --no-sandbox runs student code with your privileges; use it for trusted notebooks only",
            file=sys.stderr,
        )
    print(grading.summary(grading.grade(lesson, Path(args.submissions), workspace, settings, policy=policy)))
    return 0


def cmd_feedback(args) -> int:
    lesson = course.resolve([args.lesson])[0]
    workspace = Path(args.workspace or course.root() / "grading").resolve()
    policy = deadlines.load(workspace, lesson)
    if args.release:
        policy.released = True
        deadlines.save(policy, workspace, lesson)
    results = grading.refresh_reports(lesson, workspace)
    shown = "every test's result" if policy.shows_results else "visible tests only"
    print(f"feedback for {len(results)} student(s) in {workspace / 'reports' / lesson / 'feedback'}: {shown}")
    return 0


def cmd_export(args) -> int:
    workspace = Path(args.workspace or course.root() / "grading").resolve()
    lessons = (
        course.resolve(args.lessons)
        if args.lessons
        else sorted(p.name for p in (workspace / "results").glob("*") if p.is_dir() and any(p.glob("*.json")))
    )
    if not lessons:
        raise CourseError(f"Nothing graded in {workspace}: run `course grade` first.")
    grades, max_scores = {}, {}
    for lesson in lessons:
        results = grading.current(lesson, workspace)
        max_scores[lesson] = max((r.max_score for r in results), default=0.0)
        grades[lesson] = lms.grades_from(results, max_scores[lesson])
    table = lms.export(grades, max_scores, lms.read_roster(Path(args.roster)), args.format)
    out = Path(args.out or workspace / "reports" / f"grades-{args.format}.csv")
    lms.write(table, out)
    print(f"{args.format} grades for {len(lessons)} lesson(s), {len(table.rows)} row(s): {out}")
    for note in table.notes:
        print(f"  note: {note}")
    return 0


def cmd_similarity(args) -> int:
    lesson = course.resolve([args.lesson])[0]
    workspace = Path(args.workspace or course.root() / "grading").resolve()
    handed_in = sorted((workspace / "submitted").glob(f"*/{lesson}/{lesson}.ipynb"))
    if not handed_in:
        raise CourseError(f"No graded submissions of {lesson} in {workspace}: run `course grade` first.")
    readable = {}
    for path in handed_in:
        try:
            readable[path.parts[-3]] = notebooks.read(path)
        except notebooks.NotebookError as exc:
            print(f"  skipped {path.parts[-3]}: {exc}")
    pairs = similarity.compare(readable, notebooks.read(course.released_notebook(lesson)))
    table, page = similarity.write(lesson, pairs, workspace / "reports" / lesson, show=args.show)
    print(f"{len(readable)} students, {len(pairs)} pairs: {page} and {table}")
    for p in pairs[: args.show]:
        print(f"  {p.score:6.1%}  {p.a} and {p.b}")
    return 0


def cmd_bundle(args) -> int:
    print(f"student bundle written to {bundle.build(Path(args.out))}")
    return 0


def cmd_lab(args) -> int:
    import subprocess

    extra = [a for a in args.jupyter_args if a != "--"]
    if args.grade:
        lesson = course.resolve([args.grade])[0]
        argv, env, cwd = lab.instructor(lesson, Path(args.workspace or course.root() / "grading"), extra)
        print(
            f"JupyterLab in the grading workspace {cwd}: open the Formgrader tab for {lesson}; "
            f"after grading by hand, run `course grade {lesson} --reports-only`"
        )
    else:
        argv, env, cwd = lab.student(extra)
        print(f"JupyterLab on {cwd}; before handing a lesson in, run `course check NN` in a terminal")
    return subprocess.call(argv, env=env, cwd=cwd)


def cmd_demo(args) -> int:
    return demo.main(Path(args.workspace) if args.workspace else None)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="course", description="Deep learning with Keras: course tools")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    student_cli.add_commands(sub)

    r = sub.add_parser("run", help="execute solution notebooks and report time and key metrics")
    r.add_argument("lessons", nargs="*", help="lessons (name or number); default all")
    r.add_argument("--mode", choices=runtime.MODES, default=os.environ.get("COURSE_MODE", "full"))
    r.add_argument("--backend", choices=["tensorflow", "jax", "torch"], help="Keras backend (default: KERAS_BACKEND)")
    r.add_argument("--out", help="folder for executed notebooks and the report (default build/run-MODE)")
    r.add_argument("--timeout", type=int, default=1800, help="seconds allowed per cell")
    r.add_argument(
        "--record", action="store_true", help="file the report under docs/runs/ and regenerate docs/results.md"
    )
    r.set_defaults(fn=cmd_run)

    res = sub.add_parser("results", help="regenerate docs/results.md from the run records in docs/runs/")
    res.add_argument("--add", nargs="*", default=[], metavar="REPORT", help="report.json files to record first")
    res.add_argument("--check", action="store_true", help="only compare; exit 1 if the page has drifted")
    res.set_defaults(fn=cmd_results)

    gl = sub.add_parser("glossary", help="regenerate docs/glossary.md from the key terms in the lessons")
    gl.add_argument("--check", action="store_true", help="only compare; exit 1 if the page has drifted")
    gl.set_defaults(fn=cmd_glossary)

    rel = sub.add_parser("release", help="regenerate lessons/ from solutions/ with nbgrader")
    rel.add_argument("lessons", nargs="*")
    rel.add_argument("--check", action="store_true", help="only compare; exit 1 if lessons/ has drifted")
    rel.add_argument(
        "--force",
        action="store_true",
        help=f"replace files in lessons/ that hold changes no release made, moving them to {release.SET_ASIDE}/ first",
    )
    rel.set_defaults(fn=cmd_release)

    ref = sub.add_parser("refresh", help="re-execute solutions in smoke mode, keep nbval-checked outputs, release")
    ref.add_argument("lessons", nargs="*")
    ref.set_defaults(fn=cmd_refresh)

    defaults = grading.Settings()
    g = sub.add_parser("grade", help="grade a folder or zip of submissions in a sandbox, in parallel")
    g.add_argument("lesson")
    g.add_argument(
        "--submissions",
        help="folder or .zip of STUDENT_ID/NOTEBOOK.ipynb, or of LMS-style STUDENTID_anything.ipynb files",
    )
    g.add_argument(
        "--reports-only",
        action="store_true",
        help="run nothing: rewrite the reports from the gradebook (after manual grading in formgrader)",
    )
    g.add_argument("--workspace", help="grading workspace (default ./grading, git-ignored)")
    g.add_argument("--jobs", type=int, default=defaults.jobs, help="notebooks graded at once (default: cores)")
    g.add_argument("--cluster", help="Dask scheduler address (tcp://HOST:8786) to grade on a cluster")
    g.add_argument(
        "--mode",
        choices=runtime.MODES,
        default=defaults.mode,
        help="COURSE_MODE for the student notebooks (default smoke: grading checks code, not long training)",
    )
    g.add_argument("--cell-timeout", type=int, default=defaults.cell_timeout, help="seconds one cell may run")
    g.add_argument("--timeout", type=int, default=defaults.timeout, help="seconds one notebook may take in all")
    g.add_argument(
        "--memory-mb", type=int, default=defaults.limits.memory_mb, help="address-space limit of a student's kernel"
    )
    g.add_argument(
        "--cpu-seconds", type=int, default=defaults.limits.cpu_seconds, help="CPU-time limit of a student's kernel"
    )
    g.add_argument("--regrade", action="store_true", help="grade again students already graded with the same notebook")
    g.add_argument("--no-sandbox", action="store_true", help="run kernels unconfined (trusted notebooks only)")
    late = g.add_argument_group("deadlines and late work (kept for the lesson until set again)")
    late.add_argument("--due", metavar="TIME", help='due date, e.g. "2027-03-01 23:59" ("none": no due date)')
    late.add_argument("--timezone", default="UTC", help="zone of times written without one (default UTC)")
    late.add_argument("--grace", type=float, default=0.0, metavar="MINUTES", help="late by this much is on time")
    late.add_argument(
        "--late-policy",
        default="none",
        help="none, or comma-separated per-day:PERCENT, cap:PERCENT, cutoff:TIME "
        '(e.g. "per-day:10,cutoff:2027-03-08 23:59")',
    )
    late.add_argument("--extensions", metavar="CSV", help="per-student due dates: columns student_id, due")
    late.add_argument(
        "--results",
        choices=deadlines.RESULTS_POLICIES,
        help="immediate (default): feedback shows every test; after-due: visible tests only until "
        "`course feedback LESSON --release`",
    )
    g.set_defaults(fn=cmd_grade)

    fb = sub.add_parser(
        "feedback", help="rewrite a graded lesson's feedback pages; --release shows hidden-test results"
    )
    fb.add_argument("lesson")
    fb.add_argument("--release", action="store_true", help="the due date has passed: show every test's result")
    fb.add_argument("--workspace", help="grading workspace (default ./grading)")
    fb.set_defaults(fn=cmd_feedback)

    ex = sub.add_parser("export", help="graded lessons as a grade file for Canvas, Moodle or a spreadsheet")
    ex.add_argument("lessons", nargs="*", help="lessons (default: every graded one)")
    ex.add_argument("--format", choices=lms.FORMATS, default="csv")
    ex.add_argument("--roster", required=True, help="the class: a CSV with student_id (or a Canvas gradebook export)")
    ex.add_argument("--out", help="the file to write (default WORKSPACE/reports/grades-FORMAT.csv)")
    ex.add_argument("--workspace", help="grading workspace (default ./grading)")
    ex.set_defaults(fn=cmd_export)

    si = sub.add_parser(
        "similarity", help="rank pairs of students by how alike their answers are (flags, never scores)"
    )
    si.add_argument("lesson")
    si.add_argument("--show", type=int, default=10, help="pairs shown side by side in similarity.html")
    si.add_argument("--workspace", help="grading workspace (default ./grading)")
    si.set_defaults(fn=cmd_similarity)

    b = sub.add_parser("bundle", help="zip what students get: lessons, course_lib, environment files")
    b.add_argument("out", help="output .zip")
    b.set_defaults(fn=cmd_bundle)

    lb = sub.add_parser(
        "lab",
        help="JupyterLab for students (lessons/, no nbgrader tools) or, with --grade, "
        "for instructors (a grading workspace with formgrader)",
    )
    lb.add_argument("--grade", metavar="LESSON", help="open the grading workspace of this lesson in formgrader")
    lb.add_argument("--workspace", help="grading workspace (default ./grading)")
    lb.add_argument("jupyter_args", nargs="*", help="after --, arguments for jupyter lab (e.g. -- --port=8890)")
    lb.set_defaults(fn=cmd_lab)

    dm = sub.add_parser(
        "demo", help="check lessons/ against a fresh release (never writing it), build the bundle, grade three samples"
    )
    dm.add_argument("--workspace", help="where to grade (default ./grading/demo)")
    dm.set_defaults(fn=cmd_demo)
    return p


def main(argv: list[str] | None = None) -> int:
    return student_cli.run_command(parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
