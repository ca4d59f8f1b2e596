"""Classes and grades read as schools write them, in each language."""

from __future__ import annotations

import pytest
from flask_babel import force_locale

from schoolhealth import labels


@pytest.mark.parametrize(
    ("grade", "name", "chinese", "english"),
    [
        (1, "1", "一年级（1）班", "Grade 1, class 1"),
        (6, "12", "六年级（12）班", "Grade 6, class 12"),
        (7, "3", "七年级（3）班", "Grade 7, class 3"),
        (10, "2", "高一（2）班", "Grade 10, class 2"),
        (12, "5", "高三（5）班", "Grade 12, class 5"),
        (3, "实验班", "三年级实验班", "Grade 3, class 实验班"),
        (3, "A", "三年级A班", "Grade 3, class A"),
    ],
)
def test_class_labels(app, grade, name, chinese, english):
    with app.test_request_context():
        with force_locale("zh_Hans_CN"):
            assert labels.class_label(grade, name) == chinese
        with force_locale("en"):
            assert labels.class_label(grade, name) == english


def test_grade_labels(app):
    with app.test_request_context():
        with force_locale("zh_Hans_CN"):
            assert [labels.grade_label(g) for g in (1, 9, 11)] == ["一年级", "九年级", "高二"]
        with force_locale("en"):
            assert labels.grade_label(11) == "Grade 11"
        assert labels.class_label(None, "1") == labels.grade_label(None) == "—"
