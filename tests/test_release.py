"""lessons/ is generated from solutions/ and never drifts; the notebooks are kept clean."""

import json
import zipfile

import nbformat
import tiny_course
from conftest import course_cmd

from autograder import course, notebooks


def test_committed_release_matches_solutions():
    done = course_cmd("release", "--check")
    assert done.returncode == 0, done.stdout + done.stderr


def test_check_catches_drift_and_release_fixes_it(tiny_root):
    first = course_cmd("release", cwd=tiny_root)
    assert first.returncode == 0, first.stderr
    released = tiny_root / "lessons" / "00-tiny" / "00-tiny.ipynb"
    text = released.read_text()
    assert "raise NotImplementedError()" in text
    assert "BEGIN SOLUTION" not in text and "BEGIN HIDDEN TESTS" not in text and "arange(4)" not in text

    source = tiny_root / "solutions" / "00-tiny" / "00-tiny.ipynb"
    nb = json.loads(source.read_text())
    nb["cells"][0]["source"] = "# Tiny lesson, revised"
    source.write_text(json.dumps(nb))
    drift = course_cmd("release", "--check", cwd=tiny_root)
    assert drift.returncode == 1 and "00-tiny/00-tiny.ipynb: differs" in drift.stdout

    assert course_cmd("release", cwd=tiny_root).returncode == 0
    assert course_cmd("release", "--check", cwd=tiny_root).returncode == 0
    assert "revised" in released.read_text()


def _revise_solution(root, words):
    source = root / "solutions" / "00-tiny" / "00-tiny.ipynb"
    nb = json.loads(source.read_text())
    nb["cells"][0]["source"] = f"# Tiny lesson, {words}"
    source.write_text(json.dumps(nb))


def _answer_in_place(path):
    """What a student who cloned the course does: write an answer into lessons/ and save."""
    nb = json.loads(path.read_text())
    cell = next(c for c in nb["cells"] if "raise NotImplementedError()" in "".join(c["source"]))
    cell["source"] = "def double(x):\n    return 2 * x  # my answer\n"
    path.write_text(json.dumps(nb))
    return path.read_text()


def test_release_never_replaces_a_students_saved_answers(tiny_root):
    assert course_cmd("release", cwd=tiny_root).returncode == 0
    lesson = tiny_root / "lessons" / "00-tiny"
    mine = _answer_in_place(lesson / "00-tiny.ipynb")
    (lesson / ".ipynb_checkpoints").mkdir()
    (lesson / ".ipynb_checkpoints" / "00-tiny-checkpoint.ipynb").write_text(mine)
    # Jupyter's checkpoints are not part of the lesson: no drift from them alone.
    assert "checkpoint" not in course_cmd("release", "--check", cwd=tiny_root).stdout

    _revise_solution(tiny_root, "revised")
    refused = course_cmd("release", cwd=tiny_root)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "lessons/00-tiny/00-tiny.ipynb" in refused.stderr and "--force" in refused.stderr
    assert (lesson / "00-tiny.ipynb").read_text() == mine, "the student's answers must survive"

    forced = course_cmd("release", "--force", cwd=tiny_root)
    assert forced.returncode == 0, forced.stdout + forced.stderr
    kept = [p for p in (tiny_root / "build" / "set-aside").rglob("00-tiny.ipynb")]
    assert len(kept) == 1 and kept[0].read_text() == mine and str(kept[0]) in forced.stdout
    assert "revised" in (lesson / "00-tiny.ipynb").read_text()
    assert (lesson / ".ipynb_checkpoints" / "00-tiny-checkpoint.ipynb").read_text() == mine

    # What a release wrote, the next release may replace without asking.
    _revise_solution(tiny_root, "revised twice")
    assert course_cmd("release", cwd=tiny_root).returncode == 0
    assert "revised twice" in (lesson / "00-tiny.ipynb").read_text()


def test_release_replaces_what_git_has_committed(tiny_root):
    """A fresh clone has no record of past releases: git's committed lessons count as released."""
    import subprocess

    assert course_cmd("release", cwd=tiny_root).returncode == 0
    (tiny_root / "build" / "released.json").unlink()
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C", str(tiny_root)]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "lessons", "solutions"], check=True)
    subprocess.run([*git, "commit", "-qm", "course"], check=True)
    _revise_solution(tiny_root, "revised")
    done = course_cmd("release", cwd=tiny_root)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "revised" in (tiny_root / "lessons" / "00-tiny" / "00-tiny.ipynb").read_text()


def test_demo_leaves_a_students_lessons_alone(tiny_root, tmp_path):
    assert course_cmd("release", cwd=tiny_root).returncode == 0
    mine = _answer_in_place(tiny_root / "lessons" / "00-tiny" / "00-tiny.ipynb")
    done = course_cmd("demo", "--workspace", str(tmp_path / "ws"), cwd=tiny_root)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "left as it is" in done.stdout
    assert (tiny_root / "lessons" / "00-tiny" / "00-tiny.ipynb").read_text() == mine
    # The demo's samples come from the fresh release, not from the edited lessons/.
    bob = (tmp_path / "ws" / "samples" / "bob" / "00-tiny.ipynb").read_text()
    assert "my answer" not in bob and "raise NotImplementedError()" in bob
    with zipfile.ZipFile(tiny_root / "build" / "student-bundle.zip") as zf:
        assert "my answer" not in zf.read("lessons/00-tiny/00-tiny.ipynb").decode()


def test_lesson_notebooks_are_clean():
    for lesson in course.lessons():
        assert notebooks.unclean(notebooks.read(course.solution_notebook(lesson))) == [], lesson


def test_unclean_finds_widget_state_unrun_checked_cells_and_stray_outputs():
    nb = tiny_course.notebook()
    assert notebooks.unclean(nb) == []
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    nb.cells[1].outputs = [nbformat.v4.new_output("stream", text="hi\n")]
    nb.cells[6].source = f"# {notebooks.CHECK_MARK}\n" + nb.cells[6].source
    found = notebooks.unclean(nb)
    assert len(found) == 3, found
    assert "widgets" in found[0] and "outputs that no test checks" in found[1] and "without its output" in found[2]
    assert notebooks.unclean(notebooks.keep_checked_outputs(nb))[-1].endswith("stored without its output")
