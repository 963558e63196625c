"""Blob stores: where raw payloads, transcripts and audio files live."""
