"""Prevalence reports for schools and districts: figures, charts and exports."""

from flask import Blueprint

bp = Blueprint("reports", __name__, url_prefix="/reports")
