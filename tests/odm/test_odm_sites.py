"""A subject's site (SiteRef) in an ODM export: a SubjectKey met under two different sites is reported, never
merged into one subject nor moved to the last site; a LocationOID missing from the map's `sites` is reported as
such (not as a SITEID pattern problem)."""

from __future__ import annotations

from pathlib import Path

from test_odm_edge_cases import DM, LB, MAPPING, baseline, write

from msc_interop import api


def _under(site: str, subject: str, events: str) -> str:
    return DM.format(s=subject, extra="", events=events).replace('LocationOID="SITE.01"', f'LocationOID="{site}"', 1)


def test_a_subject_under_two_sites_keeps_its_first_site_and_the_other_is_rejected(tmp_path: Path) -> None:
    first = DM.format(s="03", extra="", events=baseline(LB.format(rk='ItemGroupRepeatKey="1"', test="WBC",
                                                                  value="6.1")))
    second = ('\n<SubjectData SubjectKey="03"><SiteRef LocationOID="SITE.02"/>'
              + baseline(LB.format(rk='ItemGroupRepeatKey="2"', test="PLT", value="210")) + "</SubjectData>")
    mapping = MAPPING.replace("  SITE.01: '01'\n", "  SITE.01: '01'\n  SITE.02: '02'\n")
    path = write(tmp_path, first + second, mapping=mapping)
    study, rejects = api.load_study(path)
    assert study["DM"]["USUBJID"].tolist() == ["MSC-SLE-2009-01-03"]  # still of site 01, not moved to 02
    assert study["DM"]["SITEID"].tolist() == ["01"]
    assert study["LB"]["LBTESTCD"].tolist() == ["WBC"]  # SITE.02's PLT is not merged into the subject
    (rej,) = [r for r in rejects.rejects if r.code == "REJ-ODM-006"]
    lines = path.read_text(encoding="utf-8").splitlines()
    first_line = next(i for i, t in enumerate(lines, 1) if 'LocationOID="SITE.01"' in t)
    second_line = next(i for i, t in enumerate(lines, 1) if 'LocationOID="SITE.02"' in t)
    assert (rej.row, rej.field, rej.value) == (second_line, "SiteRef", "SITE.02")
    assert "SubjectKey '03'" in rej.reason and f"SITE.01 at line {first_line}" in rej.reason
    assert f"SITE.02 here (line {second_line})" in rej.reason and "not converted" in rej.reason


def test_an_unmapped_location_oid_is_reported_as_not_in_the_sites(tmp_path: Path) -> None:
    body = (DM.format(s="01", extra="", events="") + "\n"
            + _under("SITE.02", "02", ""))
    study, rejects = api.load_study(write(tmp_path, body))
    assert study["DM"]["USUBJID"].tolist() == ["MSC-SLE-2009-01-01"]
    (rej,) = [r for r in rejects.rejects if r.form == "subjects"]
    assert rej.code == "REJ-ODM-005" and rej.value == "SITE.02"
    assert "LocationOID SITE.02 is not in the map's sites" in rej.reason
    assert "pattern" not in rej.reason
