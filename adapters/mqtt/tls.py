"""The TLS context procsuite's MQTT clients use for `mqtts://` brokers, from the settings.

A site's broker usually has a certificate from the hospital's own CA: `mqtt.ca_file` names
it (otherwise the system's CAs are used). A broker that asks for client certificates gets
`mqtt.cert_file` / `mqtt.key_file`. Host names are checked unless `mqtt.tls_insecure`.
"""

from __future__ import annotations

import ssl

from suite.errors import ConfigError
from suite.settings import MqttSettings


class TlsSettingsError(ConfigError, ValueError):
    """A TLS file named in the settings is missing or unreadable; the message names it."""


def client_tls_context(settings: MqttSettings) -> ssl.SSLContext:
    """A client context that verifies the broker (TLS 1.2 or newer)."""
    for name in ("ca_file", "cert_file", "key_file"):
        path = getattr(settings, name)
        if path is not None and not path.is_file():
            raise TlsSettingsError(f"mqtt.{name}: {path} is not a readable file")
    if (settings.cert_file is None) != (settings.key_file is None):
        raise TlsSettingsError("mqtt.cert_file and mqtt.key_file go together: set both or none")
    try:
        context = ssl.create_default_context(
            cafile=str(settings.ca_file) if settings.ca_file else None
        )
        if settings.cert_file is not None and settings.key_file is not None:
            context.load_cert_chain(str(settings.cert_file), str(settings.key_file))
    except (ssl.SSLError, OSError) as exc:
        raise TlsSettingsError(f"mqtt TLS files: {exc}") from exc
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    if settings.tls_insecure:
        context.check_hostname = False
    return context
