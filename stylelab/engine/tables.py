"""Small tables that Jupyter shows as HTML and a terminal as Markdown (no pandas needed).

The lessons read them as ``sl.tables.table``.
"""

from __future__ import annotations

from typing import Mapping, Optional, Sequence

__all__ = ["Table", "table"]


class Table:
    """A small table that Jupyter shows as HTML (pandas is not needed).

    ``rows`` are dicts; ``columns`` picks and orders the keys (default: the first row's);
    ``headers`` renames them; ``formats`` maps a column to a format spec such as
    ``".3f"``. ``str(table)`` and :meth:`markdown` give the same table as Markdown text.
    """

    def __init__(
        self,
        rows: Sequence[Mapping],
        columns: Optional[Sequence[str]] = None,
        *,
        headers: Optional[Mapping[str, str]] = None,
        formats: Optional[Mapping[str, str]] = None,
        caption: Optional[str] = None,
    ) -> None:
        self.rows = [dict(row) for row in rows]
        if not self.rows:
            raise ValueError("A table needs at least one row.")
        self.columns = list(columns) if columns is not None else list(self.rows[0])
        missing = [c for c in self.columns if any(c not in row for row in self.rows)]
        if missing:
            raise ValueError(f"Some rows have no value for column(s) {', '.join(map(repr, missing))}.")
        self.headers = {c: (headers or {}).get(c, c) for c in self.columns}
        self.formats = dict(formats or {})
        self.caption = caption

    def cell(self, row: Mapping, column: str) -> str:
        """The text of one cell, formatted."""
        value = row[column]
        spec = self.formats.get(column)
        return format(value, spec) if spec else str(value)

    def markdown(self) -> str:
        lines = [
            "| " + " | ".join(self.headers[c] for c in self.columns) + " |",
            "|" + "|".join("---" for _ in self.columns) + "|",
        ]
        lines += ["| " + " | ".join(self.cell(row, c) for c in self.columns) + " |" for row in self.rows]
        return ("**" + self.caption + "**\n\n" if self.caption else "") + "\n".join(lines)

    def _repr_html_(self) -> str:
        import html

        head = "".join(f"<th>{html.escape(self.headers[c])}</th>" for c in self.columns)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(self.cell(row, c))}</td>" for c in self.columns) + "</tr>"
            for row in self.rows
        )
        caption = f"<caption>{html.escape(self.caption)}</caption>" if self.caption else ""
        return f'<table style="font-size:12px">{caption}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'

    def __str__(self) -> str:
        return self.markdown()

    __repr__ = __str__  # the plain-text view, e.g. in a terminal

    def __len__(self) -> int:
        return len(self.rows)


def table(rows: Sequence[Mapping], columns: Optional[Sequence[str]] = None, **options) -> Table:
    """A :class:`Table` of ``rows`` (dicts); see :class:`Table` for the options."""
    return Table(rows, columns, **options)
