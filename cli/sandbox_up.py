"""`extranet-bridge sandbox up`: every stand-in the bridge talks to, in one process, with a ready config.

Bitrix24 and 1C sandboxes, an SMTP sink and an SMS gateway sink; their state lives in DIR (the portal in
bitrix24.json, the messages in mailbox.jsonl, the 1C company's seed and date in sandbox.json) so a
restart with the same command comes back with the same portal and company. DIR/extranet-bridge.yaml
points the bridge at them, credentials included.
"""

from __future__ import annotations

import json
import secrets
import signal
import socket
import threading
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer

from cli.options import Employees, LimitsPlan

PORTS = ("bitrix24", "onec", "sinks", "smtp")


@dataclass
class Layout:
    """What sandbox.json keeps so that a restart serves the same portal, company and addresses."""

    seed: int
    employees: int
    plan: str
    host: str
    port: int
    webhook_code: str
    client_secret: str

    def port_of(self, name: str) -> int:
        return self.port + PORTS.index(name)


def register(group: typer.Typer) -> None:
    group.command("up")(up)


def _fail(message: str) -> typer.Exit:
    from cli.errors import print_error

    print_error(message)
    return typer.Exit(1)


def _layout(directory: Path, employees: int | None, seed: int, plan: str, host: str, port: int) -> Layout:
    path = directory / "sandbox.json"
    if path.exists():
        try:
            layout = Layout(**json.loads(path.read_text(encoding="utf-8")))
        except (ValueError, TypeError) as exc:
            raise _fail(f"{path} is damaged ({exc}); remove the directory to start afresh") from None
        if employees is not None and employees != layout.employees:
            raise _fail(
                f"{directory} already holds a company of {layout.employees} employees; "
                f"drop --employees or pick another --dir"
            )
        return layout
    return Layout(
        seed=seed,
        employees=employees or 300,
        plan=plan,
        host=host,
        port=port,
        webhook_code=secrets.token_hex(8),
        client_secret=secrets.token_urlsafe(24),
    )


