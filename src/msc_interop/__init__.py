"""msc-interop: move clinical-study safety data between CDISC SDTM and HL7 FHIR.

Public API (see msc_interop.api): `to_sdtm`, `load_study`, `synth`, and the `Study` hub.
"""

from msc_interop.runtime import keep_python_strings

keep_python_strings()  # before any column is made (runtime.py says why)

from msc_interop.api import ConversionResult, load_study, synth, to_sdtm  # noqa: E402
from msc_interop.errors import MscInteropError  # noqa: E402
from msc_interop.study import Study, StudyMeta  # noqa: E402

__all__ = ["ConversionResult", "MscInteropError", "Study", "StudyMeta", "load_study", "synth", "to_sdtm"]
