"""The source databases of the connector tests serve the connection API tests too."""

from tests.connectors.conftest import my_source_db, pg_source_db

__all__ = ["my_source_db", "pg_source_db"]
