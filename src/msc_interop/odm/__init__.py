"""CDISC ODM 1.3.x: EDC exports read as study records (reader), mapping proposals (propose), and an exporter
that renders study records as ODM (export: the bundled example's ODM fixture and the benchmark's input)."""

from msc_interop.odm.reader import default_mapping_path, is_odm, read_odm

__all__ = ["default_mapping_path", "is_odm", "read_odm"]
