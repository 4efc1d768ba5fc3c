"""The run record and its storage: the typed record of one run (run_record.py), the reader that brings
schema-1 runs up to date (schema_v1.py), the one rule between dataclasses and JSON (serial.py) and the run
folders, written atomically and read back (results.py).

Nothing is re-exported here: role packages import serial.Record for their own typed results, and the record
imports those results, so this package's modules are imported by their own names.
"""
