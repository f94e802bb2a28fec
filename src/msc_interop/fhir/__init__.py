"""SDTM <-> HL7 FHIR R4 / R5: the Study hub written as FHIR resources, and FHIR read back into a Study.

    >>> from msc_interop.fhir import write_fhir, read_fhir
    >>> result = write_fhir(study, Path("out/fhir"), version="R4", bundle="transaction", ndjson=True)
    >>> again, rejects = read_fhir([Path("out/fhir/bundle.json")])

Mapping: docs/fhir-mapping.md (HL7/CDISC Joint Mapping IG, its gaps and msc-interop's choices); R4/R5
differences: fhir/versions.py; mapping knowledge: mappings/fhir_mapping.yaml.
"""

from msc_interop.fhir.read import FhirReadReport, read_fhir
from msc_interop.fhir.validate import FastValidator, Finding, ModelValidator
from msc_interop.fhir.write import FhirWriteResult, write_fhir

__all__ = ["FastValidator", "FhirReadReport", "FhirWriteResult", "Finding", "ModelValidator", "read_fhir",
           "write_fhir"]
