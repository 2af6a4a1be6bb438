"""Whatever spelling of a request target a client invents, the gateway refuses every one a runtime would route to a denied route.

For each runtime, hypothesis generates request targets (percent-encodings, dot segments,
repeated and encoded slashes, case changes, absolute form, queries) and each one is routed three
ways against that runtime's full route list: by a real aiohttp server, by a real uvicorn and
Starlette server (httptools as vLLM runs it, h11 as the ONNX server runs it), and by an
emulation of Go's net/http and gin as Ollama routes it. The real gateway process, in front of
the aiohttp server, must refuse every target any of them routes to a route its table denies,
and what it forwards must route, on all three, to the route the gateway decided on.
"""

from __future__ import annotations

import asyncio
import os
import socket
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import pytest
import uvicorn
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route as StarletteRoute

from slm_deploy.servers.gateway.paths import InvalidTarget, canonical_target
from slm_deploy.servers.gateway.routes import TABLES, RouteTable
from tests.servers import go_router
from tests.servers.gateway_fixtures import KEYS, GatewayProcess
from tests.servers.raw_http import exchange, request_bytes
from tests.servers.runtime_routes import OLLAMA_REGISTRY_PATHS, UNIVERSES, Universe

EXAMPLES = int(os.environ.get("SLM_GATEWAY_PROPERTY_EXAMPLES", "150"))
ROUTE_HEADER = "X-Route"
PARAMS = {"{digest}": "sha256:0a1b", "{model}": "qwen3:1.7b", "{model:path}": "org/tiny-model",
          "{encodedKey}": "k1", "{response_id}": "resp_1", "{id_slot}": "0", "{conv_id}": "c1"}
REFUSED = {400, 401, 403, 404, 405}


@dataclass
class RouterServers:
    """Real aiohttp and uvicorn+Starlette servers for every runtime's route list, in two background threads."""

    aiohttp_ports: dict[str, int] = field(default_factory=dict)
    starlette_ports: dict[str, int] = field(default_factory=dict)
    received: dict[str, list[str]] = field(default_factory=dict)
    sockets: dict[str, socket.socket] = field(default_factory=dict)
    """The Starlette servers' listening sockets, bound to port 0 before uvicorn starts (no race for a port)."""

    def start(self) -> None:
        ready = threading.Event()
        self._aiohttp_loop = asyncio.new_event_loop()
        threading.Thread(target=self._run_aiohttp, args=(ready,), daemon=True).start()
        assert ready.wait(20)
        self._uvicorn = [self._uvicorn_server(name, universe) for name, universe in UNIVERSES.items()]
        threading.Thread(target=lambda: asyncio.run(self._serve_uvicorn()), daemon=True).start()
        for _ in range(400):
            if all(server.started for server in self._uvicorn):
                return
            threading.Event().wait(0.05)
        raise RuntimeError("uvicorn did not start")

    def stop(self) -> None:
        for server in self._uvicorn:
            server.should_exit = True
        self._aiohttp_loop.call_soon_threadsafe(self._aiohttp_loop.stop)

    # aiohttp: also the gateway's upstream, so it records every target that reaches it.
    def _aiohttp_app(self, name: str, universe: Universe) -> web.Application:
        received = self.received.setdefault(name, [])

        @web.middleware
        async def record(request: web.Request, handler):  # noqa: ANN001, ANN202
            received.append(request.raw_path)
            return await handler(request)

        app = web.Application(middlewares=[record])
        for method, pattern in universe:
            async def reached(_request: web.Request, pattern: str = pattern) -> web.Response:
                return web.Response(text="ok", headers={ROUTE_HEADER: pattern})

            app.router.add_route(method, pattern.replace(":path}", ":.+}"), reached)
        return app

    def _run_aiohttp(self, ready: threading.Event) -> None:
        loop = self._aiohttp_loop
        asyncio.set_event_loop(loop)
        for name, universe in UNIVERSES.items():
            runner = web.AppRunner(self._aiohttp_app(name, universe), access_log=None)
            loop.run_until_complete(runner.setup())
            sock = _listening_socket()
            loop.run_until_complete(web.SockSite(runner, sock).start())
            self.aiohttp_ports[name] = sock.getsockname()[1]
        ready.set()
        loop.run_forever()

    def _uvicorn_server(self, name: str, universe: Universe) -> uvicorn.Server:
        methods: dict[str, list[str]] = {}
        for method, pattern in universe:
            methods.setdefault(pattern, []).append(method)

        def endpoint(pattern: str):  # noqa: ANN202
            async def reached(_request: Request) -> PlainTextResponse:
                return PlainTextResponse("ok", headers={ROUTE_HEADER: pattern})
            return reached

        app = Starlette(routes=[StarletteRoute(p, endpoint(p), methods=m) for p, m in methods.items()])
        sock = self.sockets[name] = _listening_socket()
        self.starlette_ports[name] = sock.getsockname()[1]
        http = "h11" if name == "onnxruntime" else "httptools"  # as the ONNX server image and vLLM run uvicorn
        return uvicorn.Server(uvicorn.Config(app, http=http, lifespan="off", log_level="critical", access_log=False))

    async def _serve_uvicorn(self) -> None:
        for server in self._uvicorn:
            server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
        await asyncio.gather(*(server.serve(sockets=[self.sockets[name]])
                               for name, server in zip(UNIVERSES, self._uvicorn)))


