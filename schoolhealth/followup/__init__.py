"""Follow-up of referrals: cases, the nurse's worklist, outcomes, reminders, bulk uploads."""

from flask import Blueprint

bp = Blueprint("followup", __name__, url_prefix="/followup")
