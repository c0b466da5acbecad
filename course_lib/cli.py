"""The student's `course` command: `doctor`, `data` and `check`.

Instructors' `course` (`autograder.cli`) has these three and the instructor
commands; the student bundle installs this one.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import platform
import shutil
import signal
import sys
from pathlib import Path

from course_lib import datasets, kernel, runtime, selfcheck
from course_lib.errors import CourseError

# --------------------------------------------------------------------------- doctor


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def cmd_doctor(args) -> int:
    print(f"{'python':<24}{platform.python_version()} ({sys.executable})")
    for dist in (
        "keras",
        "tensorflow-cpu",
        "tensorflow",
        "jax",
        "torch",
        "numpy",
        "opencv-python-headless",
        "scikit-learn",
        "nbgrader",
        "jupyterlab",
    ):
        version = _version(dist)
        if version != "not installed" or dist in ("keras", "numpy", "nbgrader"):
            print(f"{dist:<24}{version}")
    print(f"{'COURSE_MODE':<24}{runtime.mode()}")
    try:
        with runtime.startup_notices_dropped():
            import keras

        print(f"{'backend':<24}{keras.config.backend()}")
        print(f"{'devices':<24}{', '.join(runtime.devices())}")
    except Exception as exc:  # doctor reports problems; it must not die of them
        print(f"{'backend':<24}cannot start Keras: {exc.__class__.__name__}: {exc}")
    sandbox = shutil.which("bwrap")
    print(
        f"{'sandbox':<24}{'bubblewrap at ' + sandbox if sandbox else 'bubblewrap missing (sudo apt-get install bubblewrap)'}"
    )
    print(f"{'data dir':<24}{datasets.data_dir()}")
    if datasets.mirror():
        print(f"{'data mirror':<24}{datasets.mirror()}")
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
        raise CourseError(
            f"Name the datasets to fetch, e.g. `course data fetch fashion_mnist`; known: {', '.join(datasets.REGISTRY)}"
        )
    if args.mirror:
        os.environ["COURSE_DATA_MIRROR"] = args.mirror
    failed = 0
    for name in names:
        try:
            datasets.fetch(name, force=args.force)
        except datasets.DataError as exc:
            print(f"error: {exc}", file=sys.stderr)
            failed += 1
    return 1 if failed else 0


# ---------------------------------------------------------------------------- check


def cmd_check(args) -> int:
    settings = kernel.RunSettings(
        mode=args.mode,
        cell_timeout=args.cell_timeout,
        timeout=args.timeout,
        sandboxed=not args.no_sandbox,
        threads=os.cpu_count() or 1,
    )
    print(f"Running {args.notebook} as grading will (this takes as long as the lesson's smoke run) ...", flush=True)
    report = selfcheck.check(args.notebook, Path.cwd(), settings)
    print(selfcheck.render(report))
    return 0 if report.ok else 1


# ------------------------------------------------------------------------------ main


def add_commands(sub) -> None:
    """The student commands, on a subparsers object (the instructor's `course` adds them too)."""
    sub.add_parser("doctor", help="versions, backend, devices and where each dataset comes from").set_defaults(
        fn=cmd_doctor
    )

    d = sub.add_parser("data", help="list or fetch datasets")
    d.add_argument("action", choices=["list", "fetch"])
    d.add_argument("names", nargs="*", help="datasets to fetch")
    d.add_argument("--force", action="store_true", help="download again even if a copy is present")
    d.add_argument(
        "--mirror",
        help="fetch from this mirror (URL or folder of DATASET/FILE) instead of the "
        "datasets' homes; default COURSE_DATA_MIRROR",
    )
    d.set_defaults(fn=cmd_data)

    defaults = kernel.RunSettings()
    c = sub.add_parser(
        "check",
        help="run your notebook as grading will, before you hand it in",
        description="Rebuild your notebook from the lesson with only your answers, run it with "
        "the grader's mode, limits and sandbox, and report which exercises are "
        "answered, which visible tests pass and what grading will not run. "
        "Hidden tests are not run.",
    )
    c.add_argument("notebook", help="lesson number or name (01, 01-neural-network-basics) or a notebook's path")
    c.add_argument("--mode", choices=runtime.MODES, default=defaults.mode, help="default: the grader's (smoke)")
    c.add_argument("--cell-timeout", type=int, default=defaults.cell_timeout, help="seconds one cell may run")
    c.add_argument("--timeout", type=int, default=defaults.timeout, help="seconds the whole notebook may run")
    c.add_argument("--no-sandbox", action="store_true", help="run without the grader's sandbox")
    c.set_defaults(fn=cmd_check)


def run_command(p: argparse.ArgumentParser, argv: list[str] | None) -> int:
    """Parse, run, and turn the course's errors into a message and exit status 1, and an
    interruption into a message and the shell's status for it (130 for Ctrl-C)."""
    runtime.quiet_logs()
    args = p.parse_args(argv)
    try:
        return args.fn(args)
    except CourseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as exc:
        signum = getattr(exc, "signum", signal.SIGINT)
        print(f"\ninterrupted ({signal.Signals(signum).name}); stopped", file=sys.stderr)
        return 128 + signum


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="course", description="Deep learning with Keras: the student's tools")
    add_commands(p.add_subparsers(dest="command", required=True, metavar="COMMAND"))
    return p


def main(argv: list[str] | None = None) -> int:
    return run_command(parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
