"""Validation errors with the same words everywhere (nurse grid, uploads, API, CLI).

Every rejection names the field, the value and what is allowed, e.g.
``height_cm: 300 is outside the plausible range 80.0-220.0 cm``. The ``key`` and
``params`` let the web layer translate the message; ``message`` is the English text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any


@dataclass(frozen=True)
class FieldError:
    """One rejected field: what the web layer shows next to the input."""

    field: str
    value: str
    message: str
    key: str = "invalid"
    params: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def __str__(self) -> str:
        return self.message


class InvalidMeasurement(ValueError):
    """A value that is impossible or implausible for its field (never silently "normal").

    ``allowed`` is the human-readable allowed range or set, e.g. ``"80.0-220.0 cm"``.
    """

    def __init__(
        self,
        field: str,
        value: object,
        allowed: str,
        message: str | None = None,
        *,
        key: str = "invalid",
        params: dict[str, Any] | None = None,
    ) -> None:
        self.field = field
        self.value = value
        self.allowed = allowed
        self.key = key
        self.params = {"field": field, "value": _text(value), "allowed": allowed}
        if params:
            self.params.update(params)
        self.message = message or f"{field}: {_text(value)} is not valid; allowed: {allowed}"
        super().__init__(self.message)

    def to_field_error(self) -> FieldError:
        return FieldError(
            field=self.field,
            value=_text(self.value),
            message=self.message,
            key=self.key,
            params=dict(self.params),
        )


class InvalidIdNumber(InvalidMeasurement):
    """A resident identity number that fails GB 11643 (length, birth date or check digit)."""


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, tuple | list):
        return " ".join(str(v) for v in value)
    return str(value)


def out_of_range(field: str, value: object, low: str, high: str, unit: str) -> InvalidMeasurement:
    """The standard "outside the plausible range" error (results.md ranges)."""
    allowed = f"{low}-{high} {unit}".strip()
    return InvalidMeasurement(
        field,
        value,
        allowed,
        f"{field}: {_text(value)} is outside the plausible range {allowed}",
        key="out_of_range",
        params={"min": low, "max": high, "unit": unit},
    )
