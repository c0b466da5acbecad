"""`course grade` on the tiny lesson: mechanics, the hostile catalogue, crash safety, Dask."""

import csv
import html
import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile

import catalogue
import pytest
import tiny_course
from conftest import ROOT, course_cmd

from autograder import grading, notebooks, reports, samples, worker
from course_lib import sandbox


def _csv(path):
    with open(path, newline="", encoding="utf-8") as f:
        return {row["student_id"]: row for row in csv.DictReader(f)}


def _gradebook_students(workspace, lesson="00-tiny"):
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{workspace / 'gradebook.db'}") as gb:
        return sorted(s.student.id for s in gb.find_assignment(lesson).submissions)


@pytest.fixture
def released(tiny_root):
    assert course_cmd("release", cwd=tiny_root).returncode == 0
    return notebooks.read(tiny_root / "lessons" / "00-tiny" / "00-tiny.ipynb")


def test_grades_samples_and_writes_reports(released, tiny_root, tmp_path):
    subs = samples.write_samples("00-tiny", tmp_path / "subs")
    workspace = tmp_path / "ws"
    done = course_cmd(
        "grade", "00", "--submissions", str(subs), "--workspace", str(workspace), "--jobs", "2", cwd=tiny_root
    )
    assert done.returncode == 0, done.stdout + done.stderr
    out = workspace / "reports" / "00-tiny"
    rows = _csv(out / "grades.csv")
    assert list(next(iter(rows.values()))) == grading.GRADES_FIELDS
    # 2 + 3 points of code, 1 point written (awaits a person).
    assert (rows["alice"]["score"], rows["alice"]["max_score"], rows["alice"]["status"]) == ("5.0", "6.0", "graded")
    assert "await manual grading" in rows["alice"]["message"]
    assert (rows["bob"]["score"], rows["bob"]["status"]) == ("0.0", "graded")
    assert rows["carol"]["score"] == "2.0"
    assert _gradebook_students(workspace) == ["alice", "bob", "carol"]
    tests = list(csv.DictReader(open(out / "tests.csv")))
    assert {t["test"]: t["passed"] for t in tests} == {"test_double": "2", "test_square": "1"}
    assert (out / "scores.png").stat().st_size > 1000
    page = (out / "feedback" / "bob.html").read_text()
    assert "is not written yet" in page
    assert "arange(4)" not in page and "HIDDEN TESTS" not in page, "feedback must not show hidden tests"
    assert "course-grader" not in page, "the grader's markers and probes must not reach students"
    # Formulas are typeset as MathML, which needs no MathJax from the network.
    assert "<mfrac>" in page and "\\frac" not in page and "<math" in page


def test_feedback_math_leaves_prices_and_unknown_latex_as_written():
    from autograder.feedback import MATH, _mathml

    assert MATH.sub(_mathml, "It costs $5 and $6.") == "It costs $5 and $6."
    assert MATH.sub(_mathml, r"$a_i$").startswith("<math") and "<msub>" in MATH.sub(_mathml, r"$a_i$")


def test_feedback_page_is_nbconverts_page_without_its_second_pass():
    """FeedbackPage skips HTMLExporter's re-parse of the finished page; ImageAltText does the
    one thing that pass would do on the classic template, so the pages are the same."""
    import nbformat
    from bs4 import BeautifulSoup
    from nbconvert.exporters import HTMLExporter

    from autograder.feedback import NO_ALT_TEXT, FeedbackPage, ImageAltText

    png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_markdown_cell("# A lesson\n\nSome *prose*."),
            nbformat.v4.new_code_cell(
                "plot()",
                outputs=[
                    nbformat.v4.new_output("display_data", data={"image/png": png}),
                    nbformat.v4.new_output("display_data", data={"image/png": png}, metadata={"alt": "a loss curve"}),
                    nbformat.v4.new_output("stream", name="stdout", text="done\n"),
                ],
            ),
        ]
    )
    nb.metadata["language_info"] = {"name": "python", "pygments_lexer": "ipython3"}
    theirs, _ = HTMLExporter(template_name="classic").from_notebook_node(nbformat.from_dict(nb))
    ours, _ = FeedbackPage(template_name="classic").from_notebook_node(ImageAltText().preprocess(nb, {})[0])
    assert str(BeautifulSoup(ours, features="html.parser")) == theirs
    assert ours.count(f'alt="{NO_ALT_TEXT}"') == 1 and 'alt="a loss curve"' in ours


