"""Decoding the pickled `message` and `result` columns without importing or running anything.

authentik stores dramatiq messages as pickles that embed Django model instances (a Tenant, on
retries a Task), and the bytes come from a database the console does not trust: `pickle.loads`
on them would import authentik — or run whatever a crafted pickle asks for (`os.system`). So
every global a pickle names becomes a *placeholder*: a stand-in class that records its module
and name, and whose instances record the arguments, state, items and entries the pickle gave
them. Nothing is imported, no callable from the pickle is ever called, and a crafted REDUCE
only builds another inert placeholder.

Before the C unpickler sees a byte, the stream is walked with `pickletools.genops` (a parser
that executes nothing) to bound the work: blob size, opcode count, and memo indexes — a
10-byte pickle can otherwise ask the unpickler to allocate a memo of four billion slots.

Decoded values are plain Python containers and placeholders; `render()` turns one into a
bounded, repr-like line (`<authentik.tenants.models.Tenant schema_name='public' name='Default'>`)
and `to_jsonable()` into a JSON-safe structure. Both guard against cycles, depth and size.
"""

from __future__ import annotations

import _compat_pickle
import base64
import datetime as dt
import io
import math
import pickle
import pickletools
import uuid
from dataclasses import dataclass, field
from typing import Any, Literal, cast

# Larger blobs are not decoded (and not even fetched: see tasktui.core.sql.detail). Real
# messages are a few kilobytes; a console has no business decoding megabytes of arguments.
MAX_BLOB_BYTES = 2 * 1024 * 1024
MAX_OPCODES = 200_000

EMPTY_MESSAGE_NOTE = "empty (task finished; authentik clears the message)"

Outcome = Literal["value", "null", "empty", "too_large", "undecodable"]


class UnsafePickleError(ValueError):
    """The bytes are not a pickle this module is willing to decode."""


# --- placeholders --------------------------------------------------------------------------


class PlaceholderType(type):
    """The type of every stand-in class: it remembers which global the pickle named."""

    pickle_module: str
    pickle_name: str

    @property
    def qualname(cls) -> str:
        return f"{cls.pickle_module}.{cls.pickle_name}"

    def __repr__(cls) -> str:
        return f"<global {cls.qualname}>"


class Placeholder(metaclass=PlaceholderType):
    """An object a pickle asked to build. The unpickler calls only these methods, all of which
    record and nothing else: `__new__` (REDUCE/NEWOBJ/INST/OBJ), `__setstate__` (BUILD),
    `append`/`extend` (APPEND/APPENDS), `__setitem__` (SETITEM/SETITEMS), `add` (ADDITEMS),
    and `__call__` (a REDUCE whose callable was itself built, e.g. `getattr(cls, "name")`)."""

    __slots__ = ("args", "entries", "items", "kwargs", "state")
    pickle_module = "?"
    pickle_name = "?"

    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    state: Any
    items: list[Any]
    entries: list[tuple[Any, Any]]

    def __new__(cls, *args: Any, **kwargs: Any) -> Placeholder:
        obj = object.__new__(cls)
        obj.args = args
        obj.kwargs = kwargs
        obj.state = _NO_STATE
        obj.items = []
        obj.entries = []
        return obj

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """Everything was recorded by __new__; a pickle's REDUCE calls both."""

    def __setstate__(self, state: Any) -> None:
        self.state = state

    def append(self, item: Any) -> None:
        self.items.append(item)

    def extend(self, items: Any) -> None:
        self.items.extend(items)

    def add(self, item: Any) -> None:
        self.items.append(item)

    def __setitem__(self, key: Any, value: Any) -> None:
        self.entries.append((key, value))

    def __call__(self, *args: Any, **kwargs: Any) -> Placeholder:
        return CallResult(self, *args, **kwargs)

    @property
    def qualname(self) -> str:
        return f"{self.pickle_module}.{self.pickle_name}"

    @property
    def has_state(self) -> bool:
        return self.state is not _NO_STATE

    def __repr__(self) -> str:
        return render(self)


