"""Pickled blobs are decoded without importing or running anything a pickle names."""

from __future__ import annotations

import datetime as dt
import json
import os
import pickle
import sys
import time
import types
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tasktui.core import safe_pickle
from tasktui.core.safe_pickle import (
    EMPTY_MESSAGE_NOTE,
    MAX_BLOB_BYTES,
    Placeholder,
    decode_message,
    decode_result,
    render,
    safe_loads,
    to_jsonable,
)
from tasktui.demo.broker import encode_exception_result, encode_message


def _reduces_to(func: Callable[..., Any], *args: Any) -> bytes:
    """A pickle whose loading would call func(*args)."""

    class Payload:
        def __reduce__(self) -> tuple[Any, ...]:
            return (func, args)

    return pickle.dumps({"actor_name": "authentik.evil", "args": (Payload(),), "kwargs": {}, "options": {}})


def test_demo_message_decodes_with_the_tenant_as_a_placeholder() -> None:
    blob = encode_message(
        "5d0c0a43-8a3b-4d36-9a8e-1c1f7f1f0a01",
        "authentik.sources.ldap.sync",
        args=(1, "two"),
        kwargs={"page": 3},
        retries=2,
    )
    message = decode_message(blob)
    assert message.is_message
    assert message.actor_name == "authentik.sources.ldap.sync"
    assert message.queue_name == "default"
    assert message.message_id == "5d0c0a43-8a3b-4d36-9a8e-1c1f7f1f0a01"
    assert message.args == (1, "two")
    assert message.kwargs == {"page": 3}
    assert message.options["retries"] == 2
    tenant = message.options["model_create_defaults"]["tenant"]
    assert isinstance(tenant, Placeholder)
    assert tenant.qualname == "authentik.tenants.models.Tenant"
    assert render(tenant) == "<authentik.tenants.models.Tenant schema_name='public' name='Default'>"
    assert message.summary() == "authentik.sources.ldap.sync(1, 'two', page=3)"


def test_a_django_model_pickle_shows_its_app_and_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """Django pickles a model as model_unpickle((app_label, model_name)) + its __dict__."""
    module = types.ModuleType("django.db.models.base")

    def model_unpickle(class_id: tuple[str, str]) -> None:
        raise AssertionError("never called")

    model_unpickle.__module__ = "django.db.models.base"
    model_unpickle.__qualname__ = "model_unpickle"
    module.model_unpickle = model_unpickle  # type: ignore[attr-defined]
    for name in ("django", "django.db", "django.db.models"):
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    monkeypatch.setitem(sys.modules, "django.db.models.base", module)

    class Tenant:
        def __reduce__(self) -> tuple[Any, ...]:
            state = {"_state": {"db": "default"}, "tenant_uuid": uuid.UUID(int=7), "schema_name": "public"}
            return (model_unpickle, (("authentik_tenants", "tenant"),), state)

    value = safe_loads(pickle.dumps({"tenant": Tenant()}))
    shown = render(value["tenant"])
    assert shown == (
        "<authentik_tenants.tenant (Django model) tenant_uuid=UUID('00000000-0000-0000-0000-000000000007')"
        " schema_name='public'>"
    )


def test_result_forms() -> None:
    failed = decode_result(encode_exception_result("LDAPException", "server down"))
    assert failed.is_exception
    assert (failed.exception_type, failed.exception_message) == ("LDAPException", "server down")
    assert failed.summary() == "LDAPException: server down"
    ok = decode_result(pickle.dumps({"synced": 3}))
    assert not ok.is_exception and ok.value == {"synced": 3}
    assert decode_result(pickle.dumps(None)).summary() == "None"
    assert decode_result(None).summary() == "none stored (NULL)"


def test_empty_null_too_large_and_garbage_blobs_are_explained() -> None:
    assert decode_message(b"").summary() == EMPTY_MESSAGE_NOTE
    assert decode_message(memoryview(b"")).decoded.outcome == "empty"
    assert decode_message(None).decoded.outcome == "null"
    withheld = decode_message(None, MAX_BLOB_BYTES + 1)
    assert withheld.decoded.outcome == "too_large"
    assert str(MAX_BLOB_BYTES + 1) in withheld.summary()
    garbage = decode_message(b"\x80\x05not a pickle at all")
    assert garbage.decoded.outcome == "undecodable"
    assert garbage.summary().startswith("undecodable (21 bytes): ")
    truncated = decode_message(pickle.dumps({"actor_name": "x" * 50})[:-10])
    assert truncated.decoded.outcome == "undecodable"
    not_a_message = decode_message(pickle.dumps([1, 2]))
    assert not not_a_message.is_message
    assert not_a_message.summary().startswith("not a dramatiq message (a list)")


@pytest.mark.parametrize(
    "func, args",
    [
        (os.system, ("touch {marker}",)),
        (eval, ("open({marker!r}, 'w').write('x')",)),
        (exec, ("open({marker!r}, 'w').write('x')",)),
        (open, ("{marker}", "w")),
    ],
    ids=["os.system", "eval", "exec", "open"],
)
def test_a_malicious_reduce_builds_an_inert_placeholder(
    tmp_path: Path, func: Callable[..., Any], args: tuple[str, ...]
) -> None:
    marker = tmp_path / "pwned"
    blob = _reduces_to(func, *(a.format(marker=str(marker)) for a in args))
    message = decode_message(blob)
    assert not marker.exists()
    assert message.is_message
    (payload,) = message.args
    assert isinstance(payload, Placeholder)
    assert payload.qualname.endswith(func.__name__)
    assert str(marker) in message.summary()


