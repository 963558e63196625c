"""Lambda events built like the real ones: API Gateway HTTP API (payload 2.0) and SQS batches, and a fake
ElevenLabs conversation-audio endpoint over real HTTP on 127.0.0.1."""

from __future__ import annotations

import base64
import http.server
import threading
import time
from typing import Any


def http_event(path: str, body: bytes, headers: dict[str, str], *, base64_body: bool,
               method: str = "POST") -> dict[str, Any]:
    """An API Gateway v2 event as API Gateway delivers it to Lambda (see Mangum's tests and AWS's docs)."""
    now = time.time()
    return {
        "version": "2.0", "routeKey": f"{method} {path}", "rawPath": path, "rawQueryString": "",
        "headers": {"content-type": "application/json", "host": "abc123.execute-api.us-east-1.amazonaws.com",
                    "user-agent": "ElevenLabs/1.0", "x-forwarded-for": "203.0.113.9", "x-forwarded-port": "443",
                    "x-forwarded-proto": "https", **{k.lower(): v for k, v in headers.items()}},
        "requestContext": {
            "accountId": "123456789012", "apiId": "abc123", "domainName": "abc123.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "abc123", "http": {"method": method, "path": path, "protocol": "HTTP/1.1",
                                                "sourceIp": "203.0.113.9", "userAgent": "ElevenLabs/1.0"},
            "requestId": f"req-{now}", "routeKey": f"{method} {path}", "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)), "timeEpoch": int(now * 1000)},
        "body": base64.b64encode(body).decode() if base64_body else body.decode(),
        "isBase64Encoded": base64_body,
    }


def response_body(response: dict[str, Any]) -> bytes:
    raw = response.get("body", "")
    return base64.b64decode(raw) if response.get("isBase64Encoded") else raw.encode()


def sqs_event(messages: list[dict[str, Any]], queue_arn: str) -> dict[str, Any]:
    """The event Lambda's SQS event source builds from received messages."""
    return {"Records": [{
        "messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
        "attributes": {"ApproximateReceiveCount": m.get("Attributes", {}).get("ApproximateReceiveCount", "1"),
                       "SentTimestamp": str(int(time.time() * 1000))},
        "messageAttributes": {}, "md5OfBody": m.get("MD5OfBody", ""), "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn, "awsRegion": "us-east-1"} for m in messages]}


class FakeElevenLabs:
    """GET /v1/convai/conversations/{id}/audio: `audio[id]` -> 200, `failing` -> 500, else 404."""

    def __init__(self) -> None:
        self.audio: dict[str, bytes] = {}
        self.failing: set[str] = set()
        self.keys: list[str] = []
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                fake.keys.append(self.headers.get("xi-api-key", ""))
                parts = self.path.strip("/").split("/")
                cid = parts[3] if len(parts) == 5 and parts[4] == "audio" else ""
                status, body = (500, b"") if cid in fake.failing else (
                    (200, fake.audio[cid]) if cid in fake.audio else (404, b'{"detail":"not found"}'))
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args: Any) -> None:
                return None

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
