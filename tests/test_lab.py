"""`course lab`: JupyterLab as students and instructors open it, driven over its HTTP API
(the calls the browser makes)."""

import json

import pytest
from conftest import course_cmd
from lab_server import Lab, graded_tiny_class, page_config

from autograder import lab


def test_students_get_the_lessons_without_instructor_tools(tiny_root):
    assert course_cmd("release", cwd=tiny_root).returncode == 0
    server = Lab(*lab.student())
    try:
        config = page_config(server.get("/lab"))
        assert "@jupyter/nbgrader" in config["disabledExtensions"]
        assert server.status("/formgrader") == 404 and server.status("/assignments") == 404
        listed = json.loads(server.get("/api/contents"))
        assert [item["name"] for item in listed["content"]] == ["00-tiny"]
    finally:
        server.close()
    assert not (tiny_root / "gradebook.db").exists(), "opening the lab must not leave a gradebook behind"


def test_instructors_grade_written_answers_in_formgrader_and_the_reports_follow(tiny_root, tmp_path):
    workspace = graded_tiny_class(tiny_root, tmp_path)
    server = Lab(*lab.instructor("00-tiny", workspace))
    try:
        assignments = json.loads(server.get("/formgrader/api/assignments"))
        tiny = next(a for a in assignments if a["name"] == "00-tiny")
        assert (tiny["status"], tiny["num_submissions"]) == ("released", 3), tiny
        submissions = {s["student"]: s for s in json.loads(server.get("/formgrader/api/submissions/00-tiny"))}
        assert submissions["alice"]["autograded"] and submissions["alice"]["needs_manual_grade"]
        notebook = json.loads(server.get("/formgrader/api/submitted_notebooks/00-tiny/00-tiny"))
        alice = next(n for n in notebook if n["student"] == "alice")
        grades = json.loads(server.get(f"/formgrader/api/grades?submission_id={alice['id']}"))
        why = next(g for g in grades if g["name"] == "why")
        server.request(f"/formgrader/api/grade/{why['id']}", "PUT", {"manual_score": 1, "extra_credit": 0})
    finally:
        server.close()
    refreshed = course_cmd("grade", "00", "--workspace", str(workspace), "--reports-only", cwd=tiny_root)
    assert refreshed.returncode == 0, refreshed.stdout + refreshed.stderr
    grades_csv = (workspace / "reports" / "00-tiny" / "grades.csv").read_text()
    assert "alice,00-tiny,6.0,6.0,0.0,graded" in grades_csv, grades_csv


def test_the_instructor_lab_needs_a_graded_class(tiny_root, tmp_path):
    with pytest.raises(Exception, match="run `course grade 00-tiny"):
        lab.instructor("00-tiny", tmp_path / "nothing")
