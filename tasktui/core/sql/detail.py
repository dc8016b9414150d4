"""Queries behind a task's detail view: its blobs, and its logs a bounded page at a time.

A task can have 100,000 log rows, single attributes of megabytes, and (on 2025.8) one `_messages`
array holding every log line. So:

* blobs are fetched only when small enough to decode (`octet_length` of a bytea reads the TOAST
  header, not the value);
* a log page sorts only keys (timestamp, id) of the task's rows — found through authentik's
  (task_id, previous) index — and joins back for the page's rows alone;
* attributes are inlined in a page only when small: `pg_column_size` (stored size, read from the
  TOAST pointer without detoasting) gates any detoasting, and the JSON text must then also fit
  the inline limit. Larger ones are fetched on demand, and even then truncated.

Every page is ordered by the key (timestamp, source, id, ordinal), where source 0 is the task
log table, 1 the legacy `_messages` and 2 the legacy `_previous_messages`; timestamps that cannot
be read sort first. The same key drives keyset paging (`after` / `before`).

The same page queries, with `problems` and a limit of 1, find the next (or previous) error or
warning line past a cursor. authentik indexes the task log only by (task_id, previous), not by
time or level, so that costs what a page costs: the attempt group's rows are read through that
index and only the matching keys are sorted (a top-1 sort, no row beyond the one found is joined).
"""

from __future__ import annotations

from tasktui.core.shape import TableShape

# A uuid for legacy rows, which have none: keys must be comparable without NULLs.
NIL_UUID = "00000000-0000-0000-0000-000000000000"

SOURCE_TASKLOG = 0
SOURCE_LEGACY_CURRENT = 1
SOURCE_LEGACY_PREVIOUS = 2

# Blobs withheld from a query beyond this many bytes (mirrors safe_pickle.MAX_BLOB_BYTES).
# Tasks whose message id lies in [low, high] (the ids a prefix stands for): a range scan of the
# primary key.
MESSAGE_IDS_IN_RANGE = """
SELECT message_id::text, actor_name FROM authentik_tasks_task
WHERE message_id BETWEEN %(low)s::uuid AND %(high)s::uuid
ORDER BY message_id
LIMIT %(limit)s
"""

TASK_BLOBS = """
SELECT octet_length(t.message),
       CASE WHEN octet_length(t.message) <= %(max_blob)s THEN t.message END,
       octet_length(t.result),
       CASE WHEN octet_length(t.result) <= %(max_blob)s THEN t.result END
FROM authentik_tasks_task AS t
WHERE t.message_id = %(message_id)s
"""


def log_counts(shape: TableShape) -> str:
    """Log lines of one task: (tasklog current, tasklog previous, legacy current, legacy
    previous), each counted up to %(cap)s + 1 so that a pathological task costs a bounded scan."""

    def capped(where: str) -> str:
        return (
            "(SELECT count(*) FROM (SELECT 1 FROM authentik_tasks_tasklog AS l"
            f" WHERE l.task_id = %(message_id)s AND {where} LIMIT %(cap)s + 1) AS c)"
        )

    def legacy(column: str) -> str:
        if column not in shape.task_columns:
            return "0"
        return (
            f"(SELECT CASE jsonb_typeof(t.{column}) WHEN 'array' THEN jsonb_array_length(t.{column}) ELSE 0 END"
            " FROM authentik_tasks_task AS t WHERE t.message_id = %(message_id)s)"
        )

    tasklog = [capped("NOT l.previous"), capped("l.previous")] if shape.has_tasklog else ["0", "0"]
    return "SELECT " + ", ".join([*tasklog, legacy("_messages"), legacy("_previous_messages")])


def _keyset(key: str, descending: bool) -> str:
    """Rows strictly after (or before) the cursor %(c_*)s, unless %(has_cursor)s is false."""
    op = "<" if descending else ">"
    cursor = (
        "(COALESCE(%(c_ts)s::timestamptz, '-infinity'::timestamptz), %(c_src)s::int,"
        " %(c_tid)s::uuid, %(c_ord)s::bigint)"
    )
    return f"(NOT %(has_cursor)s::boolean OR {key} {op} {cursor})"


