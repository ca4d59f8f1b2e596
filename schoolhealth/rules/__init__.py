"""The screening rules core: pure functions over measurements, no Flask, no database.

Standards (see tests/reference/README.md and data/SOURCES.md): WS/T 586-2018
(overweight/obesity), WS/T 456-2014 (thinness, stunting), WS/T 428-2013 (adults),
WHO 2007 and CDC 2000 BMI-for-age (district options), GB/T 11533-2011 (acuity notation),
the NHC 2019 myopia guideline (视力不良, 筛查性近视), GB/T 16133-2014 (spine), WHO Oral
Health Surveys 2013 (dmft/DMFT). Output codes are those of docs/formats/evaluation.md.

Typical use::

    measurements, errors = parse_measurements(form_values)
    evaluation = evaluate(Sex.FEMALE, birth_date, screening_date, measurements)
    evaluation.to_evaluation_columns()["weight_status"]   # "overweight"
"""

from __future__ import annotations

from . import fields
from .age import Age, compute_age
from .bmi import bmi_reference_cutoffs, stunting_cutoffs
from .engine import (
    CODE_FIELDS,
    EVALUATORS,
    ROW_FIELDS,
    CompiledRules,
    check_measurements,
    classify_row,
    compile_rules,
    evaluate,
    fast_row,
    row_columns,
)
from .errors import FieldError, InvalidIdNumber, InvalidMeasurement
from .idnumber import id_number_birth_date, id_number_sex, validate_id_number
from .parsing import (
    error_types,
    parse_date,
    parse_field,
    parse_measurements,
    parse_sex,
    parse_visual_acuity,
)
from .ruleset import (
    DEFAULT_CONFIG,
    GROWTH_REFERENCES,
    RULESET_VERSION,
    RuleConfig,
    rule_set_label,
)
from .spine import confirms_scoliosis
from .types import (
    CATEGORY_COLUMNS,
    EVALUATION_COLUMNS,
    MEASUREMENT_FIELDS,
    NOT_APPLICABLE,
    NOT_EVALUABLE,
    Evaluation,
    Finding,
    Measurements,
    ScreeningType,
    Sex,
)
from .vision import decimal_to_five_point, five_point_to_decimal

__all__ = [
    "fields",
    "CATEGORY_COLUMNS",
    "CODE_FIELDS",
    "DEFAULT_CONFIG",
    "EVALUATION_COLUMNS",
    "EVALUATORS",
    "GROWTH_REFERENCES",
    "MEASUREMENT_FIELDS",
    "NOT_APPLICABLE",
    "NOT_EVALUABLE",
    "ROW_FIELDS",
    "RULESET_VERSION",
    "Age",
    "CompiledRules",
    "Evaluation",
    "FieldError",
    "Finding",
    "InvalidIdNumber",
    "InvalidMeasurement",
    "Measurements",
    "RuleConfig",
    "ScreeningType",
    "Sex",
    "bmi_reference_cutoffs",
    "check_measurements",
    "classify_row",
    "compile_rules",
    "compute_age",
    "confirms_scoliosis",
    "decimal_to_five_point",
    "error_types",
    "evaluate",
    "fast_row",
    "five_point_to_decimal",
    "id_number_birth_date",
    "id_number_sex",
    "parse_date",
    "parse_field",
    "parse_measurements",
    "parse_sex",
    "parse_visual_acuity",
    "row_columns",
    "rule_set_label",
    "stunting_cutoffs",
    "validate_id_number",
]
