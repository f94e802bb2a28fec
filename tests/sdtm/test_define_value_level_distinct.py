"""define.xml's LB value-level metadata reads each test's distinct values from the columns' codes
(define_model.distinct_per_test); what it measures must be what each test's own rows give (the former groupby)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from msc_interop.distinct import shared_columns
from msc_interop.sdtm.define_model import distinct_per_test as _distinct_per_test
from msc_interop.sdtm.define_model import nonempty_text, numeric_shape


def _lb(seed: int, zeros: bool) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = 400
    tests = np.array(["ALT", "K", "BE", "", None], dtype=object)[rng.integers(0, 5, n)]
    stresn = np.array([round(float(v), int(d)) for v, d in zip(rng.uniform(1, 9, n), rng.integers(0, 4, n),
                                                                 strict=True)])
    stresn[rng.random(n) < 0.1] = np.nan
    if zeros:
        stresn[rng.random(n) < 0.1] = 0.0
        stresn[rng.random(n) < 0.1] = -0.0
    return pd.DataFrame({
        "LBTESTCD": tests, "LBSTRESN": stresn,
        "LBORRESU": np.array(["U/L", "mmol/L", "", None], dtype=object)[rng.integers(0, 4, n)],
        "LBLOINC": np.array(["1742-6", "2823-3", ""], dtype=object)[rng.integers(0, 3, n)],
    })


@pytest.mark.parametrize("zeros", [False, True])
@pytest.mark.parametrize("seed", [1, 2])
def test_each_tests_values_as_its_rows_give_them(seed: int, zeros: bool) -> None:
    lb = _lb(seed, zeros)
    cols = ["LBSTRESN", "LBORRESU", "LBLOINC"]
    for scope in (False, True):
        if scope:
            with shared_columns():
                got = _distinct_per_test(lb, cols)
        else:
            got = _distinct_per_test(lb, cols)
        want = {t: rows for t, rows in lb.groupby("LBTESTCD", sort=True) if t != ""}
        assert sorted(got) == sorted(want)
        for test, rows in want.items():
            assert numeric_shape(got[test]["LBSTRESN"], "float") == numeric_shape(rows["LBSTRESN"], "float")
            for col in ("LBORRESU", "LBLOINC"):
                assert nonempty_text(got[test][col]) == nonempty_text(rows[col])
