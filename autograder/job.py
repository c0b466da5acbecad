"""What crosses between the grader and its workers: a job to grade, and its outcome.

Both travel as JSON to a resident worker process on this machine (`autograder.worker`)
and pickled to a Dask worker, so they hold plain data only: the notebook as a dict,
never code of the student's. What the grader keeps to itself (the integrity nonce, the
notes on the submission) never goes into a job.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

from autograder.hidden import BUDGET_SECONDS, Verdict
from course_lib.kernel import RunSettings


@dataclass
class Job:
    notebook: dict  # the release with only the student's answers put in (`integrity.build`)
    settings: RunSettings
    tests: str  # the source of the lesson's hidden tests (`solutions/LESSON/grading.py`)
    seed: int  # this grading run's: hidden-test inputs are new in every run
    student: str
    hidden_budget: float = BUDGET_SECONDS  # seconds for all of this student's hidden tests

    def to_json(self) -> str:
        return json.dumps({**asdict(self), "settings": self.settings.as_dict()})

    @classmethod
    def from_json(cls, text: str) -> "Job":
        data = json.loads(text)
        return cls(**{**data, "settings": RunSettings.from_dict(data["settings"])})


@dataclass
class Outcome:
    notebook: dict  # as it ran, outputs included
    error: str | None  # why the run or the grading went wrong, in plain words; None if it did not
    seconds: float
    verdicts: dict[str, Verdict] = field(default_factory=dict)  # grade_id -> the hidden tests' verdict

    @classmethod
    def failed(cls, job: Job, why: str) -> "Outcome":
        """A job that never finished: that student's error, with no verdicts."""
        return cls(job.notebook, why, 0.0)

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> "Outcome":
        data = json.loads(text)
        return cls(**{**data, "verdicts": {gid: Verdict(**v) for gid, v in data["verdicts"].items()}})
