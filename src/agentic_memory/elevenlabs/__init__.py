"""The only package that knows ElevenLabs' wire formats."""
