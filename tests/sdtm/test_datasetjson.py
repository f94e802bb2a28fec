"""Dataset-JSON 1.1: valid against CDISC's schemas, equal to CDISC's own conversion of their XPT examples,
and read back (ours and CDISC's files, .json and .ndjson) to the same data."""

from __future__ import annotations

import copy
import json
import math
import re
from pathlib import Path
from typing import Any

import jsonschema
import pandas as pd
import pytest

from msc_interop.errors import InputError, MscInteropError
from msc_interop.records import read_records
from msc_interop.sdtm.build import build_study
from msc_interop.sdtm.datasetjson import creation_datetime, write_dataset_json
from msc_interop.sdtm.datasetjson_read import read_dataset_json
from msc_interop.sdtm.xpt import read_xpt
from msc_interop.study import Study, conform

REPO = Path(__file__).resolve().parents[2]
CREATED = "2026-01-01T00:00:00"
NUMERIC = {"integer", "float", "double", "decimal"}

# Where our dataTypes differ from CDISC's examples, and why. CDISC took theirs from the study's define.xml;
# ours come from mappings/sdtm_variables.yaml (SDTMIG 3.4), the same for every study.
#  - --DTC variables: CDISC "date"; ours "string", since SDTM dates may be partial ("2012-11") and
#    Dataset-JSON "date" means a complete ISO 8601 date.
#  - AE MedDRA codes (AELLTCD ... AESOCCD): CDISC "string" of length 1, all empty in the pilot data; SDTMIG
#    types them Num, so ours are "integer" and their empty values are null, not "".
#  - EXDOSE: CDISC "integer" (every pilot dose is 54 or 81 mg); SDTMIG says Num, ours "float".
KNOWN_TYPE_DIFFERENCES = {
    "DM": {v: ("string", "date") for v in
           ("RFSTDTC", "RFENDTC", "RFXSTDTC", "RFXENDTC", "RFICDTC", "RFPENDTC", "DTHDTC", "BRTHDTC")},
    "AE": {**{v: ("integer", "string") for v in ("AELLTCD", "AEPTCD", "AEHLTCD", "AEHLGTCD", "AEBDSYCD", "AESOCCD")},
           **{v: ("string", "date") for v in ("AESTDTC", "AEENDTC", "AEENTPT")}},
    "EX": {"EXDOSE": ("float", "integer"), "EXSTDTC": ("string", "date"), "EXENDTC": ("string", "date")},
    "LB": {},
}
# dataTypes that must match CDISC's (SDTM Num variables with a fixed physical type)
MUST_MATCH = {
    "DM": {"AGE": "integer"},
    "AE": {"AESEQ": "integer", "AESTDY": "integer", "AEENDY": "integer"},
    "EX": {"EXSEQ": "integer", "EXSTDY": "integer", "EXENDY": "integer"},
    "LB": {"LBSEQ": "integer", "LBDY": "integer", "LBSTRESN": "float", "LBSTNRLO": "float", "LBSTNRHI": "float",
           "VISITNUM": "float"},
}


@pytest.fixture(scope="module")
def study() -> Study:
    built, _ = build_study(read_records(REPO / "fixtures" / "example_study"))
    return built


@pytest.fixture(scope="module")
def examples(shared_dir: Path) -> Path:
    return shared_dir / "external" / "dataset-json" / "examples-v1.1" / "sdtm"


@pytest.fixture(scope="module")
def schema(shared_dir: Path) -> jsonschema.Draft201909Validator:
    path = shared_dir / "external" / "dataset-json" / "schema" / "v1.1" / "dataset.schema.json"
    return jsonschema.Draft201909Validator(json.loads(path.read_text(encoding="utf-8")))


@pytest.fixture(scope="module")
def ndjson_schema(shared_dir: Path) -> jsonschema.Draft201909Validator:
    """The NDJSON metadata-line schema. Upstream it is UTF-16 with a BOM, and it refers to #/$defs/Column,
    #/$defs/DataTypesEnum and #/$defs/SourceSystem, which it defines only nested under DatasetMetadata;
    we lift those definitions to $defs in memory (only when missing) so the references resolve."""
    path = shared_dir / "external" / "dataset-json" / "schema" / "v1.1" / "dataset-ndjson-schema.json"
    doc = json.loads(path.read_bytes().decode("utf-16"))
    defs = doc["$defs"]
    props = defs["DatasetMetadata"]["properties"]
    defs.setdefault("Column", props["columns"]["items"].get("Column"))
    defs.setdefault("DataTypesEnum", props["columns"]["items"].get("DataTypesEnum"))
    defs.setdefault("SourceSystem", props["sourceSystem"].get("SourceSystem"))
    return jsonschema.Draft201909Validator(doc)


