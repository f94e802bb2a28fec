"""The proxy of a spilled dataset: every distinct value where values count one by one, one row per value
shape elsewhere (so a 10M-row LB's proxy stays small)."""

import pandas as pd

from msc_interop.sdtm.spill import representative_rows


def _lb(**cols) -> pd.DataFrame:
    base = {"STUDYID": "S", "DOMAIN": "LB", "USUBJID": "S-01", "LBTESTCD": "HGB", "LBTEST": "Hemoglobin",
            "LBORRES": "5.1", "LBORRESU": "g/dL", "LBNAM": "Lab 1"}
    n = max(len(v) for v in cols.values())
    return pd.DataFrame({k: cols.get(k, [v] * n) for k, v in base.items()})


def test_results_of_one_shape_collapse_units_and_lab_names_do_not():
    df = _lb(LBORRES=["5.1", "6.2", "7.3", "12.5"])  # three of shape 9.9, one of 99.9
    assert representative_rows(df, "LB")["LBORRES"].tolist() == ["5.1", "12.5"]
    units = _lb(LBORRESU=["10^9/L", "10^12/L", "20^9/L"])  # UNIT has a codelist: every value
    assert representative_rows(units, "LB")["LBORRESU"].tolist() == ["10^9/L", "10^12/L", "20^9/L"]
    labs = _lb(LBNAM=["Lab 1", "Lab 2", "Lab 3"])  # each lab is a FHIR Organization: every value
    assert representative_rows(labs, "LB")["LBNAM"].tolist() == ["Lab 1", "Lab 2", "Lab 3"]


def test_site_ids_kept_by_value_and_values_per_test():
    dm = pd.DataFrame({"STUDYID": "S", "DOMAIN": "DM", "USUBJID": ["S-1", "S-2", "S-3"],
                       "SITEID": ["01", "02", "01"]})
    assert representative_rows(dm, "DM")["SITEID"].tolist() == ["01", "02"]
    per_test = _lb(LBTESTCD=["HGB", "WBC", "WBC"], LBORRES=["5.1", "6.2", "7.3"])
    # one row per (test, result shape): HGB 9.9 and WBC 9.9 both kept, WBC's second 9.9 not
    assert representative_rows(per_test, "LB")["LBORRES"].tolist() == ["5.1", "6.2"]
