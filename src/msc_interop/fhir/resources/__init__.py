"""One module per FHIR resource kind: building plain dicts from SDTM columns, and reading them back."""
