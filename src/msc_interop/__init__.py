"""msc-interop: move clinical-study safety data between CDISC SDTM and HL7 FHIR.

Public API (see msc_interop.api): `to_sdtm`, `load_study`, `synth`, and the `Study` hub.
"""

from msc_interop.api import ConversionResult, load_study, synth, to_sdtm
from msc_interop.errors import MscInteropError
from msc_interop.study import Study, StudyMeta

__all__ = ["ConversionResult", "MscInteropError", "Study", "StudyMeta", "load_study", "synth", "to_sdtm"]
