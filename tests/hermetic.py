"""No test goes online: a guard that answers every request a library makes at once, without the
network.

`install(attempts)` replaces the `send` of the HTTP clients the Hugging Face libraries ask through
(httpx for huggingface_hub 1.x, httpx2 for 2.x, requests for 0.x, aiohttp for fsspec's http) and
urllib's opener with a refusal that notes the URL in `attempts` and raises `NetworkRefused` there,
before any name lookup or connection: so a library's request fails in microseconds whatever the
machine's network and resolver do (on a machine where connections hang, a guard at Python's sockets
alone left a test waiting over a minute). `NetworkRefused` is none of the clients' own error types,
so no retry-with-backoff loop of theirs takes it for a flaky network and sleeps.

Below that, Python's sockets are a backstop: with `sockets="refuse"` a connection or a name lookup
for anything but this machine (loopback, Unix sockets: torchrun's store, multiprocessing) is refused
and noted; with `sockets="observe"` it is only noted, then passed on (a test that shows the clients'
guard alone suffices, on a network simulated to hang).
"""

from __future__ import annotations

import functools
import importlib
import socket

LOCAL_HOSTS = {None, "", "localhost", "127.0.0.1", "::1", "0.0.0.0"}
CLIENTS = {
    "httpx": ("Client", "AsyncClient"),
    "httpx2": ("Client", "AsyncClient"),
    "requests": ("Session",),
    "aiohttp": ("ClientSession",),
}


class NetworkRefused(ConnectionRefusedError):
    """A test asked for the network."""


def _url(args, kwargs) -> str:
    for value in (*args, *kwargs.values()):
        url = getattr(value, "url", None) or getattr(value, "full_url", None)
        if url is not None:
            return str(url)
        if isinstance(value, str) and "://" in value:
            return value
    return "?"


def install(attempts: list, sockets: str = "refuse") -> None:
    """Guard this process (see the module's docstring); `attempts` collects ("http" | "socket",
    what) pairs."""

    def refuse(*args, **kwargs):
        url = _url(args[1:], kwargs)
        attempts.append(("http", url))
        raise NetworkRefused(f"a test asked for the network: {url}")

    async def refuse_async(*args, **kwargs):
        refuse(*args, **kwargs)

    for module_name, class_names in CLIENTS.items():
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        for class_name in class_names:
            cls = getattr(module, class_name, None)
            method = "_request" if module_name == "aiohttp" else "send"
            if cls is not None and hasattr(cls, method):
                is_async = class_name.startswith("Async") or module_name == "aiohttp"
                setattr(cls, method, refuse_async if is_async else refuse)
    import urllib.request

    urllib.request.OpenerDirector.open = refuse

    def local(address) -> bool:
        if isinstance(address, (str, bytes)):  # a Unix socket's path
            return True
        return isinstance(address, tuple) and address[0] in LOCAL_HOSTS

    def guard(original, what, address_of):
        @functools.wraps(original)
        def guarded(*args, **kwargs):
            address = address_of(args)
            if local(address):
                return original(*args, **kwargs)
            attempts.append(("socket", f"{what} {address!r}"))
            if sockets == "refuse":
                if what == "getaddrinfo":
                    raise socket.gaierror(socket.EAI_NONAME, f"a test looked up {address[0]!r}")
                raise NetworkRefused(f"a test connected to {address!r}")
            return original(*args, **kwargs)

        return guarded

    socket.socket.connect = guard(socket.socket.connect, "connect", lambda a: a[1])
    socket.socket.connect_ex = guard(socket.socket.connect_ex, "connect_ex", lambda a: a[1])
    socket.getaddrinfo = guard(socket.getaddrinfo, "getaddrinfo", lambda a: (a[0],))
    socket.create_connection = guard(socket.create_connection, "create_connection", lambda a: a[0])
