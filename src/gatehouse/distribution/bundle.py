"""OPA bundle tarballs: `.manifest`, `data.json` or `patch.json`, policies, `.signatures.json`."""

from __future__ import annotations

import io
import tarfile
from collections.abc import Mapping
from dataclasses import dataclass

from gatehouse.distribution.document import Snapshot
from gatehouse.distribution.fragments import canonical
from gatehouse.distribution.signing import Signer, signatures_file


@dataclass(frozen=True, slots=True)
class Built:
    """A bundle ready to send."""

    body: bytes
    etag: str
    revision: int
    delta: bool
    signed: bool


def manifest(snapshot: Snapshot, *, delta: bool) -> bytes:
    """The `.manifest`: revision (the ETag's value), roots, and where it comes from."""
    doc: dict[str, object] = {
        "revision": snapshot.etag.strip('"'),
        "roots": ["/".join(snapshot.root)],
        "metadata": {
            "gatehouse": {
                "tenant": snapshot.tenant,
                "revision": snapshot.revision,
                "content_hash": snapshot.content_hash,
            }
        },
    }
    if delta:
        doc["delta"] = True
    return canonical(doc)


def tarball(files: Mapping[str, bytes], level: int) -> bytes:
    """A gzipped tar of the files, each at `/<name>` as `opa build` writes them."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w:gz", compresslevel=level) as tar:
        for name, content in files.items():
            info = tarfile.TarInfo(f"/{name}")
            info.size, info.mode = len(content), 0o644
            tar.addfile(info, io.BytesIO(content))
    return out.getvalue()


def full_bundle(
    snapshot: Snapshot,
    data: bytes,
    policies: Mapping[str, bytes],
    signer: Signer | None,
    level: int,
) -> Built:
    """A snapshot bundle of the whole document (signed when a signer is given)."""
    files = {".manifest": manifest(snapshot, delta=False), "data.json": data, **policies}
    if signer is not None:
        files[".signatures.json"] = signatures_file(signer, list(files.items()))
    body = tarball(files, level)
    return Built(body, snapshot.etag, snapshot.revision, False, signer is not None)


def delta_bundle(snapshot: Snapshot, patch: bytes, level: int) -> Built:
    """A delta bundle (OPA verifies no signature on these; see docs/distribution.md)."""
    files = {".manifest": manifest(snapshot, delta=True), "patch.json": patch}
    return Built(tarball(files, level), snapshot.etag, snapshot.revision, True, False)
