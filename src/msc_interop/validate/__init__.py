"""Conformance validation: SDTM (SDTMIG 3.4, CDISC CT, XPT v5, Dataset-JSON 1.1, Define-XML 2.1) and FHIR R4/R5.

Rules are data (mappings/validation_rules.yaml: id, severity, scope, what it applies to, message, citation)
plus small functions registered by id; every finding names the rule and the exact place (file, dataset or
resource, row or entry, USUBJID, --SEQ, variable or FHIRPath, value). One `Report` holds them all and renders
to the console, JSON, CSV and HTML.

    >>> from msc_interop.validate import validate_paths, exit_code
    >>> report = validate_paths([Path("out/sdtm")], fhir_version="R4")      # doctest: +SKIP
    >>> report.to_html("validation.html"); exit_code(report, "error")        # doctest: +SKIP
    0
"""

from msc_interop.validate.engine import HANDLERS, validate_paths, validate_study
from msc_interop.validate.fhir_rules import FHIR_HOOKS, fhir_rules, register_fhir_hook
from msc_interop.validate.model import Finding, RuleMeta, Scope, Severity
from msc_interop.validate.partitioned import validate_partitions
from msc_interop.validate.registry import get_rule, list_rules, rule
from msc_interop.validate.report import FAIL_ON_LEVELS, Report, exit_code

__all__ = [
    "FAIL_ON_LEVELS",
    "FHIR_HOOKS",
    "HANDLERS",
    "Finding",
    "Report",
    "RuleMeta",
    "Scope",
    "Severity",
    "exit_code",
    "fhir_rules",
    "get_rule",
    "list_rules",
    "register_fhir_hook",
    "rule",
    "validate_partitions",
    "validate_paths",
    "validate_study",
]
