"""ElevenLabsAudio: a call's mp3 from GET /v1/convai/conversations/{id}/audio (the xi-api-key header).

For deployments where the post_call_audio webhook cannot arrive (Lambda refuses requests over 6 MB).
"""

from __future__ import annotations

from urllib.parse import quote

from agentic_memory.errors import StorageError

MAX_AUDIO_BYTES = 200 * 1024 * 1024


class ElevenLabsAudio:
    def __init__(self, base_url: str, api_key: str, *, timeout_secs: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._headers = {"xi-api-key": api_key}
        self.timeout_secs = timeout_secs

    def fetch(self, conversation_id: str) -> bytes | None:
        import httpx  # here, in the worker: the Lambda HTTP function builds this source but never fetches

        url = f"{self.base_url}/v1/convai/conversations/{quote(conversation_id, safe='')}/audio"
        try:
            with httpx.Client(timeout=self.timeout_secs) as client, \
                    client.stream("GET", url, headers=self._headers) as response:
                if response.status_code == 404:
                    return None
                if response.status_code != 200:
                    raise StorageError(f"ElevenLabs audio: HTTP {response.status_code}")
                chunks, size = [], 0
                for chunk in response.iter_bytes():
                    size += len(chunk)
                    if size > MAX_AUDIO_BYTES:
                        raise StorageError("ElevenLabs audio: larger than the limit")
                    chunks.append(chunk)
                return b"".join(chunks)
        except httpx.HTTPError as exc:
            raise StorageError(f"ElevenLabs audio: {exc.__class__.__name__}") from exc
