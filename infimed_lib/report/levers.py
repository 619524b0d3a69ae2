"""What was tried to make the miniature model read its images, as a data file (Chapter 08).

Every change to the miniature recipe that was measured while the book was developed is one row
of ``infimed_lib/resources/miniature_levers.csv``: the final model's closed-question macro
accuracy, its margin over the majority class with the 95% paired-bootstrap interval where it was
computed, and the notebook minutes it added. The file's first line says how it was measured.
"""
from __future__ import annotations

from importlib import resources

import pandas as pd

LEVERS_FILE = "miniature_levers.csv"


def levers_source() -> str:
    """The file's first line: how the rows were measured."""
    text = resources.files("infimed_lib.resources").joinpath(LEVERS_FILE).read_text(encoding="utf-8")
    return text.splitlines()[0].lstrip("# ").strip()


def load_levers() -> pd.DataFrame:
    """The table of levers, one row per measured run, with the margin's interval as one column (Chapter 08)."""
    with resources.files("infimed_lib.resources").joinpath(LEVERS_FILE).open(encoding="utf-8") as handle:
        table = pd.read_csv(handle, comment="#")
    interval = table.apply(lambda r: "" if pd.isna(r["margin_low"]) else f"[{r['margin_low']:+.1f}, {r['margin_high']:+.1f}]",
                           axis=1)
    table.insert(table.columns.get_loc("margin_low"), "95% interval", interval)
    return table.drop(columns=["margin_low", "margin_high"]).fillna({"adopted": "", "note": ""})
