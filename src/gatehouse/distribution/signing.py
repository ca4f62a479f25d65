"""Bundle signatures as OPA verifies them: a JWS over each file's SHA-256, with keyid and scope."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass

import orjson
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from gatehouse.kit.crypto import b64e

HASH_ALGORITHM = "SHA-256"
STRUCTURED = (".manifest", "data.json", "data.yaml", ".signatures.json")
PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


@dataclass(frozen=True, slots=True)
class Signer:
    """A private key with the id and scope its signatures carry."""

    key_id: str
    algorithm: str  # RS256 or ES256
    scope: str
    key: PrivateKey


def generate(algorithm: str) -> PrivateKey:
    """A fresh key pair for the algorithm."""
    if algorithm == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def private_pem(key: PrivateKey) -> str:
    """PKCS#8 PEM of a private key."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def public_pem(key: PrivateKey) -> str:
    """SubjectPublicKeyInfo PEM of a key's public half (what OPA's `keys` config takes)."""
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def load_private(pem: str) -> PrivateKey:
    """A private key from PEM (RSA or EC P-256)."""
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    if isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP256R1):
        return key
    if isinstance(key, rsa.RSAPrivateKey):
        return key
    raise ValueError("only RSA and EC P-256 private keys sign bundles")


def algorithm_of(key: PrivateKey) -> str:
    """The JWS algorithm a key signs with."""
    return "ES256" if isinstance(key, ec.EllipticCurvePrivateKey) else "RS256"


def file_hash(name: str, content: bytes) -> str:
    """SHA-256 of a bundle file as OPA computes it.

    JSON files are hashed over their canonical encoding; Gatehouse writes them canonical
    already (sorted keys, no spaces), so their bytes are that encoding.
    """
    return hashlib.sha256(content).hexdigest()


def _sign(signer: Signer, message: bytes) -> bytes:
    key = signer.key
    if isinstance(key, ec.EllipticCurvePrivateKey):
        r, s = decode_dss_signature(key.sign(message, ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")
    return key.sign(message, padding.PKCS1v15(), hashes.SHA256())


def signatures_file(signer: Signer, files: Sequence[tuple[str, bytes]]) -> bytes:
    """`.signatures.json` for bundle files given as (name without leading slash, content)."""
    header = {"alg": signer.algorithm, "kid": signer.key_id, "typ": "JWT"}
    claims = {
        "files": [
            {"name": name, "hash": file_hash(name, content), "algorithm": HASH_ALGORITHM}
            for name, content in files
        ],
        "keyid": signer.key_id,
        "scope": signer.scope,
        "iat": int(time.time()),
        "iss": "gatehouse",
    }
    signing_input = f"{b64e(orjson.dumps(header))}.{b64e(orjson.dumps(claims))}"
    token = f"{signing_input}.{b64e(_sign(signer, signing_input.encode()))}"
    return orjson.dumps({"signatures": [token]})
