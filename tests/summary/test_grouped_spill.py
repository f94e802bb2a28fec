"""The summary's spill file (summary/grouped_spill.py): records added range by range come back per key, in the
order they were added, every field intact."""

from __future__ import annotations

import numpy as np

from msc_interop.summary.grouped_spill import GroupedSpill
from msc_interop.summary.lab_data import RECORD


def _records(rng: np.random.Generator, n: int, start: int) -> np.ndarray:
    rec = np.zeros(n, dtype=RECORD)
    rec["row"] = np.arange(start, start + n)
    rec["subj"] = rng.integers(0, 50, n)
    rec["value"] = rng.normal(size=n)
    rec["value"][::7] = np.nan
    rec["vn"] = rng.integers(1, 9, n).astype(float)
    rec["nr"] = rng.integers(0, 5, n)
    rec["flags"] = rng.integers(0, 16, n)
    return rec


def test_each_key_returns_its_records_in_the_order_added():
    rng = np.random.default_rng(7)
    ranges = [_records(rng, n, start) for n, start in ((1000, 0), (1, 1000), (0, 1001), (2500, 1001))]
    keys = [rng.integers(0, 6, len(r)) * 3 for r in ranges]  # keys 0, 3, ..., 15; not every key in every range
    with GroupedSpill(RECORD) as spill:
        for k, r in zip(keys, ranges, strict=True):
            spill.add(k, r)
        every = np.concatenate(ranges)
        key = np.concatenate(keys)
        assert spill.stored_keys() == sorted(set(key.tolist()))
        for k in spill.stored_keys():
            got = spill.get(k)
            want = every[key == k]
            assert spill.count(k) == len(want) > 0
            assert got.tobytes() == want.tobytes()  # every field, NaN included, in the order added
        assert len(spill.get(1)) == 0 and spill.get(1).dtype == RECORD  # a key never added
        for k in [*spill.stored_keys(), 1]:  # the same records a field at a time, each a contiguous array
            fields = spill.get_fields(k)
            want = every[key == k]
            assert list(fields) == list(RECORD.names)
            for name, column in fields.items():
                assert column.flags.c_contiguous and column.dtype == RECORD.fields[name][0]
                assert column.tobytes() == np.ascontiguousarray(want[name]).tobytes(), (k, name)


def test_a_block_larger_than_one_read_comes_back_whole():
    rng = np.random.default_rng(1)
    rec = _records(rng, 300_000, 0)  # 12 MB in one block
    with GroupedSpill(RECORD) as spill:
        spill.add(np.zeros(len(rec), dtype=np.int64), rec)
        assert spill.get(0).tobytes() == rec.tobytes()


def test_the_lab_spill_file_is_closed_when_preparing_fails(monkeypatch):
    """A --baseline visit the data lacks stops the lab tables after LB was gathered: the file is closed."""
    import pytest

    from msc_interop.api import load_study
    from msc_interop.errors import MscInteropError
    from msc_interop.summary import grouped_spill, lab_data

    made: list[GroupedSpill] = []

    class Tracked(GroupedSpill):
        def __init__(self, dtype: np.dtype) -> None:
            super().__init__(dtype)
            made.append(self)

    monkeypatch.setattr(grouped_spill, "GroupedSpill", Tracked)
    monkeypatch.setattr(lab_data, "GroupedSpill", Tracked)
    study, _ = load_study("fixtures/example_study")
    with pytest.raises(MscInteropError, match="not a visit of the LB data"):
        lab_data.prepare(study["LB"], "NO SUCH VISIT")
    assert len(made) == 1 and made[0]._file.closed
