"""synth's medications and disposition forms (synth_cmds.py): own random streams, the seed profile's story,
the scale profile's shape."""

from __future__ import annotations

from msc_interop import mappings
from msc_interop.synth import generate


def test_seed_profile_follows_the_paper():
    r = generate(9, 2009, "seed")
    assert set(r.disposition["event"]) == {"COMPLETED"} and len(r.disposition) == 9
    per_subject = r.medications.groupby("subject_id")["medication"].apply(set)
    assert all({"Prednisone", "Hydroxychloroquine"} <= s for s in per_subject)
    assert r.medications.groupby("subject_id").size().eq(4).all()
    # every medication name is coded by the study dictionary
    assert r.medications["medication"].str.upper().isin(mappings.medication_dictionary()).all()


def test_scale_profile_shape_and_terms():
    r = generate(400, 1, "scale")
    assert len(r.medications) == 4 * 400 and len(r.disposition) == 400
    assert set(r.disposition["event"]) <= mappings.codelist("NCOMPLT").values
    assert (r.disposition["event"] != "COMPLETED").sum() > 0  # about 5% do not complete


def test_new_forms_are_deterministic_per_seed():
    a, b = generate(50, 7, "scale"), generate(50, 7, "scale")
    assert a.medications.equals(b.medications) and a.disposition.equals(b.disposition)
    assert not a.medications.equals(generate(50, 8, "scale").medications)
