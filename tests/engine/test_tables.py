"""Tables: HTML for Jupyter, Markdown for a terminal, with formats, headers and escaping."""

from __future__ import annotations

import pytest

from stylelab.engine import tables


def test_table_html_and_markdown():
    rows = [{"name": "relu1_1", "rf": 3, "x": 0.12345}, {"name": "pool1", "rf": 6, "x": 2.0}]
    tab = tables.table(rows, ["name", "x"], headers={"x": "value"}, formats={"x": ".2f"}, caption="cap")
    html = tab._repr_html_()
    assert "<th>value</th>" in html and "<td>0.12</td>" in html and "<td>relu1_1</td>" in html and "rf" not in html
    assert "<caption>cap</caption>" in html
    assert str(tab).splitlines()[2:] == ["| name | value |", "|---|---|", "| relu1_1 | 0.12 |", "| pool1 | 2.00 |"]
    assert len(tab) == 2
    assert "<td>a&lt;b</td>" in tables.table([{"k": "a<b"}])._repr_html_()  # escaped
    with pytest.raises(ValueError, match="no value for column"):
        tables.table(rows, ["name", "missing"])
    with pytest.raises(ValueError, match="at least one row"):
        tables.table([])


def test_columns_default_to_the_first_rows_keys():
    tab = tables.Table([{"b": 1, "a": 2}])
    assert tab.columns == ["b", "a"] and tab.cell(tab.rows[0], "a") == "2"
