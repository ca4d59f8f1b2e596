"""Screening sessions: class-by-class entry, flags and each pupil's record."""

from flask import Blueprint

bp = Blueprint("screening", __name__, url_prefix="/screening")
