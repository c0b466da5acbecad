"""Both journeys in JupyterLab, in a real browser: Debian's Chromium driven by Playwright.

A student opens lesson 01, runs the setup, answers an exercise (first wrongly), reads the
check's message, saves and checks the lesson with `course check`. An instructor opens
formgrader on a graded class, gives a written answer its point, and finds it in the
reports: grades.csv, the feedback and nbgrader's export. Each step leaves a screenshot
in build/test-artifacts/browser/, and a failed step one of the page as it was
(tests/conftest.py).
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from conftest import ROOT, course_cmd
from lab_server import Lab, graded_tiny_class
from playwright import sync_api

from autograder import lab

LESSON = "01-neural-network-basics"
ARTIFACTS = ROOT / "build" / "test-artifacts" / "browser"
CHROMIUM = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")
# Long enough for a loaded 2-core machine to import TensorFlow in a fresh kernel.
SLOW = 180_000


def _chromium() -> str | None:
    """Debian's Chromium (Playwright cannot download its own here), else Playwright's."""
    if os.environ.get("COURSE_CHROMIUM"):
        return os.environ["COURSE_CHROMIUM"]
    return next((path for path in CHROMIUM if Path(path).exists()), None)


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        try:
            chromium = playwright.chromium.launch(executable_path=_chromium(), args=["--no-sandbox"])
        except Exception as exc:  # Playwright's error names what is missing
            raise AssertionError(
                "no Chromium to drive: `make system` installs Debian's `chromium` "
                "(elsewhere: `python -m playwright install chromium`, or set COURSE_CHROMIUM)"
                f"\n{exc}"
            ) from exc
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, request):
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.set_default_timeout(60_000)
    request.node.browser_page = page
    yield page
    page.close()


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


class Notebook:
    """The notebook open in JupyterLab, addressed by cell index as in the .ipynb file.

    JupyterLab only renders the cells near the viewport, so each step first scrolls its
    cell into view through the app (started with expose_app_in_browser), then acts on it
    with the mouse and keyboard as a person would.
    """

    def __init__(self, page):
        self.page = page
        page.wait_for_selector(".jp-Notebook .jp-Cell")
        page.wait_for_function(
            "() => { const w = window.jupyterapp?.shell.currentWidget;"
            " return w?.sessionContext?.session?.kernel?.status === 'idle'; }",
            timeout=SLOW,
        )

    def cell(self, i: int):
        self.page.evaluate(
            "async i => { const nb = window.jupyterapp.shell.currentWidget.content;"
            " nb.activeCellIndex = i; await nb.scrollToItem(i, 'start'); }",
            i,
        )
        return self.page.locator(f".jp-Notebook .jp-Cell[data-windowed-list-index='{i}']")

    def source(self, i: int) -> str:
        return self.page.evaluate(
            "i => window.jupyterapp.shell.currentWidget.content.model.cells.get(i).sharedModel.getSource()", i
        )

    def type_into(self, i: int, text: str) -> None:
        self.cell(i).locator(".cm-content").click()
        self.page.keyboard.press("Control+a")
        self.page.keyboard.insert_text(text)
        self.page.keyboard.press("Escape")

    def run(self, i: int) -> str:
        """Run cell i with Shift+Enter; return its output as the page shows it."""
        before = self.page.evaluate(
            "i => window.jupyterapp.shell.currentWidget.content.model.cells.get(i).executionCount || 0", i
        )
        cell = self.cell(i)
        cell.locator(".jp-InputPrompt").click()
        self.page.keyboard.press("Shift+Enter")
        self.page.wait_for_function(
            "([i, before]) => { const w = window.jupyterapp.shell.currentWidget;"
            " const n = w.content.model.cells.get(i).executionCount;"
            " return n !== null && n > before && w.sessionContext.session.kernel.status === 'idle'; }",
            arg=[i, before],
            timeout=SLOW,
        )
        output = self.cell(i).locator(".jp-OutputArea")
        output.scroll_into_view_if_needed()
        return output.inner_text()


def _index(nb, grade_id: str) -> int:
    return next(i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def _answer(grade_id: str) -> str:
    """The solution's answer to one exercise, as a student would write it."""
    sol = nbformat.read(ROOT / "solutions" / LESSON / f"{LESSON}.ipynb", as_version=4)
    text = sol.cells[_index(sol, grade_id)].source
    return re.sub(r"\n *### (BEGIN|END) SOLUTION", "", text)