def test_handwritten_protocol_0_pickles_run_nothing(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    for blob in (
        f"cos\nsystem\n(S'touch {marker}'\ntR.".encode(),
        f"(S'touch {marker}'\nios\nsystem\n.".encode(),  # INST
        f"csubprocess\ncheck_call\n((S'touch'\nS'{marker}'\nltR.".encode(),
    ):
        value = safe_loads(blob)
        assert isinstance(value, Placeholder)
        assert str(marker) in render(value)
    assert not marker.exists()
    assert render(safe_loads(b"cos\nsystem\n(S'id'\ntR.")) == "<os.system('id')>"


def test_build_setitems_appends_and_persistent_ids_are_recorded_not_run(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    # GLOBAL, EMPTY_TUPLE, NEWOBJ, then BUILD with a state and SETITEM into the object.
    blob = (
        b"\x80\x02cbuiltins\nobject\n)\x81}X\x04\x00\x00\x00pathX"
        + len(str(marker)).to_bytes(4, "little")
        + str(marker).encode()
        + b"sbX\x01\x00\x00\x00kK\x01s."
    )
    value = safe_loads(blob)
    assert isinstance(value, Placeholder)
    assert value.state == {"path": str(marker)}
    assert value.entries == [("k", 1)]
    assert render(safe_loads(b"(lp0\nI1\naP5\na.")) == "[1, <pickle.persistent_id('5')>]"
    assert not marker.exists()


def test_python2_names_show_under_python3_names() -> None:
    assert render(safe_loads(pickle.dumps({1, 2}, protocol=1))) == "<builtins.set([1, 2])>"
    assert render(safe_loads(b"c__builtin__\nxrange\n(I3\ntR.")) == "<builtins.range(3)>"


def test_standard_values_are_shown_readably() -> None:
    value = {
        "when": dt.datetime(2025, 8, 1, 10, 0, 5, 123, tzinfo=dt.UTC),
        "naive": dt.datetime(2025, 8, 1, 10, 0),
        "day": dt.date(2025, 8, 1),
        "delay": dt.timedelta(seconds=90),
        "id": uuid.UUID(int=1),
    }
    shown = render(safe_loads(pickle.dumps(value)))
    assert shown == (
        "{'when': datetime(2025-08-01T10:00:05.000123+00:00), 'naive': datetime(2025-08-01T10:00:00),"
        " 'day': date(2025-08-01), 'delay': timedelta(0:01:30), 'id': UUID('00000000-0000-0000-0000-000000000001')}"
    )


def test_a_memo_bomb_is_refused_before_unpickling() -> None:
    started = time.monotonic()
    result = decode_message(b"\x80\x04Nr\xff\xff\xff\xff.")  # LONG_BINPUT 4294967295
    assert time.monotonic() - started < 1
    assert result.decoded.outcome == "undecodable"
    assert "memo index 4294967295" in result.summary()


def test_huge_lengths_and_blobs_are_refused() -> None:
    # BINBYTES8 claiming 2**62 bytes: refused by the opcode walk, nothing allocated.
    assert decode_message(b"\x80\x04\x8e" + (2**62).to_bytes(8, "little") + b"x.").decoded.outcome == "undecodable"
    big = pickle.dumps("x" * (MAX_BLOB_BYTES + 10))
    assert decode_message(big).decoded.outcome == "too_large"
    with pytest.raises(safe_pickle.UnsafePickleError):
        safe_loads(big)


def test_rendering_is_bounded_for_cycles_depth_sharing_and_big_ints() -> None:
    cyclic: list[Any] = []
    cyclic.append(cyclic)
    assert render(safe_loads(pickle.dumps(cyclic))) == "[<cycle>]"
    deep = safe_loads(b"(" * 50_000 + b"l" * 50_000 + b".")  # 50,000 nested lists, built iteratively
    assert render(deep).count("[") <= 10
    assert json.dumps(to_jsonable(deep)).count("[") <= 15
    shared: Any = [1]
    for _ in range(60):  # 2**60 leaves if expanded naively
        shared = [shared, shared]
    started = time.monotonic()
    text = render(safe_loads(pickle.dumps(shared)), max_chars=100_000)
    jsonable = to_jsonable(safe_loads(pickle.dumps(shared)))
    assert time.monotonic() - started < 2
    assert len(text) < 100_000
    json.dumps(jsonable)
    assert render(safe_loads(pickle.dumps(10**5000))) == f"<int of {(10**5000).bit_length()} bits>"
    assert render(list(range(10_000))).endswith(", 49, …]")
    assert len(render(["x" * 500] * 40, max_chars=300)) == 300


def test_to_jsonable_is_json_for_anything_decoded() -> None:
    message = decode_message(encode_message("m", "a", args=(b"\x00\x01", {1, 2}, float("nan"), 2**100), kwargs={}))
    data = to_jsonable({"args": message.args, "options": message.options})
    text = json.dumps(data, allow_nan=False)
    assert '"$global": "authentik.tenants.models.Tenant"' in text
    assert data["args"] == [{"$bytes": 2, "base64": "AAE="}, [1, 2], "nan", {"$int": str(2**100)}]
    assert to_jsonable({(1, 2): "tuple key"}) == {"$pairs": [[[1, 2], "tuple key"]]}