def test_a_new_workspace_gradebook_is_the_one_nbgrader_makes(tmp_path, monkeypatch):
    """The grader makes a new gradebook itself (nbgrader would start an `alembic` process):
    same tables, same schema revision, and nbgrader opens it as its own."""
    import sqlite3

    from nbgrader.api import Gradebook

    from autograder import nbgrader_course

    def schema(path):
        with sqlite3.connect(path) as db:
            tables = sorted(db.execute("SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL"))
            return tables, db.execute("SELECT version_num FROM alembic_version").fetchall()

    theirs, ours = tmp_path / "theirs", tmp_path / "ours"
    theirs.mkdir(), ours.mkdir()
    monkeypatch.setenv("PATH", os.pathsep.join([os.path.dirname(sys.executable), os.environ["PATH"]]))  # for `alembic`
    Gradebook(f"sqlite:///{theirs / 'gradebook.db'}").close()
    nbgrader_course._create_gradebook(ours)
    assert schema(ours / "gradebook.db") == schema(theirs / "gradebook.db")
    assert schema(ours / "gradebook.db")[1] == [(nbgrader_course._schema_version(),)]
    assert not list(ours.glob(".*")), "nothing half-made is left beside it"
    with Gradebook(f"sqlite:///{ours / 'gradebook.db'}") as gb:
        gb.add_assignment("a1")
        assert [a.name for a in gb.assignments] == ["a1"]


def test_a_notebook_nbgrader_cannot_read_is_a_clear_error_and_moves_nothing(tmp_path):
    """Registration runs nbgrader in this process: its failure comes back as its log, and its
    change of working folder is undone."""
    from autograder import nbgrader_course

    (tmp_path / "nbgrader_config.py").write_text(nbgrader_course.workspace_config())
    (tmp_path / "source" / "00-x").mkdir(parents=True)
    (tmp_path / "source" / "00-x" / "00-x.ipynb").write_text("{not json")
    before = os.getcwd()
    problem = nbgrader_course.generate_assignment(tmp_path, "00-x")
    assert "JSONDecodeError" in problem and "00-x" in problem
    assert os.getcwd() == before
    assert not (tmp_path / "release" / "00-x" / "00-x.ipynb").exists()


def _grade_by_hand(workspace, student, grade_id, points):
    """What formgrader's grade handler does when an instructor types points in the browser."""
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{workspace / 'gradebook.db'}") as gb:
        grade = gb.find_grade(grade_id, "00-tiny", "00-tiny", student)
        grade.manual_score = points
        grade.needs_manual_grade = False
        gb.db.commit()


def test_manual_grades_count_everywhere_and_survive_a_second_run(released, tiny_root, tmp_path):
    subs, workspace = samples.write_samples("00-tiny", tmp_path / "subs"), tmp_path / "ws"
    grade = ["grade", "00", "--submissions", str(subs), "--workspace", str(workspace)]
    assert course_cmd(*grade, cwd=tiny_root).returncode == 0
    out = workspace / "reports" / "00-tiny"
    assert (_csv(out / "grades.csv")["alice"]["score"], _csv(out / "grades.csv")["alice"]["awaiting_manual"]) == (
        "5.0",
        "1.0",
    )

    _grade_by_hand(workspace, "alice", "why", 1)
    refreshed = course_cmd("grade", "00", "--workspace", str(workspace), "--reports-only", cwd=tiny_root)
    assert refreshed.returncode == 0, refreshed.stdout + refreshed.stderr
    for run in ("reports only", "cached", "regraded"):
        rows = _csv(out / "grades.csv")
        assert (rows["alice"]["score"], rows["alice"]["awaiting_manual"]) == ("6.0", "0.0"), run
        assert "await manual grading" not in rows["alice"]["message"], run
        assert "await manual grading" in rows["carol"]["message"], "carol's answer is still ungraded"
        page = html.unescape((out / "feedback" / "alice.html").read_text())
        assert "Score: 6.0 / 6.0" in page, run
        if run == "reports only":
            assert course_cmd(*grade, cwd=tiny_root).returncode == 0
        elif run == "cached":
            assert course_cmd(*grade, "--regrade", cwd=tiny_root).returncode == 0


def test_reports_only_before_any_grading_is_a_clear_error(tiny_root, tmp_path):
    done = course_cmd("grade", "00", "--workspace", str(tmp_path / "ws"), "--reports-only", cwd=tiny_root)
    assert done.returncode == 1 and "run `course grade` first" in done.stderr


