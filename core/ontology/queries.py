"""Query building for the stores: WHERE clauses, keyset pages, sorting, range filters and
aggregates (counts, sums, percentiles grouped by property or by day, week or month).

A *field* names what a query reads: one of a table's columns (``created_at``,
``updated_at``, ``type``, ``status``, ``name`` on things; ``occurred_at``, ``type``,
``actor_id``, ``target_id`` on events) or a top-level property as ``properties.<name>``
(``payload.<name>`` on events). Property names must look like identifiers and reach SQL
only as bind parameters (``properties -> $3``), so no caller's text is ever interpolated.
Every query starts from the scope's ``group_id`` filter, and row-level security on the
connection stands behind it.

Time buckets are computed in UTC (weeks start on Monday). Numeric aggregates of a
property read only JSON numbers: a property holding text or nothing is left out, not an
error.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

import msgspec

from core.errors import ValidationFailed
from core.ontology.records import Page

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
#: Groups an aggregate returns by default, and at most.
DEFAULT_GROUPS = 1000
MAX_GROUPS = 10_000

_PROPERTY = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
BucketUnit = Literal["day", "week", "month"]
_UNITS = ("day", "week", "month")


# -- pages ---------------------------------------------------------------------------------


def encode_cursor(last_id: UUID) -> str:
    return base64.urlsafe_b64encode(last_id.bytes).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> UUID | None:
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        return UUID(bytes=raw)
    except (ValueError, binascii.Error):
        raise _bad_cursor() from None


def _bad_cursor() -> ValidationFailed:
    return ValidationFailed("cursor is not one this API returned", field="cursor")


def check_limit(limit: int) -> int:
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationFailed(f"limit must be between 1 and {MAX_LIMIT}", field="limit")
    return limit


def page_of(records: list[Any], limit: int) -> Page[Any]:
    """A page of ``records`` fetched with ``limit + 1`` rows, ordered by id."""
    if len(records) > limit:
        records = records[:limit]
        return Page(items=records, next_cursor=encode_cursor(records[-1].id))
    return Page(items=records)


# -- fields --------------------------------------------------------------------------------


class Table(msgspec.Struct, frozen=True):
    """What a query may read of a table: its columns by kind and its JSON column."""

    name: str
    json: str
    time: str
    columns: dict[str, Literal["time", "text", "uuid"]]


THINGS = Table(
    "things",
    "properties",
    "created_at",
    {"created_at": "time", "updated_at": "time", "type": "text", "status": "text", "name": "text"},
)
EVENTS = Table(
    "events",
    "payload",
    "occurred_at",
    {"occurred_at": "time", "type": "text", "actor_id": "uuid", "target_id": "uuid"},
)


def property_name(name: str, *, field: str) -> str:
    """``name`` if it is identifier-like, else a 422 naming ``field``."""
    if not _PROPERTY.fullmatch(name):
        raise ValidationFailed(
            f"{name!r} is not a property name (letters, digits and _, not starting with a "
            "digit, at most 64)",
            field=field,
        )
    return name


class Range(msgspec.Struct, frozen=True):
    """``low <= value < high`` (either end open when ``None``), as ``since``/``until``.
    Datetimes for a time column; numbers or strings for a property (numbers compare
    numerically and match only numeric values, strings in the database's collation)."""

    low: Any = None
    high: Any = None


class Bucket(msgspec.Struct, frozen=True):
    """A time bucket to group by: the UTC day, week (from Monday) or month of ``field``
    (the table's own time when empty: ``created_at``, ``occurred_at``)."""

    unit: BucketUnit
    field: str = ""

    @property
    def name(self) -> str:
        return f"{self.unit}({self.field})" if self.field else self.unit


def bucket(unit: BucketUnit, field: str = "") -> Bucket:
    """Group by the UTC ``unit`` ("day", "week" or "month") of ``field``."""
    if unit not in _UNITS:
        raise ValidationFailed(f"a bucket is one of {', '.join(_UNITS)}", field="group_by")
    return Bucket(unit, field)


MetricFunction = Literal[
    "count", "count_distinct", "sum", "avg", "min", "max", "percentile", "most_common"
]


class Metric(msgspec.Struct, frozen=True):
    """One figure of an aggregate, computed per group; ``where`` (property equality, as a
    listing's) narrows the rows it counts, like SQL's ``FILTER``. Build one with the
    class methods: ``Metric.count()``, ``Metric.sum("properties.price")``, ..."""

    function: MetricFunction
    name: str
    field: str | None = None
    fraction: float | None = None
    where: dict[str, Any] | None = None

    @classmethod
    def count(cls, *, where: Mapping[str, Any] | None = None, name: str = "count") -> Metric:
        return cls("count", name, where=_where(where))

    @classmethod
    def count_distinct(
        cls, field: str, *, where: Mapping[str, Any] | None = None, name: str = ""
    ) -> Metric:
        return cls("count_distinct", name or f"count_distinct({field})", field, None, _where(where))

    @classmethod
    def sum(cls, field: str, *, where: Mapping[str, Any] | None = None, name: str = "") -> Metric:
        return cls("sum", name or f"sum({field})", field, None, _where(where))

    @classmethod
    def avg(cls, field: str, *, where: Mapping[str, Any] | None = None, name: str = "") -> Metric:
        return cls("avg", name or f"avg({field})", field, None, _where(where))

    @classmethod
    def min(cls, field: str, *, where: Mapping[str, Any] | None = None, name: str = "") -> Metric:
        return cls("min", name or f"min({field})", field, None, _where(where))

    @classmethod
    def max(cls, field: str, *, where: Mapping[str, Any] | None = None, name: str = "") -> Metric:
        return cls("max", name or f"max({field})", field, None, _where(where))

    @classmethod
    def percentile(
        cls, field: str, fraction: float, *, where: Mapping[str, Any] | None = None, name: str = ""
    ) -> Metric:
        """Interpolated, as PostgreSQL's ``percentile_cont``: 0.5 is the median."""
        if not 0 <= fraction <= 1:
            raise ValidationFailed("a percentile's fraction is between 0 and 1", field="metrics")
        name = name or f"percentile({field}, {fraction})"
        return cls("percentile", name, field, fraction, _where(where))

    @classmethod
    def most_common(
        cls, field: str, *, where: Mapping[str, Any] | None = None, name: str = ""
    ) -> Metric:
        """The most frequent value, as text (ties: the first in sort order)."""
        return cls("most_common", name or f"most_common({field})", field, None, _where(where))


def _where(where: Mapping[str, Any] | None) -> dict[str, Any] | None:
    return dict(where) if where else None


class AggregateRow(msgspec.Struct, frozen=True):
    """One group: ``key`` holds its value of each ``group_by`` entry in order (a bucket's
    start as a UTC datetime; ``None`` where the property is missing), ``values`` each
    metric's figure by its name (``None`` for a figure of no rows, ``0`` for a count)."""

    key: tuple[Any, ...]
    values: dict[str, Any]


# -- the query -----------------------------------------------------------------------------


class Query:
    """A WHERE clause built from optional filters, numbering parameters as it goes."""

    def __init__(self, group_id: UUID, table: Table | None = None) -> None:
        self.args: list[Any] = [group_id]
        self.clauses = ["group_id = $1"]
        self.table = table

    def param(self, value: Any) -> str:
        self.args.append(value)
        return f"${len(self.args)}"

    def add(self, clause: str, *values: Any) -> None:
        self.clauses.append(clause.format(*(self.param(v) for v in values)))

    @property
    def where(self) -> str:
        return " AND ".join(self.clauses)

    def page(self, columns: str, table: str, cursor: str | None, limit: int) -> tuple[str, int]:
        after = decode_cursor(cursor)
        if after is not None:
            self.add("id < {}", after)
        limit = check_limit(limit)
        sql = (
            f"SELECT {columns} FROM {table} WHERE {self.where} "
            f"ORDER BY id DESC LIMIT {self.param(limit + 1)}"
        )
        return sql, limit

    # -- fields

    def _table(self) -> Table:
        assert self.table is not None, "a field needs the query's table"
        return self.table

    def field(self, field: str, *, arg: str) -> tuple[str, str]:
        """SQL for ``field`` and its kind: ``time``, ``text``, ``uuid`` or ``json`` (a
        property's JSON value, SQL NULL when missing)."""
        table = self._table()
        kind = table.columns.get(field)
        if kind is not None:
            return field, kind
        prefix = table.json + "."
        if not field.startswith(prefix):
            raise ValidationFailed(
                f"{field!r} is not a field of {table.name}: one of "
                f"{', '.join(table.columns)} or {prefix}<name>",
                field=arg,
            )
        name = property_name(field[len(prefix) :], field=arg)
        return f"({table.json} -> {self.param(name)}::text)", "json"

    def number(self, field: str, *, arg: str) -> str:
        """SQL for ``field`` as a number: a property's JSON number, else NULL."""
        sql, kind = self.field(field, arg=arg)
        if kind != "json":
            raise ValidationFailed(f"{field!r} is not a number", field=arg)
        return f"(CASE WHEN jsonb_typeof({sql}) = 'number' THEN ({sql})::float8 END)"

    # -- filters

    def filter(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        ranges: Mapping[str, Range | tuple[Any, Any]] | None = None,
        missing: Sequence[str] = (),
    ) -> None:
        """``since <= time < until`` on the table's time, ``ranges`` by field, and the
        properties ``missing`` absent (or JSON null)."""
        table = self._table()
        bounds = dict(ranges or {})
        if since is not None or until is not None:
            bounds = {**bounds, table.time: Range(since, until)}
        for field, bound in bounds.items():
            low, high = (bound.low, bound.high) if isinstance(bound, Range) else bound
            self._range(field, low, high)
        for name in missing:
            prop = self.param(property_name(name, field="missing"))
            self.clauses.append(
                f"coalesce(jsonb_typeof({table.json} -> {prop}::text), 'null') = 'null'"
            )

    def _range(self, field: str, low: Any, high: Any) -> None:
        sql, kind = self.field(field, arg="ranges")
        given = [v for v in (low, high) if v is not None]
        if kind == "time":
            if not all(isinstance(v, datetime) for v in given):
                raise ValidationFailed(f"{field}'s range takes datetimes", field="ranges")
            cast = "timestamptz"
        elif kind == "json" and all(_is_number(v) for v in given):
            sql, cast = (
                f"(CASE WHEN jsonb_typeof({sql}) = 'number' THEN ({sql})::float8 END)",
                "float8",
            )
        elif kind == "json" and all(isinstance(v, str) for v in given):
            sql, cast = (
                f"(CASE WHEN jsonb_typeof({sql}) = 'string' THEN {sql} #>> '{{}}' END)",
                "text",
            )
        elif kind == "text" and all(isinstance(v, str) for v in given):
            cast = "text"
        else:
            raise ValidationFailed(
                f"{field}'s range takes two numbers or two strings", field="ranges"
            )
        if low is not None:
            self.clauses.append(f"{sql} >= {self.param(low)}::{cast}")
        if high is not None:
            self.clauses.append(f"{sql} < {self.param(high)}::{cast}")

    # -- sorted pages

    def sorted_page(
        self, columns: str, order_by: str, cursor: str | None, limit: int
    ) -> tuple[str, int, Callable[[list[Any]], Page[Any]]]:
        """A page ordered by ``order_by`` (a column or a property, ``-`` first for
        descending), ties by id, with a keyset cursor carrying the last row's sort value
        and id. Property values sort as PostgreSQL orders JSON: by type (null, strings,
        numbers, booleans, ...) then by value; a missing one sorts as null.
        Returns the SQL, the limit, and how to make the page from its records."""
        table = self._table()
        descending = order_by.startswith("-")
        field = order_by.removeprefix("-")
        sql, kind = self.field(field, arg="order_by")
        if kind == "json":
            sql, cast = f"coalesce({sql}, 'null'::jsonb)", "jsonb"
        elif kind in ("time", "text"):
            cast = "timestamptz" if kind == "time" else "text"
        else:
            raise ValidationFailed(
                "order_by is a column or a property, - first for descending", field="order_by"
            )
        direction, compare = ("DESC", "<") if descending else ("ASC", ">")
        if cursor:
            value, after = _decode_sort_cursor(cursor, order_by, kind)
            if kind == "json":
                self.clauses.append(
                    f"({sql}, id) {compare} "
                    f"(coalesce({self.param(value)}::jsonb, 'null'::jsonb), {self.param(after)})"
                )
            else:
                self.add(f"({sql}, id) {compare} ({{}}::{cast}, {{}})", value, after)
        limit = check_limit(limit)
        query = (
            f"SELECT {columns} FROM {table.name} WHERE {self.where} "
            f"ORDER BY {sql} {direction}, id {direction} LIMIT {self.param(limit + 1)}"
        )

        def page(records: list[Any]) -> Page[Any]:
            if len(records) <= limit:
                return Page(items=records)
            records = records[:limit]
            last = records[-1]
            if kind == "json":
                value = getattr(last, table.json).get(field[len(table.json) + 1 :])
            else:
                value = getattr(last, field)
            raw = msgspec.json.encode((order_by, value, last.id))
            return Page(
                items=records, next_cursor=base64.urlsafe_b64encode(raw).decode().rstrip("=")
            )

        return query, limit, page

    # -- aggregates

    def aggregate(
        self,
        metrics: Sequence[Metric],
        group_by: Sequence[str | Bucket],
        order_by: Sequence[str],
        limit: int,
    ) -> tuple[str, Callable[[list[Any]], list[AggregateRow]]]:
        """SQL for ``metrics`` per group of ``group_by``, ordered by ``order_by`` (metric
        or group names, ``-`` first for descending; then by the groups), and how to read
        its rows."""
        table = self._table()
        if not metrics:
            raise ValidationFailed("an aggregate needs at least one metric", field="metrics")
        if not 1 <= limit <= MAX_GROUPS:
            raise ValidationFailed(f"limit must be between 1 and {MAX_GROUPS}", field="limit")
        names = [m.name for m in metrics]
        if len(set(names)) < len(names):
            raise ValidationFailed("metric names must differ", field="metrics")
        select, aliases = [], {}
        for i, group in enumerate(group_by):
            if isinstance(group, Bucket):
                unit = bucket(group.unit).unit
                column, kind = self.field(group.field or table.time, arg="group_by")
                if kind != "time":
                    raise ValidationFailed(f"{group.field!r} is not a time", field="group_by")
                select.append(f"date_trunc({self.param(unit)}::text, {column}, 'UTC') AS g{i}")
                aliases[group.name] = f"g{i}"
            else:
                select.append(f"{self.field(group, arg='group_by')[0]} AS g{i}")
                aliases[group] = f"g{i}"
        for i, metric in enumerate(metrics):
            select.append(f"{self._metric(metric)} AS m{i}")
            aliases[metric.name] = f"m{i}"
        order = []
        for item in order_by:
            alias = aliases.get(item.removeprefix("-"))
            if alias is None:
                raise ValidationFailed(
                    f"order_by {item!r} names no metric or group", field="order_by"
                )
            order.append(f"{alias} {'DESC' if item.startswith('-') else 'ASC'} NULLS LAST")
        order += [f"g{i} ASC NULLS FIRST" for i in range(len(group_by))]
        sql = f"SELECT {', '.join(select)} FROM {table.name} WHERE {self.where}"
        if group_by:
            sql += f" GROUP BY {', '.join(str(i + 1) for i in range(len(group_by)))}"
        if order:
            sql += f" ORDER BY {', '.join(order)}"
        sql += f" LIMIT {self.param(limit)}"

        def rows(records: list[Any]) -> list[AggregateRow]:
            return [
                AggregateRow(
                    key=tuple(r[f"g{i}"] for i in range(len(group_by))),
                    values={name: r[f"m{i}"] for i, name in enumerate(names)},
                )
                for r in records
            ]

        return sql, rows

    def _metric(self, metric: Metric) -> str:
        function, field = metric.function, metric.field
        if function == "count":
            sql = "count(*)"
        elif field is None:
            raise ValidationFailed(f"{function} needs a field", field="metrics")
        elif function == "count_distinct":
            sql = f"count(DISTINCT {self.field(field, arg='metrics')[0]})"
        elif function == "most_common":
            column, kind = self.field(field, arg="metrics")
            text = f"({column} #>> '{{}}')" if kind == "json" else f"{column}::text"
            sql = f"mode() WITHIN GROUP (ORDER BY {text})"
        elif function in ("min", "max") and field in self._table().columns:
            sql = f"{function}({field})"
        elif function == "percentile":
            if metric.fraction is None or not 0 <= metric.fraction <= 1:
                raise ValidationFailed(
                    "a percentile's fraction is between 0 and 1", field="metrics"
                )
            number = self.number(field, arg="metrics")
            fraction = self.param(metric.fraction)
            sql = f"percentile_cont({fraction}::float8) WITHIN GROUP (ORDER BY {number})"
        elif function in ("sum", "avg", "min", "max"):
            sql = f"{function}({self.number(field, arg='metrics')})"
        else:
            raise ValidationFailed(f"{function!r} is not a metric", field="metrics")
        if metric.where:
            sql += f" FILTER (WHERE {self._table().json} @> {self.param(metric.where)}::jsonb)"
        if function in ("count", "count_distinct"):
            sql = f"coalesce({sql}, 0)"
        return sql


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _decode_sort_cursor(cursor: str, order_by: str, kind: str) -> tuple[Any, UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        order, value, after = msgspec.json.decode(raw, type=tuple[str, Any, UUID])
        if kind == "time":
            value = msgspec.convert(value, datetime)
    except (ValueError, binascii.Error, msgspec.DecodeError, msgspec.ValidationError):
        raise _bad_cursor() from None
    if order != order_by:
        raise ValidationFailed("cursor belongs to another order_by", field="cursor")
    return value, after
