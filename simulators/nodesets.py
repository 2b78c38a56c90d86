"""Fetch the OPC UA NodeSet2 files the Robotics simulator serves (``make nodesets``).

The DI, IA and Robotics information models are published by the OPC Foundation under the MIT
licence and packaged on npm as ``node-opcua-nodesets``. They are not kept in this repository:
this step downloads the pinned package from the npm registry, checks it against the integrity
hash the registry published for that version, and extracts only the three files we serve.
Python's standard library only, so a fresh machine needs neither npm nor curl.

    python -m simulators.nodesets build/nodesets
"""

from __future__ import annotations

import base64
import hashlib
import io
import sys
import tarfile
import urllib.request
from pathlib import Path

from simulators.robotics import NODESET_FILES, missing_nodesets

__all__ = ["PACKAGE", "VERSION", "fetch"]

PACKAGE = "node-opcua-nodesets"
VERSION = "2.185.0"
# `npm view node-opcua-nodesets@2.185.0 dist.integrity`
INTEGRITY = ("sha512-7qDwdkYRKIGRBk0gKhY5C3olQ0wRHTCoZj4FbzD1GmXF5xGaZcv/OatvFa73H7yyq3LxWxTKVteEL"
             "lbbyziyLg==")
REGISTRY = "https://registry.npmjs.org"


def fetch(dest: Path, *, registry: str = REGISTRY, timeout_s: float = 60.0) -> list[Path]:
    """Download, verify and extract the NodeSet2 files into ``dest`` (no-op if present)."""
    if not missing_nodesets(dest):
        return [dest / f for f in NODESET_FILES]
    url = f"{registry}/{PACKAGE}/-/{PACKAGE}-{VERSION}.tgz"
    with urllib.request.urlopen(url, timeout=timeout_s) as response:  # noqa: S310 - fixed https URL
        data = response.read()
    algo, _, expected = INTEGRITY.partition("-")
    digest = base64.b64encode(hashlib.new(algo, data).digest()).decode()
    if digest != expected:
        raise RuntimeError(f"{url}: integrity check failed ({algo} {digest} != {expected})")
    dest.mkdir(parents=True, exist_ok=True)
    out = []
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        for name in NODESET_FILES:
            member = tar.extractfile(f"package/nodesets/{name}")
            if member is None:
                raise RuntimeError(f"{url} has no nodesets/{name}")
            target = dest / name
            tmp = target.with_suffix(".part")
            tmp.write_bytes(member.read())
            tmp.replace(target)
            out.append(target)
    return out


if __name__ == "__main__":
    where = Path(sys.argv[1] if len(sys.argv) > 1 else "build/nodesets")
    for path in fetch(where):
        print(path)