def test_hostile_and_malformed_catalogue(released, tiny_root, tmp_path):
    """Every attack ends as it should, and the gradebook is consistent afterwards."""
    subs, workspace = tmp_path / "subs", tmp_path / "ws"
    secret = [str(tiny_root / "solutions"), str(workspace), str(ROOT / "solutions"), str(ROOT / "autograder")]
    cases = catalogue.write_hostile(released, subs, secret, str(workspace / "gradebook.db"))
    assert len(cases) >= 15
    other = notebooks.read(ROOT / "lessons" / "01-neural-network-basics" / "01-neural-network-basics.ipynb")
    malformed = catalogue.write_malformed(released, other, subs)
    assert len(malformed) >= 10
    cases.update(malformed)
    settings = grading.Settings(
        jobs=2, cell_timeout=catalogue.CELL_TIMEOUT, timeout=120, limits=sandbox.Limits(**catalogue.LIMITS)
    )
    results = grading.grade("00-tiny", subs, workspace, settings, log=lambda m: None)
    wrong = []
    for r in results:
        c = cases[r.student_id]
        if not (r.status in c.statuses and c.min_score <= r.score <= c.max_score and c.message in r.message):
            wrong.append(f"{r.student_id}: {r.status} {r.score} {r.message!r}, expected {c}")
    assert not wrong, "\n".join(wrong)
    assert sorted(r.student_id for r in results) == sorted(cases)
    # Never a silent full score: a full score from a hostile notebook is always flagged.
    for r in results:
        if r.student_id in catalogue.HOSTILE and r.score >= 5 and r.student_id != "huge_output":
            assert r.status == "flagged", r
    # The gradebook holds exactly the students whose notebooks ran, once each.
    assert _gradebook_students(workspace) == sorted(r.student_id for r in results if r.tests)
    # Feedback shows verdicts in the grader's words, never a line of the hidden tests.
    hidden_lines = [ln.strip() for ln in tiny_course.HIDDEN_TESTS.splitlines() if len(ln.strip()) > 20]
    pages = list((workspace / "reports" / "00-tiny" / "feedback").glob("*.html"))
    assert len(pages) > 20
    for page in pages:
        text = html.unescape(page.read_text())
        assert not [ln for ln in hidden_lines if ln in text], page.name
    page = html.unescape((workspace / "reports" / "00-tiny" / "feedback" / "keras_in_numpy_only.html").read_text())
    assert "Hidden tests: passed (2 of 2 points)" in page
    assert "imports a library other than NumPy, which a NumPy-only exercise cannot use" in page


def test_lms_zip_with_duplicates_and_strays(released, tiny_root, tmp_path):
    good = samples.answered("00-tiny", 1.0)
    archive = tmp_path / "lms.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("s001_attempt_1_00-tiny.ipynb", notebooks.nbformat.writes(good))
        zf.writestr("s002_first.ipynb", notebooks.nbformat.writes(good))
        zf.writestr("s002_second.ipynb", notebooks.nbformat.writes(good))
        zf.writestr("README.txt", "not a submission")
    results = {r.student_id: r for r in grading.grade("00-tiny", archive, tmp_path / "ws", log=lambda m: None)}
    assert results["s001"].status == "graded" and results["s001"].score == 5
    assert results["s002"].status == "error" and "2 submissions for this student" in results["s002"].message
    assert results["README.txt"].status == "error" and "not a submission" in results["README.txt"].message


def test_zip_that_escapes_its_folder_is_refused(tmp_path, tiny_root):
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("../../outside/00-tiny.ipynb", "{}")
    with pytest.raises(grading.GradingError, match="outside its folder"):
        grading.collect("00-tiny", archive, tmp_path / "ws")
    assert not (tmp_path / "outside").exists()


def test_killed_grader_resumes_without_losing_or_regrading(released, tiny_root, tmp_path):
    subs, workspace = tmp_path / "subs", tmp_path / "ws"
    for i in range(6):
        notebooks.write(samples.answered("00-tiny", i % 2), subs / f"s{i}" / "00-tiny.ipynb")
    args = [
        sys.executable,
        "-m",
        "autograder.cli",
        "grade",
        "00",
        "--submissions",
        str(subs),
        "--workspace",
        str(workspace),
        "--jobs",
        "1",
    ]
    proc = subprocess.Popen(
        args, cwd=tiny_root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )
    results_dir = workspace / "results" / "00-tiny"
    deadline = time.time() + 120
    while time.time() < deadline and len(list(results_dir.glob("*.json"))) < 2:
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    finished_before = len(list(results_dir.glob("*.json")))
    assert 2 <= finished_before < 6, "the kill should land mid-batch"
    again = course_cmd("grade", "00", "--submissions", str(subs), "--workspace", str(workspace), cwd=tiny_root)
    assert again.returncode == 0, again.stdout + again.stderr
    assert f"{finished_before} student(s) already graded" in again.stdout
    rows = _csv(workspace / "reports" / "00-tiny" / "grades.csv")
    assert {sid: row["score"] for sid, row in rows.items()} == {f"s{i}": ("5.0" if i % 2 else "0.0") for i in range(6)}
    assert _gradebook_students(workspace) == [f"s{i}" for i in range(6)]
    third = course_cmd("grade", "00", "--submissions", str(subs), "--workspace", str(workspace), cwd=tiny_root)
    assert "6 student(s) already graded" in third.stdout
    assert _csv(workspace / "reports" / "00-tiny" / "grades.csv") == rows, "re-grading must be idempotent"