def _previous_filter(column: str, previous: bool | None) -> str:
    if previous is None:
        return "true"
    return column if previous else f"NOT {column}"


def _attributes_columns(expr: str) -> str:
    """Inline JSON text (or NULL when too large), its exact size when known, its stored size.
    `expr` is evaluated as text only when its stored size passes the gate; nested CASEs keep
    that order (AND does not promise one)."""
    return (
        f"CASE WHEN pg_column_size({expr}) <= %(gate)s THEN"
        f" CASE WHEN octet_length({expr}::text) <= %(inline)s THEN {expr}::text END END,"
        f" CASE WHEN pg_column_size({expr}) <= %(gate)s THEN octet_length({expr}::text) END,"
        f" pg_column_size({expr})"
    )


def _level_filter(level: str, problems: bool) -> str:
    """With `problems`, only lines whose level is in %(levels)s. Compared lowercased, as the
    Python side compares them (LogLine.is_problem): authentik lowercases structlog's levels, but
    nothing stops a captured log from writing "ERROR"."""
    return f"lower({level}) = ANY(%(levels)s::text[])" if problems else "true"


# Row shape shared by both page queries (read by tasktui.core.detail):
# ts, src, tid, ord, previous, ts_text, level, logger, event, event_bytes,
# attributes_text, attributes_bytes, attributes_stored_bytes
def tasklog_page(*, previous: bool | None, descending: bool, problems: bool = False) -> str:
    """One page of task log rows: %(message_id)s, %(limit)s, cursor (see _keyset), %(event_chars)s,
    %(gate)s and %(inline)s; with `problems`, only the lines at %(levels)s."""
    order = "DESC" if descending else "ASC"
    key = f'(l."timestamp", {SOURCE_TASKLOG}, l.id, 0::bigint)'
    return f"""
SELECT l."timestamp", {SOURCE_TASKLOG}, l.id, 0::bigint, l.previous, NULL::text,
       left(l.log_level, 40), left(l.logger, 300),
       left(l.event, %(event_chars)s), octet_length(l.event),
       {_attributes_columns("l.attributes")}
FROM (
    SELECT l.id FROM authentik_tasks_tasklog AS l
    WHERE l.task_id = %(message_id)s AND {_previous_filter("l.previous", previous)} AND {_keyset(key, descending)}
      AND {_level_filter("l.log_level", problems)}
    ORDER BY l."timestamp" {order}, l.id {order}
    LIMIT %(limit)s
) AS page
JOIN authentik_tasks_tasklog AS l ON l.id = page.id
ORDER BY l."timestamp" {order}, l.id {order}
"""


# ISO timestamps as sanitize_item writes them ("…Z"), read without ever failing (a plain
# ::timestamptz cast would abort the whole query on one bad row). The jsonpath datetime() method
# in silent mode yields NULL for anything it cannot parse, but costs ~5 µs an entry; the
# canonical UTC form whose every field is in range (days up to 28, so no month is short of it)
# is cast directly, ~3x cheaper counting the check, and only the rest goes through jsonpath.
_CANONICAL_UTC = (
    r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])T([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,6})?Z$"
)
_LEGACY_TS = (
    f"CASE WHEN e.ts_text ~ '{_CANONICAL_UTC}' THEN e.ts_text::timestamptz ELSE"
    " (jsonb_path_query_first(to_jsonb(regexp_replace(e.ts_text, '(?:Z|z)$', '+00:00')),"
    " '$.datetime()', '{}', true) #>> '{}')::timestamptz END"
)


