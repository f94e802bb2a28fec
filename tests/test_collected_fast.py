"""dates.normalize_collected decides the plain complete dates (with a time) in numpy (dates._plain_collected): the
same --DTC and the same verdict the pattern and pandas' string steps give, whatever the text."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from msc_interop import dates

EDGES = ["2009-03-21", "2009-03-21T08:38", "2009-03-21 08:38", "2009-03-21T08:38:59", "2009-03-21 23:59:00",
         "2009-02-29", "2008-02-29T00:00", "2009-04-31", "2009-13-01", "2009-00-10", "2009-01-00", "2009-01-32",
         "2009-03-21T24:00", "2009-03-21T23:60", "2009-03-21T08:38:60", "1699-12-31", "1700-01-01", "2200-12-31",
         "2201-01-01", "0000-01-01", "2009-03-21T08", "2009-03-21T08:38:5", "2009-03-21X08:38", "2009-3-21",
         "２００９-03-21", "2009-03-٢1", "2009-03-21\x00", " 2009-03-21 ", "2009-03-21\n", "2009-UN-21", "2009-06-UN",
         "2009-06", "2009", "", "UNK", "2009/03/21", "2009-03-21T08:38Z", "2009-03-21T08:38:59.5", None, np.nan, 2009]


@pytest.mark.parametrize("seed", range(4))
def test_same_as_the_pattern(seed: int) -> None:
    rng = np.random.default_rng(seed)
    days = (np.datetime64("1990-01-01") + rng.integers(0, 15000, 600)).astype(str)
    times = [f"{sep}{h:02d}:{m:02d}{f':{s:02d}' if s < 70 else ''}" if h < 26 else ""
             for sep, h, m, s in zip(rng.choice(["T", " "], 600), rng.integers(0, 28, 600), rng.integers(0, 62, 600),
                                     rng.integers(0, 90, 600), strict=True)]
    values = list(dict.fromkeys([d + t for d, t in zip(days, times, strict=True)] + EDGES))
    u = pd.Series(pd.Series(values, dtype=object).sample(frac=1, random_state=seed).to_numpy(), dtype=object)
    got = dates._normalize_distinct(u)
    want = dates._normalize_text(dates.stripped_text(u))  # the pattern's way, for every value
    assert dates._plain_collected(dates.stripped_text(u).to_numpy(dtype=object))[0].sum() > 300
    assert got["dtc"].tolist() == want["dtc"].tolist()
    assert got["bad"].tolist() == want["bad"].tolist()
    dtc, bad = dates.normalize_collected(pd.concat([u, u], ignore_index=True))
    assert dtc.tolist() == want["dtc"].tolist() * 2 and bad.tolist() == want["bad"].tolist() * 2
