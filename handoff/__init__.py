"""The handler's desk: cases, the agent queue, deadlines, risk and the audit trail."""
