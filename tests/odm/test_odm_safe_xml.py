"""Untrusted XML: entity expansion (billion laughs) and external entities (XXE) are refused before anything is
read, a secret file never reaches a message or an output file, and a file over the size limit is refused."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from conftest import EXAMPLE, REPO
from msc_interop import api
from msc_interop.cli import main
from msc_interop.errors import InputError
from msc_interop.odm import read_odm, safe_xml

EXPORT = REPO / "fixtures" / "example_study_odm" / "example_study.odm.xml"
TEXT = EXPORT.read_text(encoding="utf-8")
SECRET = "TOPSECRET-c0ffee-4711"
DOCTYPE_REFUSED = "the file declares a DOCTYPE; ODM needs none"


def write_export(folder: Path, text: str, name: str = "export.odm.xml") -> Path:
    mapping = yaml.safe_load((EXPORT.parent / "odm-map.yaml").read_text(encoding="utf-8"))
    mapping["study_definition"] = str(EXAMPLE / "study.yaml")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "odm-map.yaml").write_text(yaml.safe_dump(mapping, sort_keys=False), encoding="utf-8")
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def billion_laughs() -> str:
    entities = ['  <!ENTITY lol0 "lol">'] + [
        f'  <!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)]
    body = TEXT.split("\n", 1)[1].replace('Value="UCMSC"', 'Value="&lol9;"', 1)
    return "<?xml version='1.0' encoding='UTF-8'?>\n<!DOCTYPE ODM [\n" + "\n".join(entities) + "\n]>\n" + body


def with_doctype(doctype: str, entity_use: str = "") -> str:
    body = TEXT.split("\n", 1)[1]
    if entity_use:
        body = body.replace('Value="UCMSC"', f'Value="{entity_use}"', 1)
    return f"<?xml version='1.0' encoding='UTF-8'?>\n{doctype}\n{body}"


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    path = tmp_path / "secret" / "credentials.txt"
    path.parent.mkdir()
    path.write_text(SECRET + "\n", encoding="utf-8")
    return path


def xxe_variants(secret: Path) -> dict[str, str]:
    uri = secret.as_uri()
    return {
        "general entity": with_doctype(f'<!DOCTYPE ODM [<!ENTITY xxe SYSTEM "{uri}">]>', "&xxe;"),
        "parameter entity": with_doctype(f'<!DOCTYPE ODM [<!ENTITY % p SYSTEM "{uri}"> %p;]>'),
        "external DTD": with_doctype(f'<!DOCTYPE ODM SYSTEM "{uri}">'),
        "entity in attribute of root": with_doctype(f'<!DOCTYPE ODM [<!ENTITY xxe SYSTEM "{uri}">]>').replace(
            'FileOID="MSC-INTEROP.MSC-SLE-2009"', 'FileOID="&xxe;"', 1),
    }


def test_billion_laughs_is_refused(tmp_path) -> None:
    path = write_export(tmp_path, billion_laughs())
    with pytest.raises(InputError) as err:
        api.load_study(path)
    assert str(err.value).startswith(f"export.odm.xml: {DOCTYPE_REFUSED}")
    assert "entity expansion" in str(err.value)
    assert "lol" not in str(err.value)


@pytest.mark.parametrize(("variant", "refusal"), [
    ("general entity", DOCTYPE_REFUSED),
    ("parameter entity", DOCTYPE_REFUSED),
    ("external DTD", DOCTYPE_REFUSED),
    # the prolog is read before libxml2 parses the root's start tag (where it would fail on the entity first)
    ("entity in attribute of root", DOCTYPE_REFUSED),
])
def test_xxe_is_refused_and_the_secret_never_leaks(tmp_path, secret_file, variant, refusal) -> None:
    path = write_export(tmp_path / "in", xxe_variants(secret_file)[variant])
    with pytest.raises(InputError) as err:
        read_odm(path)
    assert str(err.value).startswith(f"export.odm.xml: {refusal}")
    assert SECRET not in str(err.value)
    # the API and the command line: refused, nothing written that holds the secret
    out = tmp_path / "out"
    with pytest.raises(InputError) as err:
        api.to_sdtm(path, out, created="2026-01-01T00:00:00", validate=False)
    assert SECRET not in str(err.value)
    res = CliRunner().invoke(main, ["to-sdtm", str(path), "-o", str(out), "--no-validate"])
    assert res.exit_code == 2
    assert refusal in res.output
    assert SECRET not in res.output
    written = [p for p in out.rglob("*") if p.is_file()] if out.exists() else []
    assert not any(SECRET in p.read_text(encoding="utf-8", errors="replace") for p in written)


def test_entity_reference_without_doctype_is_not_resolved(tmp_path) -> None:
    """No DOCTYPE, an entity reference anyway: a well-formedness error at its line, never a lookup."""
    text = TEXT.replace('Value="UCMSC"', 'Value="&xxe;"', 1)
    line = next(i for i, s in enumerate(text.splitlines(), 1) if "&xxe;" in s)
    with pytest.raises(InputError, match=rf"not well-formed XML at line {line}, column \d+: Entity 'xxe' not defined"):
        read_odm(write_export(tmp_path, text))


def test_file_over_the_size_limit_is_refused(tmp_path, monkeypatch) -> None:
    path = write_export(tmp_path, TEXT)
    monkeypatch.setattr(safe_xml, "MAX_BYTES", 100_000)
    with pytest.raises(InputError) as err:
        api.load_study(path)
    size = path.stat().st_size
    assert str(err.value).startswith(f"export.odm.xml: {size:,} bytes is more than the limit of 100,000 bytes")
    assert "msc_interop.odm.safe_xml.MAX_BYTES" in str(err.value)


def test_check_size_limit_and_empty_file(tmp_path) -> None:
    path = write_export(tmp_path, TEXT)
    size = path.stat().st_size
    safe_xml.check_size(path, max_bytes=size)  # exactly at the limit is fine
    with pytest.raises(InputError, match=rf"more than the limit of {size - 1:,} bytes"):
        safe_xml.check_size(path, max_bytes=size - 1)
    empty = tmp_path / "empty.odm.xml"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match=r"empty\.odm\.xml: the file is empty"):
        safe_xml.check_size(empty)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32"])
def test_doctype_is_found_in_the_prolog_in_any_encoding(tmp_path, encoding) -> None:
    with_dt = tmp_path / "with.xml"
    with_dt.write_bytes("<?xml version='1.0'?>\n<!-- an export -->\n<!DOCTYPE ODM []>\n<ODM/>".encode(encoding))
    without = tmp_path / "without.xml"
    without.write_bytes("<?xml version='1.0'?>\n<!-- <!DOCTYPE in a comment -->\n<ODM>&lt;!DOCTYPE</ODM>".encode(
        encoding))
    assert safe_xml.declares_doctype(with_dt) is True
    assert safe_xml.declares_doctype(without) is False


def test_parser_options_stay_safe() -> None:
    """Belt and braces under the DOCTYPE refusal: the parser itself resolves nothing and fetches nothing."""
    opts = safe_xml.PARSER_OPTIONS
    assert opts["resolve_entities"] is False and opts["no_network"] is True and opts["load_dtd"] is False
    assert opts["huge_tree"] is False