class _NoState:
    def __repr__(self) -> str:
        return "<no state>"


_NO_STATE = _NoState()


class _ConstructorHelper(Placeholder):
    """Stands in for copyreg's pickling helpers, which only build an instance of their first
    argument: `_reconstructor(cls, base, state)`, `__newobj__(cls, *args)` and
    `__newobj_ex__(cls, args, kwargs)`. Returning a placeholder of `cls` makes an old-protocol
    object look like the same object pickled with NEWOBJ."""

    __slots__ = ()

    # Any: an instance of another placeholder class (the one it stands in for), not of this one.
    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        target = args[0] if args else None
        if not isinstance(target, PlaceholderType):
            return Placeholder.__new__(cls, *args, **kwargs)
        built = cast("type[Placeholder]", target)
        if cls.pickle_name == "__newobj_ex__" and len(args) == 3:
            inner_args, inner_kwargs = args[1], args[2]
            if isinstance(inner_args, tuple) and isinstance(inner_kwargs, dict):
                return Placeholder.__new__(built, *inner_args, **inner_kwargs)
        if cls.pickle_name == "__newobj__":
            return Placeholder.__new__(built, *args[1:])
        return Placeholder.__new__(built)


_CONSTRUCTOR_HELPERS = {
    ("copyreg", "_reconstructor"),
    ("copy_reg", "_reconstructor"),
    ("copyreg", "__newobj__"),
    ("copyreg", "__newobj_ex__"),
}


class PersistentRef(Placeholder):
    """A persistent id (PERSID/BINPERSID): a reference to an object stored elsewhere."""

    __slots__ = ()


PersistentRef.pickle_module = "pickle"
PersistentRef.pickle_name = "persistent_id"


class CallResult(Placeholder):
    """What calling a built placeholder returns: args[0] is the callee, then its arguments."""

    __slots__ = ()


CallResult.pickle_module = "pickle"
CallResult.pickle_name = "call"


def _placeholder_class(module: str, name: str) -> PlaceholderType:
    base = _ConstructorHelper if (module, name) in _CONSTRUCTOR_HELPERS else Placeholder
    # A fixed class name: the pickle's own strings only ever live in attributes.
    cls = PlaceholderType("Placeholder", (base,), {"__slots__": ()})
    cls.pickle_module = module
    cls.pickle_name = name
    return cls


