"""The SQL files of schema/, found in an installed wheel or in a source checkout."""

from __future__ import annotations

from functools import cache
from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent.parent
# A wheel carries schema/ inside the package (pyproject force-include); a checkout or an
# editable install reads it from the repository root.
_CANDIDATES = (_PACKAGE_DIR / "schema", _PACKAGE_DIR.parent / "schema")


@cache
def read_schema_file(name: str) -> str:
    for folder in _CANDIDATES:
        path = folder / name
        if path.is_file():
            return path.read_text(encoding="utf-8")
    raise FileNotFoundError(f"schema file {name} not found in {', '.join(str(c) for c in _CANDIDATES)}")
