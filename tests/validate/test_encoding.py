"""Text encoding of XPT and CSV input (sdtm/text_encoding.py): UTF-8 when valid, else Windows-1252, per file, or
--encoding; a value that is text in no candidate is a finding at its file, row and variable, never an unreadable
folder. The files are made here byte by byte: XPT v5 states no encoding, so pyreadstat writes whatever bytes it is
given, and a same-length placeholder is patched afterwards."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyreadstat
import pytest
from click.testing import CliRunner

from msc_interop import api
from msc_interop.cli import main
from msc_interop.errors import InputError
from msc_interop.sdtm.csvio import read_csv
from msc_interop.sdtm.text_encoding import read_xport, reading
from msc_interop.sdtm.xpt import read_xpt
from msc_interop.validate import validate_paths

PILOT = Path("external/cdisc-pilot-original")


def _xpt(path: Path, texts: list[bytes], label: bytes = b"Term") -> Path:
    """A one-dataset XPT (TS-like) whose TSVAL of row i holds the bytes texts[i] exactly."""
    holders = [f"#{i}#".ljust(len(t), "x") for i, t in enumerate(texts)]
    df = pd.DataFrame({"STUDYID": ["S1"] * len(texts), "DOMAIN": ["TS"] * len(texts),
                       "TSSEQ": [float(i + 1) for i in range(len(texts))], "TSPARMCD": ["TITLE"] * len(texts),
                       "TSVAL": holders})
    pyreadstat.write_xport(df, str(path), file_format_version=5, table_name="TS",
                           column_labels=["Study Identifier", "Domain Abbreviation", "Sequence Number",
                                          "Trial Summary Parameter Short Name", "Term"])
    raw = path.read_bytes()
    for holder, text in zip(holders, texts, strict=True):
        assert raw.count(holder.encode()) == 1
        raw = raw.replace(holder.encode(), text)
    raw = raw.replace(b"Term" + b" " * (40 - 4), label.ljust(40, b" "), 1)
    path.write_bytes(raw)
    return path


def test_windows_1252_xpt_reads_and_says_how(tmp_path: Path) -> None:
    path = _xpt(tmp_path / "ts.xpt", [b"Alzheimer\x92s Disease", b"plain", b"caf\xe9"])
    with reading() as log:
        name, df = read_xpt(path)
    assert name == "TS" and df["TSVAL"].tolist() == ["Alzheimer\u2019s Disease", "plain", "caf\u00e9"]
    [f] = log.files
    assert (f.encoding, f.variable, f.row, f.n_values) == ("cp1252", "TSVAL", 1, 2)
    assert log.undecodable == []


def test_utf8_xpt_is_utf8_and_quiet(tmp_path: Path) -> None:
    path = _xpt(tmp_path / "ts.xpt", ["Alzheimer\u2019s".encode(), "caf\u00e9".encode()])
    with reading() as log:
        _, df = read_xpt(path)
    assert df["TSVAL"].tolist() == ["Alzheimer\u2019s", "caf\u00e9"]
    assert log.files == [] and log.notes() == [], "valid UTF-8 is read as such at once: nothing to say"


def test_a_value_in_no_encoding_is_kept_and_located(tmp_path: Path) -> None:
    # 0x81 is undefined in Windows-1252 and not UTF-8; Latin-1 has only a control character there
    path = _xpt(tmp_path / "ts.xpt", [b"ok \x92 quote", b"odd \x81 byte"])
    report = validate_paths([tmp_path])
    [bad] = [f for f in report.findings if f.rule_id == "MSC-IO-003"]
    assert (Path(bad.file).name, bad.row_or_entry, bad.variable_or_path, bad.severity) == ("ts.xpt", 2, "TSVAL",
                                                                                           "error")
    assert bad.value == "odd \\x81 byte" and "no encoding tried" in bad.message
    assert not [f for f in report.findings if f.rule_id == "MSC-IO-001"], "the file stays readable"
    [notice] = [f for f in report.findings if f.rule_id == "MSC-IO-004"]
    assert notice.severity == "notice" and "Windows-1252" in notice.message and path.name in notice.message


def test_encoding_option_decides(tmp_path: Path) -> None:
    path = _xpt(tmp_path / "ts.xpt", [b"Alzheimer\x92s"])
    with reading("latin-1") as log:
        _, df = read_xpt(path)
    assert df["TSVAL"].iloc[0] == "Alzheimer\x92s" and log.files[0].given
    report = validate_paths([tmp_path], encoding="utf-8")  # told UTF-8: 0x92 is then text in no encoding tried
    assert [(f.rule_id, f.row_or_entry, f.value) for f in report.findings if f.rule_id.startswith("MSC-IO-00")
            ] == [("MSC-IO-003", 1, "Alzheimer\\x92s")]
    with pytest.raises(InputError, match="--encoding 'klingon'"):
        validate_paths([tmp_path], encoding="klingon")


def test_label_in_windows_1252(tmp_path: Path) -> None:
    path = _xpt(tmp_path / "ts.xpt", [b"plain"], label=b"Valeur du param\xe8tre")
    with reading():
        _, meta = read_xport(path, metadataonly=True)
    assert meta.column_names_to_labels["TSVAL"] == "Valeur du param\u00e8tre"


def test_csv_in_windows_1252(tmp_path: Path) -> None:
    path = tmp_path / "ts.csv"
    path.write_bytes(b"STUDYID,DOMAIN,TSSEQ,TSPARMCD,TSVAL\nS1,TS,1,TITLE,Alzheimer\x92s\n")
    with reading() as log:
        _name, df = read_csv(path)
    assert df["TSVAL"].tolist() == ["Alzheimer\u2019s"] and log.files[0].encoding == "cp1252"
    bom = tmp_path / "tv.csv"
    bom.write_bytes(b"\xef\xbb\xbfSTUDYID,DOMAIN\nS1,TV\n")
    assert list(read_csv(bom)[1].columns) == ["STUDYID", "DOMAIN"]


def test_to_sdtm_converts_a_windows_1252_package_and_notes_it(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    _xpt(folder / "ts.xpt", [b"Alzheimer\x92s"])
    result = api.to_sdtm(folder, tmp_path / "out", formats=["json"], validate=False)
    assert any("ts.xpt: text is not UTF-8; read as Windows-1252" in n for n in result.rejects.notes)
    assert result.study["TS"]["TSVAL"].iloc[0] == "Alzheimer\u2019s"


def test_cli_encoding_options(tmp_path: Path) -> None:
    _xpt(tmp_path / "ts.xpt", [b"Alzheimer\x92s"])
    run = CliRunner().invoke(main, ["validate", str(tmp_path), "--encoding", "nope"])
    assert run.exit_code == 2 and "--encoding 'nope'" in run.output
    run = CliRunner().invoke(main, ["validate", str(tmp_path), "--encoding", "cp1252", "--limit", "50"])
    assert "MSC-IO-004" in run.output and "MSC-IO-001" not in run.output


def test_pilot_ts_is_read_as_windows_1252(shared_dir: Path) -> None:
    report = validate_paths([shared_dir / PILOT / "ts.xpt"])
    assert not [f for f in report.findings if f.rule_id == "MSC-IO-001"]
    [notice] = [f for f in report.findings if f.rule_id == "MSC-IO-004"]
    assert (notice.row_or_entry, notice.variable_or_path) == (9, "TSVAL")
    assert notice.value == "Patients with Probable Mild to Moderate Alzheimer\u2019s Disease"


def test_mixed_encodings_are_named_at_the_first_doubtful_record(tmp_path: Path) -> None:
    """Row 1 is Windows-1252 (0x92, its apostrophe: not UTF-8), so the file is read as Windows-1252; rows 2-3 are
    UTF-8 ("É" is C3 89), which Windows-1252 reads as "Ã‰" (0xC3 Ã, 0x89 ‰): doubtful, named at row 2."""
    folder = tmp_path / "pkg"
    folder.mkdir()
    _xpt(folder / "ts.xpt", [b"Alzheimer\x92s", "R\u00c9ACTION".encode(), "\u00c9T\u00c9".encode()])
    report = validate_paths([folder])
    [mixed] = [f for f in report.findings if f.rule_id == "MSC-IO-005"]
    assert (Path(mixed.file).name, mixed.row_or_entry, mixed.variable_or_path, mixed.severity) == (
        "ts.xpt", 2, "TSVAL", "warning")
    assert mixed.value == "R\u00c3\u2030ACTION" and "'R\u00c9ACTION'" in mixed.message and "(TS)" in mixed.message
    assert "2 distinct value(s)" in mixed.message
    with reading() as log:
        read_xpt(folder / "ts.xpt")
    assert any(n.startswith("ts.xpt (TS) row 2, TSVAL: the file mixes encodings") for n in log.notes())


def test_one_encoding_per_file_is_not_doubtful(tmp_path: Path) -> None:
    _xpt(tmp_path / "ts.xpt", [b"Alzheimer\x92s", "R\u00c9ACTION".encode("cp1252")])
    with reading() as log:
        read_xpt(tmp_path / "ts.xpt")
    assert log.files[0].encoding == "cp1252" and log.doubtful == []
    with reading("cp1252") as log:  # the encoding given: nothing is guessed, nothing doubtful
        read_xpt(tmp_path / "ts.xpt")
    assert log.doubtful == []
