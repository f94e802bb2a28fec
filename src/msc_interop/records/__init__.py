"""The data manager's side: study records (CSV folder or XLSX workbook + study definition) read and checked."""

from msc_interop.records.reader import FORMS, RawRecords, read_records

__all__ = ["FORMS", "RawRecords", "read_records"]
