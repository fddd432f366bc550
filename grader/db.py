"""Database helpers the ORM has no fast form for."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from django.db import connection, models


def _column(model: type[models.Model], name: str) -> models.Field:
    """The model's field ``name``, which must be a column of its own table (not a reverse or generic relation)."""
    field = model._meta.get_field(name)
    if not isinstance(field, models.Field):
        raise TypeError(f"{model.__name__}.{name} is not a column")
    return field


def _instance(model: type[models.Model], pk: int, values: Mapping[str, Any]) -> models.Model:
    """An unsaved instance carrying ``values``; a relation given as a key goes to its ``_id`` attribute (the
    model's constructor accepts only an instance under the relation's name)."""
    fields = {name: _column(model, name) for name in values}
    return model(
        pk=pk,
        **{
            fields[name].attname if fields[name].is_relation and not isinstance(value, models.Model) else name: value
            for name, value in values.items()
        },
    )


def bulk_set(model: type[models.Model], rows: Mapping[int, Mapping[str, Any]]) -> None:
    """Give each row (by primary key) its own values for the same fields, in one statement.

    PostgreSQL gets ``UPDATE ... FROM (VALUES ...)``. Django's bulk_update builds a CASE WHEN per field and row,
    whose Python cost (about 7 ms per row for a graded submission) is half the model's time to encode an answer;
    this costs a fraction of a millisecond per row. Other databases (the embedded SQLite) use bulk_update.
    """
    if not rows:
        return
    names = list(next(iter(rows.values())))
    if connection.vendor != "postgresql":
        model._default_manager.bulk_update([_instance(model, pk, values) for pk, values in rows.items()], names)
        return
    meta = model._meta
    pk_field = meta.pk
    assert pk_field is not None  # every concrete model has one
    fields = [pk_field, *(_column(model, name) for name in names)]
    quote = connection.ops.quote_name
    # Every placeholder carries its column's type: VALUES would otherwise type the parameters as text.
    row_sql = "(" + ", ".join(f"%s::{field.db_type(connection)}" for field in fields) + ")"
    params: list[Any] = []
    for pk, values in rows.items():
        params.append(pk)
        for field in fields[1:]:
            value = values[field.name]
            if field.is_relation and isinstance(value, models.Model):
                value = value.pk
            params.append(field.get_db_prep_save(value, connection))
    columns = ", ".join(quote(field.column) for field in fields)
    assignments = ", ".join(f"{quote(field.column)} = v.{quote(field.column)}" for field in fields[1:])
    # Only identifiers from the model's meta (quoted) are formatted in; every value is a parameter.
    table, pk_column = quote(meta.db_table), quote(pk_field.column)
    values_sql = ", ".join([row_sql] * len(rows))
    sql = (
        f"UPDATE {table} AS t SET {assignments} FROM (VALUES {values_sql}) AS v ({columns})"  # noqa: S608
        f" WHERE t.{pk_column} = v.{pk_column}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def database_now() -> datetime:
    """The database server's clock. Claims, leases and grades are stamped with it, so that a worker whose clock is
    wrong neither stamps a grade before its submission nor takes a live claim for an expired one."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT statement_timestamp()")
        else:  # the embedded SQLite: UTC text with milliseconds
            cursor.execute("SELECT strftime('%Y-%m-%d %H:%M:%f', 'now')")
        value = cursor.fetchone()[0]
    if isinstance(value, str):
        value = datetime.fromisoformat(value).replace(tzinfo=UTC)
    return value
