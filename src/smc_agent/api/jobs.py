"""Background jobs of the API (the backtests of ``POST /api/v1/analytics/backtest``), kept in memory.

One worker thread runs them, one at a time and off the event loop: the engine is CPU-bound, and two jobs
would only fight each other (and the served agent) for the machine's cores. At most ``max_pending`` jobs
wait; one more is refused with :class:`JobsFull` (the route's 429). A job is ``queued``, ``running``, then
``done`` with its result or ``failed`` with a message a person can read (a :class:`SmcAgentError`'s own,
else only the kind of error: never a traceback, which may hold paths or data). The last ``keep`` finished
jobs are kept, older ones forgotten. Nothing survives a restart of the server.
"""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal

from smc_agent.api.auth import wall_ms
from smc_agent.core.errors import SmcAgentError
from smc_agent.core.logs import get_logger

__all__ = ["Job", "JobRegistry", "JobsFull", "Progress", "Work"]

Status = Literal["queued", "running", "done", "failed"]
Progress = Callable[[float], None]  # the job tells how far it is, 0..1
Work = Callable[[Progress], dict[str, Any]]  # the job itself: its result, a JSON-ready document

_log = get_logger(__name__)


class JobsFull(RuntimeError):
    """Every place in the queue is taken: the caller should retry once a job has finished."""


@dataclass
class Job:
    """One job as a client sees it; ``result`` once done, ``error`` once failed."""

    id: str
    kind: str
    submitted_ms: int
    status: Status = "queued"
    progress: float = 0.0
    started_ms: int | None = None
    finished_ms: int | None = None
    error: str | None = None
    result: dict[str, Any] | None = field(default=None, repr=False)


class JobRegistry:
    """The jobs of one app, and the single worker that runs them."""

    def __init__(self, *, max_pending: int = 4, keep: int = 100, clock: Callable[[], int] = wall_ms) -> None:
        self.max_pending, self.keep = max_pending, keep
        self._clock = clock
        self._jobs: OrderedDict[str, Job] = OrderedDict()  # in submission order: the oldest are forgotten first
        self._lock = threading.Lock()
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="smc-api-job")

    def submit(self, kind: str, work: Work) -> Job:
        """Queue ``work``; JobsFull when ``max_pending`` jobs are already waiting."""
        with self._lock:
            if sum(job.status == "queued" for job in self._jobs.values()) >= self.max_pending:
                raise JobsFull(f"{self.max_pending} jobs are already waiting: retry once one has finished")
            job = Job(f"job-{uuid.uuid4().hex}", kind, self._clock())
            self._jobs[job.id] = job
        self._worker.submit(self._run, job, work)
        return job

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def close(self) -> None:
        """Stop taking jobs; the running one finishes, the queued ones are dropped."""
        self._worker.shutdown(wait=False, cancel_futures=True)

    def _run(self, job: Job, work: Work) -> None:
        job.status, job.started_ms = "running", self._clock()

        def progress(done: float) -> None:
            job.progress = min(max(done, 0.0), 1.0)

        try:
            result = work(progress)
        except SmcAgentError as exc:
            job.error = str(exc)
        except Exception as exc:  # a bug, not the user's input: the message names its kind only
            _log.exception("job failed", job=job.id, kind=job.kind)
            job.error = f"the {job.kind} failed on an internal error ({type(exc).__name__}); see the server log"
        else:
            job.result, job.progress = result, 1.0
        job.finished_ms = self._clock()
        job.status = "failed" if job.error is not None else "done"
        self._forget()

    def _forget(self) -> None:
        """Drop the oldest finished jobs beyond ``keep``."""
        with self._lock:
            finished = [job.id for job in self._jobs.values() if job.status in ("done", "failed")]
            for job_id in finished[: max(len(finished) - self.keep, 0)]:
                del self._jobs[job_id]
