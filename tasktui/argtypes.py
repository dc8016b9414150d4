"""argparse types shared by tasktui's commands and the demo's workload."""

from __future__ import annotations

import argparse


def positive(kind: type) -> object:
    """An argparse type: a number of `kind` greater than 0 (shared with `tasktui demo`)."""

    def parse(text: str) -> object:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be greater than 0: {text!r}")
        return value

    return parse
