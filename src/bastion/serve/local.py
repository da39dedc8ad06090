"""A gateway on loopback in a thread of this process: for assessments, tests and notebooks.

:func:`local_gateway` serves a model with real uvicorn on ``127.0.0.1`` (a port the kernel
picks, so two never collide) in front of a given store, and stops it when the block ends:
the same application ``bastion serve`` runs, every query authenticated, checked by PRADA and
committed to the audit log before it is answered.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from bastion.exceptions import BastionError
from bastion.serve.app import GatewayConfig, create_app


class GatewayStartError(BastionError, RuntimeError):
    """The local gateway did not start listening in time."""


@dataclass(frozen=True)
class LocalGateway:
    """A running local gateway.

    Attributes:
        url: ``http://127.0.0.1:<port>``.
        app: the FastAPI application (``app.state.prada`` holds the detector's state).
        store: its key/quota/audit store.
    """

    url: str
    app: Any
    store: Any


@contextmanager
def serve_in_thread(app: Any, *, startup_timeout_s: float = 30.0) -> Iterator[str]:
    """Run the ASGI ``app`` with real uvicorn on loopback in a thread for the ``with`` block.

    The port is one the kernel picks (bound here, so two servers never collide); the block
    starts once uvicorn listens (the app's start-up has run) and the server stops after it.

    Yields:
        The server's URL, ``http://127.0.0.1:<port>``.

    Raises:
        GatewayStartError: uvicorn did not start within ``startup_timeout_s``.
    """
    import uvicorn

    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, access_log=False, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, name="bastion-gateway", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + startup_timeout_s
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise GatewayStartError(f"the local gateway did not start listening within {startup_timeout_s:g} s")
            time.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        listener.close()


@contextmanager
def local_gateway(
    model: Any, store: Any, config: GatewayConfig | None = None, *, startup_timeout_s: float = 30.0
) -> Iterator[LocalGateway]:
    """Serve ``model`` on loopback for the duration of the ``with`` block.

    Args:
        model: a bastion Model.
        store: a :class:`~bastion.serve.store.Store` (a :class:`~bastion.serve.sqlite.SQLiteStore`).
        config: the gateway's limits and PRADA settings.
        startup_timeout_s: how long to wait for uvicorn to listen.

    Yields:
        A :class:`LocalGateway`.

    Raises:
        GatewayStartError: uvicorn did not start within ``startup_timeout_s``.
    """
    app = create_app(model, store, config)
    with serve_in_thread(app, startup_timeout_s=startup_timeout_s) as url:
        yield LocalGateway(url, app, store)


__all__ = ["GatewayStartError", "LocalGateway", "local_gateway", "serve_in_thread"]
