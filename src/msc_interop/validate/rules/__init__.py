"""Every validate rule: importing this package registers them all (each module's @rule functions enter the
registry when the module is imported; the registry itself imports no rule module).

- sdtm_context: SdtmContext, what the SDTM rules (scope "sdtm") read, and the helpers they share
- sdtm_variables, sdtm_dates, sdtm_findings, sdtm_events, sdtm_subjects: the SDTM rules by topic (variables, CT
  and identifiers; dates,
  study days and visits; findings results and test codes); sdtm_standard: the SDTMIG version used; sdtm_vs: the
  VS domain (units, plausible values, conversions); sdtm_ecg: EG; sdtm_prmh: MH, PR and the chest X-ray readings
  (RE)
- sdtm_cmds: the CM, DS and SV domain rules
- sdtm_dm: DM arms against TA (and TA's ARMCD/ARM one-to-one), AGE
- sdtm_ig_tables: the variables a standard domain may hold (SDTMIG 3.4 tables: Model Permissible added, not in
  the SDTM model)
- encoding: the findings of how XPT/CSV text was decoded (raised by the engine as it reads)
- define: define.xml against its XSD and the datasets beside it (scope "define")
- files: one SDTM file as stored, XPT v5 and Dataset-JSON 1.1 (scopes "xpt", "datasetjson")
- adam: the ADaM datasets of a to-adam output folder (scope "adam")
- odm: an ODM export against the ODM 1.3.2 XSD (MSC-REC-002); it registers nothing, so it is imported only
  where it runs (engine, for an ODM input)
- msc_interop.validate.fhir_rules, kept beside the engine: the FHIR rules (scope "fhir")
"""

from msc_interop.validate import fhir_rules
from msc_interop.validate.rules import (
    adam,
    define,
    files,
    sdtm_cmds,
    sdtm_dates,
    sdtm_dm,
    sdtm_ecg,
    sdtm_events,
    sdtm_findings,
    sdtm_ig_tables,
    sdtm_prmh,
    sdtm_standard,
    sdtm_subjects,
    sdtm_variables,
    sdtm_vs,
)
from msc_interop.validate.rules.define import DefineContext
from msc_interop.validate.rules.files import JsonFile, XptFile
from msc_interop.validate.rules.sdtm_context import SdtmContext

__all__ = ["DefineContext", "JsonFile", "SdtmContext", "XptFile", "adam", "define", "fhir_rules", "files", "sdtm_cmds",
           "sdtm_dates", "sdtm_dm", "sdtm_ecg", "sdtm_events", "sdtm_findings", "sdtm_ig_tables", "sdtm_prmh",
           "sdtm_standard", "sdtm_subjects", "sdtm_variables", "sdtm_vs"]
