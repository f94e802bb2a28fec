"""The study's own treatments (study.yaml `products`): a placebo-controlled or multi-product study converts its
exposures, where before every product but the model study's UC-MSC (mappings/exposure.yaml) was rejected and a
placebo arm's subjects became ASSIGNED, NOT TREATED (found by a new user with a three-arm study)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

from conftest import EXAMPLE
from msc_interop import api
from msc_interop.errors import StudyDefinitionError

CREATED = "2026-01-01T00:00:00"
PRODUCTS = [{"name": "UC-MSC", "extrt": "UMBILICAL CORD MESENCHYMAL STEM CELLS", "aliases": ["UC-MSC"],
             "dose_form": "INJECTION, SUSPENSION"},
            {"name": "Placebo", "extrt": "PLACEBO", "aliases": ["saline placebo"],
             "dose_form": "INJECTION, SOLUTION"}]


def _study(tmp_path: Path, products: list[dict] | None) -> Path:
    folder = tmp_path / "records"
    shutil.copytree(EXAMPLE, folder)
    definition = yaml.safe_load((folder / "study.yaml").read_text(encoding="utf-8"))
    if products is not None:
        definition["products"] = products
    (folder / "study.yaml").write_text(yaml.safe_dump(definition, sort_keys=False, allow_unicode=True),
                                       encoding="utf-8")
    ex = pd.read_csv(folder / "exposures.csv", dtype=str, keep_default_na=False)
    first = ex.subject_id == ex.subject_id.iloc[0]
    n = int(first.sum())  # the first subject's infusions: placebo, as the data manager spelled it
    ex.loc[first, "product"] = (["Saline Placebo", "placebo"] * n)[:n]
    ex.loc[ex.index[-1], "product"] = "Aspirin"
    ex.to_csv(folder / "exposures.csv", index=False)
    return folder


def _convert(folder: Path, out: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    api.to_sdtm(folder, out, formats=["csv"], created=CREATED, validate=False)
    read = {n: pd.read_csv(out / n, dtype=str, keep_default_na=False)
            for n in ("csv/ex.csv", "rejects.csv")}
    return read["csv/ex.csv"], read["rejects.csv"]


def test_the_studys_products_are_the_treatments_ex_accepts(tmp_path: Path) -> None:
    folder = _study(tmp_path, PRODUCTS)
    ex, rejects = _convert(folder, tmp_path / "out")
    source = pd.read_csv(folder / "exposures.csv", dtype=str, keep_default_na=False)
    placebo = ex[ex.EXTRT == "PLACEBO"]
    assert len(placebo) == int(source["product"].str.upper().str.contains("PLACEBO").sum()) >= 2
    assert set(placebo.EXDOSFRM) == {"INJECTION, SOLUTION"}
    assert set(ex.EXTRT) == {"PLACEBO", "UMBILICAL CORD MESENCHYMAL STEM CELLS"}
    (rej,) = rejects.to_dict("records")
    assert (rej["form"], rej["field"], rej["value"], rej["code"]) == ("exposures", "product", "Aspirin",
                                                                       "REJ-REC-006")
    assert "not a product of the study's products (study.yaml)" in rej["reason"]
    assert len(ex) == len(source) - 1


def test_without_products_the_mapping_files_product_only(tmp_path: Path) -> None:
    folder = _study(tmp_path, None)
    ex, rejects = _convert(folder, tmp_path / "out")
    assert set(ex.EXTRT) == {"UMBILICAL CORD MESENCHYMAL STEM CELLS"}
    placebo = rejects[rejects.value.str.upper().str.contains("PLACEBO")]
    assert len(placebo) >= 2 and placebo.reason.str.contains("give the study's products in study.yaml").all()


@pytest.mark.parametrize(("products", "message"), [
    ([{**PRODUCTS[0], "dose_form": "CELLS IN A BAG"}], "products/0/dose_form: 'CELLS IN A BAG' is not a CDISC"),
    ([PRODUCTS[0], {**PRODUCTS[1], "aliases": ["uc-msc"]}], "'uc-msc' names product 'UC-MSC' and product 'Placebo'"),
])
def test_a_products_list_that_cannot_be_used_stops_naming_the_place(tmp_path: Path, products: list[dict],
                                                                    message: str) -> None:
    folder = _study(tmp_path, products)
    with pytest.raises(StudyDefinitionError, match=r"study\.yaml") as err:
        api.to_sdtm(folder, tmp_path / "out", formats=["csv"], created=CREATED, validate=False)
    assert message in str(err.value)