def _listening_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    return sock


def _probe(port: int, method: str, target: str) -> str | None:
    """The route a real server reached for this exact target, or None (refused, redirected, not found)."""
    body = b"{}" if method == "POST" else b""
    try:
        response = exchange(port, request_bytes(method, target, {"Content-Type": "application/json"}, body), timeout=5)
    except (ConnectionError, OSError):
        return None
    return response.header(ROUTE_HEADER) if response.status == 200 else None


@pytest.fixture(scope="module")
def routers() -> Iterator[RouterServers]:
    servers = RouterServers()
    servers.start()
    yield servers
    servers.stop()


@pytest.fixture(scope="module")
def gateways(routers: RouterServers, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, GatewayProcess]]:
    folders = {name: tmp_path_factory.mktemp(f"gateway-{name}") for name in UNIVERSES}  # mktemp is not thread-safe

    def start(name: str) -> GatewayProcess:
        return GatewayProcess(folders[name], f"http://127.0.0.1:{routers.aiohttp_ports[name]}",
                              settings={"route_table": name, "exempt_paths": ()})

    with ThreadPoolExecutor(len(UNIVERSES)) as pool:
        futures = {name: pool.submit(start, name) for name in UNIVERSES}
    started = {name: future.result() for name, future in futures.items() if future.exception() is None}
    try:
        assert len(started) == len(UNIVERSES), [f.exception() for f in futures.values()]
        yield started
    finally:
        for process in started.values():
            process.stop()


# -- targets ----------------------------------------------------------------------------------------

DOT_SEGMENTS = ("./", "../", "%2e/", "%2E%2e/", ".%2e/", "x/../", "x/%2e%2e/", "%2e%2e%2f", "./../")
SEPARATORS = ("//", "///", "%2F", "%2f", "\\", "%5C", "/./", "/x/../", "/%2e/", "/;x/")
PREFIXES = ("http://runtime:8080", "HTTP://runtime", "http:", "x:", "//", "/..", "/%2e%2e", "/%2E")
SUFFIXES = ("/", "?a=1", "?", "#f", "%00", "%25", "/.", "/..", "%2F", ";x", "%20", "/%2e%2e")
MUTATIONS = ("lower-hex", "upper-hex", "double-encoded", "swapcase", "dots", "separator", "prefix", "suffix")


@st.composite
def request_targets(draw: st.DrawFn, universe: Universe) -> tuple[str, str]:
    """A (method, raw target) aimed at one of the runtime's routes, respelled by up to five mutations."""
    method, pattern = draw(st.sampled_from(universe))
    if draw(st.integers(0, 4)) == 4:
        method = draw(st.sampled_from(("GET", "POST", "DELETE", "HEAD", "PUT")))
    path = pattern
    for placeholder, value in PARAMS.items():
        path = path.replace(placeholder, value)
    tokens, prefix, suffix = list(path), "", ""
    for _ in range(draw(st.integers(0, 5))):
        mutation = draw(st.sampled_from(MUTATIONS))
        index = draw(st.integers(0, len(tokens) - 1))
        token = tokens[index]
        if mutation == "prefix":
            prefix = draw(st.sampled_from(PREFIXES))
        elif mutation == "suffix":
            suffix += draw(st.sampled_from(SUFFIXES))
        elif token == "/" and mutation in ("dots", "separator"):
            tokens[index] = "/" + draw(st.sampled_from(DOT_SEGMENTS)) if mutation == "dots" else draw(
                st.sampled_from(SEPARATORS))
        elif len(token) == 1 and token != "/":
            tokens[index] = {"lower-hex": f"%{ord(token):02x}", "upper-hex": f"%{ord(token):02X}",
                             "double-encoded": f"%25{ord(token):02X}", "swapcase": token.swapcase()}.get(mutation, token)
    return method, prefix + "".join(tokens) + suffix


