"""tls:// given for a server that answers in plain text: an HTTP server, or a tcp:// Dask scheduler.

Both used to show only the raw ``[SSL: WRONG_VERSION_NUMBER]``.  Real servers on 127.0.0.1; a real
certificate made with the openssl command.
"""

from __future__ import annotations

import asyncio
import http.server
import shutil
import subprocess
import threading
from pathlib import Path

import pytest

from scalable_tui.sources.live.address import NOT_DASK
from scalable_tui.sources.live.source import LiveSource
from tests.live.conftest import Procs

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl to make a certificate")


def _security(tmp: Path):
    from distributed.security import Security

    cert, key = tmp / "c.pem", tmp / "k.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=test", "-days", "1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
    return Security(tls_ca_file=str(cert), tls_client_cert=str(cert), tls_client_key=str(key),
                    require_encryption=True)


def _first_status(address: str, security) -> tuple[str, str | None]:
    async def go() -> tuple[str, str | None]:
        src = LiveSource(address, security=security, call_timeout=2.0)
        try:
            snap = await src.start()
        finally:
            await src.close()
        return snap.link, snap.disconnect_reason

    return asyncio.run(go())


def test_tls_to_an_http_server(tmp_path: Path) -> None:
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *a: object) -> None:
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        link, reason = _first_status(f"tls://127.0.0.1:{srv.server_address[1]}", _security(tmp_path))
    finally:
        srv.shutdown()
        srv.server_close()
    assert (link, reason) == ("error", f"error: {NOT_DASK}")


@pytest.mark.slow
def test_tls_to_a_plain_tcp_scheduler(procs: Procs, tmp_path: Path) -> None:
    address, _ = procs.scheduler()
    host_port = address.split("://", 1)[1]
    link, reason = _first_status(f"tls://{host_port}", _security(tmp_path))
    assert link == "error" and reason is not None
    assert reason.startswith("error: TLS: the server at") and "answers in plain text" in reason
    assert f"try tcp://{host_port}" in reason
