"""Hostile and malformed submissions for the tiny lesson, each with the outcome it must get.

The tiny lesson has two code exercises, `double` (2 points) and `square` (3 points),
and a 1-point written answer. A correct answer to both earns 5 of 6 points.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path

import nbformat

DOUBLE_OK = "def double(x):\n    return 2 * np.asarray(x)\n"
SQUARE_OK = "def square(x):\n    return np.asarray(x) ** 2\n"
DOUBLE_WRONG = "def double(x):\n    return x\n"
SQUARE_WRONG = "def square(x):\n    return x\n"


@dataclass
class Case:
    name: str
    statuses: tuple[str, ...]  # acceptable statuses
    max_score: float  # the score must not exceed this
    message: str = ""  # text the message must contain
    min_score: float = 0.0


def _answers(release, double=DOUBLE_WRONG, square=SQUARE_WRONG, edit=None):
    nb = copy.deepcopy(release)
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid == "double":
            cell.source = double
        elif gid == "square":
            cell.source = square
    if edit:
        edit(nb)
    return nb


def _edit_tests(nb):
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id", "").startswith("test_"):
            cell.source = "pass"


def _delete_tests(nb):
    nb.cells = [c for c in nb.cells if not c.metadata.get("nbgrader", {}).get("grade_id", "").startswith("test_")]


def _fake_graded_cell(nb):
    cell = nbformat.v4.new_code_cell("print('bonus')")
    cell.metadata["nbgrader"] = {
        "grade": True,
        "solution": False,
        "locked": True,
        "points": 100,
        "grade_id": "bonus",
        "schema_version": 3,
        "task": False,
    }
    nb.cells.append(cell)


def _extra_cell_patch(nb):
    nb.cells.insert(2, nbformat.v4.new_code_cell("checks.check_close = lambda *a, **k: None"))


HOSTILE = {
    # Change or remove the tests: the lesson's own tests run anyway.
    "edits_test_cells": (dict(edit=_edit_tests), Case("edits_test_cells", ("flagged",), 0, "test cells were edited")),
    "deletes_test_cells": (dict(edit=_delete_tests), Case("deletes_test_cells", ("graded", "flagged"), 0, "restored")),
    "adds_graded_cell": (dict(edit=_fake_graded_cell), Case("adds_graded_cell", ("flagged",), 0, "bonus")),
    "patch_in_added_cell": (dict(edit=_extra_cell_patch), Case("patch_in_added_cell", ("graded",), 0)),
    # Patch what the tests rely on.
    "patches_checks": (
        dict(double="checks.check_close = lambda *a, **k: None\n" + DOUBLE_WRONG),
        Case("patches_checks", ("flagged",), 5, "checks.check_close"),
    ),
    "patches_numpy": (
        dict(double="np.isclose = lambda a, b, **k: np.ones(np.shape(b), bool)\n" + DOUBLE_WRONG),
        Case("patches_numpy", ("flagged",), 5, "np.isclose"),
    ),
    "redefines_checks": (
        dict(
            double="class checks:\n    def __getattr__(self, n):\n        return lambda *a, **k: a[0]\n"
            "checks = checks()\n" + DOUBLE_WRONG
        ),
        Case("redefines_checks", ("flagged",), 5, "redefines `checks`"),
    ),
    "patches_builtins": (
        dict(double="import builtins\nbuiltins.print = lambda *a, **k: None\n" + DOUBLE_OK, square=SQUARE_OK),
        Case("patches_builtins", ("flagged",), 5, "builtins"),
    ),
    # Hook the kernel so failures go unseen.
    "swallows_errors": (
        dict(double="get_ipython().set_custom_exc((Exception,), lambda *a, **k: None)\n" + DOUBLE_WRONG),
        Case("swallows_errors", ("flagged",), 0, "did not finish"),
    ),
    "rewrites_test_cells": (
        dict(
            double="get_ipython().input_transformers_cleanup.append(\n"
            "    lambda lines: ['pass\\n'] if any('checks.' in l for l in lines) else lines)\n" + DOUBLE_WRONG
        ),
        Case("rewrites_test_cells", ("flagged",), 5, "tampered"),
    ),
    "installs_tracer": (
        dict(double="import sys\nsys.settrace(lambda *a: None)\n" + DOUBLE_OK),
        Case("installs_tracer", ("flagged",), 5, "settrace"),
    ),
    # Look for what it must not see.
    # {secret} is replaced by paths the kernel must not see: the course root, the
    # workspace (gradebook, other students), the solutions.
    "reads_hidden_tests": (
        dict(
            double="import glob, os\nfound = [p for d in ('/scratch', '/tmp', '/work', '/root', '/home')\n"
            "         for p in glob.glob(d + '/**/*.ipynb', recursive=True)]\n"
            "found += [p for p in {secret} if os.path.exists(p)]\nassert not found, found\n" + DOUBLE_OK
        ),
        Case("reads_hidden_tests", ("graded", "flagged"), 5, min_score=2),
    ),
    "reads_gradebook": (
        dict(
            double="try:\n    data = open({gradebook!r}, 'rb').read()\nexcept OSError:\n    data = b''\n"
            "assert not data\n" + DOUBLE_OK
        ),
        Case("reads_gradebook", ("flagged",), 5, "opens files", min_score=2),
    ),
    "uses_network": (
        dict(
            double="import socket\ntry:\n    socket.create_connection(('127.0.0.1', 22), timeout=2)\n"
            "    reached = True\nexcept OSError:\n    reached = False\nassert not reached\n" + DOUBLE_OK
        ),
        Case("uses_network", ("flagged",), 5, "socket", min_score=2),
    ),
    "shadows_a_module": (
        dict(double="with open('shadowmod.py', 'w') as f:\n    f.write('X = 1')\nimport shadowmod\n" + DOUBLE_OK),
        Case("shadows_a_module", ("flagged",), 5, "shadowmod"),
    ),
    # Take the batch down.
    "infinite_loop": (dict(double="while True:\n    pass\n"), Case("infinite_loop", ("error",), 0, "ran longer than")),
    "memory_bomb": (
        dict(double="hog = bytearray(64 * 2**30)\n" + DOUBLE_WRONG),
        Case("memory_bomb", ("graded", "error"), 0),
    ),
    # Holds its own process budget only: each kernel runs as a user ID of its own.
    "fork_bomb": (
        dict(
            double="import os, time\nkids = 0\ntry:\n    while True:\n        if os.fork() == 0:\n"
            "            time.sleep(20)\n            os._exit(0)\n        kids += 1\nexcept OSError:\n    pass\n"
            "assert kids < 1000, kids\n" + DOUBLE_OK
        ),
        Case("fork_bomb", ("flagged",), 5, "forks"),
    ),
    "exits_kernel": (
        dict(double="import os\nos._exit(0)\n"),
        Case("exits_kernel", ("error",), 0, "stopped the Python kernel"),
    ),
    "kills_kernel": (
        dict(double="import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n"),
        Case("kills_kernel", ("error",), 0, "stopped the Python kernel"),
    ),
    "huge_output": (
        dict(double="print('x' * 50_000_000)\n" + DOUBLE_OK, square=SQUARE_OK),
        Case("huge_output", ("graded",), 5, min_score=5),
    ),
    "fills_disk": (
        dict(
            double="import itertools\nfor i in itertools.count():\n    with open(f'junk{i}', 'wb') as f:\n"
            "        f.write(b'0' * 2**20 * 5)\n"
        ),
        Case("fills_disk", ("error",), 0, "wrote more than"),
    ),
    # Attacks on verdicts computed in the student's process: none can work, because the
    # hidden tests run in the grader's and only data comes back. Each scores no more than
    # the same answers without the attack (wrong answers: 0; a right square: 3).
    "transformer_in_place": (
        dict(
            double="ip = get_ipython()\nip.input_transformers_cleanup[0] = (lambda lines: "
            "['pass\\n'] if any(w in ''.join(lines) for w in ('checks.', 'exchange')) "
            "else lines)\n" + DOUBLE_WRONG
        ),
        Case("transformer_in_place", ("graded", "flagged"), 0),
    ),
    "neuters_helpers_by_dict": (
        dict(
            double="import sys\nvars(sys.modules['course_lib.checks']).update(\n"
            "    check_close=lambda *a, **k: None, call=lambda f, *a, **k: None)\n" + DOUBLE_WRONG
        ),
        Case("neuters_helpers_by_dict", ("graded", "flagged"), 0),
    ),
    "forges_replies": (
        dict(
            double="import course_lib.exchange as cx, json, os\n"
            "def forged(folder, namespace):\n"
            "    with open(os.path.join(folder, 'out', 'value.json'), 'w') as f:\n"
            "        f.write(json.dumps({'list': [2, 4, 6]}))\n"
            "cx.serve = forged\n" + DOUBLE_WRONG
        ),
        Case("forges_replies", ("graded", "flagged"), 0),
    ),
    "lying_comparisons": (
        dict(
            double="class Liar(float):\n    def __eq__(self, other):\n        return True\n"
            "    def __ne__(self, other):\n        return False\n    __hash__ = float.__hash__\n"
            "def double(x):\n    return Liar(0.0)\n"
        ),
        Case("lying_comparisons", ("graded", "flagged"), 0),
    ),
    # (The frameworks are reached for only on the hidden tests' arrays: importing Keras in the
    # visible run would outlast the catalogue's short cell time limit.)
    "keras_in_numpy_only": (
        dict(
            double=DOUBLE_OK,
            square="def square(x):\n    if np.ndim(x) == 0:\n"
            "        return x ** 2\n    import keras\n"
            "    return keras.ops.convert_to_numpy(keras.ops.square(np.asarray(x, 'float32')))\n",
        ),
        Case("keras_in_numpy_only", ("graded", "flagged"), 2, min_score=2),
    ),
    "numpy_only_hunts_site_packages": (
        dict(
            double=DOUBLE_OK,
            square=(
                "def square(x):\n    if np.ndim(x) == 0:\n        return x ** 2\n    import sys, glob\n"
                "    for top in ('/usr', '/work', '/root', '/opt', '/tmp'):\n"
                "        sys.path += glob.glob(top + '/**/site-packages', recursive=True)\n    import scipy.special\n"
                "    return np.asarray(x) ** 2 + 0 * scipy.special.expit(0)\n"
            ),
        ),
        Case("numpy_only_hunts_site_packages", ("graded", "flagged"), 2, min_score=2),
    ),
    "prints_what_it_can_find": (
        dict(
            double="import glob, inspect\ndef double(x):\n    if np.ndim(x) > 0:\n"
            "        for f in inspect.stack():\n            print(f.filename, f.code_context)\n"
            "        for top in ('/work', '/root', '/tmp', '/scratch', '/exchange'):\n"
            "            for p in glob.glob(top + '/**/grading.py', recursive=True):\n"
            "                print(open(p).read())\n    return 2 * np.asarray(x)\n",
            square=SQUARE_OK,
        ),
        Case("prints_what_it_can_find", ("graded", "flagged"), 5, min_score=5),
    ),
    "dies_during_hidden_tests": (
        dict(
            double="import os\ndef double(x):\n    if np.ndim(x) > 0:\n        os._exit(1)\n"
            "    return 2 * np.asarray(x)\n",
            square=SQUARE_OK,
        ),
        Case("dies_during_hidden_tests", ("graded", "flagged"), 3, min_score=3),
    ),
    "hangs_during_hidden_tests": (
        dict(
            double="import time\ndef double(x):\n    if np.ndim(x) > 0:\n"
            "        time.sleep(10**6)\n    return 2 * np.asarray(x)\n",
            square=SQUARE_OK,
        ),
        Case("hangs_during_hidden_tests", ("graded",), 3, min_score=3),
    ),
    "symlinked_reply": (
        dict(
            double="import course_lib.exchange as cx, os\n"
            "def forged(folder, namespace):\n"
            "    os.symlink('/etc/passwd', os.path.join(folder, 'out', 'value.json'))\n"
            "cx.serve = forged\n" + DOUBLE_OK,
            square=SQUARE_OK,
        ),
        Case("symlinked_reply", ("graded", "flagged"), 3, min_score=3),
    ),
    "oversized_reply": (
        dict(double="def double(x):\n    return np.zeros(2**25) if np.ndim(x) > 0 else 2 * x\n", square=SQUARE_OK),
        Case("oversized_reply", ("graded", "flagged"), 3, min_score=3),
    ),
}

# Limits the catalogue is graded with (small, so the bombs go off quickly).
LIMITS = dict(memory_mb=3072, cpu_seconds=60, processes=128, file_mb=20, scratch_mb=50)
CELL_TIMEOUT = 8


def write_hostile(release, out: Path, secret: list[str], gradebook: str) -> dict[str, Case]:
    """Write one submission per attack; `secret` and `gradebook` are paths the kernel must not see."""
    cases = {}
    for sid, (kwargs, case) in HOSTILE.items():
        kwargs = {
            k: v.format(secret=secret, gradebook=gradebook)
            if isinstance(v, str) and "{" in v and k == "double" and sid.startswith("reads_")
            else v
            for k, v in kwargs.items()
        }
        (out / sid).mkdir(parents=True)
        nbformat.write(_answers(release, **kwargs), str(out / sid / "00-tiny.ipynb"))
        cases[sid] = case
    return cases


def write_malformed(release, other_lesson_nb, out: Path) -> dict[str, Case]:
    """At least ten ways a submission can be broken; each must be a clear per-student status."""
    good = nbformat.writes(_answers(release, DOUBLE_OK, SQUARE_OK))
    cases = {}

    def put(sid, name, data, case):
        (out / sid).mkdir(parents=True)
        path = out / sid / name
        path.write_bytes(data if isinstance(data, bytes) else data.encode())
        cases[sid] = case

    put("m_not_json", "00-tiny.ipynb", "{ this is not json", Case("", ("error",), 0, "not valid JSON"))
    put("m_empty", "00-tiny.ipynb", "", Case("", ("error",), 0, "is empty"))
    put(
        "m_not_utf8",
        "00-tiny.ipynb",
        good.replace("double", "doublé").encode("latin-1", errors="replace"),
        Case("", ("error",), 0, "not UTF-8"),
    )
    put("m_pdf", "00-tiny.ipynb", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n", Case("", ("error",), 0, "not UTF-8"))
    put("m_truncated", "00-tiny.ipynb", good[: len(good) // 2], Case("", ("error",), 0, "not valid JSON"))
    bad_structure = json.loads(good)
    del bad_structure["cells"][0]["source"]
    put("m_bad_structure", "00-tiny.ipynb", json.dumps(bad_structure), Case("", ("error",), 0, "notebook format"))
    put(
        "m_other_lesson",
        "00-tiny.ipynb",
        nbformat.writes(other_lesson_nb),
        Case("", ("error",), 0, "not the 00-tiny notebook"),
    )
    v3 = nbformat.writes(nbformat.convert(nbformat.reads(good, as_version=4), 3), version=3)
    put("m_nbformat3", "00-tiny.ipynb", v3, Case("", ("graded",), 5, min_score=5))
    put(
        "m_huge",
        "00-tiny.ipynb",
        good.replace('"cells": [', '"cells": [' + json.dumps(nbformat.v4.new_raw_cell("x" * (21 * 2**20))) + ",", 1),
        Case("", ("error",), 0, "MB; clear large outputs"),
    )
    (out / "m_no_notebook").mkdir()
    (out / "m_no_notebook" / "answers.py").write_text("print(1)")
    cases["m_no_notebook"] = Case("", ("error",), 0, "no notebook found")
    put("m_two_notebooks", "a.ipynb", good, Case("", ("error",), 0, "2 notebooks and none named"))
    (out / "m_two_notebooks" / "b.ipynb").write_text(good)
    put("bad id!", "00-tiny.ipynb", good, Case("", ("error",), 0, "student id is not valid"))
    return cases