class _RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that imports nothing: every global is a placeholder class."""

    def __init__(self, data: bytes) -> None:
        super().__init__(io.BytesIO(data), encoding="utf-8", errors="backslashreplace")
        self._classes: dict[tuple[str, str], PlaceholderType] = {}

    def find_class(self, module: str, name: str) -> PlaceholderType:
        key = (str(module), str(name))
        # Python 2 names (protocols 0-2) shown under their Python 3 names: a table look-up,
        # as the default find_class does, but with nothing imported.
        key = _compat_pickle.NAME_MAPPING.get(key, key)
        key = (_compat_pickle.IMPORT_MAPPING.get(key[0], key[0]), key[1])
        cls = self._classes.get(key)
        if cls is None:
            cls = self._classes[key] = _placeholder_class(*key)
        return cls

    def persistent_load(self, pid: Any) -> PersistentRef:
        return PersistentRef(pid)


_PUT_OPCODES = frozenset(("PUT", "BINPUT", "LONG_BINPUT"))


def _check_stream(data: bytes) -> None:
    """Walk the opcodes without executing them: lengths must fit the data (genops checks),
    the stream must be short enough, and memo indexes must be ones a pickler would write."""
    for count, (opcode, arg, _pos) in enumerate(pickletools.genops(io.BytesIO(data)), 1):
        if count > MAX_OPCODES:
            raise UnsafePickleError(f"more than {MAX_OPCODES} opcodes")
        if opcode.name in _PUT_OPCODES and isinstance(arg, int) and not 0 <= arg <= count:
            raise UnsafePickleError(f"memo index {arg} out of range")


def safe_loads(data: bytes) -> Any:
    """Decode a pickle into containers and placeholders; raise on anything else (malformed
    stream, limits exceeded). Never imports a module and never calls a pickled callable."""
    if len(data) > MAX_BLOB_BYTES:
        raise UnsafePickleError(f"{len(data)} bytes is more than the {MAX_BLOB_BYTES}-byte limit")
    _check_stream(data)
    return _RestrictedUnpickler(data).load()


# --- decoding the two columns ---------------------------------------------------------------


@dataclass(frozen=True)
class Decoded:
    """One pickled column, decoded without running anything."""

    outcome: Outcome
    size: int | None  # bytes in the column (None when NULL)
    value: Any = None
    error: str | None = None
    empty_note: str = "empty"

    @property
    def ok(self) -> bool:
        return self.outcome == "value"

    def describe(self) -> str:
        """One line for outcomes that carry no value."""
        if self.outcome == "null":
            return "none stored (NULL)"
        if self.outcome == "empty":
            return self.empty_note
        if self.outcome == "too_large":
            return f"not decoded: {self.size} bytes is more than the {MAX_BLOB_BYTES}-byte limit"
        if self.outcome == "undecodable":
            return f"undecodable ({self.size} bytes): {self.error}"
        return render(self.value)


def decode_blob(blob: bytes | memoryview | None, size: int | None = None, *, empty_note: str = "empty") -> Decoded:
    """Decode a bytea column. `size` is the column's length when the query withheld a blob
    larger than MAX_BLOB_BYTES (blob None)."""
    if blob is None:
        if size is not None and size > MAX_BLOB_BYTES:
            return Decoded("too_large", size, empty_note=empty_note)
        return Decoded("null", None, empty_note=empty_note)
    data = bytes(blob)
    if not data:
        return Decoded("empty", 0, empty_note=empty_note)
    if len(data) > MAX_BLOB_BYTES:
        return Decoded("too_large", len(data), empty_note=empty_note)
    try:
        value = safe_loads(data)
    except Exception as exc:  # any malformed stream: report it, never crash the viewer
        return Decoded("undecodable", len(data), error=_error_line(exc), empty_note=empty_note)
    return Decoded("value", len(data), value=value, empty_note=empty_note)


def _error_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or "no detail"
    if len(text) > 300:
        text = text[:299] + "…"
    return f"{type(exc).__name__}: {text}"


@dataclass(frozen=True)
class DecodedMessage:
    """The `message` column: dramatiq's Message as a dict (reference §4.3)."""

    decoded: Decoded
    actor_name: str | None = None
    queue_name: str | None = None
    message_id: str | None = None
    timestamp: dt.datetime | None = None
    args: tuple[Any, ...] = ()
    kwargs: dict[Any, Any] = field(default_factory=dict)
    options: dict[Any, Any] = field(default_factory=dict)
    problem: str | None = None  # decoded, but not shaped like a dramatiq message

    @property
    def is_message(self) -> bool:
        return self.decoded.ok and self.problem is None

    def summary(self) -> str:
        """One line: the call the message asks for, or why there is none."""
        if not self.decoded.ok:
            return self.decoded.describe()
        if self.problem:
            return f"{self.problem}: {render(self.decoded.value, max_chars=200)}"
        return call_signature(self.actor_name or "?", self.args, self.kwargs)


def call_signature(actor: str, args: tuple[Any, ...], kwargs: dict[Any, Any], *, max_chars: int = 400) -> str:
    parts = [render(a, max_chars=max_chars) for a in args]
    parts += [f"{k}={render(v, max_chars=max_chars)}" for k, v in kwargs.items()]
    return f"{actor}({', '.join(parts)})"


