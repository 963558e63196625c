"""One exception root for everything AgenticMemory raises on purpose.

AgenticMemoryError
 ├── ConfigurationError      settings are missing, placeholder or contradictory
 ├── InvalidInput            a request or payload we refuse (maps to HTTP 400)
 │    └── InvalidPhoneNumber
 ├── Unauthorized            missing/wrong key or signature (maps to HTTP 401)
 ├── NotFound                an admin request names a caller, memory or job that does not exist (404)
 ├── StorageError            the database or blob store failed (maps to HTTP 503)
 │    └── EngineUnavailable  the remote memory engine (Mem0 Cloud) failed or is unreachable
 ├── ElevenLabsApiError      the ElevenLabs API refused a request or could not be reached (CLI only)
 └── EmbeddingError          the embedding model could not be loaded or run (maps to HTTP 503)
"""


class AgenticMemoryError(Exception):
    """AgenticMemory failed."""


class ConfigurationError(AgenticMemoryError):
    """The configuration is invalid."""


class InvalidInput(AgenticMemoryError):
    """The input was rejected."""


class InvalidPhoneNumber(InvalidInput):
    """Not a phone number."""


class Unauthorized(AgenticMemoryError):
    """Authentication failed."""


class NotFound(AgenticMemoryError):
    """No such caller, memory or job."""


class StorageError(AgenticMemoryError):
    """Storage is unavailable."""


class ElevenLabsApiError(AgenticMemoryError):
    """The ElevenLabs API failed."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class EmbeddingError(AgenticMemoryError):
    """The embedding model failed."""


class EngineUnavailable(StorageError):
    """The memory engine is unavailable."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after  # seconds the engine asked us to wait (HTTP Retry-After), if any