def ensure_free(host: str, port: int, name: str, advice: str = "start with another --port") -> None:
    """Refuse in one line before anything starts when ``host:port`` is taken."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers bind
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise _fail(
                f"cannot listen on {host}:{port} for the {name} sandbox ({exc.strerror}); "
                f"stop what uses it or {advice}"
            ) from None


def _check_ports(layout: Layout) -> None:
    for name in PORTS:
        ensure_free(layout.host, layout.port_of(name), name, "start with another --port in a new --dir")


def write_config(directory: Path, layout: Layout, onec_user: str, onec_password: str) -> Path:
    """DIR/extranet-bridge.yaml: a complete configuration pointing the bridge at the sandboxes."""
    import yaml

    base = f"http://{layout.host}"
    enterprise = layout.plan == "enterprise"
    document: dict[str, Any] = {
        "database": {"url": f"sqlite:///{(directory / 'state.db').resolve()}"},
        "bitrix24": {
            "webhook_url": f"{base}:{layout.port_of('bitrix24')}/rest/1/{layout.webhook_code}/",
            "rate": 5 if enterprise else 2,
            "burst": 250 if enterprise else 50,
        },
        "onec": {
            "endpoint": f"{base}:{layout.port_of('onec')}/zup/ws/ExtranetBridge.1cws",
            "username": onec_user,
            "password": onec_password,
        },
        "messaging": {
            "smtp": {"host": layout.host, "port": layout.port_of("smtp"), "sender": "hr@provider.example"},
            "sms": {"provider": "http", "url": f"{base}:{layout.port_of('sinks')}/sms", "sender": "HR"},
        },
        "schedule": {"timezone": "Europe/Moscow"},
        "server": {"host": "127.0.0.1", "port": 8080},
        "logging": {"level": "WARNING"},
    }
    path = directory / "extranet-bridge.yaml"
    header = "# Written by `extranet-bridge sandbox up`: the bridge pointed at the local sandboxes.\n"
    path.write_text(header + yaml.safe_dump(document, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def _prepare(directory: Path) -> None:
    try:
        directory.mkdir(parents=True, exist_ok=True)
        probe = directory / ".writable"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise _fail(
            f"cannot keep the sandboxes' state in {directory} ({exc.strerror}); pass another --dir"
        ) from None


def up(
    directory: Annotated[
        Path, typer.Option("--dir", help="Where the sandboxes keep their state and the bridge's config.")
    ] = Path("var/sandbox"),
    employees: Employees = None,
    seed: Annotated[int, typer.Option(help="Seed of the generated 1C company (first start only).")] = 1,
    plan: Annotated[
        LimitsPlan, typer.Option(help="Bitrix24 plan limits (first start only).")
    ] = LimitsPlan.enterprise,
    host: Annotated[str, typer.Option(help="Interface to listen on (first start only).")] = "127.0.0.1",
    port: Annotated[
        int,
        typer.Option(
            min=1024,
            max=65532,
            help="First of four ports: Bitrix24, 1C, sinks' web page, SMTP (first start).",
        ),
    ] = 8724,
) -> None:
    """Start the Bitrix24 and 1C sandboxes, an SMTP sink and an SMS sink; write a config that uses them."""
    from cli.common import console

    directory = directory.expanduser()
    _prepare(directory)
    layout = _layout(directory, employees, seed, plan.value, host, port)
    _check_ports(layout)
    (directory / "sandbox.json").write_text(json.dumps(vars(layout), indent=1), encoding="utf-8")
    with ExitStack() as stack:
        running = _start(stack, directory, layout)
        config = write_config(directory, layout, running["onec_user"], running["onec_password"])
        console.print(_banner(layout, running, directory, config), highlight=False, soft_wrap=True)
        _wait_for_stop()
        console.print("stopping; the state is kept in " + str(directory))


def _start(stack: ExitStack, directory: Path, layout: Layout) -> dict[str, Any]:
    from sandbox.bitrix24.app import create_app as create_b24
    from sandbox.bitrix24.config import SandboxConfig as B24Config
    from sandbox.bitrix24.config import WebhookConfig
    from sandbox.onec import SandboxConfig as OneCConfig
    from sandbox.onec import create_app as create_onec
    from sandbox.server import serve_in_thread
    from sandbox.sinks import Mailbox
    from sandbox.sinks.smtp import smtp_sink
    from sandbox.sinks.web import create_app as create_sinks

    host = layout.host
    b24 = create_b24(
        B24Config(
            plan=layout.plan,
            state_file=directory / "bitrix24.json",
            webhooks=(WebhookConfig(user_id=1, code=layout.webhook_code),),
            client_secret=layout.client_secret,
            public_url=f"http://{host}:{layout.port_of('bitrix24')}",
        )
    )
    # Same seed, same company; its dates count from the real today, like the bridge's business day.
    onec_config = OneCConfig(seed=layout.seed, employees=layout.employees)
    onec = create_onec(onec_config)
    mailbox = Mailbox(directory / "mailbox.jsonl")
    stack.enter_context(serve_in_thread(b24, host, layout.port_of("bitrix24")))
    stack.enter_context(serve_in_thread(onec, host, layout.port_of("onec")))
    stack.enter_context(serve_in_thread(create_sinks(mailbox), host, layout.port_of("sinks")))
    stack.enter_context(smtp_sink(mailbox, host, layout.port_of("smtp")))
    return {
        "b24_client_id": B24Config().client_id,
        "onec_user": onec_config.user,
        "onec_password": onec_config.password,
        "onec_tz": onec_config.tz,
    }


def _banner(layout: Layout, running: dict[str, Any], directory: Path, config: Path) -> str:
    h = f"http://{layout.host}"
    b24, onec, sinks = (f"{h}:{layout.port_of(n)}" for n in ("bitrix24", "onec", "sinks"))
    return "\n".join(
        [
            f"Bitrix24 sandbox  {b24}/  (users, groups and memberships; {layout.plan} limits)",
            f"  incoming webhook  {b24}/rest/1/{layout.webhook_code}/",
            f"  local application client_id {running['b24_client_id']}  client_secret {layout.client_secret}",
            f"1C:ZUP sandbox    {onec}/zup/ws/ExtranetBridge.1cws  (WSDL: add ?wsdl)",
            f"  login {running['onec_user']}  password {running['onec_password']}  "
            f"time zone {running['onec_tz']}  company: {layout.employees} employees, seed {layout.seed}",
            f"SMTP sink         {layout.host}:{layout.port_of('smtp')}  (no login, no TLS)",
            f"SMS gateway sink  {sinks}/sms",
            f"Mailbox           {sinks}/  (what the sinks received)",
            f"State             {directory}  (stop with Ctrl-C; the same command starts them again)",
            f"Configuration     {config}",
            "",
            f"Use it:  extranet-bridge -c {config} plan",
        ]
    )


def _wait_for_stop() -> None:
    stopped = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    try:
        while not stopped.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
