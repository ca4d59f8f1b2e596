"""Exit 0 if the server of a database or Redis URL accepts TCP connections, else 1."""

import socket
import sys
from urllib.parse import urlsplit

DEFAULT_PORTS = {"postgresql": 5432, "redis": 6379}

url = urlsplit(sys.argv[1])
scheme = url.scheme.split("+")[0]
host = url.hostname or "127.0.0.1"
port = url.port or DEFAULT_PORTS.get(scheme, 0)
try:
    socket.create_connection((host, port), timeout=2).close()
except OSError:
    sys.exit(1)
