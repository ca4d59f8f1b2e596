"""WTForms fields that read numbers through :mod:`schoolhealth.rules.numbers`.

WTForms' IntegerField calls ``int()``, which takes "٣" (Arabic-Indic three) as 3; these
accept ASCII and full-width digits only, like every other number the system reads.
"""

from __future__ import annotations

from typing import Any

from wtforms import IntegerField

from .rules import numbers


class StrictIntegerField(IntegerField):
    """An IntegerField that refuses digits other than 0-9 and ０-９."""

    def process_formdata(self, valuelist: list[Any]) -> None:
        if not valuelist:
            return
        try:
            self.data = numbers.coerce_int(valuelist[0])
        except ValueError as exc:
            self.data = None
            raise ValueError(self.gettext("Not a valid integer value.")) from exc
