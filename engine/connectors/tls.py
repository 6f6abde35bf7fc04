"""SSL contexts from the channel's tls settings (server side for listeners, client side for destinations)."""

from __future__ import annotations

import ssl

from engine.config import DestinationTLS, SourceTLS


def server_context(spec: SourceTLS) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(spec.cert_file, spec.key_file)
    if spec.ca_file is not None:
        context.load_verify_locations(spec.ca_file)
    context.verify_mode = {
        "none": ssl.CERT_NONE,
        "optional": ssl.CERT_OPTIONAL,
        "required": ssl.CERT_REQUIRED,
    }[spec.client_auth]
    return context


def client_context(spec: DestinationTLS) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=spec.ca_file)
    if not spec.verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if spec.cert_file is not None:
        context.load_cert_chain(spec.cert_file, spec.key_file)
    return context
