"""Administration: districts, schools, institutions and users."""

from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin")
