"""SQLAlchemy statements turned into a driver's SQL and arguments, compiled once per shape.

Queries stay SQLAlchemy Core expressions built per call with their values inline; what costs is
compiling them (about 40 % of an API request when `databases` compiled every query, every time).
SQLAlchemy's own cache key tells two statements of one shape apart from their values, as its
engine does: the first statement of a shape is compiled, every later one only extracts its values.
Results come back as `Row`s with the dialect's result processors applied (SQLite hands datetimes
and booleans back as text and integers).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.engine.interfaces import Dialect
from sqlalchemy.sql.cache_key import CacheKey
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ClauseElement

Query = ClauseElement | str
Processor = Callable[[Any], Any] | None

# Shapes are few (one per query site); a bound keeps a caller that builds SQL text dynamically
# from growing the cache without end.
CACHE_SIZE = 2000

# Row.part's column indexes, by the shape's own index (which each entry holds, so its id is not reused).
_parts: dict[tuple[int, str], tuple[Mapping[str, int], dict[str, int]]] = {}


class Row(Mapping[str, Any]):
    """One result row: by column name (`row["id"]`) or position (`row[0]`)."""

    __slots__ = ("_index", "_values")

    def __init__(self, index: Mapping[str, int], values: tuple[Any, ...]) -> None:
        self._index = index
        self._values = values

    def __getitem__(self, key: str | int) -> Any:
        if isinstance(key, int):
            return self._values[key]
        return self._values[self._index[key]]

    def part(self, prefix: str) -> Row:
        """The columns labelled `prefix…`, named without it: one table's row of a joined query."""
        kept = _parts.get((id(self._index), prefix))
        if kept is None or kept[0] is not self._index:
            index = {name[len(prefix) :]: i for name, i in self._index.items() if name.startswith(prefix)}
            if len(_parts) >= CACHE_SIZE:
                _parts.clear()
            kept = _parts[(id(self._index), prefix)] = (self._index, index)
        return Row(kept[1], self._values)

    def __iter__(self) -> Iterator[str]:
        return iter(self._index)

    def __len__(self) -> int:
        return len(self._values)

    @property
    def _mapping(self) -> Mapping[str, Any]:
        return self

    def __repr__(self) -> str:
        return f"Row({dict(self)!r})"


@dataclass(frozen=True)
class Shape:
    """What one statement shape compiles to: the SQL, its parameters in order, how to read rows."""

    sql: str
    compiled: SQLCompiler
    names: tuple[str, ...]
    binders: tuple[Processor, ...]
    columns: Mapping[str, int]
    readers: tuple[Processor, ...]
    is_read: bool
    processed: bool  # any reader at all: rows without one are taken as the driver gave them

    def rows(self, raw: Sequence[Sequence[Any]], names: Callable[[], Sequence[str]]) -> list[Row]:
        """`names`: the driver's column names, for SQL text (which SQLAlchemy knows no columns of)."""
        readers, columns = self.readers, self.columns
        if not columns:
            columns = {name: i for i, name in reversed(list(enumerate(names())))}
        if not self.processed:
            return [Row(columns, tuple(r)) for r in raw]
        return [
            Row(columns, tuple(v if f is None or v is None else f(v) for f, v in zip(readers, r, strict=True)))
            for r in raw
        ]

    def arguments(self, params: Mapping[str, Any]) -> list[Any]:
        return [
            params[name] if f is None else f(params[name]) for name, f in zip(self.names, self.binders, strict=True)
        ]


@dataclass(frozen=True)
class Prepared:
    """One statement ready for the driver."""

    shape: Shape
    args: list[Any]


