"""Generate the student notebooks in lessons/ from solutions/ with nbgrader.

lessons/ is also where a student who cloned the course writes answers, so a release
replaces only files that it wrote itself: a file whose content is neither what git has
committed nor what the last `course release` wrote is someone's work, and is left alone
unless asked (`force`), in which case it is moved aside first, never deleted.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from autograder import course
from autograder.nbgrader_course import NOT_RELEASED
from autograder.nbgrader_course import run as nbgrader
from course_lib.errors import CourseError

# What the last release wrote (path -> sha256), so a later release knows its own files.
MANIFEST = Path("build") / "released.json"
SET_ASIDE = Path("build") / "set-aside"


class ReleaseError(CourseError):
    """lessons/ holds work that a release would replace."""


def generate(lessons: list[str], out_dir: Path) -> dict[str, Path]:
    """Generate the lessons' student versions into out_dir/<lesson>/ with one nbgrader run;
    return each lesson's folder."""
    with tempfile.TemporaryDirectory(prefix="course-release-") as tmp:
        tmp = Path(tmp)
        for lesson in lessons:
            shutil.copytree(
                course.root() / "solutions" / lesson,
                tmp / "solutions" / lesson,
                ignore=shutil.ignore_patterns(*NOT_RELEASED),
            )
        shutil.copyfile(course.root() / "nbgrader_config.py", tmp / "nbgrader_config.py")
        # nbgrader takes a glob for the assignment: every lesson copied above.
        done = nbgrader(["generate_assignment", "*", "--no-db", "--force"], cwd=tmp)
        folders = {}
        for lesson in lessons:
            if done.returncode != 0 or not (tmp / "lessons" / lesson).is_dir():
                raise CourseError(f"nbgrader could not generate {lesson}:\n{done.stdout}{done.stderr}")
            folders[lesson] = out_dir / lesson
            if folders[lesson].exists():
                shutil.rmtree(folders[lesson])
            shutil.copytree(tmp / "lessons" / lesson, folders[lesson])
    return folders


def lesson_files(folder: Path) -> set[Path]:
    """Files of a lesson folder, relative to it, without editor and Python leftovers."""
    if not folder.exists():
        return set()
    return {
        p.relative_to(folder)
        for p in folder.rglob("*")
        if p.is_file() and not set(p.relative_to(folder).parts) & set(NOT_RELEASED)
    }


def _normalized(path: Path) -> object:
    if path.suffix == ".ipynb":
        return json.loads(path.read_text(encoding="utf-8"))
    return path.read_bytes()


def differences(generated: Path, committed: Path) -> list[str]:
    """Files that differ between a freshly generated lesson folder and the committed one."""
    diffs = []
    for name in sorted(lesson_files(generated) | lesson_files(committed)):
        a, b = generated / name, committed / name
        if not a.exists():
            diffs.append(f"{committed.name}/{name}: in lessons/ but not generated from solutions/")
        elif not b.exists():
            diffs.append(f"{committed.name}/{name}: missing from lessons/")
        elif _normalized(a) != _normalized(b):
            diffs.append(f"{committed.name}/{name}: differs from what solutions/ generates")
    return diffs


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _committed(root: Path, rel: Path) -> bytes | None:
    """The file as git has it at HEAD, or None (not a git checkout, or not committed)."""
    try:
        done = subprocess.run(
            ["git", "-C", str(root), "show", f"HEAD:{rel.as_posix()}"], capture_output=True, timeout=60
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


def _someones_work(root: Path, lesson: str, generated: Path, manifest: dict) -> list[Path]:
    """Files of lessons/LESSON that a release would replace or delete, and that no release wrote."""
    target = root / "lessons" / lesson
    work = []
    for name in sorted(lesson_files(target)):
        path, fresh = target / name, generated / name
        if fresh.exists() and _normalized(fresh) == _normalized(path):
            continue  # a release leaves it as it is
        rel = path.relative_to(root)
        data = path.read_bytes()
        if manifest.get(rel.as_posix()) == _sha(data) or _committed(root, rel) == data:
            continue
        work.append(rel)
    return work


def release(lessons: list[str], check: bool = False, force: bool = False) -> tuple[list[str], list[Path]]:
    """Regenerate lessons/ (or, with check, only compare).

    Returns the drift found and where work that was in the way has been moved (only with
    force; without it, such work stops the release before anything is written).
    """
    root = course.root()
    manifest_path = root / MANIFEST
    manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {}
    drift, set_aside = [], []
    with tempfile.TemporaryDirectory(prefix="course-check-") as tmp:
        generated = generate(lessons, Path(tmp))
        changed = []
        for lesson, folder in generated.items():
            found = differences(folder, root / "lessons" / lesson)
            drift.extend(found)
            if found:
                changed.append(lesson)
        if check:
            return drift, []
        work = [rel for lesson in changed for rel in _someones_work(root, lesson, generated[lesson], manifest)]
        if work and not force:
            raise ReleaseError(
                "Nothing released: these files in lessons/ hold changes that no release made "
                "(a student's answers?), and a release would replace them:\n  "
                + "\n  ".join(map(str, work))
                + "\nMove them elsewhere, or run `course release --force` to move them to "
                + f"{SET_ASIDE}/ first."
            )
        aside = root / SET_ASIDE / time.strftime("%Y%m%d-%H%M%S")
        for rel in work:
            (aside / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.move(root / rel, aside / rel)
            set_aside.append(aside / rel)
        for lesson in changed:
            # File by file, so that Jupyter's checkpoints of a student's work stay.
            target, fresh = root / "lessons" / lesson, generated[lesson]
            for name in lesson_files(target) - lesson_files(fresh):
                if (target / name).exists():
                    (target / name).unlink()
            for name in lesson_files(fresh):
                (target / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(fresh / name, target / name)
                manifest[(Path("lessons") / lesson / name).as_posix()] = _sha((target / name).read_bytes())
    if changed:
        manifest_path.parent.mkdir(parents=True, exist_ok=True)
        manifest_path.write_text(json.dumps(manifest, indent=1, sort_keys=True))
    return drift, set_aside
