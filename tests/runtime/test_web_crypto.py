"""crypto.getRandomValues, crypto.randomUUID and crypto.subtle (digest, HMAC) against Web Crypto's behaviour."""

import hashlib
import hmac
import json
import re

import pytest
import quickjs
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms

from runtime.engine import CRYPTO_UNIT, SANDBOX, compile_script
from runtime.host import HostCall, HostError
from runtime.host.crypto import CryptoHandler

HEX = "const hex = (b) => Array.from(new Uint8Array(b), (x) => x.toString(16).padStart(2, '0')).join('');\n"


@pytest.fixture
def crypto_host(host):
    host.register("crypto", CryptoHandler())
    return host


def test_random_uuid_is_version_4_and_differs_between_calls_and_runs(run):
    source = "function main() { return [crypto.randomUUID(), crypto.randomUUID()]; }"
    first, second = run(source).output, run(source).output
    pattern = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
    assert all(pattern.match(uuid) for uuid in first + second)
    assert len(set(first + second)) == 4


def test_get_random_values_fills_integer_arrays_in_place(run):
    result = run("""function main() {
      const a = new Uint8Array(4096), b = new Uint32Array(8), view = new Uint8Array(new ArrayBuffer(8), 2, 4);
      const same = crypto.getRandomValues(a) === a;
      crypto.getRandomValues(b);
      crypto.getRandomValues(view);
      const counts = new Array(256).fill(0);
      a.forEach((x) => counts[x]++);
      return [same, new Set(a).size, Math.max(...counts) < 60, b.some((x) => x > 0xffffff),
              Array.from(new Uint8Array(view.buffer, 0, 2)), Array.from(new Uint8Array(view.buffer, 6, 2))];
    }""")
    assert result.output == [True, 256, True, True, [0, 0], [0, 0]]
    second = run("function main() { return Array.from(crypto.getRandomValues(new Uint8Array(16))); }").output
    third = run("function main() { return Array.from(crypto.getRandomValues(new Uint8Array(16))); }").output
    assert second != third


def test_random_values_are_the_chacha20_keystream_of_the_injected_entropy():
    key = bytes(range(32))
    context = quickjs.Context()
    context.eval(f"globalThis.__jsr$crypto = {{entropy: '{key.hex()}', hostCall: null}};")
    context.eval((SANDBOX / "crypto.js").read_text())
    drawn = context.eval("[100, 50].map((n) => Array.from(crypto.getRandomValues(new Uint8Array(n)))).flat().join()")
    keystream = Cipher(algorithms.ChaCha20(key, bytes(16)), mode=None).encryptor().update(bytes(150))
    assert bytes(int(b) for b in drawn.split(",")) == keystream


@pytest.mark.parametrize(("code", "name"), [
    ("crypto.getRandomValues(new Float64Array(2))", "TypeMismatchError"),
    ("crypto.getRandomValues([1, 2])", "TypeMismatchError"),
    ("crypto.getRandomValues(new Uint8Array(65537))", "QuotaExceededError"),
])
def test_get_random_values_refuses_what_web_crypto_refuses(run, code, name):
    assert run(f"function main() {{ try {{ {code}; }} catch (e) {{ return e.name; }} }}").output == name


def test_the_entropy_handoff_is_gone_before_the_script_runs(run):
    result = run("function main() { return [typeof globalThis.__jsr$crypto, typeof crypto.subtle.digest]; }")
    assert result.output == ["undefined", "function"]
    assert [name for name, _ in compile_script("function main() { return crypto.randomUUID(); }").modules] \
        == [CRYPTO_UNIT]


@pytest.mark.parametrize("algorithm", ["SHA-1", "SHA-256", "SHA-384", "SHA-512"])
def test_subtle_digest_matches_the_standard_hashes(run, crypto_host, algorithm):
    result = run(HEX + f"""async function main() {{
      const data = new TextEncoder().encode('abc €');
      const buffer = await crypto.subtle.digest('{algorithm}', data);
      const named = await crypto.subtle.digest({{name: '{algorithm.lower()}'}}, data.buffer);
      return [buffer instanceof ArrayBuffer, hex(buffer), hex(named), hex(await crypto.subtle.digest('{algorithm}',
              new Uint8Array(0)))];
    }}""")
    python = hashlib.new(algorithm.replace("-", "").lower())
    python.update("abc €".encode())
    empty = hashlib.new(algorithm.replace("-", "").lower()).hexdigest()
    assert result.output == [True, python.hexdigest(), python.hexdigest(), empty]