def _errors(validator: jsonschema.Draft201909Validator, doc: Any) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(doc)][:5]


# --- schema conformance ------------------------------------------------------------------------------------

def test_our_json_validates_against_the_official_schema(study: Study, schema, tmp_path: Path) -> None:
    for name in study.names:
        path = tmp_path / f"{name.lower()}.json"
        write_dataset_json(study[name], name, path, study_meta=study.meta, created=CREATED)
        doc = json.loads(path.read_text(encoding="utf-8"))
        assert _errors(schema, doc) == [], name
        assert doc["datasetJSONVersion"] == "1.1.0"
        assert doc["records"] == len(doc["rows"]) == len(study[name])


def test_our_ndjson_metadata_line_validates(study: Study, ndjson_schema, schema, examples: Path,
                                            tmp_path: Path) -> None:
    # the mended schema accepts CDISC's own NDJSON and still rejects a wrong dataType
    cdisc = json.loads((examples / "dm.ndjson").read_text().splitlines()[0])
    assert _errors(ndjson_schema, cdisc) == []
    broken = copy.deepcopy(cdisc)
    broken["columns"][0]["dataType"] = "text"
    assert _errors(ndjson_schema, broken)
    for name in study.names:
        path = tmp_path / f"{name.lower()}.ndjson"
        write_dataset_json(study[name], name, path, ndjson=True, study_meta=study.meta, created=CREATED)
        lines = path.read_bytes().split(b"\n")
        assert lines[-1] == b""  # every line ends with a newline
        meta = json.loads(lines[0])
        assert "rows" not in meta
        assert _errors(ndjson_schema, meta) == [], name
        assert _errors(schema, meta) == [], name  # the metadata alone is a valid (row-less) dataset
        rows = [json.loads(line) for line in lines[1:-1]]
        assert len(rows) == meta["records"] == len(study[name])
        assert all(isinstance(r, list) and len(r) == len(meta["columns"]) for r in rows)


def test_the_official_examples_validate(schema, examples: Path) -> None:
    """Sanity check of the validator set-up: CDISC's own files pass."""
    for path in sorted(examples.glob("*.json")):
        assert _errors(schema, json.loads(path.read_text(encoding="utf-8"))) == [], path.name


# --- THE KEY TEST: CDISC's XPT -> our writer == CDISC's Dataset-JSON ---------------------------------------

