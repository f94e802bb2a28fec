"""SDTM: building DM, EX, AE, LB from study records, and SDTM file formats (XPT, Dataset-JSON, CSV, Define-XML)."""
