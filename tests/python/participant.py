"""A participant's WebSocket, speaking the frames of protocol/src/frames.rs, for tests.

    p = Participant.join(server.ws_url, token)      # connects, sends join, waits for `joined`
    p.wait_for("roomLeft")                           # -> the frame as a dict, or AssertionError after a timeout

Every wait has a timeout; a closed socket or a timeout fails with the frames seen so far in the message.
"""

from __future__ import annotations

import json
import time
from typing import Any, Optional

from websockets.exceptions import ConnectionClosed, InvalidHandshake
from websockets.sync.client import ClientConnection, connect

FRAME_TIMEOUT = 5.0  # seconds to wait for any one frame
PROTOCOL_VERSION = 1


class Participant:
    def __init__(self, ws_url: str, token: str, label: str = "participant"):
        self.ws_url = ws_url
        self.token = token
        self.label = label
        self.frames: list[dict[str, Any]] = []  # every frame received, in order
        self._unread: list[dict[str, Any]] = []  # received but not yet returned by wait_for
        self.closed = False
        self.joined: Optional[dict[str, Any]] = None
        try:
            self.ws: ClientConnection = connect(
                ws_url, open_timeout=FRAME_TIMEOUT, close_timeout=1, proxy=None, compression=None, max_size=2**22,
                legacy=True,
            )
        except (OSError, TimeoutError, InvalidHandshake) as e:
            raise AssertionError(f"{label}: could not open a WebSocket to {ws_url}: {e!r}") from None

    # --- constructors --------------------------------------------------------------------------------------------

    @classmethod
    def connect(cls, ws_url: str, token: str, label: str = "participant") -> "Participant":
        """Connects and sends `join`; does not wait for the answer."""
        p = cls(ws_url, token, label)
        p.send({"type": "join", "token": token, "version": PROTOCOL_VERSION})
        return p

    @classmethod
    def join(cls, ws_url: str, token: str, label: str = "participant", timeout: float = FRAME_TIMEOUT) -> "Participant":
        """Connects, sends `join` and waits for `joined`."""
        p = cls.connect(ws_url, token, label)
        p.joined = p.wait_for("joined", timeout=timeout)
        return p

    # --- io ------------------------------------------------------------------------------------------------------

    @property
    def session_id(self) -> str:
        assert self.joined is not None, f"{self.label} has not joined"
        return self.joined["sessionId"]

    def send(self, frame: dict[str, Any] | str) -> None:
        self.ws.send(frame if isinstance(frame, str) else json.dumps(frame))

    def leave(self) -> None:
        self.send({"type": "leave"})

    def _recv(self, timeout: float) -> Optional[dict[str, Any]]:
        """One frame, or None on timeout. Raises ConnectionClosed when the socket is closed."""
        try:
            raw = self.ws.recv(timeout=timeout)
        except TimeoutError:
            return None
        try:
            frame = json.loads(raw)
        except (TypeError, ValueError):
            raise AssertionError(f"{self.label}: server sent a frame that is not JSON: {raw!r}") from None
        assert isinstance(frame, dict) and isinstance(frame.get("type"), str), (
            f"{self.label}: server sent a frame without a string `type`: {raw!r}"
        )
        self.frames.append(frame)
        return frame

    def wait_for(self, kind: str, timeout: float = FRAME_TIMEOUT, **match: Any) -> dict[str, Any]:
        """The first frame of type `kind` (whose top-level fields equal `match`) not returned before; frames of
        other types stay available to later waits. Fails if the socket closes first or nothing comes within `timeout` seconds."""
        for i, frame in enumerate(self._unread):
            if frame["type"] == kind and all(frame.get(k) == v for k, v in match.items()):
                del self._unread[i]
                return frame
        deadline = time.monotonic() + timeout
        want = f"`{kind}`" + (f" with {match}" if match else "")
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{self.label}: no {want} frame within {timeout}s; frames so far: {self.frames}")
            if self.closed:
                raise AssertionError(f"{self.label}: socket closed before a {want} frame; frames: {self.frames}")
            try:
                frame = self._recv(left)
            except ConnectionClosed as e:
                self.closed = True
                raise AssertionError(
                    f"{self.label}: socket closed ({e}) before a {want} frame; frames: {self.frames}"
                ) from None
            if frame is None:
                continue
            if frame["type"] == kind and all(frame.get(k) == v for k, v in match.items()):
                return frame
            self._unread.append(frame)

    def wait_closed(self, timeout: float = FRAME_TIMEOUT) -> list[dict[str, Any]]:
        """Waits until the server closes the socket; returns the frames that came meanwhile."""
        deadline = time.monotonic() + timeout
        got: list[dict[str, Any]] = []
        while not self.closed:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{self.label}: socket still open after {timeout}s; frames: {self.frames}")
            try:
                frame = self._recv(left)
            except ConnectionClosed:
                self.closed = True
                break
            if frame is not None:
                got.append(frame)
                self._unread.append(frame)
        return got

    def frames_of(self, kind: str) -> list[dict[str, Any]]:
        return [f for f in self.frames if f["type"] == kind]

    def close(self) -> None:
        try:
            self.ws.close()
        except Exception:
            pass
        self.closed = True


class Crowd:
    """The participants a test opened, closed at the end of the test whatever happens."""

    def __init__(self, ws_url: str):
        self.ws_url = ws_url
        self.all: list[Participant] = []

    def join(self, token: str, label: str = "participant", timeout: float = FRAME_TIMEOUT) -> Participant:
        p = Participant.connect(self.ws_url, token, label)
        self.all.append(p)
        p.joined = p.wait_for("joined", timeout=timeout)
        return p

    def connect(self, token: str, label: str = "participant") -> Participant:
        p = Participant.connect(self.ws_url, token, label)
        self.all.append(p)
        return p

    def close(self) -> None:
        for p in self.all:
            p.close()
