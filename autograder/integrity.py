"""Deciding what to run, and whether to believe what came back.

The notebook that is graded is rebuilt from the lesson's source: every cell the
instructor wrote (text, demos, visible and hidden tests) comes from the source, and
only the answer cells come from the student. Cells a student added are not run.
So a submission cannot change, delete, reorder or add tests: it can only answer.

What a student's answer does inside the kernel is watched three ways:

* a static scan of the answer code for the tools of tampering (the IPython shell,
  hooks, module patching, process exits, files and sockets);
* a probe that snapshots the kernel's hooks and the test helpers before the first
  answer runs and again after the last test, printing both for the grader;
* a completion marker with a fresh random nonce at the end of every graded test, so
  a test whose error was swallowed (it printed no error but never finished) still
  fails.
"""

from __future__ import annotations

import ast
import copy
import json
import secrets

import nbformat

from course_lib import submission

PROBE_TAG = "course-grader-probe"
MARK_TAG = "course-grader-mark"  # printed by a test cell that finished

# Names whose use in an answer asks for a person to look.
SUSPICIOUS_NAMES = {
    "get_ipython": "uses the IPython shell",
    "__builtins__": "touches the builtins",
    "builtins": "touches the builtins",
    "__import__": "imports by name at run time",
    "importlib": "imports by name at run time",
    "ctypes": "uses ctypes",
    "gc": "inspects live objects",
    "inspect": "inspects the running program",
    "sys": "uses the sys module",
    "subprocess": "starts processes",
    "socket": "opens network sockets",
    "signal": "handles signals",
    "exec": "runs code from strings",
    "eval": "runs code from strings",
    "compile": "runs code from strings",
    "globals": "changes global variables by name",
    "setattr": "sets attributes by name",
    "exit": "exits the kernel",
    "quit": "exits the kernel",
}
SUSPICIOUS_ATTRS = {
    "_exit": "exits the kernel",
    "kill": "kills processes",
    "system": "runs shell commands",
    "popen": "runs shell commands",
    "fork": "forks processes",
    "settrace": "installs a tracer",
    "setprofile": "installs a profiler",
    "excepthook": "replaces the exception hook",
    "displayhook": "replaces the display hook",
    "modules": "touches sys.modules",
}
TRUSTED_HOOK_MODULES = ("matplotlib", "matplotlib_inline", "IPython", "ipykernel")
TEST_MODULES = {"checks", "np", "numpy", "keras", "course_lib", "math", "runtime"}

PROBE_CODE = r"""
def __grader_probe(__tag):
    import sys, json, hashlib, inspect
    ip = get_ipython()
    import os, course_lib
    __installed = (sys.prefix, sys.base_prefix, os.path.dirname(os.path.dirname(course_lib.__file__)) + "/course_lib")
    state = {
        "events": {k: sorted(f"{getattr(cb, '__module__', '?')}:{getattr(cb, '__qualname__', type(cb).__name__)}"
                             for cb in v) for k, v in ip.events.callbacks.items()},
        "input_transformers": len(ip.input_transformers_cleanup) + len(ip.input_transformers_post),
        "ast_transformers": len(ip.ast_transformers),
        "custom_exceptions": repr(ip.custom_exceptions),
        "excepthook": repr(sys.excepthook), "trace": repr(sys.gettrace()), "profile": repr(sys.getprofile()),
        "run_cell": repr(type(ip).run_cell), "instance_overrides": sorted(k for k in vars(ip) if k.startswith(("run_", "show", "_run"))),
        "names": {n: getattr(ip.user_ns.get(n), "__name__", type(ip.user_ns.get(n)).__name__)
                  for n in ("checks", "np", "keras", "runtime", "datasets", "print", "len", "abs", "isinstance")},
        "builtins": sorted(n for n in dir(__import__("builtins"))
                           if getattr(getattr(__import__("builtins"), n), "__module__", "builtins") not in ("builtins", None)),
        # Modules loaded from the writable folders; TensorFlow's autograph writes its
        # generated modules (named __autograph_generated_...) to /tmp, which is expected.
        # (The installation itself may live below /tmp, read-only: that is not the student's.)
        "shadowed": sorted(n for n, m in list(sys.modules.items()) if not n.startswith("__")
                           and str(getattr(m, "__file__", "") or "").startswith(("/scratch", "/tmp"))
                           and not str(getattr(m, "__file__", "")).startswith(__installed)),
    }
    helpers = {}
    for modname in ("course_lib.checks", "numpy", "numpy.testing"):
        mod = sys.modules.get(modname)
        if mod is None:
            continue
        for name in sorted(vars(mod)):
            obj = getattr(mod, name)
            if callable(obj) and not name.startswith("_"):
                code = getattr(obj, "__code__", None)
                helpers[modname + "." + name] = hashlib.sha256(
                    (repr(obj) + (code.co_code.hex() if code else "")).encode()).hexdigest()[:12]
    state["helpers"] = hashlib.sha256(json.dumps(helpers, sort_keys=True).encode()).hexdigest()
    state["helper_names"] = helpers
    print(__tag + json.dumps(state, sort_keys=True))
"""


