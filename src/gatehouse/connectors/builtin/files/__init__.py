"""The `file` connector: CSV, JSON (nested, lines) and Excel files as streams of records."""

from gatehouse.connectors.builtin.files.connector import FileConnector
from gatehouse.connectors.builtin.files.importing import import_batches
from gatehouse.connectors.builtin.files.source import FileOptions, FileSource, open_source

__all__ = ["FileConnector", "FileOptions", "FileSource", "import_batches", "open_source"]
