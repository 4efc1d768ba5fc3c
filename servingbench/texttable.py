"""Plain-text tables for command output (make compare, make tune), laid out by rich.

The same text on a terminal and in a CI log: no colour, no wrapping, no borders but the line under the
header, trailing spaces stripped.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

from rich import box
from rich.console import Console
from rich.table import Table

HEAD_RULE = box.Box("    \n    \n -- \n    \n    \n    \n    \n    \n", ascii=True)
"""rich's SIMPLE_HEAD in ASCII: a log read with any encoding shows the same table."""


def text_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """``header`` over ``rows`` (all cells strings), columns left-aligned, one line per row."""
    table = Table(*header, box=HEAD_RULE, show_edge=False, pad_edge=False, header_style="",
                  highlight=False)
    for column in table.columns:
        column.no_wrap = True
        column.overflow = "ignore"
    for row in rows:
        table.add_row(*row)
    buf = io.StringIO()
    Console(file=buf, width=100_000, color_system=None, highlight=False, emoji=False).print(table)
    return "\n".join(line.rstrip() for line in buf.getvalue().splitlines())
