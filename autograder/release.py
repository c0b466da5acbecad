"""Generate the student notebooks in lessons/ from solutions/ with nbgrader."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from autograder import course

NBGRADER_CONFIG = """\
c = get_config()
c.CourseDirectory.course_id = "keras-course"
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "lessons"
"""


def nbgrader(args: list[str], cwd: Path, timeout: float | None = None,
             env: dict | None = None) -> subprocess.CompletedProcess:
    """Run an nbgrader command in ``cwd`` (nbgrader reads nbgrader_config.py from there).

    nbgrader calls the `alembic` program by name, so this environment's bin folder
    goes first on PATH even when the virtual environment is not activated.
    """
    env = dict(os.environ if env is None else env)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return subprocess.run([sys.executable, "-m", "nbgrader", *args, "--log-level=WARN"], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout, env=env)


# Never copied out of solutions/: the hidden tests (nbgrader would release every file of
# the folder) and editor and Python leftovers.
NOT_RELEASED = (course.HIDDEN_TESTS, ".ipynb_checkpoints", "__pycache__")


def generate(lesson: str, out_dir: Path) -> Path:
    """Generate one lesson's student version into out_dir/<lesson>/ and return that folder."""
    with tempfile.TemporaryDirectory(prefix="course-release-") as tmp:
        tmp = Path(tmp)
        shutil.copytree(course.root() / "solutions" / lesson, tmp / "solutions" / lesson,
                        ignore=shutil.ignore_patterns(*NOT_RELEASED))
        (tmp / "nbgrader_config.py").write_text(NBGRADER_CONFIG)
        done = nbgrader(["generate_assignment", lesson, "--no-db", "--force"], cwd=tmp)
        if done.returncode != 0:
            raise RuntimeError(f"nbgrader could not generate {lesson}:\n{done.stdout}{done.stderr}")
        target = out_dir / lesson
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(tmp / "lessons" / lesson, target)
    return target


def _normalized(path: Path) -> object:
    if path.suffix == ".ipynb":
        return json.loads(path.read_text(encoding="utf-8"))
    return path.read_bytes()


def differences(generated: Path, committed: Path) -> list[str]:
    """Files that differ between a freshly generated lesson folder and the committed one."""
    names = {p.relative_to(generated) for p in generated.rglob("*") if p.is_file()}
    names |= {p.relative_to(committed) for p in committed.rglob("*") if p.is_file()} if committed.exists() else set()
    diffs = []
    for name in sorted(names):
        a, b = generated / name, committed / name
        if not a.exists():
            diffs.append(f"{committed.name}/{name}: in lessons/ but not generated from solutions/")
        elif not b.exists():
            diffs.append(f"{committed.name}/{name}: missing from lessons/")
        elif _normalized(a) != _normalized(b):
            diffs.append(f"{committed.name}/{name}: differs from what solutions/ generates")
    return diffs


def release(lessons: list[str], check: bool = False) -> list[str]:
    """Regenerate lessons/ (or, with check, only compare); return the drift found."""
    lessons_dir = course.root() / "lessons"
    drift = []
    with tempfile.TemporaryDirectory(prefix="course-check-") as tmp:
        for lesson in lessons:
            generated = generate(lesson, Path(tmp))
            found = differences(generated, lessons_dir / lesson)
            drift.extend(found)
            if not check and found:
                target = lessons_dir / lesson
                if target.exists():
                    shutil.rmtree(target)
                shutil.copytree(generated, target)
    return drift
