"""`summary` of an ADaM folder gives the numbers of the summary of its source: the bundled study from records,
SDTM and FHIR, each through to-adam, CSV for CSV and the ARD (only the tables that read study metadata absent
from ADaM may differ); CDISC's pilot package; and ADAE's TRTEMFL counts equal the TEAE table's cells."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from msc_interop.api import load_study, read_any, to_adam, to_sdtm
from msc_interop.summary import METADATA_TABLES, compute_tables, summarize
from summary.test_roundtrip import _csvs, ard_rows  # the summary's files, read as the three-ways test reads them

from .conftest import CREATED, EXAMPLE


@pytest.fixture(scope="module")
def from_records(tmp_path_factory) -> dict[str, bytes]:
    study, _ = load_study(EXAMPLE)
    out = tmp_path_factory.mktemp("sum-records")
    summarize(study, out, formats=["csv", "ard"])
    return _csvs(out)


def _summary_of(paths: list[Path], out: Path) -> dict[str, bytes]:
    study, rejects = read_any(paths)
    assert len(rejects) == 0
    summarize(study, out, formats=["csv", "ard"])
    return _csvs(out)


# to-adam writes ADSL, ADAE, ADLB and ADEX: the summary's tables of VS, EG, MH, RE, CM and DS have no ADaM
# source yet, so a summary of ADaM has every other table (and their ARD rows), not these
NOT_IN_ADAM = {"vs_stats", "vs_change", "ecg_qtc", "ecg_abnormal", "mh_soc_pt", "cxr_visits", "cm_by_class",
               "ds_disposition"}
ADAM_DOMAINS = {"EX", "LB"}  # the SDTM-shaped datasets a summary of ADaM has visits in (disposition by visit)


def _ard_without(name: str, data: bytes) -> list[dict]:
    """An ARD file's rows less those of the tables ADaM has no source for or that read study metadata, and of the
    visits-with-data counts of datasets ADaM does not have (disposition: one count per dataset)."""
    def drop(r: dict) -> bool:
        return r["table"] in NOT_IN_ADAM | METADATA_TABLES or (r["table"] == "disposition" and r["variable"] == "DOMAIN"
                                             and r["variable_level"] not in ADAM_DOMAINS)

    return ard_rows(name, data, drop)


def _assert_same(reference: dict[str, bytes], other: dict[str, bytes], source: str) -> None:
    assert set(reference) - set(other) == NOT_IN_ADAM and set(other) <= set(reference)
    differ = []
    for n in sorted(other):
        if n in METADATA_TABLES:
            continue
        if n.startswith("ARD "):
            if _ard_without(n, other[n]) != _ard_without(n, reference[n]):
                differ.append(n)
        elif n == "disposition":  # visits with data: one column per domain; ADaM's are EX and LB
            ref, got = (pd.read_csv(io.BytesIO(x), dtype=str) for x in (reference[n], other[n]))
            if not got.equals(ref[got.columns]):
                differ.append(n)
        elif other[n] != reference[n]:
            differ.append(n)
    assert differ == [], f"{differ} differ between study records and {source}"


@pytest.mark.parametrize("folder", ["", "xpt", "json"])
def test_summary_of_adam_from_records(folder, adam_example, from_records, tmp_path):
    out, _ = adam_example
    _assert_same(from_records, _summary_of([out / folder if folder else out], tmp_path), f"ADaM {folder or 'folder'}")


def test_summary_of_adam_from_sdtm(from_records, tmp_path):
    to_sdtm(EXAMPLE, tmp_path / "sdtm", formats=["xpt"], created=CREATED, validate=False)
    to_adam([tmp_path / "sdtm"], tmp_path / "adam", formats=["xpt"], created=CREATED, validate=False)
    _assert_same(from_records, _summary_of([tmp_path / "adam"], tmp_path / "sum"), "ADaM from SDTM")


def test_summary_of_adam_from_fhir(from_records, tmp_path):
    from msc_interop import fhir

    study, _ = load_study(EXAMPLE)
    fhir.write_fhir(study, tmp_path / "fhir", version="R4", bundle="collection", ndjson=False)
    paths = sorted(p for p in (tmp_path / "fhir").rglob("*.json"))
    to_adam(paths, tmp_path / "adam", formats=["json"], created=CREATED, validate=False)
    _assert_same(from_records, _summary_of([tmp_path / "adam"], tmp_path / "sum"), "ADaM from FHIR")


def test_example_adam_by_hand(adam_example):
    """Cells checked against the records: subject 01's AFP at screening is 0.60 ug/L (LBLOBXFL baseline) and 4.63
    at YEAR 2; the one AE (subject 04, Dizziness, 2009-03-28T09:52) starts on the day of the first infusion."""
    _, result = adam_example
    adsl, adae, adlb = (result.adam[n] for n in ("ADSL", "ADAE", "ADLB"))
    assert len(adsl) == adsl["USUBJID"].nunique() == 9
    assert set(adsl["SAFFL"]) == {"Y"} and set(adsl["TRT01AN"]) == {1.0}
    ae = adae.iloc[0]
    assert (ae["USUBJID"], ae["TRTEMFL"], ae["ASTDY"], ae["ASTDTF"]) == ("MSC-SLE-2009-01-04", "Y", 1.0, "")
    assert ae["ASTDT"] == (pd.Timestamp("2009-03-28") - pd.Timestamp("1960-01-01")).days
    afp = adlb[adlb["USUBJID"].eq("MSC-SLE-2009-01-01") & adlb["PARAMCD"].eq("AFP")].set_index("VISIT")
    base = afp[afp["ABLFL"].eq("Y")]
    assert len(base) == 1 and base["AVAL"].iloc[0] == 0.6 and base["AVISIT"].iloc[0] == "Baseline"
    y2 = afp.loc["YEAR 2"]
    assert (y2["BASE"], y2["AVAL"], y2["PARAM"]) == (0.6, 4.63, "Alpha Fetoprotein (ug/L)")
    assert y2["CHG"] == pytest.approx(4.03) and y2["PCHG"] == pytest.approx(100 * 4.03 / 0.6)
    # BASE is the ABLFL record's AVAL on every record; CHG = AVAL - BASE after baseline
    ref = adlb[adlb["ABLFL"].eq("Y")].set_index(["USUBJID", "PARAMCD"])["AVAL"]
    assert np.allclose(adlb["BASE"], ref.reindex(pd.MultiIndex.from_frame(adlb[["USUBJID", "PARAMCD"]])),
                       equal_nan=True)
    post = adlb["CHG"].notna()
    assert np.allclose(adlb.loc[post, "CHG"], adlb.loc[post, "AVAL"] - adlb.loc[post, "BASE"])


def test_pilot_adsl_one_row_per_subject(adam_pilot, pilot_dir):
    _, result = adam_pilot
    adsl = result.adam["ADSL"]
    dm = pd.read_sas(pilot_dir / "dm.xpt", encoding="utf-8")
    assert len(adsl) == adsl["USUBJID"].nunique() == dm["USUBJID"].nunique() == 306
    fail = adsl["ARMCD"].eq("Scrnfail")
    assert int(fail.sum()) == 52
    assert set(adsl.loc[fail, "SAFFL"]) == {"N"} and set(adsl.loc[fail, "TRT01A"]) == {""}
    assert int(adsl["SAFFL"].eq("Y").sum()) == 254


def test_pilot_trtemfl_agrees_with_the_teae_tables(adam_pilot, pilot_dir, tmp_path):
    """Subjects with TRTEMFL = Y per arm equal the summary's Any-TEAE cells: by planned arm (TRT01P) the pilot's
    published 65 / 77 / 76 (Placebo / Xanomeline Low / High), by actual treatment (TRTA, the summary's default
    columns) 65 / 84 / 69; and per arm, SOC and PT the ARD's n of ae_soc_pt."""
    _, result = adam_pilot
    adsl, adae = result.adam["ADSL"], result.adam["ADAE"]
    te = adae[adae["TRTEMFL"].eq("Y")]
    planned = te["USUBJID"].map(adsl.set_index("USUBJID")["TRT01P"])
    by_planned = te.groupby(planned)["USUBJID"].nunique().to_dict()
    assert by_planned == {"Placebo": 65, "Xanomeline Low Dose": 77, "Xanomeline High Dose": 76}
    by_actual = te.groupby("TRTA")["USUBJID"].nunique().to_dict()
    assert by_actual == {"Placebo": 65, "Xanomeline Low Dose": 84, "Xanomeline High Dose": 69}
    study, _ = load_study(pilot_dir)
    for arms, counts in (("planned", by_planned), ("actual", by_actual)):
        overview = compute_tables(study, arms=arms)["ae_overview"].set_index("Category")
        for arm, n in counts.items():
            col = next(c for c in overview.columns if c.startswith(f"{arm} (N=") and c.endswith("n (%)"))
            assert overview.at["Any TEAE", col].startswith(f"{n} ("), (arms, arm)
    ard = summarize(study, tmp_path, formats=["ard"]).ard
    pt = ard[ard["table"].eq("ae_soc_pt") & ard["variable"].eq("AEDECOD") & ard["stat_name"].eq("n")
             & ard["group1_level"].ne("Total")]
    got = {(r.group1_level, r.group2_level, r.variable_level): int(r.stat) for r in pt.itertuples()}
    want = te.groupby(["TRTA", "AEBODSYS", "AEDECOD"])["USUBJID"].nunique().to_dict()
    assert {k: v for k, v in got.items() if v} == want  # every non-zero cell of the table
    assert not any(k in want for k, v in got.items() if v == 0)
    assert len(want) > 200


