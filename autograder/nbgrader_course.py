"""Everything that speaks nbgrader: its command, its course folders and their
configuration, and its gradebook. The rest of the course asks this module.

Two kinds of course folder exist: the repository itself (``solutions/`` released to
``lessons/``, configured by the root ``nbgrader_config.py``, which a release copies) and a
grading workspace (``source/``,
``release/``, ``autograded/``, ``feedback/``, ``gradebook.db``), whose configuration
`workspace_config` writes. The grading process is the gradebook's only writer.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import warnings
from pathlib import Path

from autograder import course
from course_lib import submission

COURSE_ID = "keras-course"
# Never copied out of solutions/: the hidden tests (nbgrader would release every file of
# the folder) and editor and Python leftovers.
NOT_RELEASED = (course.HIDDEN_TESTS, ".ipynb_checkpoints", "__pycache__")

_FEEDBACK = """\
from nbgrader.preprocessors import ClearHiddenTests, GetGrades
from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
from autograder.feedback import FeedbackPage, ImageAltText, MathToMathML, ShortTracebacks
# Feedback shows students their results, not the hidden tests' code.
c.GenerateFeedback.preprocessors = [GetGrades, ClearHiddenTests, ShortTracebacks, MathToMathML,
                                    ImageAltText, CSSHTMLHeaderPreprocessor]
c.GenerateFeedback.exporter_class = FeedbackPage
"""


def workspace_config(feedback: bool = True) -> str:
    """A grading workspace's nbgrader_config.py: its own exchange (formgrader's released and
    collected views) and, with ``feedback``, the course's feedback preprocessors (plain
    nbgrader's otherwise, as the benchmark compares)."""
    text = f"""\
import os

c = get_config()
c.CourseDirectory.course_id = "{COURSE_ID}"
c.Exchange.root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "exchange")
c.CourseDirectory.source_directory = "source"
c.CourseDirectory.release_directory = "release"
"""
    return text + (_FEEDBACK if feedback else "")


