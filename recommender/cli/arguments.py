"""Argument types shared by the command line's modules."""

from __future__ import annotations

import argparse
from collections.abc import Callable


def whole_number(minimum: int, too_small: str, *, unit: str = "") -> Callable[[str], int]:
    """An argparse ``type``: the text as a whole number of at least ``minimum``; otherwise
    argparse's one-line error, ``too_small`` (formatted with ``value``) when it is below."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number{unit}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(too_small.format(value=value))
        return value

    return parse