def decode_message(blob: bytes | memoryview | None, size: int | None = None) -> DecodedMessage:
    decoded = decode_blob(blob, size, empty_note=EMPTY_MESSAGE_NOTE)
    if not decoded.ok:
        return DecodedMessage(decoded)
    value = decoded.value
    if not isinstance(value, dict):
        return DecodedMessage(decoded, problem=f"not a dramatiq message (a {_kind(value)})")
    args = value.get("args", ())
    kwargs = value.get("kwargs", {})
    options = value.get("options", {})
    timestamp = value.get("message_timestamp")
    return DecodedMessage(
        decoded,
        actor_name=_str_or_none(value.get("actor_name")),
        queue_name=_str_or_none(value.get("queue_name")),
        message_id=_str_or_none(value.get("message_id")),
        timestamp=_from_millis(timestamp),
        args=tuple(args) if isinstance(args, tuple | list) else (args,),
        kwargs=kwargs if isinstance(kwargs, dict) else {"?": kwargs},
        options=options if isinstance(options, dict) else {"?": options},
        problem=None if "actor_name" in value else "not a dramatiq message (no actor_name)",
    )


@dataclass(frozen=True)
class DecodedResult:
    """The `result` column: the actor's return value, or dramatiq's stored exception."""

    decoded: Decoded
    exception_type: str | None = None
    exception_message: str | None = None

    @property
    def is_exception(self) -> bool:
        return self.exception_type is not None

    @property
    def value(self) -> Any:
        return self.decoded.value if self.decoded.ok and not self.is_exception else None

    def summary(self) -> str:
        if self.is_exception:
            return (
                f"{self.exception_type}: {self.exception_message}"
                if self.exception_message
                else str(self.exception_type)
            )
        return self.decoded.describe()


RESULT_MARKER = "dramatiq.results.Result"


def decode_result(blob: bytes | memoryview | None, size: int | None = None) -> DecodedResult:
    decoded = decode_blob(blob, size, empty_note="empty")
    value = decoded.value
    if decoded.ok and isinstance(value, dict) and value.get("__t") == RESULT_MARKER:
        exn = value.get("exn")
        if isinstance(exn, dict):
            exc_type, exc_msg = exn.get("type"), exn.get("msg")
            return DecodedResult(
                decoded,
                exception_type=exc_type if isinstance(exc_type, str) else render(exc_type),
                exception_message=exc_msg if exc_msg is None or isinstance(exc_msg, str) else render(exc_msg),
            )
    return DecodedResult(decoded)


def _str_or_none(value: Any) -> str | None:
    return None if value is None else (value if isinstance(value, str) else render(value, max_chars=200))


