"""`course grade`: nbgrader autograding of a class, one bad notebook never sinking the rest."""
import csv
import json
import zipfile

import pytest

from autograder import grading, samples
from conftest import course_cmd

def _csv(path):
    with open(path, newline="", encoding="utf-8") as f:
        return {row["student_id"]: row for row in csv.DictReader(f)}


@pytest.fixture
def tiny_class(tiny_root, tmp_path):
    """Released tiny lesson plus submissions: the three samples and assorted broken ones."""
    assert course_cmd("release", cwd=tiny_root).returncode == 0
    subs = samples.write_samples("00-tiny", tmp_path / "subs")
    (subs / "dave").mkdir()
    (subs / "dave" / "00-tiny.ipynb").write_text("{ this is not json")
    (subs / "erin").mkdir()
    (subs / "frank").mkdir()
    (subs / "frank" / "00-tiny.ipynb").write_text(json.dumps(
        {"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    (subs / "bad name!").mkdir()
    return subs


def test_grades_a_tiny_class(tiny_class, tmp_path, tiny_root):
    workspace = tmp_path / "ws"
    done = course_cmd("grade", "00", "--submissions", str(tiny_class), "--workspace", str(workspace), cwd=tiny_root)
    assert done.returncode == 0, done.stdout + done.stderr
    rows = _csv(workspace / "reports" / "00-tiny" / "grades.csv")
    assert list(next(iter(rows.values()))) == grading.GRADES_FIELDS
    # 2 + 3 points of code, 1 point written (awaits a person).
    assert rows["alice"]["score"] == "5.0" and rows["alice"]["max_score"] == "6.0"
    assert rows["alice"]["status"] == "graded" and "await manual grading" in rows["alice"]["message"]
    assert rows["bob"]["score"] == "0.0" and rows["bob"]["status"] == "graded"
    assert rows["carol"]["score"] == "2.0"
    assert rows["dave"]["status"] == "error" and "not valid JSON" in rows["dave"]["message"]
    assert rows["erin"]["status"] == "error" and "no notebook found" in rows["erin"]["message"]
    assert rows["frank"]["status"] == "error" and "is not the 00-tiny notebook" in rows["frank"]["message"]
    assert rows["bad name!"]["status"] == "error" and "not a valid student id" in rows["bad name!"]["message"]
    feedback = workspace / "reports" / "00-tiny" / "feedback"
    assert sorted(p.name for p in feedback.iterdir()) == ["alice.html", "bob.html", "carol.html"]
    page = (feedback / "bob.html").read_text()
    assert "is not written yet" in page
    assert "arange(4)" not in page and "HIDDEN TESTS" not in page, "feedback must not show hidden tests"


def test_regrading_is_idempotent_and_accepts_a_zip(tiny_class, tmp_path, tiny_root):
    archive = tmp_path / "class.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in (tiny_class / "alice").rglob("*"):
            zf.write(path, f"submissions/{path.relative_to(tiny_class)}")
    workspace = tmp_path / "ws"
    for _ in range(2):
        done = course_cmd("grade", "00-tiny", "--submissions", str(archive), "--workspace", str(workspace),
                          cwd=tiny_root)
        assert done.returncode == 0, done.stdout + done.stderr
        rows = _csv(workspace / "reports" / "00-tiny" / "grades.csv")
        assert list(rows) == ["alice"] and rows["alice"]["score"] == "5.0"


def test_zip_that_escapes_its_folder_is_refused(tmp_path, tiny_root):
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("../../outside/00-tiny.ipynb", "{}")
    with pytest.raises(SystemExit, match="outside its folder"):
        grading.collect("00-tiny", archive, tmp_path / "ws")
    assert not (tmp_path / "outside").exists()
