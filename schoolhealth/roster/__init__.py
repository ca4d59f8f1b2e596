"""School rosters: pupils, classes, promotion, import and export."""

from flask import Blueprint

bp = Blueprint("roster", __name__, url_prefix="/roster")
