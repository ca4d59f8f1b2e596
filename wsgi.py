"""WSGI entry point: ``flask --app wsgi ...`` and ``gunicorn wsgi:app``."""

import gc

from schoolhealth import create_app

app = create_app()

# pypinyin's dictionaries (roster search) are ~200,000 long-lived objects: every full
# garbage collection walked them, a ~90 ms pause landing on random requests. Freezing
# what start-up allocated moves it out of the collector's sight (bench/pages.py measures
# with and without; gunicorn workers fork after this and keep the frozen heap shared).
gc.freeze()