def test_pilot_summary_of_adam(adam_pilot, pilot_dir, tmp_path):
    """Same tables from the pilot's SDTM and its ADaM, except those that read SV (disposition, the missing-visit
    issue), which ADaM does not carry, and the study-metadata tables."""
    out, _ = adam_pilot
    study, _ = load_study(pilot_dir)
    summarize(study, tmp_path / "sdtm", formats=["csv", "ard"])
    ref = _csvs(tmp_path / "sdtm")
    got = _summary_of([out], tmp_path / "adam")
    differ = sorted(n for n in ref if n not in METADATA_TABLES and got.get(n) != ref[n])
    # and the CM table: the pilot's CM has no ADaM dataset (ADCM) in to-adam yet
    assert differ == ["ARD ard.csv", "ARD ard.json", "cm_by_class", "data_issues", "disposition"]
    def drop(r: dict) -> bool:  # the ARD rows of the tables allowed to differ
        return r["table"] in NOT_IN_ADAM | METADATA_TABLES | {"disposition"}

    assert [n for n in ("ARD ard.csv", "ARD ard.json") if ard_rows(n, got[n], drop) != ard_rows(n, ref[n], drop)] == []


def test_te_window_is_the_summarys(pilot_dir):
    """With a window after the last dose (--te-window 1), TRTEMFL and the summary's TEAE table drop the same AEs."""
    from msc_interop.adam.build import build_adam

    study, _ = load_study(pilot_dir)
    adae = build_adam(study, te_window=1)["ADAE"]
    open_ended = build_adam(study)["ADAE"]
    te = adae[adae["TRTEMFL"].eq("Y")]
    assert len(te) < int(open_ended["TRTEMFL"].eq("Y").sum())  # the window changes something
    overview = compute_tables(study, te_window=1)["ae_overview"].set_index("Category")
    for arm, n in te.groupby("TRTA")["USUBJID"].nunique().items():
        col = next(c for c in overview.columns if c.startswith(f"{arm} (N=") and c.endswith("n (%)"))
        assert overview.at["Any TEAE", col].startswith(f"{n} (")
        assert overview.at["Any TEAE", f"{arm} events"] == str(int(te["TRTA"].eq(arm).sum()))


def test_notes_say_which_files_were_read(adam_example, tmp_path):
    """Reading an ADaM folder (summary, to-fhir, ...) notes the files read and each other file with why it is not."""
    import shutil

    out, _ = adam_example
    folder = tmp_path / "adam"
    shutil.copytree(out / "xpt", folder)
    (folder / "adtte.xpt").write_bytes(b"not read")
    _, rejects = read_any([folder])
    assert rejects.notes == [
        f"{folder}: ADaM read from adae.xpt (as AE), adex.xpt (as EX), adlb.xpt (as LB), adsl.xpt (as DM) and "
        "define.xml",
        f"{folder / 'adtte.xpt'}: not read, not an ADaM dataset msc-interop reads (adsl.xpt/.json, adae.xpt/.json, "
        "adlb.xpt/.json, adex.xpt/.json)"]
