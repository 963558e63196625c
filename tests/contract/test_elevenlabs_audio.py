"""ElevenLabsAudio against a fake ElevenLabs API over real HTTP on 127.0.0.1."""

from __future__ import annotations

import pytest

from agentic_memory.adapters.elevenlabs_audio import ElevenLabsAudio
from agentic_memory.errors import StorageError
from tests.aws_events import FakeElevenLabs
from tests.aws_server import free_port


def test_audio_is_fetched_missing_audio_is_none_and_failures_raise() -> None:
    fake = FakeElevenLabs()
    try:
        fake.audio["conv_1"] = b"ID3mp3"
        fake.failing.add("conv_2")
        source = ElevenLabsAudio(fake.url, "xi_key_0123456789abcdef", timeout_secs=5)
        assert source.fetch("conv_1") == b"ID3mp3"
        assert fake.keys == ["xi_key_0123456789abcdef"]
        assert source.fetch("conv_unknown") is None
        with pytest.raises(StorageError, match="500"):
            source.fetch("conv_2")
        with pytest.raises(StorageError):
            ElevenLabsAudio(f"http://127.0.0.1:{free_port()}", "k", timeout_secs=2).fetch("conv_1")
    finally:
        fake.close()
