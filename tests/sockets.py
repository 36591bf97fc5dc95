"""A listening socket for a test's server (the browser tests' live server, the crash test's server process)."""

from __future__ import annotations

import socket


def listening_socket() -> socket.socket:
    """A socket bound to a port the kernel picks on 127.0.0.1, already listening. The server is handed the socket
    itself, so no other process (another xdist worker's server, docs/tests.md) can take the port between choosing it
    and binding it; connections made before the server accepts wait in its backlog."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    return sock
