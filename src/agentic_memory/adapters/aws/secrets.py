"""Settings from Secrets Manager: a JSON object of setting names -> values, merged over the environment.

The Lambda functions get AGENTIC_MEMORY_SECRET_ARN (never the secrets themselves) in their environment.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from agentic_memory.adapters.aws.clients import client, translated
from agentic_memory.errors import ConfigurationError

SECRET_ARN = "AGENTIC_MEMORY_SECRET_ARN"  # noqa: S105 - the name of a setting, not a secret
PREFIXES = ("ELEVENLABS_", "AGENTIC_MEMORY_")


def secret_settings(environ: Mapping[str, str]) -> dict[str, str]:
    """The settings held by the secret `environ[AGENTIC_MEMORY_SECRET_ARN]` names ({} when unset)."""
    arn = environ.get(SECRET_ARN, "").strip()
    if not arn:
        return {}
    manager = client("secretsmanager", endpoint_url=environ.get("AGENTIC_MEMORY_AWS_ENDPOINT_URL", ""))
    with translated("could not read the settings secret"):
        text = manager.get_secret_value(SecretId=arn)["SecretString"]
    try:
        values = json.loads(text)
    except ValueError:
        raise ConfigurationError(f"{SECRET_ARN}: the secret is not a JSON object") from None
    if not isinstance(values, dict):
        raise ConfigurationError(f"{SECRET_ARN}: the secret is not a JSON object")
    return {str(k): str(v) for k, v in values.items() if str(k).startswith(PREFIXES) and v is not None}
