"""bulk_set writes the same fields of many rows in one statement, on PostgreSQL and on the embedded SQLite.

The tests run on PostgreSQL; the other databases' path (Django's bulk_update) is taken by making the helper see
another vendor. A grade names its best reference by id, which a model's constructor takes only as ``_id``: without
that, no grade could be written in the embedded mode `make run` uses.
"""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.db import connection

from grader import db
from grader.models import Submission


@pytest.mark.parametrize("vendor", ["postgresql", "sqlite"])
def test_bulk_set_writes_each_rows_values_with_a_relation_given_by_id(monkeypatch, gradient_descent_question, vendor):
    monkeypatch.setattr(db, "connection", SimpleNamespace(vendor=vendor) if vendor == "sqlite" else connection)
    reference = gradient_descent_question.reference_answers.first()
    first, second = (
        Submission.objects.create(question=gradient_descent_question, student_ref=ref, answer="an answer")
        for ref in ("a", "b")
    )
    db.bulk_set(
        Submission,
        {
            first.pk: {"status": "graded", "points": Decimal("1.5"), "best_reference": reference.pk},
            second.pk: {"status": "needs_review", "points": Decimal("0"), "best_reference": reference},
        },
    )
    rows = Submission.objects.filter(pk__in=[first.pk, second.pk]).order_by("pk")
    assert list(rows.values_list("status", "points", "best_reference")) == [
        ("graded", Decimal("1.5"), reference.pk),
        ("needs_review", Decimal("0"), reference.pk),
    ]
