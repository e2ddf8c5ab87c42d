"""Custom actions of the complaint intake bot, served by `rasa run actions`."""
