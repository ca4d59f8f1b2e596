"""A real database worker with a job kind that allocates a given number of megabytes.

Run as a script by test_worker_process.py: ``python tests/jobs/allocating_worker.py``.
It is the ordinary `flask worker` (:func:`schoolhealth.jobs.run_worker`, which applies
``JOB_MEMORY_LIMIT_MB``) with one more handler, ``test_allocate``, standing for a job
whose input costs more memory than the ceiling allows.
"""

from __future__ import annotations

from schoolhealth import create_app, jobs


@jobs.job_handler("test_allocate")
def allocate(job) -> dict:
    block = bytearray(int(job.params["megabytes"]) * 1024 * 1024)
    return {"allocated": len(block)}


if __name__ == "__main__":
    jobs.run_worker(create_app(), burst=True)