def test_grading_on_a_dask_cluster_matches_local(released, tiny_root, tmp_path):
    from dask.distributed import LocalCluster

    subs = samples.write_samples("00-tiny", tmp_path / "subs")
    local = grading.grade("00-tiny", subs, tmp_path / "local", log=lambda m: None)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        remote = grading.grade(
            "00-tiny", subs, tmp_path / "dask", grading.Settings(cluster=cluster.scheduler_address), log=lambda m: None
        )
    assert [(r.student_id, r.score, r.status) for r in remote] == [(r.student_id, r.score, r.status) for r in local]


def test_default_workspace_is_ignored_by_git():
    done = subprocess.run(["git", "check-ignore", "-q", "grading/reports/x/grades.csv"], cwd=ROOT)
    assert done.returncode == 0


def test_sandbox_is_available_here():
    sandbox.require()  # CI installs bubblewrap with `make system`; grading refuses to run unconfined otherwise
    argv = sandbox.kernel_argv(ROOT / "scratch", ROOT / "run", sandbox.Limits(), {"A": "1"})
    assert argv[0] == "bwrap" and "--unshare-net" in argv and argv[-1] == "{connection_file}"
    assert not any(str(ROOT / "solutions") == a or str(ROOT / "autograder") == a for a in argv)


@pytest.mark.skipif(os.geteuid() != 0, reason="kernels switch user ID only when the grader runs as root (as in CI)")
@pytest.mark.parametrize("jobs", [1, 2])
def test_fork_bomb_does_not_starve_other_kernels(released, tiny_root, tmp_path, jobs):
    """Each kernel has its own user ID, so a fork bomb exhausts its own process budget only:
    neither the kernels beside it (two jobs) nor the next one in the same worker (one job),
    which starts while the bomb's processes may still be dying."""
    subs = tmp_path / "subs"
    hold = (
        "import os, time\ntry:\n    while True:\n        if os.fork() == 0:\n            time.sleep(30)\n"
        "            os._exit(0)\nexcept OSError:\n    pass\n"
        + ("time.sleep(5)\n" if jobs > 1 else "")
        + catalogue.DOUBLE_OK
    )
    (subs / "a_bomb").mkdir(parents=True)
    notebooks.nbformat.write(
        catalogue._answers(released, hold, catalogue.SQUARE_OK), str(subs / "a_bomb" / "00-tiny.ipynb")
    )
    # Two at a time: the neighbours after the first start while the bomb holds its processes.
    neighbours = ("b_neighbour", "c_neighbour", "d_neighbour")[: 1 if jobs == 1 else 3]
    for sid in neighbours:
        (subs / sid).mkdir()
        notebooks.nbformat.write(
            catalogue._answers(released, catalogue.DOUBLE_OK, catalogue.SQUARE_OK), str(subs / sid / "00-tiny.ipynb")
        )
    # The bomb's cell forks to the limit, then holds for 5 s: with the catalogue's 8 s per
    # cell, a loaded machine (the whole suite on 2 cores) once took longer than the 3 s left
    # to fork, and the bomb timed out instead of finishing; what is checked here does not
    # depend on the cell timeout.
    settings = grading.Settings(jobs=jobs, cell_timeout=20, timeout=120, limits=sandbox.Limits(**catalogue.LIMITS))
    results = {r.student_id: r for r in grading.grade("00-tiny", subs, tmp_path / "ws", settings, log=lambda m: None)}
    for sid in neighbours:
        assert (results[sid].status, results[sid].score) == ("graded", 5.0), results[sid]
    assert results["a_bomb"].status == "flagged" and "forks" in results["a_bomb"].message, results["a_bomb"]


