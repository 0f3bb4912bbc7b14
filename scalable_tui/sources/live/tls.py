"""Checking the ``--tls-*`` files before anything starts.

``distributed.security.Security`` accepts any path and only fails when the
first connection is made, so ``attach --tls-ca-file /does/not/exist`` opened
the app and showed a retry loop.  These checks turn that into one line and
exit 2.  Standard library only (``ssl``).
"""

from __future__ import annotations

import os
import ssl

__all__ = ["TLSFileError", "check_tls_files"]


class TLSFileError(ValueError):
    """A ``--tls-*`` file is missing, unreadable or not PEM (one line, for the CLI)."""


def _readable_pem(option: str, path: str) -> None:
    if not os.path.exists(path):
        raise TLSFileError(f"{option} {path}: no such file")
    if os.path.isdir(path):
        raise TLSFileError(f"{option} {path}: is a directory")
    try:
        with open(path, "rb") as fh:
            head = fh.read(1 << 20)
    except OSError as e:
        raise TLSFileError(f"{option} {path}: cannot read it ({e.strerror or e})") from None
    if b"-----BEGIN " not in head:
        raise TLSFileError(f"{option} {path}: not a PEM file (no '-----BEGIN' line)")


def check_tls_files(ca_file: str | None, cert: str | None, key: str | None) -> None:
    """Raise ``TLSFileError`` unless every given file exists, is readable and parses as PEM.

    The CA file must hold certificates; the client certificate (with its key,
    from ``--tls-key`` or the same file) must load as a pair.
    """
    if key and not cert:
        raise TLSFileError("--tls-key needs --tls-cert (the client certificate it belongs to)")
    for option, path in (("--tls-ca-file", ca_file), ("--tls-cert", cert), ("--tls-key", key)):
        if path:
            _readable_pem(option, path)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if ca_file:
        try:
            ctx.load_verify_locations(cafile=ca_file)
        except (ssl.SSLError, OSError, ValueError) as e:
            raise TLSFileError(f"--tls-ca-file {ca_file}: not a usable CA certificate ({_why(e)})") from None
    if cert:
        try:
            ctx.load_cert_chain(cert, key or None, password=lambda: b"")  # never prompt
        except (ssl.SSLError, OSError, ValueError) as e:
            what = f"--tls-cert {cert}" + (f" with --tls-key {key}" if key else "")
            raise TLSFileError(f"{what}: not a usable certificate and private key ({_why(e)})") from None


def _why(e: BaseException) -> str:
    if isinstance(e, ssl.SSLError) and e.reason:
        return str(e.reason)
    return str(e)[:200] or type(e).__name__