@pytest.fixture
def student_course(tmp_path, monkeypatch):
    """A student's clone of the course: the released lesson, committed."""
    root = tmp_path / "course"
    shutil.copytree(ROOT / "lessons" / LESSON, root / "lessons" / LESSON)
    git = ["git", "-c", "user.name=student", "-c", "user.email=student@example.org"]
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    subprocess.run([*git, "add", "-A"], cwd=root, check=True)
    subprocess.run([*git, "commit", "-qm", "course"], cwd=root, check=True)
    monkeypatch.setenv("COURSE_ROOT", str(root))
    return root


def test_a_student_answers_an_exercise_and_checks_the_lesson(student_course, page):
    released = nbformat.read(student_course / "lessons" / LESSON / f"{LESSON}.ipynb", as_version=4)
    answer, test = _index(released, "activations"), _index(released, "test_activations")
    server = Lab(*lab.student(["--LabApp.expose_app_in_browser=True"]))
    try:
        page.goto(server.url(f"/lab/tree/{LESSON}/{LESSON}.ipynb"))
        nb = Notebook(page)
        menus = page.locator(".lm-MenuBar-itemLabel").all_inner_texts()
        assert "Nbgrader" not in menus, menus
        assert page.locator(".jp-toast-message").count() == 0, "an offline course asks nothing of the student"
        # MathJax is bundled with JupyterLab: the lesson's formulas are typeset offline.
        section_1 = next(i for i, c in enumerate(released.cells) if c.source.startswith("## 1."))
        assert nb.cell(section_1).locator("mjx-container").count() > 0
        assert "神經元" in nb.cell(section_1).inner_text(), "Chinese terms need a CJK font (make system)"
        shot(page, "student-1-opened")

        setup = nb.run(1)
        assert re.search(r"mode=smoke\s+backend=\w+\s+keras=3\.", setup), setup
        nb.run(2)

        # A first try with the textbook sigmoid overflows on large inputs: the check says so
        # in a few lines, not at the end of a traceback through the course's code.
        naive = _answer("activations").replace(
            "z = np.exp(-np.abs(x))  # in (0, 1]: cannot overflow\n"
            "    return np.where(x >= 0, 1.0 / (1.0 + z), z / (1.0 + z))",
            "return 1.0 / (1.0 + np.exp(-x))",
        )
        assert naive != _answer("activations"), "the lesson's sigmoid changed; update this journey"
        nb.type_into(answer, naive)
        nb.run(answer)
        message = nb.run(test)
        shot(page, "student-2-check-fails")
        assert "overflowed" in message and "np.exp" in message, message
        assert "checks.py" not in message and len(message.strip().splitlines()) <= 6, message

        nb.type_into(answer, _answer("activations"))
        nb.run(answer)
        assert "passed" in nb.run(test).lower()
        shot(page, "student-3-check-passes")

        # The test cell is locked: typing into it changes nothing.
        before = nb.source(test)
        nb.cell(test).locator(".cm-content").click()
        page.keyboard.insert_text("x = 1\n")
        assert nb.source(test) == before

        page.keyboard.press("Control+s")
        saved = student_course / "lessons" / LESSON / f"{LESSON}.ipynb"
        page.wait_for_function("() => !window.jupyterapp.shell.currentWidget.context.model.dirty")
        assert "np.log1p" in saved.read_text()

        # `course check` from a console beside the notebook: a process of its own, so the
        # server keeps answering while it runs.
        page.evaluate(
            "() => window.jupyterapp.commands.execute('console:create',"
            f" {{path: '{LESSON}', kernelPreference: {{name: 'python3'}}, activate: true}}).then(() => null)"
        )
        prompt = page.locator(".jp-CodeConsole-input .cm-content")
        prompt.wait_for()
        page.wait_for_function(
            "() => window.jupyterapp.shell.currentWidget.sessionContext?.session?.kernel?.status === 'idle'",
            timeout=SLOW,
        )
        prompt.click()
        page.keyboard.insert_text("!course check 01")
        page.keyboard.press("Shift+Enter")
        assert server.status("/api/status") == 200
        report = page.locator(".jp-CodeConsole-content .jp-OutputArea-output").filter(has_text="visible tests pass")
        report.wait_for(timeout=600_000)
        shot(page, "student-4-course-check")
        text = report.inner_text()
        assert re.search(r"activations\s+answered\s+visible test test_activations: passes", text), text
    finally:
        server.close()


