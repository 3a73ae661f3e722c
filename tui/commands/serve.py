"""`pynn serve [--host 127.0.0.1] [--port 8000] [--public] [the app's options]`: the app in a browser, through
textual-serve. Each browser tab runs its own `pynn tui` with the options given (same Python, characters only:
the browser's terminal has no images). Safe by default: it listens on loopback only, and a laptop reaches it
through an SSH tunnel; any other address needs --public, because whoever reaches the port drives the app with
this user's files."""
from __future__ import annotations

import errno
import ipaddress
import shlex
import socket
import sys

import pynn.run
from pynn.errors import PynnError
from pynn_tui.commands.common import flag_name, given_fields
from pynn_tui.commands.tui import add_app_args, app_run

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000


def register(sub) -> None:
    p = sub.add_parser("serve", help="serve the app to a web browser (loopback only unless --public)",
                       description="Serve the full-screen app to a web browser with textual-serve: each browser "
                                   "tab is its own session. It listens on 127.0.0.1; from a laptop, tunnel to it "
                                   "with ssh -L PORT:localhost:PORT HOST and open http://localhost:PORT.")
    p.add_argument("--host", default=DEFAULT_HOST, help=f"the address to listen on (default {DEFAULT_HOST}; "
                                                        "anything but loopback needs --public)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"the port to listen on (default {DEFAULT_PORT})")
    p.add_argument("--public", action="store_true", help="allow a non-loopback --host: anyone who can reach the "
                                                         "port can drive the app with your file access")
    add_app_args(p)
    p.set_defaults(handler=run)


def run(args) -> int:
    check_address(args.host, args.port, args.public)
    app_run(args)  # a bad data name, spec or file is one sentence now, not in every browser tab
    command = app_command(args)
    problem = port_problem(args.host, args.port)
    if problem:
        raise PynnError(problem)
    if args.public:
        print(f"pynn: warning: listening on {args.host}: anyone who can reach port {args.port} can drive the app, "
              "with your access to this machine's files.", file=sys.stderr)
    from textual_serve.server import Server  # the web server loads only when it is really wanted

    class PynnServer(Server):
        def initialize_logging(self) -> None:
            import logging
            logging.basicConfig(level=logging.WARNING, format="pynn serve: %(message)s")

        async def on_startup(self, app) -> None:
            print(serving_lines(args.host, args.port), flush=True)

        async def handle_index(self, request):
            # the page's websocket and static addresses follow the address the browser used (a tunnel's
            # local port, a public name), not the one the server listens on
            self.public_url = f"{request.scheme}://{request.host}"
            return await super().handle_index(request)

    PynnServer(command, host=args.host, port=args.port, title="pynn").serve()
    return 0


def check_address(host: str, port: int, public: bool) -> None:
    if not 0 < port < 65536:
        raise PynnError(f"--port must be between 1 and 65535, not {port}.")
    if not public and not is_loopback(host):
        raise PynnError(f"--host {host} is reachable from other machines; add --public to allow that (anyone who "
                        "can reach the port can drive the app with your files), or tunnel with ssh -L instead.")


def is_loopback(host: str) -> bool:
    """True when host names only this machine's loopback addresses (a name is resolved, no DNS for localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:
        found = socket.getaddrinfo(host, None)
    except OSError:
        raise PynnError(f"--host {host} is not an address or a name this machine can resolve.") from None
    return all(ipaddress.ip_address(info[4][0]).is_loopback for info in found)


def port_problem(host: str, port: int) -> str | None:
    """Why the server could not listen on host:port, found before it starts (so it is one sentence, not a
    traceback from inside the server), or None."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server does: TIME_WAIT is no obstacle
        try:
            probe.bind((DEFAULT_HOST if host == "localhost" else host, port))
        except OSError as err:
            if err.errno == errno.EADDRINUSE:
                return f"Port {port} on {host} is already in use; choose another with --port."
            return f"Cannot listen on {host} port {port}: {err.strerror}."
    return None


def app_argv(args) -> list[str]:
    """The `pynn tui` options that give the app what the serve command was told."""
    argv = []
    for name, value in given_fields(args).items():
        if pynn.run.field_kind(name) is bool:
            argv += [flag_name(name)] if value else []
        else:
            argv += [flag_name(name), "none" if value is None else str(value)]
    for flag in ("model", "load"):
        if getattr(args, flag):
            argv += [f"--{flag}", getattr(args, flag)]
    return argv + ["--screen", args.screen]


def app_command(args) -> str:
    """The shell command textual-serve starts for each browser tab: this same Python running `pynn tui`."""
    return shlex.join([sys.executable, "-m", "pynn_tui.cli", "tui", *app_argv(args), "--pixels", "off"])


def serving_lines(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    lines = [f"pynn serve: the app is at http://{shown}:{port}  (each browser tab is its own session; Ctrl+C stops)"]
    if is_loopback(host):
        lines.append(f"From another machine, tunnel to it:  ssh -L {port}:localhost:{port} HOST  "
                     f"(HOST: this machine, {socket.gethostname()}), then open http://localhost:{port}")
    return "\n".join(lines)
