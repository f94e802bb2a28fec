"""Talking to FHIR servers: `push` (load a study idempotently) and `pull` (search it back into SDTM).

client.py  HTTP (httpx): timeouts, retries of 429/502/503/504 honouring Retry-After, bearer token, paging
tags.py    the study and content-hash meta.tags that let a reload tell unchanged from changed
source.py  the FHIR resources of a push's INPUT (records / SDTM through to-fhir, or FHIR files)
state.py   the checkpoint of an interrupted push and the state of --since-last-run
push.py    compare with the server, send what changed in chunks, prune, report, Provenance
pull.py    search with paging into NDJSON, then from-fhir
See docs/fhir-servers.md.
"""
