"""How the pages write numbers, in one place: metrics with 3 decimals, p-values with 3 significant figures,
milliseconds with 1 decimal. A table keeps its full values (the exports write them); these formats are applied
where a table or a chart is shown, so 0.383 never stands beside 0.3843."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

METRIC_DECIMALS = 3
P_VALUE_DIGITS = 3  # significant figures: 0.000123 stays readable, where 3 decimals would show 0.000
MS_DECIMALS = 1

# printf-style formats, as Streamlit's number columns take them
METRIC_FORMAT = f"%.{METRIC_DECIMALS}f"
P_VALUE_FORMAT = f"%.{P_VALUE_DIGITS}g"
MS_FORMAT = f"%.{MS_DECIMALS}f"
# the same rule in d3's notation, for plotly's hover texts
PLOTLY_METRIC = f".{METRIC_DECIMALS}f"

P_VALUE_COLUMN = "p-value"


def metric_text(value: float) -> str:
    """A metric's value as the pages write it: ``0.383``."""
    return f"{value:.{METRIC_DECIMALS}f}"


def change_text(value: float) -> str:
    """A change in a metric, with its sign: ``+0.012``."""
    return f"{value:+.{METRIC_DECIMALS}f}"


def p_value_text(value: float | None) -> str:
    """A p-value in significant figures (``0.0421``, ``1.2e-07``); "not computed" for a test that could not run."""
    return "not computed" if value is None else f"{value:.{P_VALUE_DIGITS}g}"


def column_formats(table: pd.DataFrame, whole: Iterable[str] = ()) -> dict[str, str]:
    """{column: printf format} for the number columns of ``table``: ``p-value`` in significant figures, columns
    ending in ``ms`` in milliseconds, every other column of floats as a metric. Integer columns, and the columns
    named in ``whole``, keep their own form."""
    skip = set(whole)
    formats = {}
    for name in table.columns:
        if name in skip:
            continue
        if name == P_VALUE_COLUMN:
            formats[name] = P_VALUE_FORMAT
        elif not pd.api.types.is_float_dtype(table[name]):
            continue
        elif str(name).endswith("ms"):
            formats[name] = MS_FORMAT
        else:
            formats[name] = METRIC_FORMAT
    return formats
