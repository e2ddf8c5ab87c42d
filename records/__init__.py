"""The system of record: every case in SQL for the retention period, with search, export, the register and the
quarterly analysis (``reports``), the Alembic migrations, and recovery of Redis's working state from it.

It builds on the case as ``handoff`` shapes it; ``handoff`` knows nothing of it (``handoff.cases.SystemOfRecord``
says what the desk asks of a record), and only ``gateway`` wires the two together.
"""
