"""Tests of the bot project that run in its own environment (see README "Tests")."""
