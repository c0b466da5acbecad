"""`course bundle`: what students get holds no solutions and no hidden tests."""
import zipfile

import pytest

from autograder import bundle, course


@pytest.fixture(scope="module")
def student_zip(tmp_path_factory):
    return bundle.build(tmp_path_factory.mktemp("bundle") / "student.zip")


def test_bundle_has_lessons_library_and_install_files(student_zip):
    names = zipfile.ZipFile(student_zip).namelist()
    for lesson in course.lessons():
        assert f"lessons/{lesson}/{lesson}.ipynb" in names
    for required in ("course_lib/__init__.py", "course_lib/datasets.py", "requirements.txt",
                     "environment.yml", "pyproject.toml", "README.md"):
        assert required in names
    assert not [n for n in names if n.startswith(("solutions/", "autograder/", "tests/")) or "__pycache__" in n]


def test_bundle_reveals_no_solution_or_hidden_test(student_zip):
    assert bundle.leaks(student_zip) == []
    assert bundle._secrets(), "the leak check must have solution lines to look for"


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
