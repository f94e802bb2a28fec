"""ADaM from a Study: ADSL, ADAE, ADLB (and ADEX) derived as the safety summary derives its tables (build.py), written
as XPT v5 and Dataset-JSON 1.1 (files.py) with a Define-XML 2.1 (define.py); and back (reverse.py) so that `summary`
and every command that reads a Study take an ADaM folder.

    >>> from msc_interop.adam.build import build_adam
    >>> adam = build_adam(study)                 # {"ADSL": DataFrame, "ADAE": ..., "ADLB": ..., "ADEX": ...}

Metadata (labels, types, origins, derivations): mappings/adam_variables.yaml (ADaMIG 1.3, OCCDS 1.1). This package
imports nothing itself, so that readers can ask reverse.py whether a folder is ADaM without loading the summary.
"""
