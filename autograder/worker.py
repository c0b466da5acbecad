"""Execute one prepared submission in the sandbox: ``python -m autograder.worker JOB RESULT``.

A worker is a process of its own, started by the grader (or by a Dask worker on
another machine), so a notebook that floods its output or leaks memory costs this
process, never the grader. It reads a job (the notebook to run and its
`course_lib.kernel.RunSettings`) and writes a result (the executed notebook, or why
it could not finish) atomically.
"""
from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat

from autograder.integrity import PROBE_TAG
from course_lib import kernel

WORKER_MEMORY_BYTES = 4 * 2**30
# The kernel run stops itself at the notebook's time limit; this is the backstop if it cannot.
GRACE_SECONDS = 60


def execute(job: dict) -> dict:
    """Run the job's notebook; return {"notebook", "error", "seconds"}."""
    done = kernel.run(nbformat.from_dict(job["notebook"]), kernel.RunSettings.from_dict(job["settings"]),
                      keep_tags=(PROBE_TAG,), tmp_root=job.get("tmp_root"))
    return {"notebook": done.notebook, "error": done.problem, "seconds": done.seconds}


def _limit_worker_memory():  # runs in the worker process just before it starts
    # Soft limit only: the kernel's own (larger) limit is set by the sandbox, and a
    # process may raise its soft limit up to the hard one.
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (WORKER_MEMORY_BYTES, hard))
    os.setsid()


def run_isolated(job: dict) -> dict:
    """Run a job in a fresh worker process; a crash or a timeout becomes an error result.

    This is what the grader's thread pool and Dask workers call: the memory a
    notebook's output takes, and any crash, stay in that process.
    """
    timeout = job["settings"]["timeout"]
    with tempfile.TemporaryDirectory(prefix="course-job-") as tmp:
        job_path, result_path = Path(tmp) / "job.json", Path(tmp) / "result.json"
        job_path.write_text(json.dumps(job))
        proc = subprocess.Popen([sys.executable, "-m", "autograder.worker", str(job_path), str(result_path)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                preexec_fn=_limit_worker_memory)
        try:
            _, err = proc.communicate(timeout=timeout + GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            return {"notebook": job["notebook"], "error": f"grading stopped after {timeout} s of wall time",
                    "seconds": timeout}
        if not result_path.exists():
            why = "it produced more output than fits in memory" if "MemoryError" in (err or "") else (err or "").strip()[-200:]
            return {"notebook": job["notebook"], "error": f"the grader's worker for this notebook failed ({why})",
                    "seconds": 0}
        return json.loads(result_path.read_text())


def main(argv: list[str]) -> int:
    job_path, result_path = Path(argv[0]), Path(argv[1])
    job = json.loads(job_path.read_text())
    result = execute(job)
    tmp = result_path.with_suffix(".tmp")
    tmp.write_text(json.dumps(result))
    os.replace(tmp, result_path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
