"""`crypto.subtle` digests and HMAC for scripts (runtime/sandbox/crypto.js), served by hashlib and hmac.

Bytes cross as lower-case hex text; the algorithm names are the Web Crypto ones. The sandbox
checks its arguments before queueing a request, so what fails here is a forged request.
"""

import hashlib
import hmac
from typing import Any

from runtime.host import HostCall, HostError

HASHES = {"SHA-1": hashlib.sha1, "SHA-256": hashlib.sha256, "SHA-384": hashlib.sha384, "SHA-512": hashlib.sha512}


def _bytes(value: Any) -> bytes:
    try:
        return bytes.fromhex(value if isinstance(value, str) else "")
    except ValueError:
        raise HostError("crypto: data must be hex text", name="TypeError") from None


def _hash(name: Any):
    if name not in HASHES:
        raise HostError(f"crypto: unsupported hash {name!r}", name="NotSupportedError")
    return HASHES[name]


class CryptoHandler:
    """`digest(hash, data)` and `sign(hash, key, data)` give hex; `verify(hash, key, signature, data)` a boolean."""

    def __call__(self, call: HostCall) -> Any:
        args = call.args
        if call.method == "digest" and len(args) == 2:
            return _hash(args[0])(_bytes(args[1])).hexdigest()
        if call.method == "sign" and len(args) == 3:
            return hmac.new(_bytes(args[1]), _bytes(args[2]), _hash(args[0])).hexdigest()
        if call.method == "verify" and len(args) == 4:
            expected = hmac.new(_bytes(args[1]), _bytes(args[3]), _hash(args[0])).digest()
            return hmac.compare_digest(expected, _bytes(args[2]))
        raise HostError(f"crypto.{call.method} is not a crypto host method", name="TypeError")
