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
