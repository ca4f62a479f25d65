"""File imports: POST /pip/import and `gatehouse import`, recorded as sync runs."""