def _from_millis(value: Any) -> dt.datetime | None:
    if not isinstance(value, int) or isinstance(value, bool):
        return None
    try:
        return dt.datetime.fromtimestamp(value / 1000, tz=dt.UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _kind(value: Any) -> str:
    return value.qualname if isinstance(value, Placeholder) else type(value).__name__


# --- rendering --------------------------------------------------------------------------------

MAX_FIELDS = 6  # attributes shown per placeholder instance before "…"


class _Budget:
    """Bounds one render: total nodes visited, and the characters produced so far."""

    def __init__(self, max_nodes: int) -> None:
        self.nodes = max_nodes

    def take(self) -> bool:
        self.nodes -= 1
        return self.nodes >= 0


def render(value: Any, *, max_chars: int = 2000, max_depth: int = 8, max_items: int = 50) -> str:
    """A repr-like line for a decoded value, bounded in depth, items and length. Placeholders
    show as `<module.Name(args) field=value …>`; cycles as `<cycle>`. The text may contain
    anything the pickle held (repr escapes control characters in strings, not in every
    placeholder name): pass it through tasktui.core.text before display."""
    out = _Renderer(max_depth=max_depth, max_items=max_items, max_nodes=max(100, max_items * 40)).render(value, 0)
    return out if len(out) <= max_chars else out[: max(0, max_chars - 1)] + "…"


class _Renderer:
    def __init__(self, *, max_depth: int, max_items: int, max_nodes: int) -> None:
        self.max_depth = max_depth
        self.max_items = max_items
        self.budget = _Budget(max_nodes)
        self.active: set[int] = set()

    def render(self, value: Any, depth: int) -> str:
        scalar = _render_scalar(value)
        if scalar is not None:
            return scalar
        if not self.budget.take():
            return "…"
        if id(value) in self.active:
            return "<cycle>"
        if depth >= self.max_depth:
            return "…"
        self.active.add(id(value))
        try:
            return self._compound(value, depth + 1)
        finally:
            self.active.discard(id(value))

    def _seq(self, values: Any, depth: int) -> list[str]:
        out = []
        for index, item in enumerate(values):
            if index >= self.max_items:
                out.append("…")
                break
            out.append(self.render(item, depth))
        return out

    def _pairs(self, pairs: Any, depth: int, *, as_fields: bool = False) -> list[str]:
        out = []
        for index, (key, item) in enumerate(pairs):
            if index >= (MAX_FIELDS if as_fields else self.max_items):
                out.append("…")
                break
            if as_fields:
                out.append(f"{key}={self.render(item, depth)}")
            else:
                out.append(f"{self.render(key, depth)}: {self.render(item, depth)}")
        return out

    def _compound(self, value: Any, depth: int) -> str:
        if isinstance(value, PlaceholderType):
            return f"<global {value.qualname}>"
        if isinstance(value, Placeholder):
            return self._placeholder(value, depth)
        if isinstance(value, tuple):
            items = self._seq(value, depth)
            return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
        if isinstance(value, list):
            return "[" + ", ".join(self._seq(value, depth)) + "]"
        if isinstance(value, dict):
            return "{" + ", ".join(self._pairs(value.items(), depth)) + "}"
        if isinstance(value, set | frozenset):
            inner = ", ".join(self._seq(value, depth))
            if isinstance(value, frozenset):
                return f"frozenset({{{inner}}})"
            return "{" + inner + "}" if value else "set()"
        return f"<{type(value).__name__}>"

    def _placeholder(self, obj: Placeholder, depth: int) -> str:
        known = _known_value(obj)
        if known is not None:
            return known
        if isinstance(obj, CallResult) and obj.args:
            callee = self.render(obj.args[0], depth)
            return f"<{callee}({', '.join(self._seq(obj.args[1:], depth))})>"
        attribute = _getattr_label(obj)
        if attribute is not None:
            return f"<{attribute}>"
        name = obj.qualname
        model = _django_model_label(obj)
        head = f"{model} (Django model)" if model else name
        call = ""
        if obj.args and not model:
            call_args = self._seq(obj.args, depth)
            call += ", ".join(call_args)
        if obj.kwargs:
            call += (", " if call else "") + ", ".join(self._pairs(obj.kwargs.items(), depth, as_fields=True))
        text = f"<{head}({call})" if call else f"<{head}"
        fields = self._state_fields(obj, depth)
        if fields:
            text += " " + " ".join(fields)
        if obj.items:
            text += " items=[" + ", ".join(self._seq(obj.items, depth)) + "]"
        if obj.entries:
            text += " entries={" + ", ".join(self._pairs(obj.entries, depth)) + "}"
        return text + ">"

    def _state_fields(self, obj: Placeholder, depth: int) -> list[str]:
        if not obj.has_state:
            return []
        state = obj.state
        # (dict_state, slot_state) from objects with __slots__.
        if isinstance(state, tuple) and len(state) == 2 and all(s is None or isinstance(s, dict) for s in state):
            merged: dict[Any, Any] = {}
            for part in state:
                merged.update(part or {})
            state = merged
        if isinstance(state, dict) and all(isinstance(k, str) for k in state):
            # Leading underscores are bookkeeping (Django's _state, caches), not data.
            public = [(k, v) for k, v in state.items() if not k.startswith("_")]
            return self._pairs(public, depth, as_fields=True)
        return [f"state={self.render(state, depth)}"]


def _render_scalar(value: Any) -> str | None:
    if value is None or isinstance(value, bool):
        return repr(value)
    if isinstance(value, int):
        try:
            return repr(value)
        except ValueError:  # more digits than int→str conversion allows
            return f"<int of {value.bit_length()} bits>"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        return repr(value if len(value) <= 1000 else value[:1000]) + ("…" if len(value) > 1000 else "")
    if isinstance(value, bytes | bytearray):
        shown = bytes(value[:64])
        return repr(shown) + (f"…({len(value)} bytes)" if len(value) > 64 else "")
    return None


def _django_model_label(obj: Placeholder) -> str | None:
    """Django pickles a model as REDUCE(model_unpickle, ((app_label, model_name),)) + BUILD."""
    if obj.qualname != "django.db.models.base.model_unpickle" or not obj.args:
        return None
    class_id = obj.args[0]
    if isinstance(class_id, tuple) and len(class_id) == 2 and all(isinstance(p, str) for p in class_id):
        return f"{class_id[0]}.{class_id[1]}"
    if isinstance(class_id, PlaceholderType):  # older Django: the model class itself
        return class_id.qualname
    return None


def _getattr_label(obj: Placeholder) -> str | None:
    """`getattr(SomeClass, "name")` (how pickle names methods and enum members) as
    `module.SomeClass.name`."""
    if obj.qualname != "builtins.getattr" or len(obj.args) != 2:
        return None
    owner, attribute = obj.args
    if isinstance(owner, PlaceholderType) and isinstance(attribute, str):
        return f"{owner.qualname}.{attribute[:100]}"
    return None


def _known_value(obj: Placeholder) -> str | None:
    """A few standard-library values, reconstructed by our own code from their pickled data
    (the placeholder's recorded args), never by calling anything the pickle named."""
    name = obj.qualname
    args = obj.args
    if name == "uuid.UUID" and obj.has_state and isinstance(obj.state, dict):
        number = obj.state.get("int")
        if isinstance(number, int) and 0 <= number < 1 << 128:
            return f"UUID('{uuid.UUID(int=number)}')"
    if name == "decimal.Decimal" and len(args) == 1 and isinstance(args[0], str) and len(args[0]) < 100:
        return f"Decimal({args[0]!r})"
    if name == "datetime.datetime" and args and isinstance(args[0], bytes) and len(args[0]) == 10:
        moment = _datetime_from_bytes(args[0])
        if moment is not None:
            zone = _zone_label(args[1]) if len(args) > 1 else ""
            return f"datetime({moment.isoformat()}{zone})"
    if name == "datetime.date" and args and isinstance(args[0], bytes) and len(args[0]) == 4:
        b = args[0]
        try:
            return f"date({dt.date(b[0] * 256 + b[1], b[2], b[3]).isoformat()})"
        except ValueError:
            return None
    if name == "datetime.timedelta" and args and all(isinstance(a, int) for a in args) and len(args) <= 3:
        try:
            return f"timedelta({dt.timedelta(*args)})"
        except OverflowError:
            return None
    return None


def _datetime_from_bytes(b: bytes) -> dt.datetime | None:
    # CPython's pickle format: year (2 bytes), month (high bit = fold), day, hour, minute,
    # second, microseconds (3 bytes, big-endian).
    try:
        return dt.datetime(b[0] * 256 + b[1], b[2] & 0x7F, b[3], b[4], b[5], b[6], (b[7] << 16) | (b[8] << 8) | b[9])
    except ValueError:
        return None


def _zone_label(tz: Any) -> str:
    if tz is None:
        return ""
    if isinstance(tz, Placeholder):
        if tz.qualname == "datetime.timezone" and tz.args and isinstance(tz.args[0], Placeholder):
            delta = tz.args[0]
            if delta.qualname == "datetime.timedelta" and all(isinstance(a, int) for a in delta.args):
                try:
                    seconds = int(dt.timedelta(*delta.args[:3]).total_seconds())
                except OverflowError:
                    return " tz=?"
                sign = "+" if seconds >= 0 else "-"
                hours, rest = divmod(abs(seconds), 3600)
                return f"{sign}{hours:02d}:{rest // 60:02d}"
        if isinstance(tz, CallResult) and len(tz.args) > 1 and isinstance(tz.args[1], str):
            callee = tz.args[0]
            if isinstance(callee, Placeholder) and (_getattr_label(callee) or "").endswith("ZoneInfo._unpickle"):
                return f" {tz.args[1][:60]}"
        if tz.qualname.endswith("ZoneInfo._unpickle") and tz.args and isinstance(tz.args[0], str):
            return f" {tz.args[0][:60]}"
        return f" tz={tz.qualname}"
    return " tz=?"


# --- JSON ------------------------------------------------------------------------------------


def to_jsonable(value: Any, *, max_depth: int = 12, max_items: int = 200) -> Any:
    """A JSON-safe structure for a decoded value: tuples and sets become lists, bytes
    `{"$bytes": size, "base64": …}` (first 256 bytes), placeholders `{"$global": "module.Name",
    "repr": …, "args": …, "state": …}`; limits become `"…"` and cycles `"<cycle>"`."""
    return _Jsonifier(max_depth, max_items, max(500, max_items * 50)).convert(value, 0)


class _Jsonifier:
    def __init__(self, max_depth: int, max_items: int, max_nodes: int) -> None:
        self.max_depth = max_depth
        self.max_items = max_items
        self.budget = _Budget(max_nodes)
        self.active: set[int] = set()

    def convert(self, value: Any, depth: int) -> Any:
        if value is None or isinstance(value, bool | str):
            return value
        if isinstance(value, int):
            return value if value.bit_length() <= 64 else {"$int": _render_scalar(value)}
        if isinstance(value, float):
            return value if math.isfinite(value) else repr(value)
        if isinstance(value, bytes | bytearray):
            return {"$bytes": len(value), "base64": base64.b64encode(bytes(value[:256])).decode("ascii")}
        if not self.budget.take() or depth >= self.max_depth:
            return "…"
        if id(value) in self.active:
            return "<cycle>"
        self.active.add(id(value))
        try:
            return self._compound(value, depth + 1)
        finally:
            self.active.discard(id(value))

    def _list(self, values: Any, depth: int) -> list[Any]:
        out = []
        for index, item in enumerate(values):
            if index >= self.max_items:
                out.append("…")
                break
            out.append(self.convert(item, depth))
        return out

    def _dict(self, pairs: list[tuple[Any, Any]], depth: int) -> Any:
        shown = pairs[: self.max_items]
        if all(isinstance(k, str) for k, _ in shown):
            out = {k: self.convert(v, depth) for k, v in shown}
            if len(pairs) > self.max_items:
                out["…"] = f"{len(pairs) - self.max_items} more"
            return out
        return {"$pairs": [[self.convert(k, depth), self.convert(v, depth)] for k, v in shown]}

    def _compound(self, value: Any, depth: int) -> Any:
        if isinstance(value, PlaceholderType):
            return {"$global": value.qualname}
        if isinstance(value, Placeholder):
            out: dict[str, Any] = {"$global": value.qualname, "repr": render(value, max_chars=500)}
            if value.args:
                out["args"] = self._list(value.args, depth)
            if value.kwargs:
                out["kwargs"] = self._dict(list(value.kwargs.items()), depth)
            if value.has_state:
                out["state"] = self.convert(value.state, depth)
            if value.items:
                out["items"] = self._list(value.items, depth)
            if value.entries:
                out["entries"] = self._dict(value.entries, depth)
            return out
        if isinstance(value, tuple | list):
            return self._list(value, depth)
        if isinstance(value, set | frozenset):
            return self._list(value, depth)
        if isinstance(value, dict):
            return self._dict(list(value.items()), depth)
        return f"<{type(value).__name__}>"
