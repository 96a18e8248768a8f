"""A real HTTP server that receives webhook deliveries and verifies each one as a backend would: `rtk-signature`
checked with the `cryptography` package (RSA PKCS#1 v1.5, SHA-256) against the PEM public key the endsession-server
serves at `/.well-known/webhooks.json`; and, for the secrets it was given, the Standard Webhooks headers checked with
the official `standardwebhooks` package at the moment the delivery arrives (its clock judges the timestamp).

    receiver = Receiver()
    url = receiver.url("ends", public_key_pem)         # deliveries to this URL are recorded under "ends"
    receiver.trust("ends", "first", "whsec_...")       # optional: also verify each delivery with this secret
    receiver.answer("ends", [500, 500])                # optional: the next answers; 200 once they are used up
    receiver.before_answering("ends", fn)              # optional: fn(delivery) runs before each answer is sent
    got = receiver.wait_for("ends", lambda ds: len(ds) >= 3, what="three attempts")
    got[0].standard                                    # {"first": True}: verified with that secret
"""

from __future__ import annotations

import base64
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

WAIT = 10.0  # seconds any one wait for deliveries may take


def load_public_key(pem: str) -> rsa.RSAPublicKey:
    key = serialization.load_pem_public_key(pem.encode())
    assert isinstance(key, rsa.RSAPublicKey), f"the webhook key must be RSA, got {type(key).__name__}"
    return key


def verify(key: rsa.RSAPublicKey, body: bytes, signature_b64: str) -> bool:
    """What a receiving backend does: RSA-SHA256 PKCS#1 v1.5 over the raw body bytes."""
    try:
        key.verify(base64.b64decode(signature_b64, validate=True), body, padding.PKCS1v15(), hashes.SHA256())
        return True
    except (InvalidSignature, ValueError):
        return False


def verify_standard(secret: str, body: bytes, headers: dict[str, str]) -> bool:
    """What a receiving backend does with the official `standardwebhooks` package: `webhook-signature` over
    `{webhook-id}.{webhook-timestamp}.{body}`, and the timestamp within its tolerance (five minutes) of now."""
    try:
        Webhook(secret).verify(body, headers)
        return True
    except WebhookVerificationError:
        return False


@dataclass
class Delivery:
    name: str
    headers: dict[str, str]  # lower-case names
    body: bytes
    verified: bool
    status: int  # what the receiver answered
    received_at: float = 0.0  # time.time() when it arrived
    standard: dict[str, bool] = field(default_factory=dict)  # trusted secret's label -> verified with it

    @property
    def json(self) -> dict[str, Any]:
        return json.loads(self.body)

    @property
    def event(self) -> str:
        return self.json.get("event", "")

    @property
    def uuid(self) -> str:
        return self.headers.get("rtk-uuid", "")

    def __repr__(self) -> str:
        return f"<{self.event} uuid={self.uuid} -> {self.status} verified={self.verified} {self.body[:120]!r}>"


class Receiver:
    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._keys: dict[str, rsa.RSAPublicKey] = {}
        self._answers: dict[str, list[int]] = {}
        self._got: dict[str, list[Delivery]] = {}
        self._secrets: dict[str, dict[str, str]] = {}
        self._hooks: dict[str, Callable[[Delivery], None]] = {}
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver._record(self.path, {k.lower(): v for k, v in self.headers.items()}, body, self)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def url(self, name: str, public_key_pem: str) -> str:
        """The URL that records deliveries under `name`, verified against this key."""
        with self._lock:
            self._keys[name] = load_public_key(public_key_pem)
            self._got.setdefault(name, [])
        return f"http://127.0.0.1:{self.port}/hooks/{name}"

    def trust(self, name: str, label: str, secret: str) -> None:
        """Verifies every later delivery to `name` with this Standard Webhooks secret too (result under `label`)."""
        with self._lock:
            self._secrets.setdefault(name, {})[label] = secret

    def before_answering(self, name: str, hook: Callable[[Delivery], None]) -> None:
        """Runs `hook(delivery)` for each delivery to `name` before it is recorded and answered (outside the lock: it
        may call the server), so whatever it does has happened when a `wait_for` sees the delivery."""
        with self._lock:
            self._hooks[name] = hook

    def answer(self, name: str, statuses: list[int]) -> None:
        """The statuses of the next deliveries to `name`, in order; 200 after them."""
        with self._lock:
            self._answers[name] = list(statuses)

    def _record(self, path: str, headers: dict[str, str], body: bytes, handler: BaseHTTPRequestHandler) -> None:
        name = path.rsplit("/", 1)[-1]
        received_at = time.time()
        with self._lock:
            key = self._keys.get(name)
            secrets = dict(self._secrets.get(name, {}))
            hook = self._hooks.get(name)
        verified = key is not None and verify(key, body, headers.get("rtk-signature", ""))
        standard = {label: verify_standard(secret, body, headers) for label, secret in secrets.items()}
        with self._lock:
            queue = self._answers.get(name) or []
            status = queue.pop(0) if queue else 200
            delivery = Delivery(name, headers, body, verified, status, received_at, standard)
        if hook:
            hook(delivery)
        with self._lock:
            self._got.setdefault(name, []).append(delivery)
            self._lock.notify_all()
        handler.send_response(status)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    def deliveries(self, name: str) -> list[Delivery]:
        with self._lock:
            return list(self._got.get(name, []))

    def wait_for(self, name: str, until: Callable[[list[Delivery]], bool], *, what: str,
                 timeout: float = WAIT) -> list[Delivery]:
        """Waits until `until(deliveries so far)` holds; fails with what came after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                got = list(self._got.get(name, []))
                if until(got):
                    return got
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{name}: no {what} within {timeout}s; deliveries: {got}")
                self._lock.wait(left)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
