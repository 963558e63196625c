"""AgenticMemory: per-caller memory for ElevenLabs voice agents."""

__version__ = "0.1.0"
