"""Finished calls' transcripts: ``channel`` the upload endpoint, ``parse`` the transcript formats it reads."""

from channels.transcripts.channel import Transcripts

__all__ = ["Transcripts"]
