"""Custom NLU components of the complaint bot's pipeline (see config.yml)."""