def test_an_instructor_grades_a_written_answer_in_formgrader(tiny_root, tmp_path, page):
    workspace = graded_tiny_class(tiny_root, tmp_path)
    server = Lab(*lab.instructor("00-tiny", workspace))
    try:
        page.goto(server.url("/lab"))
        page.locator(".lm-MenuBar-itemLabel", has_text="Nbgrader").click()
        page.locator(".lm-Menu-itemLabel:visible", has_text="Formgrader").click()
        frame = page.frame_locator("iframe")
        frame.locator("text=Manage Assignments").first.wait_for()
        row = frame.locator("tr", has_text="00-tiny").first
        row.wait_for()
        shot(page, "instructor-1-formgrader")
        assert re.search(r"released.*\b3\b", " ".join(row.inner_text().split())), row.inner_text()

        frame.locator("a", has_text="Manual Grading").first.click()
        frame.locator("a", has_text="00-tiny").first.click()
        frame.locator("a", has_text="00-tiny").first.click()
        frame.locator("tr", has_text="alice").locator("a").first.click()
        score = frame.locator("input.score#why")
        score.wait_for()
        # The written answers' LaTeX is typeset by the MathJax this server carries, offline.
        frame.locator(".MathJax").first.wait_for()
        score.fill("1")
        score.press("Tab")
        alice = next(
            n
            for n in json.loads(server.get("/formgrader/api/submitted_notebooks/00-tiny/00-tiny"))
            if n["student"] == "alice"
        )

        def why_score():
            grades = json.loads(server.get(f"/formgrader/api/grades?submission_id={alice['id']}"))
            return next(g for g in grades if g["name"] == "why")["manual_score"]

        deadline = time.time() + 30
        while why_score() != 1 and time.time() < deadline:
            time.sleep(0.5)
        assert why_score() == 1, "the point typed in formgrader reached the gradebook"
        shot(page, "instructor-2-manual-point")
    finally:
        server.close()

    refreshed = course_cmd("grade", "00", "--workspace", str(workspace), "--reports-only", cwd=tiny_root)
    assert refreshed.returncode == 0, refreshed.stdout + refreshed.stderr
    reports = workspace / "reports" / "00-tiny"
    rows = {r["student_id"]: r for r in csv.DictReader((reports / "grades.csv").open())}
    assert (rows["alice"]["score"], rows["alice"]["awaiting_manual"]) == ("6.0", "0.0"), rows["alice"]
    exported = subprocess.run(
        [sys.executable, "-m", "nbgrader", "export", "--to", str(tmp_path / "export.csv")],
        cwd=workspace,
        capture_output=True,
        text=True,
    )
    assert exported.returncode == 0, exported.stderr
    alice = next(r for r in csv.DictReader((tmp_path / "export.csv").open()) if r["student_id"] == "alice")
    assert float(alice["score"]) == 6.0, alice
    feedback = workspace / "feedback" / "alice" / "00-tiny" / "00-tiny.html"
    page.goto(feedback.as_uri())
    assert "Score: 6.0 / 6.0" in page.locator("h4").first.inner_text()
    assert "Written response (Score: 1.0 / 1.0)" in page.inner_text("body")
    assert page.locator("math").count() > 0, "the feedback's LaTeX is MathML, typeset by the browser"
    shot(page, "instructor-3-feedback")