@pytest.mark.parametrize("dataset", ["lb", "dm", "ae", "ex"])
def test_cdisc_xpt_converted_by_us_equals_cdisc_json(dataset: str, examples: Path, tmp_path: Path) -> None:
    name, df = read_xpt(examples / f"{dataset}.xpt")
    write_dataset_json(df, name, tmp_path / f"{dataset}.json", created=CREATED)
    ours = json.loads((tmp_path / f"{dataset}.json").read_text(encoding="utf-8"))
    theirs = json.loads((examples / f"{dataset}.json").read_text(encoding="utf-8"))

    assert [c["name"] for c in ours["columns"]] == [c["name"] for c in theirs["columns"]]
    assert ours["name"] == theirs["name"] and ours["label"] == theirs["label"]
    assert ours["itemGroupOID"] == theirs["itemGroupOID"] == f"IG.{name}"
    assert [c["itemOID"] for c in ours["columns"]] == [c["itemOID"] for c in theirs["columns"]]
    assert ours["records"] == theirs["records"] == len(ours["rows"]) == len(theirs["rows"])

    our_types = {c["name"]: c["dataType"] for c in ours["columns"]}
    their_types = {c["name"]: c["dataType"] for c in theirs["columns"]}
    differences = {v: (our_types[v], their_types[v]) for v in our_types if our_types[v] != their_types[v]}
    assert differences == KNOWN_TYPE_DIFFERENCES[name]
    for var, dtype in MUST_MATCH[name].items():
        assert our_types[var] == their_types[var] == dtype, var
    for ours_c, theirs_c in zip(ours["columns"], theirs["columns"], strict=True):
        if ours_c["dataType"] == "string" and "length" in theirs_c:
            # ours is the longest value in the data; theirs the planned length from define.xml
            assert 1 <= ours_c["length"] <= theirs_c["length"], ours_c["name"]

    types = [c["dataType"] for c in ours["columns"]]
    for i, (mine, cdisc) in enumerate(zip(ours["rows"], theirs["rows"], strict=True)):
        for j, (a, b) in enumerate(zip(mine, cdisc, strict=True)):
            var = ours["columns"][j]["name"]
            where = f"{name} row {i + 1} {var}"
            if var in KNOWN_TYPE_DIFFERENCES[name] and types[j] == "integer":
                assert (a, b) == (None, ""), where  # their empty text code is our missing number
            elif types[j] in NUMERIC:
                if b is None:
                    assert a is None, where
                else:
                    # XPT holds IBM hex floats: the file's 0x4188CCCCCCCCCCC8 is exactly 8.549999999999999,
                    # which CDISC's converter printed as 8.55; equal to 14 significant digits
                    assert math.isclose(a, b, rel_tol=1e-14), where
                if types[j] == "integer":
                    assert type(a) is int or a is None, where  # 47, never 47.0
            else:
                assert a == b, where  # text exactly; missing text is "" in both


def test_cdisc_json_and_ndjson_read_by_us_equal_their_xpt(examples: Path) -> None:
    for dataset in ("dm", "ae", "ex", "lb", "cm", "ts", "vs"):
        name, from_xpt = read_xpt(examples / f"{dataset}.xpt")
        for suffix in (".json", ".ndjson"):
            path = examples / f"{dataset}{suffix}"
            if not path.exists():
                continue
            json_name, from_json, meta = read_dataset_json(path)
            assert json_name == name and meta["records"] == len(from_json) == len(from_xpt)
            assert list(from_json.columns) == list(from_xpt.columns)
            pd.testing.assert_frame_equal(conform(name, from_json), conform(name, from_xpt),
                                          check_exact=False, rtol=1e-14)


def test_reader_types_by_datatype(examples: Path) -> None:
    name, df, meta = read_dataset_json(examples / "ae.ndjson")
    assert name == "AE" and meta["itemGroupOID"] == "IG.AE" and "rows" not in meta
    assert df["AESEQ"].dtype == "Int64" and df["AEENDY"].isna().any()
    assert df["AETERM"].dtype == object and df["AEENDTC"].map(type).eq(str).all()
    assert (df["AEENDTC"] == "").any()  # null/"" text is ""


# --- our own round trip, encoding details, determinism ------------------------------------------------------

@pytest.mark.parametrize("ndjson", [False, True])
def test_round_trip(study: Study, tmp_path: Path, ndjson: bool) -> None:
    for name in study.names:
        path = tmp_path / f"{name.lower()}.{'ndjson' if ndjson else 'json'}"
        write_dataset_json(study[name], name, path, ndjson=ndjson, study_meta=study.meta, created=CREATED)
        back_name, back, meta = read_dataset_json(path)
        assert back_name == name
        assert meta["studyOID"] == f"STDY.{study.meta.studyid}"
        pd.testing.assert_frame_equal(conform(name, back), study[name])


def test_missing_values_and_number_encoding(study: Study, tmp_path: Path) -> None:
    dm = study["DM"].head(2).copy()
    dm["AGE"] = pd.array([47, None], dtype="Int64")
    dm["DTHDTC"] = ["", ""]
    write_dataset_json(dm, "DM", tmp_path / "dm.json", created=CREATED)
    text = (tmp_path / "dm.json").read_text(encoding="utf-8")
    doc = json.loads(text)
    age = [c["name"] for c in doc["columns"]].index("AGE")
    dth = [c["name"] for c in doc["columns"]].index("DTHDTC")
    assert [r[age] for r in doc["rows"]] == [47, None]
    assert [r[dth] for r in doc["rows"]] == ["", ""]
    assert ",47," in text  # an integer, not 47.0
    dth_col = doc["columns"][dth]
    assert dth_col["dataType"] == "string" and dth_col["length"] == 1  # at least 1 even when all empty


