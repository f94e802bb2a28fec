"""synth's vital signs: the seed profile as the paper says (normal, except subject 06's tachycardia), the scale
profile with a site in F and lb that converts without a reject. (The other forms stay byte-identical: test_synth.py,
unchanged, checks them.)"""

from __future__ import annotations

from msc_interop.records import read_records
from msc_interop.sdtm.build import build_study
from msc_interop.synth import generate


def test_seed_profile_pulse_is_fast_only_for_subject_06():
    vs = generate(9, 2009, "seed").vital_signs
    pulse = vs[vs["test"] == "PULSE"].assign(v=lambda d: d["result"].astype(float))
    assert (pulse.loc[pulse["subject_id"] == "06", "v"] > 100).all()
    assert (pulse.loc[pulse["subject_id"] != "06", "v"] < 100).all()
    assert len(vs) == 9 * (7 * 7 + 1) and set(vs["visit"]) == {"Baseline", "Day 0", "Day 7", "Year 1", "Year 2",
                                                                 "Year 4", "Year 6"}


def test_scale_profile_converts_every_vital_sign(tmp_path):
    generate(40, 3, "scale").write(tmp_path)
    study, report = build_study(read_records(tmp_path))
    vs = study["VS"]
    assert report.counts["vital_signs"].read == len(vs) == 40 * 50
    assert not [r for r in report.rejects if r.form == "vital_signs"]
    # a site in F and lb: its results converted to C and kg
    assert {"F", "LB"} <= set(vs["VSORRESU"]) and set(vs.loc[vs["VSTESTCD"] == "TEMP", "VSSTRESU"]) == {"C"}
    temp = vs[vs["VSORRESU"] == "F"]
    assert ((temp["VSORRES"].astype(float) - 32) * 5 / 9 - temp["VSSTRESN"]).abs().max() <= 0.05

