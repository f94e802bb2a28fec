"""The LB builder factorizes no text column of the lab rows anew: each column's codes come from the reader (Arrow
found them) or from the step that derived it per distinct value (distinct.per_distinct, spread_answer), as
distinct.shared_columns() keeps them. A step that copies a column (pd.DataFrame of Series, fillna on the rows)
loses its codes and the next step pays a factorization of a million strings (~0.06 s each at 1M lab rows)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from msc_interop import distinct
from msc_interop.distinct import known_codes, shared_columns
from msc_interop.records import read_records
from msc_interop.sdtm.build import build_study
from msc_interop.synth import generate


@pytest.fixture(scope="module")
def records_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("records")
    generate(40, 7, "scale").write(folder)  # ~2,200 lab rows
    return folder


def test_no_text_column_of_the_lab_rows_is_factorized_anew(records_folder: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    real = pd.factorize
    lab_rows = sum(1 for _ in (records_folder / "labs.csv").open(encoding="utf-8")) - 1
    anew: list[int] = []

    def counting(values, *args, **kwargs):  # type: ignore[no-untyped-def]
        if len(values) == lab_rows and pd.api.types.is_object_dtype(getattr(values, "dtype", None)):
            anew.append(len(values))
        return real(values, *args, **kwargs)

    monkeypatch.setattr(distinct, "_CHECK", False)  # (the suite's check of known codes factorizes them again)
    with shared_columns():
        records = read_records(records_folder)
        monkeypatch.setattr(pd, "factorize", counting)
        study, _rejects = build_study(records)
        monkeypatch.setattr(pd, "factorize", real)
        lb = study["LB"]
        assert len(lb) == lab_rows > 1000
        assert anew == []
        text = [c for c in lb.columns if lb[c].dtype == object]
        assert [c for c in text if known_codes(lb[c]) is None] == []
        sv = study["SV"]  # composed from the visit spans' codes (sdtm/sv.py)
        assert len(sv) > 100
        assert [c for c in sv.columns if sv[c].dtype == object and known_codes(sv[c]) is None] == []
