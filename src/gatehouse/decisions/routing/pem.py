"""Checks that PEM text really holds certificates or a private key (nothing is echoed back)."""

from __future__ import annotations

from cryptography import x509
from cryptography.hazmat.primitives.serialization import load_pem_private_key


def check_certificates(text: str) -> str:
    """The text, if it holds at least one PEM certificate."""
    try:
        x509.load_pem_x509_certificates(text.encode())
    except ValueError:
        raise ValueError("must hold PEM certificates (-----BEGIN CERTIFICATE-----)") from None
    return text


def check_private_key(text: str) -> None:
    """Refuse text that is not an unencrypted PEM private key."""
    try:
        load_pem_private_key(text.encode(), password=None)
    except (ValueError, TypeError):
        raise ValueError("must be an unencrypted PEM private key") from None
