"""Sign-in, sign-out, language choice and each role's start page."""

from flask import Blueprint

bp = Blueprint("auth", __name__)
