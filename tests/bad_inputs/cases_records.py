"""Bad study records: CSV forms, study.yaml."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from .registry import case, replace_text

# --- study records (CSV forms, study.yaml) ------------------------------------------------------------------------

@case("records/labs.csv-is-a-folder", "records", "to-sdtm", 2, ("labs.csv", "folder"))
def _(d: Path) -> None:
    (d / "labs.csv").unlink()
    (d / "labs.csv").mkdir()


@case("records/study.yaml-visitnum-nan", "records", "to-sdtm", 2, ("study.yaml", "visitnum"))
def _(d: Path) -> None:
    replace_text(d / "study.yaml", "visitnum: 1\n", "visitnum: .nan\n")


@case("records/study.yaml-visitnum-inf", "records", "to-sdtm", 2, ("study.yaml", "visits/0/visitnum", "finite"))
def _(d: Path) -> None:
    replace_text(d / "study.yaml", "visitnum: 1\n", "visitnum: .inf\n")



def _with_bom(name: str) -> Callable[[Path], None]:
    def change(d: Path) -> None:
        path = d / name
        path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    return change


# a UTF-8 byte-order mark is accepted everywhere (it rejected a whole bundle.json while CSV BOMs were accepted)
case("fhir/bundle-with-utf8-bom", "fhir-bundle", "from-fhir", 0, ("Observation: read 1264 = converted 1264",),
     {"Observation": (1264, 1264, 0)})(_with_bom("bundle.json"))
case("fhir/ndjson-with-utf8-bom", "fhir-ndjson", "from-fhir", 0, ("Observation: read 1264 = converted 1264",),
     {"Observation": (1264, 1264, 0)})(_with_bom("Observation.ndjson"))
case("sdtm-json/lb-with-utf8-bom", "sdtm-json", "to-sdtm", 0, ("lb.csv",))(_with_bom("lb.json"))
case("records/labs.csv-with-utf8-bom", "records", "to-sdtm", 0, ("labs: read 494 = converted 494",))(
    _with_bom("labs.csv"))


@case("records/labs.csv-result-column-twice", "records", "to-sdtm", 2,
      ("labs.csv", "column 'result' appears more than once", "columns 5 and 10"))
def _(d: Path) -> None:
    path = d / "labs.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0].split(",")[4] == "result"
    path.write_text("\n".join([lines[0] + ",Result"] + [line + ",1" for line in lines[1:]]) + "\n",
                    encoding="utf-8")


for _id, _zone in (("empty", "''"), ("not-iana", "UTC+8"), ("unknown", "Mars/Olympus")):
    case(f"records/study.yaml-timezone-{_id}", "records", "to-sdtm", 2, ("study.yaml", "timezone", "IANA"))(
        lambda d, z=_zone: replace_text(d / "study.yaml", "timezone: Asia/Shanghai\n", f"timezone: {z}\n"))


@case("records/study.yaml-alias-names-two-visits", "records", "to-sdtm", 2,
      ("study.yaml", "'Day 0' names visit 2 and visit 3"))
def _(d: Path) -> None:
    replace_text(d / "study.yaml", "  - Infusion 2\n", "  - Infusion 2\n  - Day 0\n")
