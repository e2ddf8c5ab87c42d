"""The gateway: app factory, settings, router, Rasa client, agent API, CLI and supervisor."""
