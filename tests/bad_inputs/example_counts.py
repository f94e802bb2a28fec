"""What the bundled example study holds, for the bad-input cases that count its FHIR resources: one Observation per
LB (494), VS (450) and EG (275) record and per chest X-ray reading (RE, 45)."""

LB, VS, EG, RE = 494, 450, 275, 45
OBSERVATIONS = LB + VS + EG + RE