def test_column_metadata(study: Study, tmp_path: Path) -> None:
    write_dataset_json(study["LB"], "LB", tmp_path / "lb.json", study_meta=study.meta, created=CREATED)
    doc = json.loads((tmp_path / "lb.json").read_text(encoding="utf-8"))
    cols = {c["name"]: c for c in doc["columns"]}
    assert cols["LBSEQ"] == {"itemOID": "IT.LB.LBSEQ", "name": "LBSEQ", "label": "Sequence Number",
                             "dataType": "integer"}
    keys = sorted((c["keySequence"], c["name"]) for c in doc["columns"] if "keySequence" in c)
    assert keys == [(1, "STUDYID"), (2, "USUBJID"), (3, "LBTESTCD"), (4, "VISITNUM"), (5, "LBDTC")]
    assert cols["LBTESTCD"]["length"] == max(len(v) for v in study["LB"]["LBTESTCD"])
    assert list(doc)[:2] == ["datasetJSONCreationDateTime", "datasetJSONVersion"]
    assert list(doc)[-2:] == ["columns", "rows"]  # the spec's attribute order, rows last
    assert doc["originator"] == "msc-interop" and doc["sourceSystem"]["name"] == "msc-interop"
    # the Study/@OID and MetaDataVersion/@OID of our define.xml
    assert doc["studyOID"] == "STDY.MSC-SLE-2009" and doc["metaDataVersionOID"] == "MDV.MSC-SLE-2009.SDTMIG.3.4"


def test_unknown_variables_get_types_from_their_values(study: Study, tmp_path: Path) -> None:
    lb = study["LB"].head(3).copy()
    lb["LBXCOUNT"] = [1.0, 2.0, float("nan")]
    lb["LBXRATIO"] = [0.5, 1.0, 2.0]
    lb["LBXNOTE"] = ["a", "", "c"]
    write_dataset_json(lb, "LB", tmp_path / "lb.json", created=CREATED)
    doc = json.loads((tmp_path / "lb.json").read_text(encoding="utf-8"))
    cols = {c["name"]: c for c in doc["columns"]}
    assert cols["LBXCOUNT"]["dataType"] == "integer" and cols["LBXCOUNT"]["label"] == "LBXCOUNT"
    assert cols["LBXRATIO"]["dataType"] == "double"
    assert cols["LBXNOTE"]["dataType"] == "string" and cols["LBXNOTE"]["length"] == 1
    i = list(cols).index("LBXCOUNT")
    assert [r[i] for r in doc["rows"]] == [1, 2, None]


def test_same_input_same_bytes(study: Study, tmp_path: Path) -> None:
    for ndjson in (False, True):
        a, b, c = (tmp_path / f"{x}{ndjson}.json" for x in "abc")
        write_dataset_json(study["LB"], "LB", a, ndjson=ndjson, study_meta=study.meta, created=CREATED)
        write_dataset_json(study["LB"].copy(), "LB", b, ndjson=ndjson, study_meta=study.meta, created=CREATED)
        assert a.read_bytes() == b.read_bytes()
        write_dataset_json(study["LB"], "LB", c, ndjson=ndjson, study_meta=study.meta,
                           created="2027-06-30T12:00:00")
        assert a.read_bytes().replace(CREATED.encode(), b"2027-06-30T12:00:00") == c.read_bytes()


def test_creation_datetime() -> None:
    now = creation_datetime()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", now)  # UTC to the second, no suffix
    assert creation_datetime("2026-01-01T00:00:00+01:00") == "2026-01-01T00:00:00+01:00"
    with pytest.raises(MscInteropError, match="YYYY-MM-DDThh:mm:ss"):
        creation_datetime("2026-01-01")


def test_decimal_strings_are_read_as_numbers(tmp_path: Path) -> None:
    doc = {"datasetJSONCreationDateTime": CREATED, "datasetJSONVersion": "1.1.0", "itemGroupOID": "IG.XX",
           "records": 2, "name": "XX", "label": "Test",
           "columns": [{"itemOID": "IT.XX.VAL", "name": "VAL", "label": "Value", "dataType": "decimal",
                        "targetDataType": "decimal"}],
           "rows": [["30.8983333232059"], [None]]}
    (tmp_path / "xx.json").write_text(json.dumps(doc))
    _, df, _ = read_dataset_json(tmp_path / "xx.json")
    assert df["VAL"].iloc[0] == 30.8983333232059 and pd.isna(df["VAL"].iloc[1])


