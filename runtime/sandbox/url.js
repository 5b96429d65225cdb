// URL and URLSearchParams after the WHATWG URL standard, for the common cases: special (http, https,
// ws, wss, ftp, file) and other schemes, relative references against a base, IPv4 forms, dot segments,
// the standard's percent-encode sets and application/x-www-form-urlencoded. Not done: IDNA (a non-ASCII
// host throws) and IPv6 compression (an IPv6 host is kept as written, lower-cased). Evaluated before a
// script that names URL (engine.compile_script), so other runs never pay for this file.
(function __jsr$url(G) {
  'use strict';
  const define = Object.defineProperty, toStr = String, encodeUri = encodeURIComponent;
  const wellFormed = String.prototype.toWellFormed;
  const SPECIAL = { __proto__: null, 'ftp:': 21, 'file:': null, 'http:': 80, 'https:': 443, 'ws:': 80, 'wss:': 443 };
  function __jsr$lock(name, value) { define(G, name, { value, writable: true, enumerable: false, configurable: true }); }
  function invalid(input) { return new TypeError(`Invalid URL: ${input}`); }

  const C0 = '', FRAGMENT = ' "<>`', QUERY = ' "#<>', SPECIAL_QUERY = QUERY + "'", PATH = QUERY + '?^`{}';
  const USERINFO = PATH + '/:;=@[\\]|';
  function encode(text, set) {
    let out = '';
    for (const ch of wellFormed.call(text)) {
      const c = ch.codePointAt(0);
      out += c < 0x20 || c > 0x7e ? encodeUri(ch) : set.includes(ch) ? '%' + c.toString(16).toUpperCase() : ch;
    }
    return out;
  }
  function formEncode(text) {
    let out = '';
    for (const ch of wellFormed.call(toStr(text))) {
      if (ch === ' ') out += '+';
      else if (/[A-Za-z0-9*\-._]/.test(ch)) out += ch;
      else out += ch.codePointAt(0) < 0x80 ? '%' + ch.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')
        : encodeUri(ch);
    }
    return out;
  }
  // Percent-decoding to bytes, then UTF-8 with U+FFFD for what is not.
  function decode(text) {
    const bytes = [];
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c === 0x25 && /^[0-9a-fA-F]{2}$/.test(text.slice(i + 1, i + 3))) {
        bytes.push(parseInt(text.slice(i + 1, i + 3), 16));
        i += 2;
      } else if (c < 0x80) bytes.push(c);
      else {
        const enc = encodeUri(wellFormed.call(text.slice(i, c >= 0xd800 && c < 0xdc00 ? i + 2 : i + 1)));
        for (const hex of enc.split('%').slice(1)) bytes.push(parseInt(hex, 16));
        if (c >= 0xd800 && c < 0xdc00 && i + 1 < text.length) i++;
      }
    }
    let out = '';
    for (let i = 0; i < bytes.length;) { // WHATWG's UTF-8 decode: one U+FFFD per maximal invalid subpart
      const b = bytes[i];
      if (b < 0x80) { out += String.fromCharCode(b); i++; continue; }
      const n = b >= 0xc2 && b <= 0xdf ? 1 : b >= 0xe0 && b <= 0xef ? 2 : b >= 0xf0 && b <= 0xf4 ? 3 : 0;
      let code = b & (0x3f >> n), k = 1;
      let lower = b === 0xe0 ? 0xa0 : b === 0xf0 ? 0x90 : 0x80, upper = b === 0xed ? 0x9f : b === 0xf4 ? 0x8f : 0xbf;
      for (; n > 0 && k <= n; k++) {
        const next = bytes[i + k];
        if (next === undefined || next < lower || next > upper) break;
        code = code << 6 | next & 0x3f;
        lower = 0x80; upper = 0xbf;
      }
      if (n > 0 && k > n) { out += String.fromCodePoint(code); i += n + 1; } else { out += '\ufffd'; i += k; }
    }
    return out;
  }

  function ipv4Number(part) {
    if (part === '') return NaN;
    if (/^0[xX]/.test(part)) {
      return /^[0-9a-fA-F]*$/.test(part.slice(2)) ? (part.length === 2 ? 0 : parseInt(part.slice(2), 16)) : NaN;
    }
    if (part.length > 1 && part[0] === '0') return /^[0-7]+$/.test(part) ? parseInt(part.slice(1), 8) : NaN;
    return /^[0-9]+$/.test(part) ? parseInt(part, 10) : NaN;
  }
  function parseHost(raw, special, input) {
    if (raw.startsWith('[')) {
      if (!raw.endsWith(']') || !/^\[[0-9a-fA-F:.]+\]$/.test(raw)) throw invalid(input);
      return raw.toLowerCase();
    }
    if (!special) {
      if (/[\0\t\n\r #/:<>?@[\\\]^|]/.test(raw)) throw invalid(input);
      return encode(raw, C0);
    }
    const host = decode(raw).toLowerCase();
    if (host === '' || /[^\x21-\x7e]|[#%/:<>?@[\\\]^|]/.test(host)) throw invalid(input);
    const parts = host.split('.');
    if (parts[parts.length - 1] === '' && parts.length > 1) parts.pop();
    const last = parts[parts.length - 1];
    if (!/^(0[xX][0-9a-fA-F]*|[0-9]+)$/.test(last)) return host;
    const numbers = parts.map(ipv4Number);
    if (parts.length > 4 || numbers.some(Number.isNaN)) throw invalid(input);
    const tail = numbers.pop();
    if (numbers.some((n) => n > 255) || tail >= 256 ** (4 - numbers.length)) throw invalid(input);
    let value = tail;
    numbers.forEach((n, i) => { value += n * 256 ** (3 - i); });
    return [value >>> 24, value >>> 16 & 255, value >>> 8 & 255, value & 255].join('.');
  }
  function parsePath(text, special, base) {
    const segments = base ? base.slice(0, -1) : [];
    const parts = (special ? text.replace(/\\/g, '/') : text).split('/');
    parts.forEach((part, i) => {
      const single = /^(\.|%2e)$/i.test(part), double = /^(\.|%2e)(\.|%2e)$/i.test(part);
      if (double) { segments.pop(); if (i === parts.length - 1) segments.push(''); }
      else if (single) { if (i === parts.length - 1) segments.push(''); }
      else segments.push(encode(part, PATH));
    });
    return segments;
  }

  // A URL record: {scheme, username, password, host (null when none), port, path (array or an opaque
  // string), query, fragment (null when none)}.
  function parse(input, base) {
    const text = toStr(input).replace(/^[\0- ]+|[\0- ]+$/g, '').replace(/[\t\n\r]/g, '');
    const url = { scheme: '', username: '', password: '', host: null, port: '', path: [], query: null, fragment: null };
    let rest = text;
    const hash = rest.indexOf('#');
    if (hash >= 0) { url.fragment = encode(rest.slice(hash + 1), FRAGMENT); rest = rest.slice(0, hash); }
    const schemeMatch = /^([A-Za-z][A-Za-z0-9+\-.]*):/.exec(rest);
    if (schemeMatch) {
      url.scheme = schemeMatch[1].toLowerCase() + ':';
      rest = rest.slice(schemeMatch[0].length);
    } else {
      if (!base) throw invalid(input);
      url.scheme = base.scheme;
    }
    const special = url.scheme in SPECIAL, slash = special ? /^[/\\]/ : /^\//;
    const question = rest.indexOf('?');
    const setQuery = (q) => { url.query = encode(q, special ? SPECIAL_QUERY : QUERY); };
    if (question >= 0) { setQuery(rest.slice(question + 1)); rest = rest.slice(0, question); }
    const sameSchemeBase = base && base.scheme === url.scheme;
    const relative = !schemeMatch || (special && sameSchemeBase && !slash.test(rest));
    if (relative) {
      if (typeof base.path === 'string') {
        if (schemeMatch || rest !== '' || question >= 0 || hash < 0) throw invalid(input);
        Object.assign(url, base, { fragment: url.fragment });
        return url;
      }
      if (!(special ? /^[/\\]{2}/ : /^\/\//).test(rest)) {
        Object.assign(url, { username: base.username, password: base.password, host: base.host, port: base.port });
        if (rest === '') {
          url.path = base.path.slice();
          if (question < 0) url.query = base.query;
        } else url.path = parsePath(slash.test(rest) ? rest.slice(1) : rest, special, slash.test(rest) ? null : base.path);
        return url;
      }
    }
    if (special && url.scheme !== 'file:' ? true : /^\/\//.test(rest)) {
      rest = rest.replace(special && url.scheme !== 'file:' ? /^[/\\]*/ : special ? /^[/\\]{2}/ : /^\/\//, '');
      const end = rest.search(special ? /[/\\]/ : /\//);
      const authority = end < 0 ? rest : rest.slice(0, end);
      rest = end < 0 ? '' : rest.slice(end);
      const at = authority.lastIndexOf('@');
      const hostPort = authority.slice(at + 1);
      if (at >= 0) {
        const info = authority.slice(0, at), colon = info.indexOf(':');
        url.username = encode(colon < 0 ? info : info.slice(0, colon), USERINFO);
        url.password = colon < 0 ? '' : encode(info.slice(colon + 1), USERINFO);
      }
      const portMatch = /:([^:\]]*)$/.exec(hostPort);
      const hostText = portMatch ? hostPort.slice(0, portMatch.index) : hostPort;
      if (portMatch && portMatch[1] !== '') {
        if (!/^[0-9]+$/.test(portMatch[1]) || +portMatch[1] > 65535) throw invalid(input);
        url.port = +portMatch[1] === SPECIAL[url.scheme] ? '' : toStr(+portMatch[1]);
      }
      if (hostText === '' && special && url.scheme !== 'file:') throw invalid(input);
      url.host = hostText === '' ? '' : parseHost(hostText, special, input);
      url.path = rest === '' ? (special ? [''] : []) : parsePath(rest.slice(1), special, null);
    } else if (slash.test(rest) || special) {
      url.path = parsePath(rest.replace(slash, ''), special, null);
    } else {
      url.path = encode(rest, C0); // an opaque path: mailto:, data:, urn:
    }
    return url;
  }
  function serializePath(url) {
    if (typeof url.path === 'string') return url.path;
    const path = '/' + url.path.join('/');
    return url.host === null && url.path.length > 1 && url.path[0] === '' ? '/.' + path : url.path.length ? path : '';
  }
  function serialize(url, withFragment = true) {
    let out = url.scheme;
    if (url.host !== null) {
      out += '//';
      if (url.username || url.password) out += url.username + (url.password ? ':' + url.password : '') + '@';
      out += url.host + (url.port ? ':' + url.port : '');
    }
    out += serializePath(url);
    if (url.query !== null) out += '?' + url.query;
    if (withFragment && url.fragment !== null) out += '#' + url.fragment;
    return out;
  }

  function parseForm(text) {
    const list = [];
    for (const part of text.split('&')) {
      if (part === '') continue;
      const eq = part.indexOf('=');
      const name = eq < 0 ? part : part.slice(0, eq), value = eq < 0 ? '' : part.slice(eq + 1);
      list.push([decode(name.replace(/\+/g, ' ')), decode(value.replace(/\+/g, ' '))]);
    }
    return list;
  }
  const paramsOwner = new WeakMap();

  class URLSearchParams {
    #list = [];
    constructor(init = '') {
      if (init instanceof URLSearchParams) this.#list = init.#list.map(([n, v]) => [n, v]);
      else if (init !== null && typeof init === 'object') {
        if (typeof init[Symbol.iterator] === 'function') {
          for (const pair of init) {
            const items = Array.from(pair);
            if (items.length !== 2) throw new TypeError('Each query pair must be an iterable [name, value] tuple');
            this.#list.push([toStr(items[0]), toStr(items[1])]);
          }
        } else for (const key of Object.keys(init)) this.#list.push([key, toStr(init[key])]);
      } else {
        const text = toStr(init);
        this.#list = parseForm(text.startsWith('?') ? text.slice(1) : text);
      }
    }
    #update() {
      const url = paramsOwner.get(this);
      if (url === undefined) return;
      const text = this.toString();
      url.query = text === '' ? null : text;
    }
    get size() { return this.#list.length; }
    append(name, value) { this.#list.push([toStr(name), toStr(value)]); this.#update(); }
    delete(name, value) {
      name = toStr(name);
      this.#list = this.#list.filter(([n, v]) => n !== name || (value !== undefined && v !== toStr(value)));
      this.#update();
    }
    get(name) { const found = this.#list.find(([n]) => n === toStr(name)); return found ? found[1] : null; }
    getAll(name) { return this.#list.filter(([n]) => n === toStr(name)).map(([, v]) => v); }
    has(name, value) {
      return this.#list.some(([n, v]) => n === toStr(name) && (value === undefined || v === toStr(value)));
    }
    set(name, value) {
      name = toStr(name);
      const first = this.#list.findIndex(([n]) => n === name);
      if (first < 0) this.#list.push([name, toStr(value)]);
      else {
        this.#list[first][1] = toStr(value);
        this.#list = this.#list.filter(([n], i) => n !== name || i === first);
      }
      this.#update();
    }
    sort() {
      const units = (s) => Array.from({ length: s.length }, (_, i) => s.charCodeAt(i));
      this.#list = this.#list.map((pair, i) => [pair, i]).sort(([a, i], [b, j]) => {
        const x = units(a[0]), y = units(b[0]);
        for (let k = 0; k < Math.min(x.length, y.length); k++) if (x[k] !== y[k]) return x[k] - y[k];
        return x.length - y.length || i - j;
      }).map(([pair]) => pair);
      this.#update();
    }
    forEach(callback, thisArg) { for (const [n, v] of this.#list) callback.call(thisArg, v, n, this); }
    keys() { return this.#list.map(([n]) => n)[Symbol.iterator](); }
    values() { return this.#list.map(([, v]) => v)[Symbol.iterator](); }
    entries() { return this.#list.map(([n, v]) => [n, v])[Symbol.iterator](); }
    [Symbol.iterator]() { return this.entries(); }
    toString() { return this.#list.map(([n, v]) => formEncode(n) + '=' + formEncode(v)).join('&'); }
    get [Symbol.toStringTag]() { return 'URLSearchParams'; }
  }

  class URL {
    #url; #params;
    constructor(input, base) {
      const baseRecord = base === undefined ? null : parse(toStr(base), null);
      this.#url = parse(toStr(input), baseRecord);
      this.#params = new URLSearchParams(this.#url.query || '');
      paramsOwner.set(this.#params, this.#url);
    }
    static canParse(input, base) {
      try { new URL(input, base); return true; } catch (e) { return false; }
    }
    static parse(input, base) {
      try { return new URL(input, base); } catch (e) { return null; }
    }
    get href() { return serialize(this.#url); }
    set href(value) {
      this.#url = parse(toStr(value), null);
      this.#params = new URLSearchParams(this.#url.query || '');
      paramsOwner.set(this.#params, this.#url);
    }
    get origin() {
      const u = this.#url;
      return u.scheme in SPECIAL && u.scheme !== 'file:' ? u.scheme + '//' + u.host + (u.port ? ':' + u.port : '') : 'null';
    }
    get protocol() { return this.#url.scheme; }
    get username() { return this.#url.username; }
    get password() { return this.#url.password; }
    get host() { const u = this.#url; return u.host === null ? '' : u.host + (u.port ? ':' + u.port : ''); }
    get hostname() { return this.#url.host === null ? '' : this.#url.host; }
    get port() { return this.#url.port; }
    get pathname() { return serializePath(this.#url); }
    get search() { const q = this.#url.query; return q === null || q === '' ? '' : '?' + q; }
    set search(value) {
      const text = toStr(value).replace(/^\?/, '');
      this.#url.query = text === '' ? null : encode(text, this.#url.scheme in SPECIAL ? SPECIAL_QUERY : QUERY);
      this.#params = new URLSearchParams(this.#url.query || '');
      paramsOwner.set(this.#params, this.#url);
    }
    get searchParams() { return this.#params; }
    get hash() { const f = this.#url.fragment; return f === null || f === '' ? '' : '#' + f; }
    set hash(value) {
      const text = toStr(value).replace(/^#/, '');
      this.#url.fragment = text === '' ? null : encode(text, FRAGMENT);
    }
    toString() { return this.href; }
    toJSON() { return this.href; }
    get [Symbol.toStringTag]() { return 'URL'; }
  }

  __jsr$lock('URL', URL);
  __jsr$lock('URLSearchParams', URLSearchParams);
})(globalThis);
