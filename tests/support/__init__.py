"""Shared test servers and clients: real servers started as processes, and doubles that speak real protocols."""