def _allowed(table: RouteTable) -> set[tuple[str, str]]:
    return {(method, route.pattern) for route in table.routes for method in route.methods}


def _routed(name: str, routers: RouterServers, method: str, target: str) -> dict[str, str | None]:
    registry = OLLAMA_REGISTRY_PATHS if name == "ollama" else ()
    return {
        "aiohttp": _probe(routers.aiohttp_ports[name], method, target),
        "starlette": _probe(routers.starlette_ports[name], method, target),
        "go": go_router.route(UNIVERSES[name], registry, method, target),
    }


@pytest.mark.parametrize("name", sorted(UNIVERSES))
def test_the_gateway_refuses_every_target_that_any_router_would_send_to_a_denied_route(
    name: str, routers: RouterServers, gateways: dict[str, GatewayProcess]
) -> None:
    table, gateway, universe = TABLES[name], gateways[name], UNIVERSES[name]
    allowed = _allowed(table)
    received = routers.received[name]
    key = {"Authorization": f"Bearer {KEYS['alice']}", "Content-Type": "application/json"}
    denied_seen: dict[str, int] = {}

    @given(request_targets(universe))
    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
    def check(example: tuple[str, str]) -> None:
        method, target = example
        reached = _routed(name, routers, method, target)
        denied = {router: route for router, route in reached.items() if route and (method, route) not in allowed}
        before = len(received)
        body = b"{}" if method == "POST" else b""
        answer = exchange(gateway.port, request_bytes(method, target, key, body))
        forwarded = received[before:]
        for router in denied:
            denied_seen[router] = denied_seen.get(router, 0) + 1
        if denied:
            assert answer.status in REFUSED and not forwarded, (target, denied, answer.status, forwarded)
        if forwarded:
            expected = canonical_target(target)
            assert forwarded == [expected.forwarded], (target, forwarded)
            decided = table.match(expected.path)
            assert decided is not None, (target, forwarded)
            for router, route in _routed(name, routers, method, expected.forwarded).items():
                assert route in (None, decided.pattern), (target, router, route, decided.pattern)

    check()
    # Not vacuous: every router was steered to denied routes by some of the generated spellings.
    assert set(denied_seen) == {"aiohttp", "starlette", "go"}, denied_seen


def test_route_lists_and_gateway_tables_agree() -> None:
    """Every route a table allows or calls model management exists in that runtime's own router."""
    for name, table in TABLES.items():
        patterns = {pattern for _, pattern in UNIVERSES[name]}
        assert {route.pattern for route in table.routes} <= patterns, name
        assert set(table.management) <= patterns | set(OLLAMA_REGISTRY_PATHS), name


def test_the_emulated_go_router_reaches_what_ollama_would() -> None:
    """Cases read off net/url, ServeMux and gin by hand, so the emulation itself is checked."""
    universe, registry = UNIVERSES["ollama"], OLLAMA_REGISTRY_PATHS
    expectations = {
        ("POST", "/api/%70ull"): "/api/pull",  # Path is decoded once before routing
        ("POST", "/api%2Fpull"): "/api/pull",  # even '/', and ServeMux cleans only the escaped form
        ("POST", "http:/api/pull"): "/api/pull",  # a scheme without an authority still has a path
        ("POST", "http://runtime:11434/api/chat"): "/api/chat",
        ("POST", "/api//pull"): None,  # ServeMux redirects to the cleaned path
        ("POST", "/v1/../api/pull"): None,
        ("POST", "/api/%2e%2e/api/pull"): None,  # not cleaned (escaped), and gin has no such route
        ("POST", "/api/PULL"): None,  # gin matches case exactly (RedirectFixedPath is off)
        ("POST", "/api/pull/"): None,  # gin answers with a trailing-slash redirect
        ("GET", "/api/pull"): "/api/pull",  # registry.Local takes any method
        ("POST", "/api/p%zzull"): None,  # invalid escape: 400
        ("GET", "/v1/models/qwen3:1.7b"): "/v1/models/{model}",
    }
    for (method, target), expected in expectations.items():
        assert go_router.route(universe, registry, method, target) == expected, target
    with pytest.raises(InvalidTarget):
        canonical_target("/api%2Fpull")