def test_every_jail_runs_as_its_own_unprivileged_user():
    first, second = sandbox.jail_uid(), sandbox.jail_uid()
    argv = sandbox.kernel_argv(ROOT / "scratch", ROOT / "run", sandbox.Limits(), {}, uid=first)
    if os.geteuid() == 0:
        assert f"--reuid={first}" in argv
        child = subprocess.run(
            [sys.executable, "-c", "from course_lib import sandbox; print(sandbox.jail_uid())"],
            capture_output=True,
            text=True,
            cwd=ROOT,
            check=True,
        )
        uids = {first, second, int(child.stdout)}
        assert len(uids) == 3 and all(sandbox.UID_BASE <= uid < 2**32 - 1 for uid in uids), uids
    else:
        assert first is None and "setpriv" not in argv


def test_a_second_checkout_grades_with_its_own_course_lib(tmp_path, monkeypatch):
    """COURSE_ROOT at another checkout that shares this venv: its kernels import its own course_lib."""
    root = tiny_course.make(tmp_path / "second")
    monkeypatch.setenv("COURSE_ROOT", str(root))
    for package in ("course_lib", "autograder"):
        shutil.copytree(ROOT / package, root / package, ignore=shutil.ignore_patterns("__pycache__"))
    env = {"COURSE_ROOT": str(root)}
    assert course_cmd("release", cwd=root, env=env).returncode == 0
    subs = samples.write_samples("00-tiny", tmp_path / "subs")
    done = course_cmd("grade", "00", "--submissions", str(subs), "--workspace", str(tmp_path / "ws"), cwd=root, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    rows = _csv(tmp_path / "ws" / "reports" / "00-tiny" / "grades.csv")
    assert (rows["alice"]["score"], rows["bob"]["score"], rows["carol"]["score"]) == ("5.0", "0.0", "2.0")


def _record_runs(monkeypatch) -> list[str]:
    """Whose notebooks the grader's workers run, in order."""
    ran, run = [], worker.Resident.run
    monkeypatch.setattr(worker.Resident, "run", lambda self, job: ran.append(job.student) or run(self, job))
    return ran


def test_the_canary_stops_grading_when_the_solution_loses_points(released, tiny_root, tmp_path, monkeypatch):
    tests = tiny_root / "solutions" / "00-tiny" / "grading.py"
    tests.write_text(tests.read_text().replace('2 * x, "double on', '3 * x, "double on'))
    subs = samples.write_samples("00-tiny", tmp_path / "subs")
    ran = _record_runs(monkeypatch)
    with pytest.raises(grading.GradingError, match=r"lost points \(test_double: double on a random 3 x 4 array"):
        grading.grade("00-tiny", subs, tmp_path / "ws", grading.Settings(jobs=1), log=lambda m: None)
    assert not (tmp_path / "ws" / "reports" / "00-tiny" / "grades.csv").exists(), "no student is graded"
    assert ran == ["canary"], "the canary runs first, and no student's notebook after it fails"


def test_feedback_pages_are_made_while_the_last_notebooks_run(released, tiny_root, tmp_path, monkeypatch):
    subs, workspace = samples.write_samples("00-tiny", tmp_path / "subs"), tmp_path / "ws"
    class_runs, nbgrader = [], reports.nbgrader
    monkeypatch.setattr(reports, "nbgrader", lambda args, cwd: class_runs.append(args))
    ran = _record_runs(monkeypatch)
    grading.grade("00-tiny", subs, workspace, grading.Settings(jobs=2), log=lambda m: None)
    assert ran[0] == "canary" and sorted(ran[1:]) == ["alice", "bob", "carol"]
    assert class_runs == [], "every page was made during the run: no nbgrader run for the class after it"
    out = workspace / "reports" / "00-tiny" / "feedback"
    assert "Score: 5.0 / 6.0" in html.unescape((out / "alice.html").read_text())
    assert "Score: 0.0 / 6.0" in html.unescape((out / "bob.html").read_text())

    # Pages made in this run are not made again; the class's others are.
    monkeypatch.setattr(reports, "nbgrader", nbgrader)
    pages = {sid: workspace / "feedback" / sid / "00-tiny" / "00-tiny.html" for sid in ("alice", "bob")}
    before = {sid: page.stat().st_mtime_ns for sid, page in pages.items()}
    made = reports.feedback("00-tiny", ["alice", "bob"], workspace, tmp_path / "again", fresh=frozenset({"alice"}))
    assert sorted(made) == ["alice", "bob"]
    assert pages["alice"].stat().st_mtime_ns == before["alice"] and pages["bob"].stat().st_mtime_ns > before["bob"]
