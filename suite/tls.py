"""TLS contexts of procsuite's listeners and clients (MLLP, DICOM): TLS 1.2 at least, the
system's or the site's CAs, optional client certificates (mutual TLS)."""

from __future__ import annotations

import ssl
from pathlib import Path


def server_tls(cert: Path, key: Path, client_ca: Path | None) -> ssl.SSLContext:
    """A listener's context; with `client_ca`, callers must show a certificate it signed."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert, key)
    if client_ca is not None:
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(client_ca)
    return context


def client_tls(ca: Path | None, cert: Path | None, key: Path | None) -> ssl.SSLContext:
    """A client's context verifying the peer against `ca` (none: the system's CAs), with a
    client certificate when `cert` is given."""
    context = ssl.create_default_context(cafile=str(ca) if ca else None)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if cert is not None:
        context.load_cert_chain(cert, key)
    return context
