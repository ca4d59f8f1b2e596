"""Parent letters (告家长书): PDFs with return slips, batches, the register, parents' codes."""

from flask import Blueprint

bp = Blueprint("letters", __name__)
