"""LB <-> Observation (category laboratory): building in write.py, reading in read.py."""

from msc_interop.fhir.resources.lab.read import Flattener, read_observations
from msc_interop.fhir.resources.lab.write import build_chunk, build_observations

__all__ = ["Flattener", "build_chunk", "build_observations", "read_observations"]
