"""Bad addresses and TLS files: one line and exit 2 before any app starts; an HTTP server named as the scheduler.

Real processes (the installed entry point) and a real ``http.server`` on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import http.server
import shutil
import subprocess
import threading
from pathlib import Path
from typing import Iterator

import pytest

from scalable_tui.sources.live.address import NOT_DASK, LiveAddressError, resolve_address
from scalable_tui.sources.live.source import LiveSource
from scalable_tui.sources.live.tls import TLSFileError, check_tls_files
from tests.conftest import run_cli


@pytest.fixture
def http_port() -> Iterator[int]:
    """A real HTTP server (what a pasted dashboard port answers with)."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *a: object) -> None:
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        yield srv.server_address[1]
    finally:
        srv.shutdown()
        srv.server_close()


def _one_line(r: subprocess.CompletedProcess[str]) -> str:
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and r.stdout == "" and len(lines) == 1, (r.returncode, r.stdout, r.stderr)
    return lines[0]


@pytest.mark.parametrize("cmd", [("attach",), ("record", "--out", "{tmp}/x.rec")])
def test_unknown_scheme_web_address_and_unsupported_scheme_exit_2(cmd: tuple[str, ...], tmp_path: Path) -> None:
    args = [a.format(tmp=tmp_path) for a in cmd]
    line = _one_line(run_cli(*args[:1], "foo://bar", *args[1:], timeout=60))
    assert "unknown address scheme 'foo://'" in line and "tcp://" in line
    line = _one_line(run_cli(*args[:1], "http://127.0.0.1:8787/status", *args[1:], timeout=60))
    assert "web address" in line and "perhaps tcp://127.0.0.1:8786" in line
    line = _one_line(run_cli(*args[:1], "ucx://127.0.0.1:8786", *args[1:], timeout=60))
    assert "ucx:// (UCX) addresses are not supported" in line
    assert not (tmp_path / "x.rec").exists()  # nothing written for a refused address


def test_address_checks_in_the_source() -> None:
    assert resolve_address("127.0.0.1:8786") == "tcp://127.0.0.1:8786"
    assert resolve_address("tls://sched.example:8786") == "tls://sched.example:8786"
    assert resolve_address("tcp://[::1]:8786") == "tcp://[::1]:8786"
    for bad, words in [("inproc://1.2.3.4/1/2", "not supported"), ("https://host:8787", "web address"),
                       ("tcp://host", "HOST:PORT"), ("tcp://host:port", "HOST:PORT"),
                       ("tcp://host:8786/status", "HOST:PORT"), ("ftp://x:1", "unknown address scheme")]:
        with pytest.raises(LiveAddressError, match=words):
            resolve_address(bad)


def test_scheduler_file_with_a_web_address(tmp_path: Path) -> None:
    f = tmp_path / "sched.json"
    f.write_text('{"address": "http://127.0.0.1:8787"}')
    line = _one_line(run_cli("attach", "--scheduler-file", str(f), timeout=60))
    assert "web address" in line


def test_missing_or_bad_tls_files_are_one_line_before_the_app(tmp_path: Path) -> None:
    line = _one_line(run_cli("attach", "tls://127.0.0.1:9", "--tls-ca-file", "/does/not/exist", timeout=60))
    assert line == "scalable-tui: TLS: --tls-ca-file /does/not/exist: no such file"
    notpem = tmp_path / "ca.txt"
    notpem.write_text("hello\n")
    line = _one_line(run_cli("record", "tls://127.0.0.1:9", "--out", str(tmp_path / "r.rec"),
                             "--tls-ca-file", str(notpem), timeout=60))
    assert "TLS: --tls-ca-file" in line and "not a PEM file" in line
    assert not (tmp_path / "r.rec").exists()
    fake = tmp_path / "ca.pem"
    fake.write_text("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
    line = _one_line(run_cli("attach", "tls://127.0.0.1:9", "--tls-ca-file", str(fake), timeout=60))
    assert "TLS: --tls-ca-file" in line and "not a usable CA certificate" in line
    line = _one_line(run_cli("attach", "tls://127.0.0.1:9", "--tls-key", str(fake), timeout=60))
    assert "--tls-key needs --tls-cert" in line


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command to make a certificate")
def test_real_pem_files_pass_and_a_wrong_key_does_not(tmp_path: Path) -> None:
    def make(name: str) -> tuple[str, str]:
        cert, key = tmp_path / f"{name}.crt", tmp_path / f"{name}.key"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}",
                        "-days", "1", "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
        return str(cert), str(key)

    cert, key = make("a")
    cert_b, key_b = make("b")
    check_tls_files(cert, cert, key)  # a CA, and a matching certificate and key: no error
    with pytest.raises(TLSFileError, match="not a usable certificate and private key"):
        check_tls_files(cert, cert, key_b)


def test_an_http_server_is_named_as_not_a_dask_scheduler(http_port: int) -> None:
    """The live source's status says what answered, rather than 'slow: no reply'."""

    async def go() -> None:
        src = LiveSource(f"tcp://127.0.0.1:{http_port}", call_timeout=1.0)
        try:
            snap = await src.start()
        finally:
            await src.close()
        assert not snap.connected and snap.link == "error"
        assert snap.disconnect_reason == f"error: {NOT_DASK}"
        assert NOT_DASK in snap.status_line()

    asyncio.run(go())


def test_remove_plugin_on_an_http_server_exits_2(http_port: int) -> None:
    line = _one_line(run_cli("attach", f"127.0.0.1:{http_port}", "--remove-plugin", "--call-timeout", "1",
                             timeout=60))
    assert line.endswith(f"cannot reach the scheduler at tcp://127.0.0.1:{http_port}: error: {NOT_DASK}")


def test_closed_port_still_says_connection_refused() -> None:
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    import time

    t0 = time.monotonic()
    line = _one_line(run_cli("attach", f"127.0.0.1:{port}", "--remove-plugin", "--call-timeout", "40", timeout=90))
    assert line.endswith("down: connection refused (is the scheduler running?)")
    # said at once, not when the call timeout ran out (distributed's connect retries a refused port to its deadline)
    assert time.monotonic() - t0 < 20
