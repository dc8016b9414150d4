"""tasktui.core never imports Textual: the UI calls the core, not the other way round."""

from __future__ import annotations

import subprocess
import sys

CHECK = """
import importlib, pkgutil, sys
import tasktui.core
for module in pkgutil.walk_packages(tasktui.core.__path__, "tasktui.core."):
    importlib.import_module(module.name)
loaded = sorted(name for name in sys.modules if name == "textual" or name.startswith("textual."))
print(",".join(loaded))
"""


def test_no_core_module_imports_textual() -> None:
    result = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip() == ""
