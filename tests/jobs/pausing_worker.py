"""A real database worker that stops in the middle of a roster import's writes.

Run as a script by test_fault.py: ``python tests/jobs/pausing_worker.py SIGNAL_FILE``.
It is the ordinary worker loop (:func:`schoolhealth.jobs.run_db_worker`) with one
change: once the new pupils are inserted, and before their enrolments are, it writes
SIGNAL_FILE and sleeps, so the test can kill it with SIGKILL at a known point mid-write.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from schoolhealth import create_app, jobs
from schoolhealth.roster import importing


def main(signal_file: Path) -> None:
    def pause_mid_write(*args: object, **kwargs: object) -> None:
        signal_file.write_text("pupils inserted, enrolments not yet")
        time.sleep(3600)

    importing._write_enrolments = pause_mid_write
    app = create_app()  # DATABASE_URL and JOB_* from the environment, as `flask worker`
    jobs.run_db_worker(app, burst=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
