"""The `course` command.

Students have `doctor` and `data`; instructors, who also have the `autograder`
package, have `run`, `results`, `release`, `refresh`, `grade`, `bundle` and `demo`.
"""
from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import json
import os
import platform
import shutil
import sys
from pathlib import Path

from course_lib import datasets, runtime


def _instructor(module: str):
    """Import an instructor-only module, or explain that this is the student bundle."""
    try:
        return importlib.import_module(f"autograder.{module}")
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith("autograder"):
            raise SystemExit("This command is for instructors: it needs the full course repository "
                             "(the student bundle has no autograder).") from None
        raise


# --------------------------------------------------------------------------- doctor


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def cmd_doctor(args) -> int:
    print(f"{'python':<24}{platform.python_version()} ({sys.executable})")
    for dist in ("keras", "tensorflow-cpu", "tensorflow", "jax", "torch", "numpy", "opencv-python-headless",
                 "scikit-learn", "nbgrader", "jupyterlab"):
        version = _version(dist)
        if version != "not installed" or dist in ("keras", "numpy", "nbgrader"):
            print(f"{dist:<24}{version}")
    print(f"{'COURSE_MODE':<24}{runtime.mode()}")
    try:
        import keras

        print(f"{'backend':<24}{keras.config.backend()}")
        print(f"{'devices':<24}{', '.join(runtime.devices())}")
    except Exception as exc:  # doctor reports problems; it must not die of them
        print(f"{'backend':<24}cannot start Keras: {exc.__class__.__name__}: {exc}")
    sandbox = shutil.which("bwrap")
    print(f"{'sandbox':<24}{'bubblewrap at ' + sandbox if sandbox else 'bubblewrap missing (sudo apt-get install bubblewrap)'}")
    print(f"{'data dir':<24}{datasets.data_dir()}")
    missing = 0
    for name, spec in datasets.REGISTRY.items():
        where = datasets.available(name)
        missing += where is None
        print(f"  {name:<15}{'available: ' + where if where else 'MISSING - ' + datasets.fix_hint(spec)}")
    print(f"{missing} dataset(s) missing" if missing else "all datasets available")
    return 0


# ----------------------------------------------------------------------------- data


def cmd_data(args) -> int:
    if args.action == "list":
        for name, spec in datasets.REGISTRY.items():
            where = datasets.available(name)
            print(f"{name:<15}{spec.description}\n{'':<15}{'available: ' + where if where else 'missing'}")
        return 0
    names = args.names or []
    if not names:
        raise SystemExit("Name the datasets to fetch, e.g. `course data fetch fashion_mnist`; "
                         f"known: {', '.join(datasets.REGISTRY)}")
    failed = 0
    for name in names:
        try:
            datasets.fetch(name, force=args.force)
        except datasets.DataError as exc:
            print(f"error: {exc}", file=sys.stderr)
            failed += 1
    return 1 if failed else 0


# ------------------------------------------------------------------ instructor tools


def cmd_release(args) -> int:
    course, release = _instructor("course"), _instructor("release")
    lessons = course.resolve(args.lessons)
    drift = release.release(lessons, check=args.check)
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
    course, notebooks, release = _instructor("course"), _instructor("notebooks"), _instructor("release")
    lessons = course.resolve(args.lessons)
    for lesson in lessons:
        path = course.solution(lesson)
        nb = notebooks.read(path)
        seconds = notebooks.execute(nb, cwd=path.parent, mode="smoke")
        notebooks.write(notebooks.keep_checked_outputs(nb), path)
        print(f"{lesson}: executed in smoke mode in {seconds:.1f} s; kept the outputs nbval checks")
    release.release(lessons)
    print("lessons/ regenerated")
    return 0


def cmd_run(args) -> int:
    course, runner = _instructor("course"), _instructor("runner")
    lessons = course.resolve(args.lessons)
    out = Path(args.out or course.root() / "build" / f"run-{args.mode}")
    missing = runner.backend_missing(args.backend)
    if missing and not args.record:
        raise SystemExit(f"Cannot run on the {args.backend} backend: {missing}.")
    report = runner.run(lessons, args.mode, out, backend=args.backend, timeout=args.timeout)
    print((out / "report.md").read_text())
    print(f"executed notebooks and report.json/report.md in {out}")
    if args.record:
        results = _instructor("results")
        print(f"recorded in {results.add(report)}; docs/results.md regenerated")
        results.write()
    return 0 if all(r["status"] == "passed" for r in report["lessons"]) else 1


def cmd_results(args) -> int:
    results = _instructor("results")
    for path in args.add:
        try:
            report = json.loads(Path(path).read_text())
        except (OSError, ValueError) as exc:
            raise SystemExit(f"Cannot read run report {path}: {exc}") from None
        print(f"{path} recorded in {results.add(report)}")
    if args.check:
        if results.write(check=True):
            print("docs/results.md matches docs/runs/")
            return 0
        print("docs/results.md is out of date with docs/runs/ (run `course results`)")
        return 1
    results.write()
    print("docs/results.md and docs/figures/ regenerated")
    return 0


