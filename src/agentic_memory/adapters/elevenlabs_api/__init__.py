"""The ElevenLabs management API through the official `elevenlabs` SDK (optional extra `elevenlabs`).

Imported only by the `agentic-memory elevenlabs ...` commands; nothing else needs the SDK.
"""
