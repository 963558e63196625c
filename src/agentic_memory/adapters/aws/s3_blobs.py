"""S3BlobStore: call files in one bucket under a prefix (AGENTIC_MEMORY_BLOB_URL=s3://bucket/prefix).

Keys are the sanitised keys of `domain/keys.py` (conversation ids, never a phone number). Every object is
written with server-side encryption. The bucket may be versioned: `delete_prefix` removes every version
and delete marker under the prefix, because on a versioned bucket a plain delete only hides the data.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from agentic_memory.adapters.aws.clients import error_code, translated
from agentic_memory.domain.keys import check_key
from agentic_memory.errors import StorageError

DELETE_BATCH = 1000  # DeleteObjects takes at most 1,000 keys per call
MISSING = frozenset({"NoSuchKey", "404", "NotFound"})
EXISTS = frozenset({"PreconditionFailed", "412", "ConditionalRequestConflict"})


class S3BlobStore:
    def __init__(self, s3: Any, bucket: str, prefix: str = "", *, sse: str = "AES256",
                 kms_key_id: str = "") -> None:
        self.s3 = s3
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self._encryption: dict[str, str] = {"ServerSideEncryption": sse}
        if sse == "aws:kms" and kms_key_id:
            self._encryption["SSEKMSKeyId"] = kms_key_id

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{check_key(key)}" if self.prefix else check_key(key)

    def put(self, key: str, data: bytes) -> None:
        with translated("could not write blob"):
            self.s3.put_object(Bucket=self.bucket, Key=self._key(key), Body=bytes(data), **self._encryption)

    def put_new(self, key: str, data: bytes) -> bool:
        """Write `key` only if it does not exist yet (a conditional PUT); False when it already did."""
        with translated("could not write blob"):
            try:
                self.s3.put_object(Bucket=self.bucket, Key=self._key(key), Body=bytes(data), IfNoneMatch="*",
                                   **self._encryption)
            except ClientError as exc:
                if error_code(exc) in EXISTS:
                    return False
                raise
        return True

    def get(self, key: str) -> bytes:
        with translated("could not read blob"):
            try:
                response = self.s3.get_object(Bucket=self.bucket, Key=self._key(key))
            except ClientError as exc:
                if error_code(exc) in MISSING:
                    raise KeyError(key) from None
                raise
            return bytes(response["Body"].read())

    def delete_prefix(self, prefix: str) -> int:
        """Erase every object under `prefix` (a key prefix such as "calls/<id>/"), all versions and delete
        markers included; returns how many versions were deleted. Pages through any number of objects."""
        full = self._key(prefix.rstrip("/")) + "/"
        deleted = 0
        with translated("could not erase blobs"):
            # List from the start again after each batch rather than paging on: the next page's markers
            # would name versions that no longer exist.
            while True:
                page = self.s3.list_object_versions(Bucket=self.bucket, Prefix=full, MaxKeys=DELETE_BATCH)
                batch = [{"Key": entry["Key"], "VersionId": entry["VersionId"]}
                         for entry in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]][:DELETE_BATCH]
                if not batch:
                    return deleted
                deleted += self._delete(batch)

    def delete(self, key: str) -> bool:
        """Erase one object, every version and delete marker of exactly that key (a delete marker alone is
        not erasure on a versioned bucket); False when there was nothing."""
        full = self._key(key)
        deleted = 0
        with translated("could not erase blob"):
            while True:
                page = self.s3.list_object_versions(Bucket=self.bucket, Prefix=full, MaxKeys=DELETE_BATCH)
                batch = [{"Key": entry["Key"], "VersionId": entry["VersionId"]}
                         for entry in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]
                         if entry["Key"] == full][:DELETE_BATCH]
                if not batch:
                    return deleted > 0
                deleted += self._delete(batch)

    def _delete(self, objects: list[dict[str, str]]) -> int:
        response = self.s3.delete_objects(Bucket=self.bucket, Delete={"Objects": objects, "Quiet": True})
        errors = response.get("Errors", [])
        if errors:
            raise StorageError(f"could not erase {len(errors)} blob versions: {errors[0].get('Code', '')}")
        return len(objects)

    def ping(self) -> None:
        with translated("blob bucket unavailable"):
            self.s3.head_bucket(Bucket=self.bucket)
