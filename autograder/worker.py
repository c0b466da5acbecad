"""Grade prepared submissions, one job after another: ``python -m autograder.worker``.

A worker is a process of its own, started by the grader (`Resident`), so a job that
crashes it or exhausts its memory costs that job, never the grader; on a Dask cluster
the Dask worker's own process runs `execute_safely`. For each job:

1. the student's notebook (rebuilt from the release with only their answers) runs in a
   sandboxed kernel, with the settings `course check` uses;
2. the lesson's hidden tests (`autograder.hidden`) then run here, in this trusted
   process, asking that kernel, and for NumPy-only exercises a process that has
   nothing but NumPy, for data through `autograder.student`. Verdicts are computed
   here; the student's processes only ever produce data.
"""

from __future__ import annotations

import os
import resource
import select
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat

from autograder import hidden, student
from autograder.integrity import PROBE_TAG
from autograder.job import Job, Outcome
from course_lib import kernel

# TensorFlow alone reserves about 2.5 GB of address space; the rest is headroom for the
# trusted side's references and rebuilt models. A job that blows past it is that job's error.
WORKER_MEMORY_BYTES = 8 * 2**30
# The kernel run stops itself at the notebook's time limit, the hidden tests at theirs;
# this is the backstop if neither can.
GRACE_SECONDS = 120


def execute(job: Job) -> Outcome:
    """Run the job's notebook, then its hidden tests."""
    settings = job.settings
    tests = hidden.load_source(job.tests) if job.tests else []
    notebook = nbformat.from_dict(job.notebook)
    with kernel.Session(settings) as session:
        done = session.run_notebook(notebook, keep_tags=(PROBE_TAG,))
        students = {False: student.Student(student.KernelTransport(session))}
        numpy_process = None
        try:
            if any(t.spec.numpy_only for t in tests):
                try:
                    numpy_process = student.NumpyTransport(hidden.numpy_answers(notebook, tests), settings)
                    students[True] = student.Student(numpy_process)
                except (student.Unavailable, student.CallTimeout, OSError):
                    pass  # its tests fail with "the student's process did not start"
            verdicts = hidden.run(
                tests,
                students,
                job.seed,
                job.student,
                budget=job.hidden_budget,
                problems=numpy_process.problems if numpy_process else [],
            )
        finally:
            if numpy_process is not None:
                numpy_process.close()
    keras = sys.modules.get("keras")
    if keras is not None:  # the next student starts from a clean slate
        keras.backend.clear_session()
    return Outcome(done.notebook, done.problem, done.seconds, verdicts)


def execute_safely(job: Job) -> Outcome:
    """`execute`, with a failure of the grader's own becoming that student's error (Dask workers call this)."""
    try:
        return execute(job)
    except Exception as exc:
        return Outcome.failed(job, f"the grader's worker failed ({type(exc).__name__}: {str(exc)[:200]})")


def _limit_worker_memory():  # runs in the worker process just before it starts
    # Soft limit only: the kernel's own (larger) limit is set by the sandbox, and a
    # process may raise its soft limit up to the hard one.
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (WORKER_MEMORY_BYTES, hard))
    os.setsid()


class Resident:
    """A worker process that grades one job after another, so that what the hidden tests
    import (Keras, for references and rebuilt models) is imported once, not per student.

    A job that crashes it, exhausts its memory or outruns its time costs that job alone:
    the process is replaced for the next one.
    """

    def __init__(self):
        self.proc = None
        self.log = tempfile.NamedTemporaryFile(prefix="course-worker-", suffix=".log", delete=False)

    def start(self) -> None:
        """Start the process now; it imports Keras while the grader prepares the class (else
        the first job starts it)."""
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "autograder.worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            preexec_fn=_limit_worker_memory,
        )

    def _stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.proc = None

    def run(self, job: Job) -> Outcome:
        if self.proc is None or self.proc.poll() is not None:
            self.start()
        timeout = job.settings.timeout + job.hidden_budget + GRACE_SECONDS
        with tempfile.TemporaryDirectory(prefix="course-job-") as tmp:
            job_path, result_path = Path(tmp) / "job.json", Path(tmp) / "result.json"
            job_path.write_text(job.to_json())
            try:
                self.proc.stdin.write(f"{job_path}\t{result_path}\n".encode())
                self.proc.stdin.flush()
                ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
                line = self.proc.stdout.readline() if ready else None
            except (BrokenPipeError, OSError):
                line = b""
            if line is None:
                self._stop()
                return Outcome.failed(job, f"grading stopped after {timeout:g} s of wall time")
            if not line or not result_path.exists():
                self._stop()
                tail = Path(self.log.name).read_text(errors="replace")[-2000:]
                why = "it ran out of memory" if "MemoryError" in tail else "it crashed"
                return Outcome.failed(job, f"the grader's worker for this notebook failed ({why})")
            return Outcome.from_json(result_path.read_text())

    def close(self) -> None:
        self._stop()
        Path(self.log.name).unlink(missing_ok=True)


def serve() -> int:
    """The resident worker's loop: one "JOB RESULT" line in, one line out when RESULT is written."""
    protocol = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # anything else printed here goes to the log, not into the protocol
    try:  # what most lessons' hidden tests import (3 s), before the first job rather than in it
        import keras  # noqa: F401
    except ImportError:
        pass
    for line in sys.stdin:
        job_path, result_path = (Path(p) for p in line.rstrip("\n").split("\t"))
        outcome = execute_safely(Job.from_json(job_path.read_text()))
        tmp = result_path.with_suffix(".tmp")
        tmp.write_text(outcome.to_json())
        os.replace(tmp, result_path)
        protocol.write("done\n")
    return 0


if __name__ == "__main__":
    sys.exit(serve())