@pytest.mark.parametrize(("content", "message"), [
    (b"{not json", "not valid JSON"),
    (b'{"name": "LB"}', "not Dataset-JSON"),
    (b'{"datasetJSONVersion": "1.0.0", "name": "LB", "columns": []}', "1.0.0"),
    (b'{"datasetJSONVersion": "1.1.0", "name": "LB", "records": 3, "columns": [], "rows": [[], []]}',
     "'records' says 3 but the file holds 2 rows"),
    (b'{"datasetJSONVersion": "1.1.0", "name": "LB", "records": 1, "columns": '
     b'[{"itemOID": "IT.LB.A", "name": "A", "label": "A", "dataType": "string"}], "rows": [["x", "y"]]}',
     "row 1 has 2 values but there are 1 columns"),
    (b'{"datasetJSONVersion": "1.1.0", "name": "LB", "records": 1, "columns": '
     b'[{"itemOID": "IT.LB.A", "name": "A", "label": "A", "dataType": "integer"}], "rows": [[1.5]]}',
     "row 1: 1.5 is not a whole number"),
])
def test_unreadable_files_name_the_file_and_the_fault(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "lb.json"
    path.write_bytes(content)
    with pytest.raises(InputError, match=re.escape(message)) as info:
        read_dataset_json(path)
    assert "lb.json" in str(info.value)


def test_ndjson_rows_with_brackets_in_text_stay_one_per_line(study: Study, tmp_path: Path) -> None:
    """Rows are serialised a chunk at a time and split at '],['; a text value holding '],[' must not split."""
    lb = study["LB"].head(3).copy()
    lb.loc[1, "LBORRES"] = "see [1],[2]"
    write_dataset_json(lb, "LB", tmp_path / "lb.ndjson", ndjson=True, created=CREATED)
    lines = (tmp_path / "lb.ndjson").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 4
    col = [c["name"] for c in json.loads(lines[0])["columns"]].index("LBORRES")
    assert [json.loads(line)[col] for line in lines[1:]] == lb["LBORRES"].tolist()
    _, back, _ = read_dataset_json(tmp_path / "lb.ndjson")
    pd.testing.assert_frame_equal(conform("LB", back), lb.reset_index(drop=True))


# --- metaDataRef: the define.xml written beside the files ------------------------------------------------------

@pytest.mark.parametrize("partition_subjects", [0, 4])
def test_to_sdtm_json_names_the_define_xml_beside_it(schema, examples: Path, tmp_path: Path,
                                                     partition_subjects: int) -> None:
    """Dataset-JSON 1.1 metaDataRef ("URL for a metadata file describing the data"): CDISC's examples give
    "define.xml", after metaDataVersionOID. A to-sdtm json folder holds its define.xml: each file names it, whole
    or partitioned alike; an NDJSON folder (no define.xml is written there) and --no-define name none."""
    from msc_interop.api import to_sdtm

    cdisc_keys = list(json.loads((examples / "dm.json").read_text(encoding="utf-8")))
    for define in (True, False):
        out = tmp_path / f"define-{define}"
        to_sdtm(REPO / "fixtures" / "example_study", out, formats=["json", "ndjson"], define=define,
                created=CREATED, validate=False, partition_subjects=partition_subjects)
        assert (out / "json" / "define.xml").is_file() is define
        for path in sorted((out / "json").glob("*.json")):
            doc = json.loads(path.read_text(encoding="utf-8"))
            assert _errors(schema, doc) == [], path.name
            if define:
                assert doc["metaDataRef"] == "define.xml" and (path.parent / doc["metaDataRef"]).is_file()
                keys = [k for k in doc if k in cdisc_keys]
                assert keys == [k for k in cdisc_keys if k in doc], path.name  # CDISC's order
            else:
                assert "metaDataRef" not in doc, path.name
        for path in sorted((out / "ndjson").glob("*.ndjson")):
            assert "metaDataRef" not in json.loads(path.read_text(encoding="utf-8").splitlines()[0]), path.name
