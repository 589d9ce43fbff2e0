"""The number columns of a table as the pages show them: the one rule of ``explorer.views.number_format``."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd
import streamlit as st

from explorer.views.number_format import column_formats


def number_columns(table: pd.DataFrame, whole: Iterable[str] = (), **others) -> dict:
    """A ``column_config`` for ``st.dataframe``: each number column of ``table`` formatted by the rule (metrics with 3
    decimals, p-values with 3 significant figures, milliseconds with 1 decimal), plus the ``others`` given."""
    formats = {name: st.column_config.NumberColumn(format=fmt) for name, fmt in column_formats(table, whole).items()}
    return {**formats, **others}