def cmd_grade(args) -> int:
    course, grading, sandbox = _instructor("course"), _instructor("grading"), _instructor("sandbox")
    lesson = course.resolve([args.lesson])[0]
    workspace = Path(args.workspace or course.root() / "grading")
    settings = grading.Settings(
        mode=args.mode, jobs=args.jobs, cell_timeout=args.cell_timeout, timeout=args.timeout,
        use_sandbox=not args.no_sandbox, regrade=args.regrade, cluster=args.cluster,
        limits=sandbox.Limits(memory_mb=args.memory_mb, cpu_seconds=args.cpu_seconds))
    if args.no_sandbox:
        print("warning: --no-sandbox runs student code with your privileges; use it for trusted notebooks only",
              file=sys.stderr)
    results = grading.grade(lesson, Path(args.submissions), workspace, settings)
    print(grading.summary(results))
    return 0


def cmd_bundle(args) -> int:
    bundle = _instructor("bundle")
    out = bundle.build(Path(args.out))
    print(f"student bundle written to {out}")
    return 0


def cmd_demo(args) -> int:
    demo = _instructor("demo")
    return demo.main(Path(args.workspace) if args.workspace else None)


# ------------------------------------------------------------------------------ main


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="course", description="Deep learning with Keras: course tools")
    sub = p.add_subparsers(dest="command", required=True)

    sub.add_parser("doctor", help="versions, backend, devices and where each dataset comes from").set_defaults(fn=cmd_doctor)

    d = sub.add_parser("data", help="list or fetch datasets")
    d.add_argument("action", choices=["list", "fetch"])
    d.add_argument("names", nargs="*", help="datasets to fetch")
    d.add_argument("--force", action="store_true", help="download again even if a copy is present")
    d.set_defaults(fn=cmd_data)

    r = sub.add_parser("run", help="execute solution notebooks and report time and key metrics")
    r.add_argument("lessons", nargs="*", help="lessons (name or number); default all")
    r.add_argument("--mode", choices=runtime.MODES, default=os.environ.get("COURSE_MODE", "full"))
    r.add_argument("--backend", choices=["tensorflow", "jax", "torch"], help="Keras backend (default: KERAS_BACKEND)")
    r.add_argument("--out", help="folder for executed notebooks and the report (default build/run-MODE)")
    r.add_argument("--timeout", type=int, default=1800, help="seconds allowed per cell")
    r.add_argument("--record", action="store_true",
                   help="file the report under docs/runs/ and regenerate docs/results.md")
    r.set_defaults(fn=cmd_run)

    res = sub.add_parser("results", help="regenerate docs/results.md from the run records in docs/runs/")
    res.add_argument("--add", nargs="*", default=[], metavar="REPORT", help="report.json files to record first")
    res.add_argument("--check", action="store_true", help="only compare; exit 1 if the page has drifted")
    res.set_defaults(fn=cmd_results)

    rel = sub.add_parser("release", help="regenerate lessons/ from solutions/ with nbgrader")
    rel.add_argument("lessons", nargs="*")
    rel.add_argument("--check", action="store_true", help="only compare; exit 1 if lessons/ has drifted")
    rel.set_defaults(fn=cmd_release)

    ref = sub.add_parser("refresh", help="re-execute solutions in smoke mode, keep nbval-checked outputs, release")
    ref.add_argument("lessons", nargs="*")
    ref.set_defaults(fn=cmd_refresh)

    g = sub.add_parser("grade", help="grade a folder or zip of submissions in a sandbox, in parallel")
    g.add_argument("lesson")
    g.add_argument("--submissions", required=True,
                   help="folder or .zip of STUDENT_ID/NOTEBOOK.ipynb, or of LMS-style STUDENTID_anything.ipynb files")
    g.add_argument("--workspace", help="grading workspace (default ./grading, git-ignored)")
    g.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="notebooks graded at once (default: cores)")
    g.add_argument("--cluster", help="Dask scheduler address (tcp://HOST:8786) to grade on a cluster")
    g.add_argument("--mode", choices=runtime.MODES, default="smoke",
                   help="COURSE_MODE for the student notebooks (default smoke: grading checks code, not long training)")
    g.add_argument("--cell-timeout", type=int, default=600, help="seconds one cell may run")
    g.add_argument("--timeout", type=int, default=1800, help="seconds one notebook may take in all")
    g.add_argument("--memory-mb", type=int, default=6144, help="address-space limit of a student's kernel")
    g.add_argument("--cpu-seconds", type=int, default=900, help="CPU-time limit of a student's kernel")
    g.add_argument("--regrade", action="store_true", help="grade again students already graded with the same notebook")
    g.add_argument("--no-sandbox", action="store_true", help="run kernels unconfined (trusted notebooks only)")
    g.set_defaults(fn=cmd_grade)

    b = sub.add_parser("bundle", help="zip what students get: lessons, course_lib, environment files")
    b.add_argument("out", help="output .zip")
    b.set_defaults(fn=cmd_bundle)

    dm = sub.add_parser("demo", help="release, grade the three sample submissions, print their scores")
    dm.add_argument("--workspace", help="where to grade (default ./grading/demo)")
    dm.set_defaults(fn=cmd_demo)
    return p


def main(argv: list[str] | None = None) -> int:
    runtime.quiet_logs()
    args = parser().parse_args(argv)
    return args.fn(args)


if __name__ == "__main__":
    sys.exit(main())
