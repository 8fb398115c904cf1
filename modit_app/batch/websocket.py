"""A minimal RFC 6455 websocket client (text and binary frames, ping/pong) for ComfyUI's /ws progress events."""
import base64
import json
import os
import socket
import struct
import urllib.parse


class WebSocketClosed(ConnectionError):
    """The server closed the websocket."""


class WebSocket:
    """Blocking client: `recv()` returns str for text frames and bytes for binary ones (ComfyUI previews)."""

    def __init__(self, url: str, timeout: float = 30.0):
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("ws", "http"):
            raise ValueError(f"{url}: only plain ws:// / http:// servers are supported")
        port = parts.port or 80
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        self.sock = socket.create_connection((parts.hostname, port), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        request = (f"GET {path} HTTP/1.1\r\nHost: {parts.hostname}:{port}\r\nUpgrade: websocket\r\n"
                   f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n")
        self.sock.sendall(request.encode())
        response = b""
        while b"\r\n\r\n" not in response:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise WebSocketClosed(f"{url}: connection closed during the websocket handshake")
            response += chunk
        header, self._buffer = response.split(b"\r\n\r\n", 1)
        status = header.split(b"\r\n", 1)[0].decode(errors="replace")
        if " 101 " not in status:
            raise ConnectionError(f"{url}: websocket upgrade refused: {status}")

    def settimeout(self, seconds: float | None) -> None:
        self.sock.settimeout(seconds)

    def _read(self, n: int) -> bytes:
        while len(self._buffer) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise WebSocketClosed("websocket closed by the server")
            self._buffer += chunk
        data, self._buffer = self._buffer[:n], self._buffer[n:]
        return data

    def _send(self, opcode: int, payload: bytes) -> None:
        mask = os.urandom(4)
        length = len(payload)
        if length < 126:
            header = struct.pack("!BB", 0x80 | opcode, 0x80 | length)
        elif length < 1 << 16:
            header = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, length)
        else:
            header = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, length)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(header + mask + masked)

    def recv(self):
        """The next whole message (fragments joined); answers pings; raises WebSocketClosed on close."""
        message, message_opcode = b"", None
        while True:
            first, second = self._read(2)
            final, opcode = first & 0x80, first & 0x0F
            length = second & 0x7F
            if length == 126:
                length = struct.unpack("!H", self._read(2))[0]
            elif length == 127:
                length = struct.unpack("!Q", self._read(8))[0]
            mask = self._read(4) if second & 0x80 else None
            payload = self._read(length)
            if mask:
                payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
            if opcode == 0x8:
                raise WebSocketClosed("websocket closed by the server")
            if opcode == 0x9:
                self._send(0xA, payload)
                continue
            if opcode == 0xA:
                continue
            if opcode in (0x1, 0x2):
                message_opcode = opcode
            message += payload
            if final:
                return message.decode() if message_opcode == 0x1 else message

    def recv_json(self):
        """The next text message parsed as JSON (binary preview frames are skipped)."""
        while True:
            message = self.recv()
            if isinstance(message, str):
                return json.loads(message)

    def close(self) -> None:
        try:
            self._send(0x8, b"")
        except OSError:
            pass
        self.sock.close()
