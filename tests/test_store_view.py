"""The store's view is kept in step with the rows (a changed row moves to its new place) instead of
being filtered and sorted whole on every flush: whatever the changes, filter and sort, it must
equal the window filtered and sorted from scratch. (What it saves: bench/screen_latency.py, and
the numbers in the README.)"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tasktui.core.filters import TaskFilter
from tasktui.core.models import TaskRow
from tasktui.core.store import SORT_KEYS, SortKey, TaskStore

EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
IDS = [f"00000000-0000-0000-0000-{n:012d}" for n in range(40)]
STATES = ["queued", "running", "done", "rejected"]


@st.composite
def rows(draw: st.DrawFn) -> TaskRow:
    state = draw(st.sampled_from(STATES))
    status = "warning" if state == "done" and draw(st.booleans()) else state
    return TaskRow(
        message_id=draw(st.sampled_from(IDS)),
        queue_name=draw(st.sampled_from(["default", "other"])),
        actor_name=draw(st.sampled_from(["a.x", "a.y", "B.z"])),
        uid=draw(st.none() | st.sampled_from(["1", "2"])),
        state=state,
        aggregated_status=state,
        effective_status=status,
        tenant_id=None,
        tenant_name=draw(st.none() | st.sampled_from(["t1", "T2"])),
        rel_obj_type=None,
        rel_obj_id=None,
        retries=draw(st.none() | st.integers(0, 3)),
        # Few distinct times: ties, which the message id breaks, are the common case.
        eta=draw(st.none() | st.sampled_from([EPOCH, EPOCH + timedelta(minutes=1)])),
        mtime=EPOCH + timedelta(seconds=draw(st.integers(0, 5))),
        result_expiry=None,
    )


operations = st.lists(
    st.one_of(
        st.tuples(st.just("apply"), st.lists(rows(), max_size=12), st.lists(st.sampled_from(IDS), max_size=3)),
        st.tuples(st.just("prune"), st.integers(0, 6), st.just([])),
        st.tuples(st.just("reload"), st.lists(rows(), max_size=20), st.just([])),
    ),
    max_size=12,
)
sorts = st.builds(SortKey, st.sampled_from(sorted(SORT_KEYS)), st.booleans())
filters = st.builds(
    TaskFilter,
    hide_successful=st.booleans(),
    queues=st.sampled_from([frozenset(), frozenset({"default"})]),
)


def from_scratch(store: TaskStore, task_filter: TaskFilter, sort: SortKey) -> list[TaskRow]:
    fresh = TaskStore()
    fresh.replace_all(store.rows.values())
    return fresh.view(task_filter, sort)


@settings(max_examples=300, deadline=None)
@given(st.lists(rows(), max_size=30), operations, filters, sorts)
@pytest.mark.slow
def test_the_view_kept_in_step_equals_the_view_built_whole(
    initial: list[TaskRow], steps: list[tuple[str, list, list]], task_filter: TaskFilter, sort: SortKey
) -> None:
    store = TaskStore()
    store.replace_all(initial)
    handed_out = store.view(task_filter, sort)
    frozen = list(handed_out)
    for kind, upserts, deleted in steps:
        if kind == "apply":
            store.apply(upserts, deleted)
        elif kind == "prune":
            store.prune_finished({"done": upserts, "rejected": upserts})  # type: ignore[dict-item]
        else:
            store.replace_all(upserts)
        assert store.view(task_filter, sort) == from_scratch(store, task_filter, sort)
    # A list handed out earlier is the caller's: the store's changes never reach it.
    assert handed_out == frozen
