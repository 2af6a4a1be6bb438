"""An HTTP server run on a thread of the test process for the length of a block."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def serving(server: http.server.HTTPServer) -> Iterator[str]:
    """Serve until the block ends, then stop and close the socket; yields the server's loopback URL."""
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