def legacy_page(shape: TableShape, *, previous: bool | None, descending: bool, problems: bool = False) -> str | None:
    """One page of 2025.8's JSON log lists (None when the layout has neither column); with
    `problems`, only the lines at %(levels)s. The lists live in one task row and are unnested
    whole either way, so the level is filtered here, in SQL, like everything else."""
    arms = []
    for column, source, is_previous in (
        ("_messages", SOURCE_LEGACY_CURRENT, False),
        ("_previous_messages", SOURCE_LEGACY_PREVIOUS, True),
    ):
        if column not in shape.task_columns or (previous is not None and previous != is_previous):
            continue
        arms.append(
            f"SELECT {source} AS src, {str(is_previous).lower()} AS prev, x.elem, x.ord"
            " FROM authentik_tasks_task AS t CROSS JOIN LATERAL jsonb_array_elements("
            f"CASE jsonb_typeof(t.{column}) WHEN 'array' THEN t.{column} ELSE '[]'::jsonb END)"
            " WITH ORDINALITY AS x(elem, ord)"
            " WHERE t.message_id = %(message_id)s"
        )
    if not arms:
        return None
    order = "DESC" if descending else "ASC"
    key = f"(COALESCE(k.ts, '-infinity'::timestamptz), e.src, '{NIL_UUID}'::uuid, e.ord)"
    # The keys (and levels) of every entry are read to find the page; only the page's entries
    # are turned into columns (text, sizes, attributes): the top-N sort keeps %(limit)s of them.
    return f"""
SELECT p.ts, p.src, '{NIL_UUID}'::uuid, p.ord, p.prev, left(p.ts_text, 100),
       left({_legacy_level("p.elem")}, 40),
       left(COALESCE({_legacy_text("p.elem", "logger")}, ''), 300),
       left({_legacy_event("p.elem")}, %(event_chars)s), octet_length({_legacy_event("p.elem")}),
       {_attributes_columns("(p.elem -> 'attributes')")}
FROM (
    SELECT e.src, e.prev, e.elem, e.ord, e.ts_text, k.ts
    FROM (
        SELECT a.*, {_legacy_text("a.elem", "timestamp")} AS ts_text
        FROM ({" UNION ALL ".join(arms)}) AS a
    ) AS e
    CROSS JOIN LATERAL (SELECT {_LEGACY_TS} AS ts) AS k
    WHERE {_keyset(key, descending)} AND {_level_filter(_legacy_level("e.elem"), problems)}
    ORDER BY COALESCE(k.ts, '-infinity'::timestamptz) {order}, e.src {order}, e.ord {order}
    LIMIT %(limit)s
) AS p
ORDER BY COALESCE(p.ts, '-infinity'::timestamptz) {order}, p.src {order}, p.ord {order}
"""


def _legacy_text(elem: str, name: str) -> str:
    """A text field of a legacy entry, NULL unless the entry is an object."""
    return f"CASE jsonb_typeof({elem}) WHEN 'object' THEN {elem} ->> '{name}' END"


def _legacy_level(elem: str) -> str:
    return f"COALESCE({_legacy_text(elem, 'log_level')}, '')"


def _legacy_event(elem: str) -> str:
    """The event of an object entry, or the entry itself when it is not an object."""
    return (
        f"COALESCE({_legacy_text(elem, 'event')},"
        f" CASE WHEN jsonb_typeof({elem}) <> 'object' THEN {elem} #>> '{{}}' END, '')"
    )


# One log line's attributes (or one top-level key of them) on demand: the full size in bytes of
# the JSON text, and at most %(max_chars)s characters of it.
TASKLOG_ATTRIBUTES = """
SELECT octet_length(a.value), left(a.value, %(max_chars)s)
FROM authentik_tasks_tasklog AS l
CROSS JOIN LATERAL (
    SELECT (CASE WHEN %(name)s::text IS NULL THEN l.attributes ELSE l.attributes -> %(name)s::text END)::text AS value
) AS a
WHERE l.id = %(log_id)s AND l.task_id = %(message_id)s
"""


def legacy_attributes(column: str) -> str:
    """The same for element %(ordinal)s (1-based) of a legacy list column."""
    if column not in ("_messages", "_previous_messages"):
        raise ValueError(f"not a legacy log column: {column}")
    return f"""
SELECT octet_length(a.value), left(a.value, %(max_chars)s)
FROM authentik_tasks_task AS t
CROSS JOIN LATERAL (SELECT t.{column} -> (%(ordinal)s::int - 1) -> 'attributes' AS attributes) AS e
CROSS JOIN LATERAL (
    SELECT (CASE WHEN %(name)s::text IS NULL THEN e.attributes ELSE e.attributes -> %(name)s::text END)::text AS value
) AS a
WHERE t.message_id = %(message_id)s
"""
