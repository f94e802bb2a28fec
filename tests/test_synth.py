"""The generator: deterministic per seed, reproduces the bundled study, scales column-wise."""

from __future__ import annotations

from conftest import EXAMPLE
from msc_interop.synth import generate


def test_seed_profile_reproduces_the_bundled_study_byte_for_byte(tmp_path):
    generate(9, 2009, "seed").write(tmp_path)
    for path in [*sorted(EXAMPLE.glob("*.csv")), EXAMPLE / "study.yaml"]:
        assert (tmp_path / path.name).read_bytes() == path.read_bytes(), path.name


def test_same_seed_same_records_other_seed_other_records():
    a, b, c = generate(50, 7, "scale"), generate(50, 7, "scale"), generate(50, 8, "scale")
    assert a.labs.equals(b.labs) and a.exposures.equals(b.exposures)
    assert not a.labs.equals(c.labs)


def test_scale_profile_shape():
    r = generate(200, 1, "scale")
    assert len(r.subjects) == 200 and len(r.exposures) == 400
    assert len(r.labs) == 200 * 11 * 5
    assert r.labs.groupby("subject_id").size().eq(55).all()
    assert r.subjects.subject_id.iloc[-1] == "200"


def test_placebo_puts_every_second_subject_in_a_placebo_arm_and_converts_whole(tmp_path):
    """synth --placebo: a two-arm study (multi-arm summaries, the study's own products in study.yaml); every value
    drawn is the one-arm study's, so only the arm, product and dose of the placebo subjects differ."""
    import pandas as pd

    from msc_interop import api

    one, two = generate(10, seed=3, profile="scale"), generate(10, seed=3, profile="scale", placebo=True)
    assert two.subjects["arm_code"].tolist() == ["UCMSC", "PLACEBO"] * 5
    assert (two.subjects["actual_arm_code"] == two.subjects["arm_code"]).all()
    on_placebo = two.exposures["subject_id"].isin(two.subjects["subject_id"][1::2])
    assert set(two.exposures.loc[on_placebo, "product"]) == {"Placebo"} and set(
        two.exposures.loc[on_placebo, "dose"]) == {"0"}
    assert two.exposures.loc[~on_placebo].equals(one.exposures.loc[~on_placebo])
    assert two.labs.equals(one.labs) and two.adverse_events.equals(one.adverse_events)
    assert [a["armcd"] for a in two.definition["arms"]] == ["UCMSC", "PLACEBO"]
    assert [p["extrt"] for p in two.definition["products"]] == ["UMBILICAL CORD MESENCHYMAL STEM CELLS", "PLACEBO"]
    assert "products" not in one.definition

    two.write(tmp_path / "records")
    result = api.to_sdtm(tmp_path / "records", tmp_path / "sdtm", formats=["csv"], created="2026-01-01T00:00:00",
                         validate=False)
    assert len(result.rejects) == 0
    dm = pd.read_csv(tmp_path / "sdtm" / "csv" / "dm.csv", dtype=str, keep_default_na=False)
    ex = pd.read_csv(tmp_path / "sdtm" / "csv" / "ex.csv", dtype=str, keep_default_na=False)
    assert dm["ARMCD"].value_counts().to_dict() == {"UCMSC": 5, "PLACEBO": 5}
    placebo = ex[ex.USUBJID.isin(dm.USUBJID[dm.ARMCD == "PLACEBO"])]
    assert len(placebo) == 10 and set(placebo.EXTRT) == {"PLACEBO"} and set(placebo.EXDOSE) == {"0"}
    assert set(dm.loc[dm.ARMCD == "PLACEBO", "ACTARMCD"]) == {"PLACEBO"}  # treated: not ASSIGNED, NOT TREATED
