// Web-standard globals QuickJS lacks: TextEncoder, TextDecoder (UTF-8, as WHATWG Encoding
// specifies) and structuredClone (the HTML structured clone of plain data). Evaluated before a
// script that names one of them (engine.compile_script), so other runs never pay for this file.
(function __jsr$web(G) {
  'use strict';
  const define = Object.defineProperty, U8 = Uint8Array, toStr = String, fromCharCode = String.fromCharCode;
  const wellFormed = String.prototype.toWellFormed;
  function __jsr$lock(name, value) { define(G, name, { value, writable: true, enumerable: false, configurable: true }); }

  class TextEncoder {
    get encoding() { return 'utf-8'; }
    encode(input = '') {
      const text = wellFormed.call(toStr(input)), out = [];
      for (let i = 0; i < text.length; i++) {
        let c = text.codePointAt(i);
        if (c > 0xffff) i++;
        if (c < 0x80) out.push(c);
        else if (c < 0x800) out.push(0xc0 | c >> 6, 0x80 | c & 63);
        else if (c < 0x10000) out.push(0xe0 | c >> 12, 0x80 | c >> 6 & 63, 0x80 | c & 63);
        else out.push(0xf0 | c >> 18, 0x80 | c >> 12 & 63, 0x80 | c >> 6 & 63, 0x80 | c & 63);
      }
      return new U8(out);
    }
  }

  class TextDecoder {
    #fatal; #ignoreBOM;
    constructor(label = 'utf-8', options = {}) {
      const name = toStr(label).trim().toLowerCase();
      if (name !== 'utf-8' && name !== 'utf8' && name !== 'unicode-1-1-utf-8') {
        throw new RangeError(`The encoding label provided ('${toStr(label)}') is invalid.`);
      }
      this.#fatal = !!(options && options.fatal);
      this.#ignoreBOM = !!(options && options.ignoreBOM);
    }
    get encoding() { return 'utf-8'; }
    get fatal() { return this.#fatal; }
    get ignoreBOM() { return this.#ignoreBOM; }
    // The WHATWG UTF-8 decoder: each maximal invalid subpart becomes one U+FFFD (or a TypeError when fatal).
    decode(input = new U8(0)) {
      const bytes = ArrayBuffer.isView(input) ? new U8(input.buffer, input.byteOffset, input.byteLength)
        : new U8(input);
      let out = '', i = 0, needed = 0, seen = 0, code = 0, lower = 0x80, upper = 0xbf;
      const fail = () => {
        if (this.#fatal) throw new TypeError('The encoded data was not valid for encoding utf-8');
        out += '\ufffd';
      };
      if (!this.#ignoreBOM && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) i = 3;
      for (; i < bytes.length; i++) {
        const b = bytes[i];
        if (needed === 0) {
          if (b < 0x80) { out += fromCharCode(b); continue; }
          if (b >= 0xc2 && b <= 0xdf) { needed = 1; code = b & 0x1f; }
          else if (b >= 0xe0 && b <= 0xef) {
            if (b === 0xe0) lower = 0xa0;
            if (b === 0xed) upper = 0x9f;
            needed = 2; code = b & 0xf;
          } else if (b >= 0xf0 && b <= 0xf4) {
            if (b === 0xf0) lower = 0x90;
            if (b === 0xf4) upper = 0x8f;
            needed = 3; code = b & 0x7;
          } else fail();
          continue;
        }
        if (b < lower || b > upper) {
          code = needed = seen = 0; lower = 0x80; upper = 0xbf;
          fail();
          i--; // the byte starts over
          continue;
        }
        lower = 0x80; upper = 0xbf;
        code = code << 6 | b & 0x3f;
        if (++seen === needed) {
          out += String.fromCodePoint(code);
          code = needed = seen = 0;
        }
      }
      if (needed !== 0) fail();
      return out;
    }
  }

  // HTML's structured clone of plain data; functions, symbols, class instances' methods and the like
  // throw a DataCloneError as browsers do.
  function structuredClone(value) {
    const seen = new Map();
    function fail(what) {
      const error = new Error(`${what} could not be cloned.`);
      error.name = 'DataCloneError';
      throw error;
    }
    function clone(v) {
      if (typeof v === 'function') fail(toStr(v.name ? `function ${v.name}` : 'function'));
      if (typeof v === 'symbol') fail(toStr(v.toString()));
      if (v === null || typeof v !== 'object') return v;
      if (seen.has(v)) return seen.get(v);
      let out;
      const tag = Object.prototype.toString.call(v);
      if (Array.isArray(v)) {
        out = new Array(v.length);
        seen.set(v, out);
        for (const key of Object.keys(v)) out[key] = clone(v[key]);
        return out;
      }
      switch (tag) {
        case '[object Date]': out = new Date(v.getTime()); break;
        case '[object RegExp]': out = new RegExp(v.source, v.flags); break;
        case '[object Boolean]': case '[object Number]': case '[object String]': out = Object(v.valueOf()); break;
        case '[object ArrayBuffer]': out = v.slice(0); break;
        case '[object Map]':
          out = new Map(); seen.set(v, out);
          for (const [key, item] of v) out.set(clone(key), clone(item));
          return out;
        case '[object Set]':
          out = new Set(); seen.set(v, out);
          for (const item of v) out.add(clone(item));
          return out;
        case '[object Error]':
          out = new (G[v.name] && G[v.name].prototype instanceof Error ? G[v.name] : Error)(toStr(v.message));
          break;
        default:
          if (ArrayBuffer.isView(v)) {
            out = new v.constructor(clone(v.buffer), v.byteOffset, v instanceof DataView ? v.byteLength : v.length);
            break;
          }
          if (tag !== '[object Object]') fail(tag.slice(8, -1) + ' object');
          out = {};
          seen.set(v, out);
          for (const key of Object.keys(v)) out[key] = clone(v[key]);
          return out;
      }
      seen.set(v, out);
      return out;
    }
    return clone(value);
  }

  __jsr$lock('TextEncoder', TextEncoder);
  __jsr$lock('TextDecoder', TextDecoder);
  __jsr$lock('structuredClone', structuredClone);
})(globalThis);