def test_hmac_sign_and_verify_match_rfc_4231(run, crypto_host):
    # RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?"
    result = run(HEX + """async function main() {
      const enc = new TextEncoder();
      const key = await crypto.subtle.importKey('raw', enc.encode('Jefe'), {name: 'HMAC', hash: 'SHA-256'}, false,
                                                ['sign', 'verify']);
      const data = enc.encode('what do ya want for nothing?');
      const signature = await crypto.subtle.sign('HMAC', key, data);
      const tampered = new Uint8Array(signature.slice(0)); tampered[0] ^= 1;
      const key512 = await crypto.subtle.importKey('raw', enc.encode('Jefe'), {name: 'HMAC', hash: {name: 'SHA-512'}},
                                                   true, ['sign']);
      return [hex(signature), await crypto.subtle.verify({name: 'HMAC'}, key, signature, data),
              await crypto.subtle.verify('HMAC', key, tampered, data), key.type, key.algorithm, key.usages,
              key instanceof CryptoKey, hex(await crypto.subtle.sign('HMAC', key512, data)),
              hex(await crypto.subtle.exportKey('raw', key512))];
    }""")
    assert result.output == [
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843", True, False, "secret",
        {"name": "HMAC", "hash": {"name": "SHA-256"}, "length": 32}, ["sign", "verify"], True,
        hmac.new(b"Jefe", b"what do ya want for nothing?", hashlib.sha512).hexdigest(), b"Jefe".hex()]


@pytest.mark.parametrize(("code", "name"), [
    ("crypto.subtle.digest('MD5', new Uint8Array(1))", "NotSupportedError"),
    ("crypto.subtle.digest('SHA-256', 'text')", "TypeError"),
    ("crypto.subtle.importKey('jwk', new Uint8Array(1), {name: 'HMAC', hash: 'SHA-256'}, false, ['sign'])",
     "NotSupportedError"),
    ("crypto.subtle.importKey('raw', new Uint8Array(1), {name: 'AES-GCM'}, false, ['encrypt'])", "NotSupportedError"),
    ("crypto.subtle.importKey('raw', new Uint8Array(1), {name: 'HMAC', hash: 'SHA-256'}, false, ['verify'])"
     ".then((k) => crypto.subtle.sign('HMAC', k, new Uint8Array(1)))", "InvalidAccessError"),
    ("crypto.subtle.importKey('raw', new Uint8Array(1), {name: 'HMAC', hash: 'SHA-256'}, false, ['sign'])"
     ".then((k) => crypto.subtle.exportKey('raw', k))", "InvalidAccessError"),
    ("crypto.subtle.sign('HMAC', {}, new Uint8Array(1))", "TypeError"),
])
def test_subtle_rejects_what_web_crypto_rejects(run, crypto_host, code, name):
    assert run(f"async function main() {{ try {{ await {code}; }} catch (e) {{ return e.name; }} }}").output == name


def test_the_host_refuses_forged_crypto_requests():
    handler = CryptoHandler()
    with pytest.raises(HostError, match="unsupported hash"):
        handler(HostCall("t", "crypto", "digest", ["MD5", "00"], deadline=0))
    with pytest.raises(HostError, match="hex"):
        handler(HostCall("t", "crypto", "sign", ["SHA-256", "zz", "00"], deadline=0))


def test_the_run_records_crypto_calls_without_their_key_or_data(run, crypto_host):
    result = run("""async function main() {
      const enc = new TextEncoder();
      const key = await crypto.subtle.importKey('raw', enc.encode('k3y-material'), {name: 'HMAC', hash: 'SHA-1'},
                                                false, ['sign']);
      return (await crypto.subtle.sign('HMAC', key, enc.encode('payload'))).byteLength;
    }""")
    assert result.output == 20
    assert [(c["api"], c["method"], c["target"], c["ok"]) for c in result.host_call_timings] == \
        [("crypto", "sign", None, True)]
    assert b"k3y-material".hex() not in json.dumps(result.host_call_timings)
    assert b"payload".hex() not in json.dumps(result.host_call_timings)
