"""`course lab`: JupyterLab set up for who opens it.

Students (`make lab`) get the lessons and none of nbgrader's tools: formgrader and
"create assignment" are the instructor's, Assignment List needs an exchange folder a
course checkout does not have, and Validate runs the notebook inside the Jupyter server,
which answers nothing else until it is done. They check a lesson with `course check NN`
instead (a terminal, or `!course check NN` in a cell): a process of its own, with the
grader's limits.

Instructors (`make grade-lab LESSON=01`) get JupyterLab started in a grading workspace,
where nbgrader reads that workspace's configuration: formgrader lists the class as
released, collected and graded, and the points given there reach the reports with
`course grade LESSON --reports-only`.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

from autograder import course, nbgrader_course
from course_lib.errors import CourseError

NBGRADER_LAB = "@jupyter/nbgrader"
NBGRADER_SERVER = (
    "nbgrader.server_extensions.formgrader",
    "nbgrader.server_extensions.validate_assignment",
    "nbgrader.server_extensions.assignment_list",
    "nbgrader.server_extensions.course_list",
)
# What an instructor grading in a workspace has no use for: the student's side of the exchange.
STUDENT_SIDE = (
    "@jupyter/nbgrader:assignment-list",
    "@jupyter/nbgrader:course-list",
    "@jupyter/nbgrader:validate-assignment",
)
# JupyterLab's news and update checks ask for permission to go online, on every first
# start: the course works offline and a class should not be asked.
ONLINE = ("@jupyterlab/apputils-extension:announcements",)


# Formgrader's pages are nbconvert templates that load MathJax 2 from a CDN; this macro
# takes its place and loads the copy jupyter-server-mathjax serves, so LaTeX in the
# answers being graded is typeset offline.
MATHJAX_MACRO = """\
{%- macro mathjax(url="/static/jupyter_server_mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full,Safe") -%}
<script type="text/x-mathjax-config">
MathJax.Hub.Config({tex2jax: {inlineMath: [["$", "$"], ["\\\\(", "\\\\)"]], processEscapes: true,
                              processEnvironments: true},
                    // the only web font jupyter-server-mathjax ships
                    "HTML-CSS": {availableFonts: [], preferredFont: null, webFont: "STIX-Web", imageFont: null},
                    messageStyle: "none"});
</script>
<script src="{{ url }}"></script>
{%- endmacro %}
"""


def _config_dir(folder: Path, disabled_lab: list[str], server_extensions: dict[str, bool]) -> Path:
    """A Jupyter config folder of our own (JUPYTER_CONFIG_DIR), so the user's is untouched."""
    (folder / "labconfig").mkdir(parents=True, exist_ok=True)
    (folder / "labconfig" / "page_config.json").write_text(
        json.dumps({"disabledExtensions": {name: True for name in disabled_lab}}, indent=1)
    )
    (folder / "jupyter_server_config.json").write_text(
        json.dumps(
            {"ServerApp": {"jpserver_extensions": {**server_extensions, "jupyter_server_mathjax": True}}}, indent=1
        )
    )
    return folder


def _offline_mathjax(config_dir: Path) -> None:
    """Formgrader's MathJax from this server (JUPYTER_PATH's templates come first).

    Only for the instructor's server: a student's "Export as HTML" keeps nbconvert's own
    macro, whose pages also work opened as files, away from this server."""
    macro = config_dir / "data" / "nbconvert" / "templates" / "base" / "mathjax.html.j2"
    macro.parent.mkdir(parents=True, exist_ok=True)
    macro.write_text(MATHJAX_MACRO)


def _env(config_dir: Path) -> dict:
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(config_dir))
    if (config_dir / "data").is_dir():
        env["JUPYTER_PATH"] = os.pathsep.join(filter(None, [str(config_dir / "data"), env.get("JUPYTER_PATH")]))
    # nbgrader calls `alembic` by name: this environment's programs first, activated or not.
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env


def _argv(root_dir: Path, extra: list[str]) -> list[str]:
    argv = [sys.executable, "-m", "jupyter", "lab", f"--ServerApp.root_dir={root_dir}", *extra]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        argv.append("--allow-root")
    return argv


def student(extra: list[str] = ()) -> tuple[list[str], dict, Path]:
    """JupyterLab on lessons/, without nbgrader's tools; returns (argv, env, cwd)."""
    root = course.root()
    config = _config_dir(
        root / "build" / "jupyter" / "student", [NBGRADER_LAB, *ONLINE], {name: False for name in NBGRADER_SERVER}
    )
    return _argv(root / "lessons", list(extra)), _env(config), root / "lessons"


def instructor(lesson: str, workspace: Path, extra: list[str] = ()) -> tuple[list[str], dict, Path]:
    """JupyterLab in a grading workspace with formgrader; returns (argv, env, cwd)."""
    workspace = workspace.resolve()
    if not (workspace / "gradebook.db").is_file() or not (workspace / "release" / lesson).is_dir():
        raise CourseError(
            f"{workspace} holds no graded class for {lesson}: run "
            f"`course grade {lesson} --submissions ... --workspace {workspace}` first."
        )
    # The lesson counts as released once it is in the exchange's outbound folder, as
    # `nbgrader release_assignment` would leave it.
    outbound = workspace / "exchange" / nbgrader_course.COURSE_ID / "outbound" / lesson
    if not outbound.exists():
        shutil.copytree(workspace / "release" / lesson, outbound)
    config = _config_dir(
        workspace / ".jupyter",
        [*STUDENT_SIDE, *ONLINE],
        {name: name.endswith("formgrader") for name in NBGRADER_SERVER},
    )
    _offline_mathjax(config)
    return _argv(workspace, list(extra)), _env(config), workspace
