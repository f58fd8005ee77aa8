"""One message, one line: what the command-line tools print about files they were given.

A file name (or an XML error quoting one) may hold a newline or a terminal escape; printed as is, a
name like ``"a\\nomrformer: all pages transcribed"`` forges a second message, and a script that
reads stderr line by line is fooled. Every message the CLIs print goes through :func:`one_line`,
which writes control characters as visible escapes.
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO

# C0 controls, DEL and the C1 controls (U+0080-U+009F; some terminals act on them as escapes).
_ESCAPES = {c: f"\\x{c:02x}" for c in (*range(0x20), 0x7F, *range(0x80, 0xA0))}
_ESCAPES.update({ord("\n"): "\\n", ord("\r"): "\\r", ord("\t"): "\\t"})
# Unicode line and paragraph separators end a line for some readers (Python's str.splitlines).
_ESCAPES.update({0x2028: "\\u2028", 0x2029: "\\u2029", 0x85: "\\x85"})


def one_line(text: str) -> str:
    """``text`` with every control character written as an escape: always exactly one line."""
    return text.translate(_ESCAPES)


def say(prog: str, message: str, stream: TextIO | None = None) -> None:
    """Print ``prog: message`` as one line on ``stream`` (standard error by default)."""
    print(f"{prog}: {one_line(message)}", file=stream if stream is not None else sys.stderr)


class OneLineFormatter(logging.Formatter):
    """A logging formatter whose every record is one line (see :func:`one_line`)."""

    def format(self, record: logging.LogRecord) -> str:
        return one_line(super().format(record))


def configure_logging(level: int, fmt: str) -> None:
    """``logging.basicConfig`` with :class:`OneLineFormatter` on the standard-error handler."""
    handler = logging.StreamHandler()
    handler.setFormatter(OneLineFormatter(fmt))
    logging.basicConfig(level=level, handlers=[handler])