def _meta(cell) -> dict:
    return cell.metadata.get("nbgrader", {})


def _grader_cell(source: str, tag: str) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata["tags"] = [tag]
    return cell


def structure_notes(submitted: nbformat.NotebookNode, release: nbformat.NotebookNode) -> tuple[list[str], list[str]]:
    """Compare a submission with the release: (notes for the student, reasons to flag)."""
    found = submission.compare(release, submitted)
    notes, flags = [], []
    if found.missing:
        notes.append(f"missing exercise cells were restored empty: {', '.join(found.missing)}")
    if found.foreign:
        flags.append(f"cells claiming to be graded that the lesson does not have: {', '.join(found.foreign)}")
    if found.duplicated:
        flags.append(f"duplicated exercise cells: {', '.join(found.duplicated)}")
    if found.reordered:
        notes.append("exercise cells were out of order; they were put back in place")
    if found.edited_tests:
        flags.append(f"test cells were edited (the original tests were run instead): {', '.join(found.edited_tests)}")
    return notes, flags


def suspicious(code: str) -> list[str]:
    """Reasons to look at an answer by hand, from its syntax tree (empty if none)."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return []  # a syntax error is graded as such: the tests that need it fail
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id in SUSPICIOUS_NAMES:
            found.add(f"`{node.id}` ({SUSPICIOUS_NAMES[node.id]})")
        elif isinstance(node, ast.Attribute) and node.attr in SUSPICIOUS_ATTRS:
            found.add(f"`.{node.attr}` ({SUSPICIOUS_ATTRS[node.attr]})")
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [a.name for a in node.names] + (
                [node.module] if isinstance(node, ast.ImportFrom) and node.module else []
            )
            for name in names:
                root = name.split(".")[0]
                if root in SUSPICIOUS_NAMES or root in ("threading", "multiprocessing"):
                    found.add(f"imports `{name}`")
        elif isinstance(node, (ast.Assign, ast.AugAssign, ast.Delete)):
            targets = node.targets if isinstance(node, (ast.Assign, ast.Delete)) else [node.target]
            for t in targets:
                base = t
                while isinstance(base, (ast.Attribute, ast.Subscript)):
                    base = base.value
                if isinstance(base, ast.Name) and base.id in TEST_MODULES and base is not t:
                    found.add(f"changes `{ast.unparse(t)}` (a module the tests use)")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "open":
            found.add("opens files")
    for node in tree.body:  # top-level names the tests rely on, rebound
        names = []
        if isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)):
            names = [node.name]
        elif isinstance(node, ast.Assign):
            names = [t.id for t in node.targets if isinstance(t, ast.Name)]
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [(a.asname or a.name).split(".")[0] for a in node.names]
        for name in names:
            if name in TEST_MODULES and not (
                isinstance(node, (ast.Import, ast.ImportFrom)) and name in ("np", "numpy", "math", "keras")
            ):
                found.add(f"redefines `{name}` (a name the tests use)")
    return sorted(found)


def build(
    source: nbformat.NotebookNode, submitted: nbformat.NotebookNode, release: nbformat.NotebookNode
) -> tuple[nbformat.NotebookNode, str, list[str]]:
    """The notebook to execute: the source with the student's answers, probes and markers.

    Each answer cell keeps the release's checksum, so nbgrader can tell an answer
    left blank from one written.

    Returns (notebook, nonce, reasons the answers look suspicious).
    """
    nonce = secrets.token_hex(16)
    checksums = {_meta(c)["grade_id"]: _meta(c).get("checksum") for c in release.cells if _meta(c).get("grade_id")}
    nb = submission.fill(source, submitted)
    cells, reasons, probed = [], [], False
    for cell in nb.cells:
        meta = _meta(cell)
        if meta.get("grade_id") and checksums.get(meta["grade_id"]):
            meta["checksum"] = checksums[meta["grade_id"]]
        if meta.get("solution") and cell.cell_type == "code":
            if not probed:
                cells.append(
                    _grader_cell(PROBE_CODE + f"\n__grader_probe({PROBE_TAG + ':before:' + nonce!r})", PROBE_TAG)
                )
                probed = True
            reasons += [f"{meta['grade_id']}: {r}" for r in suspicious(cell.source)]
        if cell.cell_type != "code":
            cell.pop("outputs", None)
        if cell.cell_type == "code" and meta.get("grade") and not meta.get("solution"):
            # The marker goes in the test cell itself, so it prints only if the test ran to its end.
            cell.source += "\n" + _marker_line(nonce, meta["grade_id"])
        cells.append(cell)
    if probed:
        cells.append(_grader_cell(f"__grader_probe({PROBE_TAG + ':after:' + nonce!r})", PROBE_TAG))
    nb.cells = cells
    return nb, nonce, reasons


def _marker_line(nonce: str, grade_id: str) -> str:
    return f"print({MARK_TAG + ':' + nonce + ':' + grade_id!r})"


def _stream_text(cell) -> str:
    return "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream")


def verdict(executed: nbformat.NotebookNode, nonce: str) -> tuple[nbformat.NotebookNode, list[str], list[str]]:
    """Read back markers and probes; strip the grader's cells.

    Returns (the notebook as nbgrader should grade it, tests that did not finish,
    reasons to flag). A graded test whose marker never printed gets an error output,
    so nbgrader scores it as failed.
    """
    finished, probes = set(), {}
    graded = copy.deepcopy(executed)
    mark = f"{MARK_TAG}:{nonce}:"
    for cell in graded.cells:
        meta = _meta(cell)
        if cell.cell_type == "code" and meta.get("grade") and not meta.get("solution"):
            cell.source = cell.source.removesuffix("\n" + _marker_line(nonce, meta["grade_id"]))
            for out in cell.outputs:
                if out.get("output_type") == "stream" and mark in out.get("text", ""):
                    lines = out["text"].splitlines(keepends=True)
                    finished.update(ln.strip()[len(mark) :] for ln in lines if ln.startswith(mark))
                    out["text"] = "".join(ln for ln in lines if not ln.startswith(mark))
            cell.outputs = [o for o in cell.outputs if not (o.get("output_type") == "stream" and not o.get("text"))]
    for cell in executed.cells:
        tags = cell.metadata.get("tags", [])
        text = _stream_text(cell)
        if PROBE_TAG in tags:
            for line in text.splitlines():
                prefix = f"{PROBE_TAG}:"
                if line.startswith(prefix) and f":{nonce}" in line:
                    when, rest = line[len(prefix) :].split(":", 1)
                    try:
                        probes[when] = json.loads(rest[len(nonce) :])
                    except ValueError:
                        probes["damaged"] = {}
    flags, unfinished = [], []
    graded.cells = [c for c in graded.cells if PROBE_TAG not in c.metadata.get("tags", [])]
    for cell in graded.cells:
        meta = _meta(cell)
        if cell.cell_type == "code" and meta.get("grade") and not meta.get("solution"):
            has_error = any(o.get("output_type") == "error" for o in cell.outputs)
            if meta["grade_id"] not in finished and not has_error:
                unfinished.append(meta["grade_id"])
                cell.outputs.append(
                    nbformat.v4.new_output(
                        "error", ename="TestDidNotFinish", evalue="this test did not run to the end", traceback=[]
                    )
                )
    if unfinished:
        flags.append(f"tests reported no error but did not finish: {', '.join(unfinished)}")
    if "damaged" in probes:
        flags.append("the grader's kernel check printed damaged output")
    elif "before" in probes and "after" in probes:
        before, after = probes["before"], probes["after"]
        changed = [k for k in before if k not in ("helper_names", "events", "names") and before[k] != after.get(k)]
        # Matplotlib's inline backend registers its own hook at the first figure.
        changed += [
            f"events.{k}"
            for k, v in after.get("events", {}).items()
            for cb in set(v) - set(before["events"].get(k, []))
            if not cb.startswith(TRUSTED_HOOK_MODULES)
        ]
        # A name the tests use that was bound before the answers must still be the same thing
        # (names first imported later, e.g. by a demo cell, are fine).
        changed += [
            f"`{k}` rebound"
            for k, v in before.get("names", {}).items()
            if v != "NoneType" and after.get("names", {}).get(k) != v
        ]
        if changed:
            detail = changed
            if "shadowed" in changed:
                new = sorted(set(after["shadowed"]) - set(before["shadowed"]))
                detail = [c for c in detail if c != "shadowed"] + [
                    f"modules loaded from its own files: {', '.join(new[:5])}"
                ]
            if "helpers" in changed:
                names = [n for n, h in after["helper_names"].items() if before["helper_names"].get(n) != h]
                detail = [c for c in detail if c != "helpers"] + [f"patched {', '.join(names[:5])}"]
            flags.append(f"the kernel was tampered with: {', '.join(detail)}")
    elif "before" in probes:
        flags.append("the grader's final check did not run (the notebook stopped early or hid it)")
    return graded, unfinished, flags
