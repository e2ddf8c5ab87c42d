"""What the record is read for: the complaint analysis of a period, the monthly register (记录表) and the hot-spot
warning, with their files (HTML, CSV, PDF, charts)."""
