"""`course bundle`: what students get holds no solutions and no hidden tests, and installs."""

import json
import os
import re
import subprocess
import time
import zipfile

import pytest

from autograder import bundle, course, notebooks, samples


@pytest.fixture(scope="module")
def student_zip(tmp_path_factory):
    return bundle.build(tmp_path_factory.mktemp("bundle") / "student.zip")


def test_bundle_has_lessons_library_and_install_files(student_zip):
    names = zipfile.ZipFile(student_zip).namelist()
    for lesson in course.lessons():
        assert f"lessons/{lesson}/{lesson}.ipynb" in names
    for required in (
        "course_lib/__init__.py",
        "course_lib/datasets.py",
        "requirements.txt",
        "environment.yml",
        "pyproject.toml",
        "README.md",
    ):
        assert required in names
    assert not [n for n in names if n.startswith(("solutions/", "autograder/", "tests/")) or "__pycache__" in n]


def test_bundle_reveals_no_solution_or_hidden_test(student_zip):
    assert bundle.leaks(student_zip) == []
    assert bundle._secrets(), "the leak check must have solution lines to look for"


def test_hidden_tests_are_never_released():
    for lesson in course.lessons():
        assert course.hidden_tests(lesson).is_file(), f"{lesson} has no hidden tests"
        assert not (course.root() / "lessons" / lesson / course.HIDDEN_TESTS).exists(), lesson


def test_leak_check_catches_hidden_test_lines(tmp_path):
    line = next(
        ln.strip()
        for ln in course.hidden_tests(course.lessons()[0]).read_text().splitlines()
        if "student.call(" in ln and len(ln.strip()) > 40
    )
    tampered = tmp_path / "tampered.zip"
    with zipfile.ZipFile(tampered, "w") as zf:
        zf.writestr("lessons/notes.txt", f"found on a forum:\n{line}\n")
        zf.writestr("lessons/01/grading.py", "")
    found = bundle.leaks(tampered)
    assert any("solution or hidden-test line" in f for f in found) and any("hidden tests" in f for f in found)


def test_leak_check_catches_a_solution_line(tmp_path):
    secret = bundle._secrets()[0]
    tampered = tmp_path / "tampered.zip"
    with zipfile.ZipFile(tampered, "w") as zf:
        zf.writestr("lessons/notes.txt", f"copied from the answers:\n{secret}\n")
        zf.writestr("autograder/grading.py", "")
    found = bundle.leaks(tampered)
    assert any("solution or hidden-test line" in f for f in found)
    assert any("instructor-only" in f for f in found)


def test_student_pyproject_installs_only_course_lib(student_zip):
    text = zipfile.ZipFile(student_zip).read("pyproject.toml").decode()
    assert 'packages = ["course_lib"]' in text and "autograder" not in text


def test_student_requirements_leave_out_instructor_tools(student_zip):
    text = zipfile.ZipFile(student_zip).read("requirements.txt").decode()
    assert "tensorflow-cpu==" in text and "keras==" in text and "jupyterlab==" in text
    for name in bundle.INSTRUCTOR_ONLY:
        assert f"\n{name}==" not in text


def test_bundle_ships_the_releases_that_course_check_rebuilds_from(student_zip):
    zf = zipfile.ZipFile(student_zip)
    for lesson in course.lessons():
        shipped = json.loads(zf.read(f"course_lib/releases/{lesson}.ipynb"))
        assert shipped == json.loads(zf.read(f"lessons/{lesson}/{lesson}.ipynb"))
        assert shipped == json.loads(course.released_notebook(lesson).read_text(encoding="utf-8"))
    assert 'course_lib = ["releases/*.ipynb"]' in zf.read("pyproject.toml").decode()


def _readme_commands(readme: str) -> list[str]:
    blocks = re.findall(r"```bash\n(.*?)```", readme, re.S)
    return [line for block in blocks for line in block.splitlines() if line.strip()]


def test_a_student_installs_the_bundle_with_its_readme_and_checks_lesson_01(student_zip, tmp_path):
    """No make, no course checkout: the bundle's README commands in a clean venv."""
    folder = tmp_path / "bundle"
    zipfile.ZipFile(student_zip).extractall(folder)
    lesson = "01-neural-network-basics"
    notebooks.write(samples.answered(lesson, 1.0), folder / "lessons" / lesson / f"{lesson}.ipynb")
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "COURSE_ROOT")}
    # Byte-compiling TensorFlow's thousands of modules is a third of the install here, and
    # nothing this test checks depends on it.
    env["PIP_NO_COMPILE"] = "1"
    commands = _readme_commands((folder / "README.md").read_text())
    assert commands[0] == "python3 -m venv .venv" and commands[-1] == ".venv/bin/course check 01"
    outputs = {}
    for command in commands:
        start = time.perf_counter()
        done = subprocess.run(command, shell=True, cwd=folder, env=env, capture_output=True, text=True, timeout=1500)
        assert done.returncode == 0, f"{command}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        outputs[command] = done.stdout
        print(f"{time.perf_counter() - start:6.1f} s  {command}")
    python = folder / ".venv" / "bin" / "python"
    where = subprocess.run(
        [str(python), "-c", "import course_lib; print(course_lib.__file__)"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
    ).stdout
    assert "site-packages" in where, "the bundle installs course_lib as a package"
    assert (
        "all datasets available" in outputs[".venv/bin/course doctor"]
        or "MISSING" in outputs[".venv/bin/course doctor"]
    )
    check = outputs[".venv/bin/course check 01"]
    assert "the release installed with course_lib" in check
    assert "6 of 6 answers written; 5 of 5 visible tests pass." in check, check
    usage = subprocess.run(
        [str(folder / ".venv" / "bin" / "course"), "--help"], capture_output=True, text=True, env=env
    ).stdout
    assert set(re.findall(r"^    (\w+) ", usage, re.M)) == {"doctor", "data", "check"}, usage
