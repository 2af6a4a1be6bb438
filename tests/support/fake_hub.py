"""A local Hugging Face hub serving one folder as a repository at one commit, for `HF_ENDPOINT`.

Run as a script, it serves the same from inside a container (the tests' Compose hub). It answers what
huggingface_hub's snapshot_download asks: the repository's info and file tree at the commit, and
each file under /<repo>/resolve/<commit>/<path> with the commit and ETag headers the client checks. Any other
repository or revision is a 404, as on the real hub.
"""

from __future__ import annotations

import hashlib
import http.server
import json
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import unquote, urlsplit


def _git_blob_id(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _handler(repo: str, revision: str, files: dict[str, bytes]) -> type[http.server.BaseHTTPRequestHandler]:
    tree = [{"type": "file", "path": path, "size": len(data), "oid": _git_blob_id(data)}
            for path, data in sorted(files.items())]
    api = {f"/api/models/{repo}/revision/{revision}": {"id": repo, "sha": revision,
                                                        "siblings": [{"rfilename": p} for p in sorted(files)]},
           f"/api/models/{repo}/tree/{revision}": tree}
    resolve = f"/{repo}/resolve/{revision}/"

    class Hub(http.server.BaseHTTPRequestHandler):
        def _answer(self, body: bool) -> None:
            path = unquote(urlsplit(self.path).path)
            if path in api:
                data, headers = json.dumps(api[path]).encode(), {"Content-Type": "application/json"}
            elif path.startswith(resolve) and path[len(resolve):] in files:
                data = files[path[len(resolve):]]
                headers = {"Content-Type": "application/octet-stream", "X-Repo-Commit": revision,
                           "ETag": f'"{_git_blob_id(data)}"'}
            else:
                self.send_error(404)
                return
            self.send_response(200)
            for key, value in {**headers, "Content-Length": str(len(data))}.items():
                self.send_header(key, value)
            self.end_headers()
            if body:
                self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            self._answer(body=True)

        def do_HEAD(self) -> None:  # noqa: N802
            self._answer(body=False)

        def log_message(self, *args: object) -> None:
            """Quiet: pytest shows failures, not every request."""

    return Hub


def _server(folder: Path, repo: str, revision: str, address: tuple[str, int]) -> http.server.ThreadingHTTPServer:
    files = {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}
    return http.server.ThreadingHTTPServer(address, _handler(repo, revision, files))


@contextmanager
def fake_hub(folder: Path, repo: str, revision: str) -> Iterator[str]:
    """Serve `folder` as `repo` at `revision` on a loopback port; yields the endpoint URL."""
    server = _server(folder, repo, revision, ("127.0.0.1", 0))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def main(argv: list[str]) -> None:
    """`python3 fake_hub.py FOLDER REPO REVISION PORT`: serve on every address of a container, until stopped."""
    folder, repo, revision, port = argv
    _server(Path(folder), repo, revision, ("0.0.0.0", int(port))).serve_forever()


if __name__ == "__main__":
    main(sys.argv[1:])
