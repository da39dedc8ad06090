"""``bastion serve``: put the gateway in front of a saved model (imports the serve extra lazily)."""

from __future__ import annotations

import logging
import os
import socket
from pathlib import Path
from typing import Annotated

import typer

from bastion.cli.app import app
from bastion.cli.common import TrustCodeOption, TrustTypeOption, console, reported_errors
from bastion.cli.keys import DEFAULT_DB, DbOption
from bastion.exceptions import ValidationError
from bastion.validation import check_choice, check_scalar

WORKER_HEALTHCHECK_S = 120
PRADA_WORKERS_WARNING = (
    "each of the {workers} workers keeps its own PRADA state and sees only the share of a key's queries it answers, "
    "so an extraction alert comes later or not at all (a thief spreading its queries over connections stays under "
    "every worker's test); serve with --workers 1 where PRADA matters (see docs/serving.md)"
)


@app.command(
    "serve",
    help=(
        "Serve a saved model behind the hardened gateway: API keys, quotas and rates, output policies, "
        "PRADA extraction detection and an audit log that never loses an answered query.\n\n"
        "Endpoints: POST /v1/predict (JSON or application/x-npy), GET /v1/model, /healthz, /metrics, "
        "the OpenAPI docs at /docs. Create keys first with `bastion keys create` on the same --db. "
        "The model is scanned first (`bastion scan`: a finding at or above high refuses to start) and loaded "
        "only through bastion's safe loader (no pickle; TorchScript needs --trust-code)."
    ),
    epilog=(
        "Examples:\n\n"
        "  bastion keys create --name alice --quota 10000 --rate 20/s --policy round:2\n\n"
        "  bastion serve model/ --host 127.0.0.1 --port 8000\n\n"
        "  bastion serve model/ --workers 2 --on-alert block --db /var/lib/bastion/serve.db"
    ),
)
def serve(
    model: Annotated[Path, typer.Argument(help="A folder saved by `bastion train`, an .onnx or a .skops file.")],
    host: Annotated[str, typer.Option(help="Interface to listen on (127.0.0.1: this machine only).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    db: DbOption = DEFAULT_DB,
    workers: Annotated[
        int,
        typer.Option(
            help="Server processes; they share the database, so quotas and rates stay exact. Each worker keeps its "
            "own PRADA state and sees only its share of a key's queries, which delays or prevents an alert: use "
            "1 worker where PRADA matters."
        ),
    ] = 1,
    on_alert: Annotated[str, typer.Option(help="On a PRADA alert: log (record, export) or block (revoke the key).")] = (
        "log"
    ),
    prada: Annotated[bool, typer.Option(help="Run the PRADA extraction detector on every key's queries.")] = True,
    prada_delta: Annotated[float, typer.Option(help="PRADA's Shapiro-Wilk threshold (the authors use 0.9).")] = 0.9,
    max_batch: Annotated[int, typer.Option(help="The most inputs in one request (413 beyond).")] = 1024,
    max_body_mb: Annotated[float, typer.Option(help="The largest request body, in MiB (413 beyond).")] = 8.0,
    db_max_mb: Annotated[
        float | None, typer.Option(help="Refuse to grow the database past this size (then 503, fail closed).")
    ] = None,
    trust_code: TrustCodeOption = False,
    trust_type: TrustTypeOption = None,
) -> None:
    """Serve a saved model behind the hardened gateway."""
    with reported_errors():
        check_scalar(port, "--port", kind=int, low=1, high=65535)
        check_scalar(workers, "--workers", kind=int, low=1, high=64)
        check_choice(on_alert, "--on-alert", ("log", "block"))
        check_scalar(max_body_mb, "--max-body-mb", low=0.001)
        try:
            import uvicorn

            from bastion.serve.app import ENVIRONMENT_VARIABLE, GatewayConfig, ServeSettings, build_app, log_to_stderr
        except ImportError as error:
            raise ValidationError(
                f'`bastion serve` needs the serve extra ({error.name} is missing): pip install "bastion[serve]"'
            ) from error
        gateway = GatewayConfig(
            max_body_bytes=int(max_body_mb * 1024 * 1024),
            max_batch=max_batch,
            prada=prada,
            prada_delta=prada_delta,
            on_alert=on_alert,
        )
        settings = ServeSettings(
            model=str(model),
            db=str(db),
            trust_code=trust_code,
            trusted=tuple(trust_type or ()),
            db_max_bytes=None if db_max_mb is None else int(db_max_mb * 1024 * 1024),
            gateway=gateway.__dict__,
        )
        # Load once here even with several workers: a bad model or database is refused before listening.
        application = build_app(settings)
        log_to_stderr()
        console.print(f"bastion gateway: serving {model} on http://{host}:{port} (docs at /docs), database {db}")
        if workers > 1 and prada:
            logging.getLogger("bastion.serve").warning(PRADA_WORKERS_WARNING.format(workers=workers))
    options = {"host": host, "port": port, "access_log": False, "timeout_graceful_shutdown": 30}
    if workers == 1:
        uvicorn.run(application, **options)
    else:
        os.environ[ENVIRONMENT_VARIABLE] = settings.to_environment()
        # Each worker imports torch and loads the model before it answers uvicorn's health pings;
        # on a loaded machine that takes longer than uvicorn's 5 s default, which would kill it.
        from uvicorn.supervisors import Multiprocess

        config = uvicorn.Config(
            "bastion.serve.app:app_from_environment",
            factory=True,
            workers=workers,
            timeout_worker_healthcheck=WORKER_HEALTHCHECK_S,
            **options,
        )
        Multiprocess(config, sockets=[listening_socket(host, port)]).run()


def listening_socket(host: str, port: int) -> socket.socket:
    """The socket the workers share, declared TCP so that answers are not delayed.

    asyncio sets ``TCP_NODELAY`` only on sockets whose ``proto`` is TCP; the socket uvicorn
    binds itself for ``--workers`` has ``proto`` 0, so each small answer waited ~40 ms for
    Nagle's algorithm and the client's delayed ACK.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        raise ValidationError(f"cannot listen on {host}:{port}: {error.strerror}") from error
    sock.set_inheritable(True)
    return sock
