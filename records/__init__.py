"""The system of record: every case in SQL for the retention period, with search, export, the register and the
quarterly analysis (``reports``), and the Alembic migrations. It builds on the case as ``handoff`` shapes it."""