def run(
    args: list[str], cwd: Path, timeout: float | None = None, env: dict | None = None
) -> subprocess.CompletedProcess:
    """Run an nbgrader command in ``cwd`` (nbgrader reads nbgrader_config.py from there).

    nbgrader calls the `alembic` program by name, so this environment's bin folder
    goes first on PATH even when the virtual environment is not activated.
    """
    env = dict(os.environ if env is None else env)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return subprocess.run(
        [sys.executable, "-m", "nbgrader", *args, "--log-level=WARN"],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


def _gradebook(workspace: Path):
    from nbgrader.api import Gradebook

    return Gradebook(f"sqlite:///{workspace / 'gradebook.db'}")


def _schema_version() -> str:
    """The alembic revision of nbgrader's gradebook schema, as ``alembic heads`` gives it."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory
    from nbgrader import dbutil

    config = Config()
    config.set_main_option("script_location", dbutil.ALEMBIC_DIR)
    return ScriptDirectory.from_config(config).get_current_head()


def _create_gradebook(workspace: Path) -> None:
    """An empty gradebook, as nbgrader's `Gradebook` makes one: its tables and the schema's
    alembic revision. nbgrader asks a new ``alembic`` process for that revision (over a
    second of processor, at the start of a class's grading); alembic's API answers here."""
    from nbgrader.api import Base
    from sqlalchemy import create_engine, text

    path = workspace / "gradebook.db"
    tmp = path.with_name(".gradebook.db.tmp")  # renamed once whole: a half-made file would pass for a gradebook
    tmp.unlink(missing_ok=True)
    engine = create_engine(f"sqlite:///{tmp}", future=True)
    try:
        with engine.begin() as db:
            Base.metadata.create_all(bind=db)
            db.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)"))
            db.execute(text("INSERT INTO alembic_version (version_num) VALUES (:v)"), {"v": _schema_version()})
    finally:
        engine.dispose()
    os.replace(tmp, path)


# nbgrader's converters change the process's working folder while they run, so two at
# once (a registration, a feedback page, in different threads) would write in each other's.
_CONVERTING = threading.Lock()


def _api(workspace: Path):
    """nbgrader's own Python interface to the workspace, configured by its nbgrader_config.py."""
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader("nbgrader_config.py", path=str(workspace)).load_config()
    return NbGraderAPI(coursedir=CourseDirectory(config=config, root=str(workspace)), config=config)


def generate_assignment(workspace: Path, lesson: str) -> str | None:
    """``nbgrader generate_assignment LESSON --force`` in this process (a new one would import
    nbgrader again: a second); None if it succeeded, else nbgrader's log and error."""
    if not (workspace / "gradebook.db").exists():
        _create_gradebook(workspace)
    with _CONVERTING:
        done = _api(workspace).generate_assignment(lesson, force=True)
    return None if done["success"] else f"{done.get('log', '')}{done.get('error', '')}"


def max_score(workspace: Path, lesson: str) -> float:
    with _gradebook(workspace) as gb:
        return float(gb.find_assignment(lesson).max_score)


def record(workspace: Path, lesson: str, graded_nb, sid: str, passed: dict[str, bool]) -> tuple[float, float, dict]:
    """Write one student's grades into the gradebook.

    A test cell earns its points when ``passed`` says its hidden tests passed; written
    answers wait for a person (and a person's grade stays). Returns (score, max_score,
    {grade_id: [score, points]} for the test cells).
    """
    from nbgrader import utils
    from nbgrader.api import MissingEntry

    tests = {}
    # nbgrader's add_submission trips SQLAlchemy's autoflush warnings; they are harmless.
    warnings.filterwarnings("ignore", message=".*not in session.*")
    with _gradebook(workspace) as gb:
        gb.update_or_create_student(sid)
        try:
            gb.find_submission(lesson, sid)
        except MissingEntry:
            gb.add_submission(lesson, sid)
        for cell in graded_nb.cells:
            gid = cell.metadata.get("nbgrader", {}).get("grade_id")
            if utils.is_grade(cell):
                grade = gb.find_grade(gid, lesson, lesson, sid)
                if submission.is_test(cell):
                    points = float(cell.metadata.nbgrader.get("points", 0))
                    grade.auto_score = points if passed.get(gid) else 0.0
                    tests[gid] = [grade.auto_score, points]
                    grade.needs_manual_grade = False
                else:  # a written answer: None until a person grades it
                    grade.auto_score, _ = utils.determine_grade(cell)
                    grade.needs_manual_grade = grade.auto_score is None and grade.manual_score is None
            if utils.is_solution(cell):
                comment = gb.find_comment(gid, lesson, lesson, sid)
                unchanged = cell.metadata.nbgrader.get("checksum") == utils.compute_checksum(cell)
                comment.auto_comment = "No response." if unchanged else None
        gb.db.commit()
        sub = gb.find_submission(lesson, sid)
        return float(sub.score), float(sub.max_score), tests


def scores(workspace: Path, lesson: str, students: list[str]) -> dict[str, tuple[float, float]]:
    """student_id -> (score, points awaiting a person) as the gradebook holds them now:
    automatic points plus whatever a person gave in formgrader. Students the gradebook
    never saw are left out."""
    from nbgrader.api import MissingEntry

    out = {}
    with _gradebook(workspace) as gb:
        for sid in students:
            try:
                sub = gb.find_submission(lesson, sid)
            except MissingEntry:
                continue
            waiting = sum(g.max_score for nb in sub.notebooks for g in nb.grades if g.needs_manual_grade)
            out[sid] = (float(sub.score), float(waiting))
    return out


def feedback_page(workspace: Path, lesson: str, sid: str) -> bool:
    """``nbgrader generate_feedback`` for one student, in this process, so that a page can
    be made while other students' notebooks still run; False if nbgrader failed (the
    class's run in `autograder.reports.feedback` then tries that student again)."""
    with _CONVERTING:
        return bool(_api(workspace).generate_feedback(lesson, sid, force=True)["success"])
