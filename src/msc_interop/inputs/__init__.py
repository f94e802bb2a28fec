"""The one input door: what a path holds (`inputs.kinds`) and the Study read from it (`inputs.load`).

Every command and `validate` ask these two modules, so a kind of input is recognised, and the tool's own report
files are skipped, the same way everywhere. A new input format adds its detection to `kinds` and its reader
to `load`.
"""