class Statements:
    """Compiles statements for one dialect and keeps each shape's compiled form."""

    def __init__(self, dialect: Dialect) -> None:
        self.dialect = dialect  # positional: `?` for sqlite3, `$1`… (numeric_dollar) for asyncpg
        self._shapes: dict[Any, Shape] = {}
        self._constants: dict[object, tuple[Query, Shape]] = {}
        self._inserts: dict[tuple[sa.Table, tuple[str, ...]], Shape] = {}

    def prepare(self, query: Query, values: Mapping[str, Any] | None = None) -> Prepared:
        """A statement with `values` is a constant (built once, its parameters named with
        `sa.bindparam` or `:name`): its shape is kept by identity and no cache key is computed —
        the hot paths' way. A statement without `values` carries its values inline."""
        if values is not None or isinstance(query, str):
            return self._prepare_constant(query, values or {})
        key = query._generate_cache_key()
        if key is None or any(b.expanding for b in key.bindparams):
            # No cache key, or an IN list whose length shapes the SQL: compile this one as it is.
            compiled = self._compile(query, render_postcompile=True)
            once = self._shape(compiled)
            return Prepared(once, once.arguments(compiled.construct_params()))
        shape = self._shapes.get(key.key)
        if shape is None:
            shape = self._shape(self._compile(query, render_postcompile=False, cache_key=key))
            if len(self._shapes) >= CACHE_SIZE:
                self._shapes.clear()
            self._shapes[key.key] = shape
        params = shape.compiled.construct_params(extracted_parameters=key.bindparams, escape_names=False)
        return Prepared(shape, shape.arguments(params))

    def prepare_insert(self, table: sa.Table, values: Mapping[str, Any]) -> Prepared:
        """INSERT INTO table (the given columns) VALUES (…): compiled once per table and set of columns,
        with no statement built per call (`insert().values(…)` costs more than the insert itself)."""
        key = (table, tuple(values))
        shape = self._inserts.get(key)
        if shape is None:
            compiled = table.insert()._compiler(self.dialect, column_keys=list(values))
            assert isinstance(compiled, SQLCompiler)
            shape = self._inserts[key] = self._shape(compiled)
        return Prepared(shape, shape.arguments(values))

    def _prepare_constant(self, query: Query, values: Mapping[str, Any]) -> Prepared:
        key: object = query if isinstance(query, str) else id(query)
        kept = self._constants.get(key)
        if kept is None or (kept[0] is not query and not isinstance(query, str)):
            clause = sa.text(query) if isinstance(query, str) else query
            kept = (query, self._shape(self._compile(clause, render_postcompile=False)))
            if len(self._constants) >= CACHE_SIZE:
                self._constants.clear()
            self._constants[key] = kept  # holds the query, so its id is not reused
        shape = kept[1]
        try:
            return Prepared(shape, shape.arguments(values))
        except KeyError:  # a parameter with a default value in the statement
            return Prepared(shape, shape.arguments(shape.compiled.construct_params(dict(values), escape_names=False)))

    def _compile(
        self, query: ClauseElement, *, render_postcompile: bool, cache_key: CacheKey | None = None
    ) -> SQLCompiler:
        # As SQLAlchemy's engine compiles: with the cache key, so later statements of the shape can
        # hand their own values in (construct_params' extracted_parameters).
        compiled = query._compiler(
            self.dialect, cache_key=cache_key, compile_kwargs={"render_postcompile": render_postcompile}
        )
        assert isinstance(compiled, SQLCompiler)
        return compiled

    def _shape(self, compiled: SQLCompiler) -> Shape:
        names = tuple(compiled.positiontup or ())
        sql = compiled.string
        processors = compiled._bind_processors
        # One processor per parameter: Sequence processors are for tuple-valued parameters, never used here.
        binders = tuple(cast(Processor, processors.get(name)) for name in names)
        columns: dict[str, int] = {}
        readers: list[Processor] = []
        for position, column in enumerate(compiled._result_columns):
            columns.setdefault(column.keyname, position)
            readers.append(column.type._cached_result_processor(self.dialect, None))
        return Shape(
            sql=sql,
            compiled=compiled,
            names=names,
            binders=binders,
            columns=columns,
            readers=tuple(readers),
            processed=any(readers),
            is_read=sql.lstrip()[:6].upper() == "SELECT",
        )
