"""`course check` on the tiny lesson: what it reports is what grading will see."""

import json
import os
import subprocess
import sys
import time

import catalogue
import nbformat
import pytest
from conftest import course_cmd
from lab_server import free_port

from autograder import notebooks
from course_lib import kernel, selfcheck


@pytest.fixture
def released(tiny_root):
    assert course_cmd("release", cwd=tiny_root).returncode == 0
    return notebooks.read(tiny_root / "lessons" / "00-tiny" / "00-tiny.ipynb")


def _hand_in(folder, nb):
    path = folder / "00-tiny.ipynb"
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))
    return path


def test_blank_and_solved_notebooks(released, tiny_root, tmp_path):
    blank = course_cmd("check", str(_hand_in(tmp_path / "blank", released)), cwd=tiny_root)
    assert blank.returncode == 1, blank.stdout + blank.stderr
    out = blank.stdout
    assert "double                      NOT ANSWERED  visible test test_double: FAILS" in out
    assert "`double` is not written yet." in out
    assert "0 of 3 answers written; 0 of 2 visible tests pass." in out
    assert "why                         NOT ANSWERED  written answer: graded by a person" in out
    assert "Hidden tests were not run" in out

    solved = course_cmd(
        "check",
        str(_hand_in(tmp_path / "solved", catalogue._answers(released, catalogue.DOUBLE_OK, catalogue.SQUARE_OK))),
        cwd=tiny_root,
    )
    assert "2 of 3 answers written; 2 of 2 visible tests pass." in solved.stdout, solved.stdout
    assert "in the grader's sandbox" in solved.stdout and "smoke mode" in solved.stdout
    # The written answer is still blank, so the check is not all clear.
    assert solved.returncode == 1


def test_cells_grading_will_not_run_and_edited_tests(released, tiny_root, tmp_path):
    def edit(nb):
        nb.cells.insert(2, nbformat.v4.new_code_cell("HELPER = 2  # needed by my answer"))
        for cell in nb.cells:
            if cell.metadata.get("nbgrader", {}).get("grade_id") == "test_square":
                cell.source = "pass"
        nb.cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") != "why"]

    nb = catalogue._answers(released, "def double(x):\n    return HELPER * np.asarray(x)\n", catalogue.SQUARE_OK, edit)
    report = selfcheck.check(str(_hand_in(tmp_path / "s", nb)), tmp_path, kernel.RunSettings(sandboxed=False))
    assert report.structure.not_run == ["HELPER = 2  # needed by my answer"]
    assert report.structure.edited_tests == ["test_square"]
    assert report.structure.missing == ["why"]
    # As graded: the added cell is not run, so `double` fails; the original square test runs and passes.
    results = {t.grade_id: t for t in report.tests}
    assert results["test_double"].passed is False and "HELPER" in results["test_double"].message
    assert results["test_square"].passed is True
    text = selfcheck.render(report)
    assert "Not run when graded: 1 cell(s)" in text and "'HELPER = 2  # needed by my answer'" in text
    assert "Test cells you changed (grading runs the lesson's own): test_square" in text


def test_a_cell_that_runs_out_of_time(released, tiny_root, tmp_path):
    nb = catalogue._answers(released, "import time\ntime.sleep(30)\n" + catalogue.DOUBLE_OK, catalogue.SQUARE_OK)
    settings = kernel.RunSettings(cell_timeout=3, sandboxed=False)
    report = selfcheck.check(str(_hand_in(tmp_path / "s", nb)), tmp_path, settings)
    assert "ran longer than 3 s" in report.problem
    assert report.stopped_cell == "import time"
    assert [t.passed for t in report.tests] == [None, None]  # neither test ran
    assert "The run stopped" in selfcheck.render(report)


def test_check_finds_a_lesson_by_number(released, tiny_root, tmp_path):
    _hand_in(tmp_path / "lessons" / "00-tiny", released)
    assert selfcheck.find_notebook("00", tmp_path) == (tmp_path / "lessons" / "00-tiny" / "00-tiny.ipynb").resolve()
    with pytest.raises(selfcheck.CheckError, match="no notebook for lesson '07'"):
        selfcheck.find_notebook("07", tmp_path)
    _hand_in(tmp_path / "copy" / "00-tiny", released)
    (tmp_path / "00-tiny-copy").mkdir()
    nbformat.write(released, str(tmp_path / "00-tiny-copy" / "00-tiny.ipynb"))
    with pytest.raises(selfcheck.CheckError, match="2 notebooks match"):
        selfcheck.find_notebook("00", tmp_path)


def test_a_corrupt_notebook_is_a_clear_error(tiny_root, released, tmp_path):
    bad = tmp_path / "00-tiny.ipynb"
    bad.write_text("{ not json")
    done = course_cmd("check", str(bad), cwd=tiny_root)
    assert done.returncode == 1 and "error: 00-tiny.ipynb is not a readable notebook" in done.stderr
    assert "Traceback" not in done.stderr


def test_work_not_saved_in_a_running_jupyter(released, tiny_root, tmp_path, monkeypatch):
    """A real Jupyter server whose kernel for the notebook ran after the file was saved."""
    path = _hand_in(tmp_path / "work", released)
    old = time.time() - 600
    os.utime(path, (old, old))
    runtime_dir = tmp_path / "runtime"
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(runtime_dir))
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyter_server",
            "--no-browser",
            f"--port={port}",
            "--port-retries=0",
            "--IdentityProvider.token=course-test",
            f"--ServerApp.root_dir={tmp_path}",
            "--allow-root",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=dict(os.environ, JUPYTER_RUNTIME_DIR=str(runtime_dir)),
    )
    try:
        import urllib.request

        base = f"http://127.0.0.1:{port}"
        # A loaded CI machine can take a minute or more to start a server with every extension.
        deadline = time.time() + 240
        while time.time() < deadline and server.poll() is None:
            try:
                urllib.request.urlopen(f"{base}/api/status?token=course-test", timeout=10).close()
                if selfcheck._running_servers():
                    break
            except OSError:
                pass
            time.sleep(0.5)
        assert server.poll() is None and selfcheck._running_servers(), "the Jupyter server did not start"
        body = json.dumps(
            {"path": "work/00-tiny.ipynb", "type": "notebook", "name": "00-tiny.ipynb", "kernel": {"name": "python3"}}
        ).encode()
        request = urllib.request.Request(
            f"{base}/api/sessions",
            data=body,
            method="POST",
            headers={"Authorization": "token course-test", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            assert response.status == 201
        time.sleep(1)
        warning = selfcheck.unsaved(path)
        assert warning and "ran code after the file was last saved" in warning and "Ctrl+S" in warning
        path.touch()  # saved now
        assert selfcheck.unsaved(path) is None
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
