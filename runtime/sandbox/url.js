// URL and URLSearchParams after the WHATWG URL standard, for the common cases: special (http, https,
// ws, wss, ftp, file) and other schemes, relative references against a base, IPv4 forms, dot segments,
// the standard's percent-encode sets and application/x-www-form-urlencoded, and IDNA for non-ASCII hosts
// (UTS #46 non-transitional, see toASCII). Not done: IPv6 compression (an IPv6 host is kept as written,
// lower-cased). Evaluated before a script that names URL (engine.compile_script), so other runs never
// pay for this file.
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
  // -- IDNA: UTS #46 processing, non-transitional, as the URL standard's domain to ASCII asks -------------
  // The mapping is approximated with what QuickJS has: code points UTS #46 ignores are dropped, then
  // lower case, NFKC, lower case again and NFC (UTS #46's table is NFKC_Casefold with exceptions; its
  // deviations ß and ς stay, as non-transitional processing keeps them). A label is refused when it holds
  // a control, surrogate, private-use, unassigned or space code point, a joiner, U+FFFD, starts with a
  // combining mark, or is an xn-- label that is not valid Punycode of such a label. Not checked: the
  // Bidi and ContextJ rules (a label with ZWJ/ZWNJ is refused).
  const IGNORED = /[\u00ad\u034f\u180b-\u180d\u180f\u200b\u2060\u2064\ufe00-\ufe0f\ufeff\u{1bca0}-\u{1bca3}\u{e0100}-\u{e01ef}]/gu;
  const DISALLOWED = /[\p{Cc}\p{Cs}\p{Co}\p{Cn}\p{Zs}\p{Zl}\p{Zp}\u200c\u200d\ufffd]|^\p{M}/u;
  const ASCII = /^[\x00-\x7f]*$/;
  function map(text) {
    return text.replace(IGNORED, '').replace(/\u03a3/g, '\u03c3').toLowerCase().normalize('NFKC').toLowerCase()
      .normalize('NFC').replace(/[\u3002\uff0e\uff61]/g, '.');
  }
  const BASE = 36, TMIN = 1, TMAX = 26;
  function threshold(k, bias) { return k <= bias ? TMIN : k >= bias + TMAX ? TMAX : k - bias; }
  function adapt(delta, points, first) { // RFC 3492, 6.1
    delta = first ? Math.floor(delta / 700) : delta >> 1;
    delta += Math.floor(delta / points);
    let k = 0;
    for (; delta > 455; k += BASE) delta = Math.floor(delta / 35);
    return k + Math.floor(36 * delta / (delta + 38));
  }
  function punycode(label) { // RFC 3492, 6.3
    const points = Array.from(label, (ch) => ch.codePointAt(0));
    let out = points.filter((c) => c < 0x80).map((c) => String.fromCharCode(c)).join('');
    const basic = out.length;
    if (basic) out += '-';
    let n = 128, delta = 0, bias = 72;
    for (let done = basic; done < points.length; delta++, n++) {
      const next = Math.min(...points.filter((c) => c >= n));
      delta += (next - n) * (done + 1);
      n = next;
      for (const c of points) {
        if (c < n) delta++;
        if (c !== n) continue;
        let q = delta;
        for (let k = BASE; ; k += BASE) {
          const t = threshold(k, bias);
          if (q < t) break;
          out += digit(t + (q - t) % (BASE - t));
          q = Math.floor((q - t) / (BASE - t));
        }
        out += digit(q);
        bias = adapt(delta, done + 1, done === basic);
        delta = 0;
        done++;
      }
    }
    return out;
  }
  function digit(d) { return String.fromCharCode(d < 26 ? 97 + d : 22 + d); }
  function unpunycode(text) { // RFC 3492, 6.2; null when it is not Punycode
    const basic = Math.max(0, text.lastIndexOf('-')), out = [];
    for (let j = 0; j < basic; j++) out.push(text.charCodeAt(j));
    let n = 128, i = 0, bias = 72;
    for (let at = basic > 0 ? basic + 1 : 0; at < text.length;) {
      const old = i;
      for (let k = BASE, w = 1; ; k += BASE) {
        if (at >= text.length) return null;
        const c = text.charCodeAt(at++);
        const d = c >= 48 && c <= 57 ? c - 22 : c >= 65 && c <= 90 ? c - 65 : c >= 97 && c <= 122 ? c - 97 : BASE;
        if (d >= BASE) return null;
        i += d * w;
        const t = threshold(k, bias);
        if (d < t) break;
        w *= BASE - t;
        if (i > 0x7fffffff || w > 0x7fffffff) return null;
      }
      bias = adapt(i - old, out.length + 1, old === 0);
      n += Math.floor(i / (out.length + 1));
      i %= out.length + 1;
      if (n > 0x10ffff) return null;
      out.splice(i++, 0, n);
    }
    return String.fromCodePoint(...out);
  }
  function toASCII(domain, input) {
    if (ASCII.test(domain) && !/(^|\.)xn--/i.test(domain)) return domain.toLowerCase();
    return map(domain).split('.').map((label) => {
      if (label.startsWith('xn--')) {
        const decoded = unpunycode(label.slice(4));
        if (decoded === null || ASCII.test(decoded) || map(decoded) !== decoded || DISALLOWED.test(decoded)) {
          throw invalid(input);
        }
        return label;
      }
      if (DISALLOWED.test(label)) throw invalid(input);
      return ASCII.test(label) ? label : 'xn--' + punycode(label);
    }).join('.');
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
    const host = toASCII(decode(raw), input);
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
