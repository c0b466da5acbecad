"""The `course` command as a user runs it."""

import json
import os
import shutil
import signal

from conftest import ROOT, course_cmd


def test_doctor_tells_where_data_comes_from():
    done = course_cmd("doctor")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "backend" in out and "devices" in out and "keras" in out
    assert "fashion_mnist  available: package dataset-fashion-mnist" in out
    assert "opencv_digits  available: package opencv-doc" in out
    # Datasets that cannot be had offline are reported as missing, with the fix.
    assert "cifar10        MISSING - Provision it with `course data fetch cifar10`" in out
    assert "oneDNN" not in done.stderr, "TensorFlow's log noise should be silenced"


def test_data_list_and_fetch_errors():
    listed = course_cmd("data", "list")
    assert listed.returncode == 0 and "fashion_mnist" in listed.stdout and "imdb" in listed.stdout
    unknown = course_cmd("data", "fetch", "nope")
    assert unknown.returncode == 1 and "unknown dataset 'nope'" in unknown.stderr
    none = course_cmd("data", "fetch")
    assert none.returncode != 0 and "Name the datasets" in none.stderr


def test_run_executes_and_reports_metrics(tiny_root, tmp_path):
    out = tmp_path / "run"
    done = course_cmd("run", "00", "--mode", "smoke", "--out", str(out), cwd=tiny_root)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "without encryption" not in done.stderr  # the kernel talks over private Unix sockets, not TCP
    report = json.loads((out / "report.json").read_text())
    lesson = report["lessons"][0]
    assert lesson["lesson"] == "00-tiny" and lesson["status"] == "passed"
    assert lesson["metrics"] == [
        {"name": "tiny_metric", "value": 0.5, "target": 0.4, "mode": "smoke", "verdict": "n/a (smoke)"}
    ]
    assert (out / "00-tiny.ipynb").exists()
    assert "| 00-tiny | passed |" in (out / "report.md").read_text()


def test_run_reports_a_failing_lesson(tiny_root, tmp_path):
    nb_path = tiny_root / "solutions" / "00-tiny" / "00-tiny.ipynb"
    nb = json.loads(nb_path.read_text())
    nb["cells"][1]["source"] = "raise RuntimeError('boom')"
    nb_path.write_text(json.dumps(nb))
    done = course_cmd("run", "00-tiny", "--mode", "smoke", "--out", str(tmp_path / "run"), cwd=tiny_root)
    assert done.returncode == 1
    assert "RuntimeError: boom" in done.stdout


def test_unknown_lesson_lists_the_lessons():
    done = course_cmd("run", "99", "--mode", "smoke")
    assert done.returncode != 0 and "01-neural-network-basics" in done.stderr


def test_outside_the_course_is_a_clear_error(tmp_path):
    """The tools installed away from any course checkout, run from a folder that is not one."""
    import shutil
    import subprocess
    import sys

    for package in ("autograder", "course_lib"):
        shutil.copytree(ROOT / package, tmp_path / "site" / package, ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "elsewhere").mkdir()
    env = {k: v for k, v in os.environ.items() if k != "COURSE_ROOT"}
    env["PYTHONPATH"] = str(tmp_path / "site")
    done = subprocess.run(
        [sys.executable, "-m", "autograder.cli", "release", "--check"],
        cwd=tmp_path / "elsewhere",
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Not inside the course" in done.stderr and "COURSE_ROOT" in done.stderr
    assert "Traceback" not in done.stderr


def test_students_see_student_commands_and_instructors_see_all():
    import re
    import subprocess
    import sys

    def commands(module):
        done = subprocess.run([sys.executable, "-m", module, "--help"], capture_output=True, text=True, cwd=ROOT)
        assert done.returncode == 0, done.stderr
        return set(re.findall(r"^    (\w+)\b", done.stdout, re.M))

    student = commands("course_lib.cli")
    assert student == {"doctor", "data", "check"}
    assert commands("autograder.cli") == student | {
        "run",
        "results",
        "glossary",
        "release",
        "refresh",
        "grade",
        "feedback",
        "export",
        "similarity",
        "bundle",
        "lab",
        "demo",
    }


def test_course_lib_never_imports_autograder():
    import ast
    import re

    for path in (ROOT / "course_lib").glob("*.py"):
        tree = ast.parse(path.read_text())
        names = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
        names += [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
        assert not [n for n in names if n.split(".")[0] == "autograder"], path
        assert not re.search(r"import_module\([^)]*autograder", path.read_text()), f"{path}: no imports by name"


def test_a_signal_stops_the_whole_run_and_records_nothing(tiny_root, tmp_path):
    """nbclient turns SIGTERM into "the kernel died" and returns; the run must stop instead
    of going on with the next lesson. The kernel signals `course` itself, its parent."""
    solutions = tiny_root / "solutions"
    shutil.copytree(solutions / "00-tiny", solutions / "01-tiny")
    (solutions / "01-tiny" / "00-tiny.ipynb").rename(solutions / "01-tiny" / "01-tiny.ipynb")
    nb_path = solutions / "00-tiny" / "00-tiny.ipynb"
    nb = json.loads(nb_path.read_text())
    nb["cells"][1]["source"] = "import os, signal, time\nos.kill(os.getppid(), signal.SIGTERM)\ntime.sleep(60)"
    nb_path.write_text(json.dumps(nb))
    out = tmp_path / "run"
    done = course_cmd("run", "00", "01", "--mode", "smoke", "--out", str(out), "--record", cwd=tiny_root, timeout=120)
    assert done.returncode == 128 + signal.SIGTERM, done.stdout + done.stderr
    assert "interrupted (SIGTERM)" in done.stderr
    assert "running 01-tiny" not in done.stdout and not (out / "01-tiny.ipynb").exists()
    assert not (tiny_root / "docs" / "runs").exists()  # nothing recorded
