// The Web Crypto globals: crypto.getRandomValues and crypto.randomUUID draw from ChaCha20 keyed with 32
// bytes of the host's os.urandom, injected for this run only; crypto.subtle.digest (SHA-1/256/384/512)
// and HMAC importKey('raw')/sign/verify resolve through host calls (runtime/host/crypto.py). The
// prelude's setup leaves the entropy and its host-call function on a global that this file takes away
// before any script runs. Evaluated before a script that names crypto (engine.compile_script), so other
// runs never pay for this file.
(function __jsr$crypto(G) {
  'use strict';
  const handoff = G.__jsr$crypto;
  delete G.__jsr$crypto;
  const hostCall = handoff.hostCall, U8 = Uint8Array, toStr = String;
  const define = Object.defineProperty, freeze = Object.freeze, then = Promise.prototype.then;
  function fail(name, message) {
    const error = new Error(message);
    error.name = name;
    return error;
  }

  // ChaCha20 (RFC 8439) keystream: key from the injected entropy, nonce 0, a 64-bit block counter.
  const key = new Uint32Array(8);
  for (let i = 0; i < 32; i++) key[i >> 2] |= parseInt(handoff.entropy.slice(i * 2, i * 2 + 2), 16) << (i % 4 * 8);
  const state = new Uint32Array(16), work = new Uint32Array(16), block = new U8(64);
  let counter = 0, available = 0;
  function quarter(x, a, b, c, d) {
    x[a] += x[b]; x[d] ^= x[a]; x[d] = x[d] << 16 | x[d] >>> 16;
    x[c] += x[d]; x[b] ^= x[c]; x[b] = x[b] << 12 | x[b] >>> 20;
    x[a] += x[b]; x[d] ^= x[a]; x[d] = x[d] << 8 | x[d] >>> 24;
    x[c] += x[d]; x[b] ^= x[c]; x[b] = x[b] << 7 | x[b] >>> 25;
  }
  function refill() {
    state.set([0x61707865, 0x3320646e, 0x79622d32, 0x6b206574]);
    state.set(key, 4);
    state[12] = counter % 0x100000000; state[13] = Math.floor(counter / 0x100000000); state[14] = state[15] = 0;
    counter++;
    work.set(state);
    for (let i = 0; i < 10; i++) {
      quarter(work, 0, 4, 8, 12); quarter(work, 1, 5, 9, 13); quarter(work, 2, 6, 10, 14); quarter(work, 3, 7, 11, 15);
      quarter(work, 0, 5, 10, 15); quarter(work, 1, 6, 11, 12); quarter(work, 2, 7, 8, 13); quarter(work, 3, 4, 9, 14);
    }
    for (let i = 0; i < 16; i++) {
      const v = work[i] + state[i];
      block[i * 4] = v; block[i * 4 + 1] = v >>> 8; block[i * 4 + 2] = v >>> 16; block[i * 4 + 3] = v >>> 24;
    }
    available = 64;
  }
  function fill(bytes) {
    for (let i = 0; i < bytes.length; i++) {
      if (available === 0) refill();
      bytes[i] = block[64 - available];
      block[64 - available--] = 0; // a byte handed out is not kept
    }
    return bytes;
  }
  const INTEGER_ARRAYS = ['Int8Array', 'Uint8Array', 'Uint8ClampedArray', 'Int16Array', 'Uint16Array', 'Int32Array',
    'Uint32Array', 'BigInt64Array', 'BigUint64Array'];
  function getRandomValues(array) {
    const tag = ArrayBuffer.isView(array) ? Object.prototype.toString.call(array).slice(8, -1) : '';
    if (!INTEGER_ARRAYS.includes(tag)) {
      throw fail('TypeMismatchError', "Failed to execute 'getRandomValues' on 'Crypto': "
        + 'The provided ArrayBufferView is not an integer array type.');
    }
    if (array.byteLength > 65536) {
      throw fail('QuotaExceededError', "Failed to execute 'getRandomValues' on 'Crypto': The ArrayBufferView's byte "
        + `length (${array.byteLength}) exceeds the number of bytes of entropy available via this API (65536).`);
    }
    fill(new U8(array.buffer, array.byteOffset, array.byteLength));
    return array;
  }
  function hex(bytes) {
    let out = '';
    for (let i = 0; i < bytes.length; i++) out += (bytes[i] < 16 ? '0' : '') + bytes[i].toString(16);
    return out;
  }
  function randomUUID() {
    const b = fill(new U8(16));
    b[6] = b[6] & 0x0f | 0x40;
    b[8] = b[8] & 0x3f | 0x80;
    const h = hex(b);
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }

  // SubtleCrypto: arguments are checked here, the work is the host's.
  const HASHES = ['SHA-1', 'SHA-256', 'SHA-384', 'SHA-512'];
  function bufferHex(data, what) {
    if (data instanceof ArrayBuffer) return hex(new U8(data));
    if (ArrayBuffer.isView(data)) return hex(new U8(data.buffer, data.byteOffset, data.byteLength));
    throw new TypeError(`${what} must be an ArrayBuffer or an ArrayBufferView`);
  }
  function fromHex(text) {
    const out = new U8(text.length / 2);
    for (let i = 0; i < out.length; i++) out[i] = parseInt(text.slice(i * 2, i * 2 + 2), 16);
    return out.buffer;
  }
  function algorithmName(algorithm) {
    return toStr(typeof algorithm === 'object' && algorithm !== null ? algorithm.name : algorithm);
  }
  function hashName(algorithm) {
    const name = algorithmName(algorithm).toUpperCase();
    if (!HASHES.includes(name)) throw fail('NotSupportedError', `Unrecognized algorithm name: ${algorithmName(algorithm)}`);
    return name;
  }
  function hmacName(algorithm) {
    if (algorithmName(algorithm).toUpperCase() !== 'HMAC') {
      throw fail('NotSupportedError', `Unrecognized algorithm name: ${algorithmName(algorithm)}`);
    }
  }
  const secrets = new WeakMap();
  class CryptoKey {
    constructor() { throw new TypeError('Illegal constructor'); }
  }
  function newKey(keyHex, hash, extractable, usages) {
    const k = Object.create(CryptoKey.prototype);
    define(k, 'type', { value: 'secret', enumerable: true });
    define(k, 'extractable', { value: !!extractable, enumerable: true });
    define(k, 'algorithm', { value: freeze({ name: 'HMAC', hash: freeze({ name: hash }), length: keyHex.length * 4 }),
      enumerable: true });
    define(k, 'usages', { value: freeze(usages.slice()), enumerable: true });
    secrets.set(k, keyHex);
    return k;
  }
  function keyHex(k, usage) {
    const text = secrets.get(k);
    if (text === undefined) throw new TypeError('key is not a CryptoKey');
    if (!k.usages.includes(usage)) throw fail('InvalidAccessError', `key does not allow '${usage}'`);
    return text;
  }
  // A synchronous failure in any of these becomes the returned promise's rejection, as in browsers.
  function promised(body) {
    return function __jsr$subtle(...args) {
      try { return Promise.resolve(body(...args)); } catch (e) { return Promise.reject(e); }
    };
  }
  const hostBytes = (request) => then.call(request, fromHex);
  const subtle = freeze({
    __proto__: null,
    digest: promised((algorithm, data) => hostBytes(hostCall('crypto', 'digest', [hashName(algorithm), bufferHex(data, 'data')]))),
    importKey: promised((format, keyData, algorithm, extractable, usages) => {
      if (format !== 'raw') throw fail('NotSupportedError', `key format '${toStr(format)}' is not supported (only 'raw')`);
      hmacName(algorithm);
      const hash = hashName(algorithm.hash);
      const list = Array.from(usages || []);
      if (list.some((u) => u !== 'sign' && u !== 'verify')) throw fail('SyntaxError', 'HMAC keys are for sign and verify only');
      const text = bufferHex(keyData, 'keyData');
      if (text === '') throw fail('DataError', 'HMAC key data must not be empty');
      if (algorithm.length !== undefined && +algorithm.length !== text.length * 4) {
        throw fail('DataError', 'HMAC key length does not match the key data');
      }
      return newKey(text, hash, extractable, list);
    }),
    exportKey: promised((format, k) => {
      if (format !== 'raw') throw fail('NotSupportedError', `key format '${toStr(format)}' is not supported (only 'raw')`);
      const text = secrets.get(k);
      if (text === undefined) throw new TypeError('key is not a CryptoKey');
      if (!k.extractable) throw fail('InvalidAccessError', 'key is not extractable');
      return fromHex(text);
    }),
    sign: promised((algorithm, k, data) => {
      hmacName(algorithm);
      const text = keyHex(k, 'sign');
      return hostBytes(hostCall('crypto', 'sign', [k.algorithm.hash.name, text, bufferHex(data, 'data')]));
    }),
    verify: promised((algorithm, k, signature, data) => {
      hmacName(algorithm);
      const text = keyHex(k, 'verify');
      return hostCall('crypto', 'verify', [k.algorithm.hash.name, text, bufferHex(signature, 'signature'),
        bufferHex(data, 'data')]);
    }),
  });
  define(G, 'CryptoKey', { value: CryptoKey, writable: true, configurable: true });
  define(G, 'crypto', { value: freeze({ __proto__: null, getRandomValues, randomUUID, subtle }), writable: true,
    configurable: true });
})(globalThis);
