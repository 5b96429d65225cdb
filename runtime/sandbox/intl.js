// Intl.DateTimeFormat, the part that dayjs's timezone plugin (and a script naming Intl) needs: en-US
// numeric dates and times in any IANA time zone (or a fixed offset such as '+05:30'), format,
// formatToParts and resolvedOptions, a RangeError for an unknown zone or an option this runtime does
// not offer (names of months and weekdays, dateStyle/timeStyle, long zone names). Date's
// toLocaleString/DateString/TimeString given locales or options format through it. Zone offsets
// come from the table runtime/zonetable.py makes from Python's zoneinfo at set-up (1970-2100; before
// and after, the offsets in force at those ends), handed over as G.__jsr$zones and read where needed:
// a zone's line and an instant's offset are both found by binary search, nothing is parsed whole. Evaluated before code that names Intl (engine.compile_script): the plugin does.
(function __jsr$intl(G) {
  'use strict';
  const table = G.__jsr$zones;
  delete G.__jsr$zones;
  const define = Object.defineProperty, toStr = String, floor = Math.floor, abs = Math.abs, now = Date.now;
  const apply = Reflect.apply, formats = new WeakMap(), formatOf = WeakMap.prototype.get, remember = WeakMap.prototype.set;
  const DateProto = Date.prototype;
  const original = { toLocaleString: DateProto.toLocaleString, toLocaleDateString: DateProto.toLocaleDateString,
    toLocaleTimeString: DateProto.toLocaleTimeString };
  function __jsr$define(obj, name, value) {
    define(obj, name, { value, writable: true, enumerable: false, configurable: true });
  }

  // -- zones ------------------------------------------------------------------------------------
  const UTC_NAMES = ['etc/utc', 'etc/gmt', 'gmt', 'utc', 'etc/uct', 'uct', 'etc/universal', 'universal',
    'etc/zulu', 'zulu', 'etc/greenwich', 'greenwich', 'etc/gmt0', 'gmt0', 'etc/gmt+0', 'gmt+0', 'etc/gmt-0',
    'gmt-0'];
  const parsed = { __proto__: null };
  let lowerTable = null;
  function __jsr$line(name) {
    // The name as the table spells it, and the rest of its line (';data' or '=Other'). Lines are sorted by
    // name: a binary search over [low, high), whose ends are line starts, reads ~20 lines, not 220 KB.
    let low = 1, high = table.length;
    while (low < high) {
      const middle = (low + high) >> 1;
      const start = table.lastIndexOf('\n', middle - 1) + 1;
      const prefix = table.slice(start, start + name.length), after = table[start + name.length];
      if (prefix === name && (after === ';' || after === '=')) {
        return [name, table.slice(start + name.length, table.indexOf('\n', start))];
      }
      if (prefix < name) low = table.indexOf('\n', start) + 1; // a longer name with this prefix sorts after it
      else high = start;
    }
    // Names are case-insensitive: the rare other spelling is looked for in a lower-cased copy.
    if (lowerTable === null) lowerTable = table.toLowerCase();
    const lower = name.toLowerCase();
    let at = lowerTable.indexOf('\n' + lower + ';');
    if (at < 0) at = lowerTable.indexOf('\n' + lower + '=');
    if (at < 0) return null;
    const end = table.indexOf('\n', at + 1);
    return [table.slice(at + 1, at + 1 + name.length), table.slice(at + 1 + name.length, end)];
  }
  function __jsr$zoneData(name) {
    if (parsed[name] !== undefined) return parsed[name];
    let found = __jsr$line(name), hops = 0;
    if (found === null) return null;
    const canonical = found[0];
    while (found[1][0] === '=' && hops++ < 4) found = __jsr$line(found[1].slice(1));
    const [offsets, names, transitions] = found[1].slice(1).split(';');
    const abbreviations = names.split(',');
    const states = offsets.split(',').map(function __jsr$state(o, i) {
      return { offset: parseInt(o, 36), name: abbreviations[i] };
    });
    return (parsed[name] = parsed[canonical] = { name: canonical, states, transitions });
  }
  function __jsr$fixedZone(name) {
    const m = /^([+-])(\d{2})(?::?(\d{2}))?$/.exec(name);
    if (m === null || +m[2] > 23 || +(m[3] || 0) > 59) return null;
    const offset = (m[1] === '-' ? -1 : 1) * (m[2] * 3600 + (m[3] || 0) * 60);
    return { name: m[1] + m[2] + ':' + (m[3] || '00'), states: [{ offset, name: null }], transitions: '' };
  }
  function __jsr$zone(value) {
    const name = toStr(value);
    if (UTC_NAMES.includes(name.toLowerCase())) return __jsr$zoneData('UTC');
    const zone = __jsr$fixedZone(name) || __jsr$zoneData(name);
    if (zone === null) throw new RangeError('Invalid time zone specified: ' + name);
    return zone;
  }
  // The state (UTC offset in seconds, abbreviation) of `zone` at `ms` since the epoch: a binary search
  // over the zone's transitions, records of 7 base-36 digits of seconds since 1970 and a state index.
  const RECORD = 8;
  function __jsr$stateAt(zone, ms) {
    const seconds = floor(ms / 1000), text = zone.transitions;
    let low = 0, high = text.length / RECORD; // the first transition after `seconds`
    while (low < high) {
      const middle = (low + high) >> 1;
      if (parseInt(text.slice(middle * RECORD, middle * RECORD + 7), 36) <= seconds) low = middle + 1;
      else high = middle;
    }
    return zone.states[low === 0 ? 0 : parseInt(text[low * RECORD - 1], 36)];
  }

  // -- options ----------------------------------------------------------------------------------
  const NUMERIC = ['numeric', '2-digit'];
  const COMPONENTS = ['year', 'month', 'day', 'hour', 'minute', 'second'];
  const ZONE_NAMES = ['short', 'shortOffset', 'longOffset'];
  const UNSUPPORTED = ['weekday', 'era', 'dayPeriod', 'fractionalSecondDigits', 'dateStyle', 'timeStyle'];
  function __jsr$choice(options, name, allowed) {
    const value = options[name];
    if (value === undefined) return undefined;
    const text = toStr(value);
    if (!allowed.includes(text)) {
      throw new RangeError('Intl.DateTimeFormat: ' + name + " '" + text + "' is not supported by this runtime ("
        + allowed.join(', ') + ')');
    }
    return text;
  }
  // `defaults`: which components a bare call shows ('date', 'time' or 'all', as Date's toLocale*String).
  function __jsr$resolve(options, defaults) {
    options = options === undefined ? {} : Object(options);
    for (const name of UNSUPPORTED) {
      if (options[name] !== undefined) throw new RangeError('Intl.DateTimeFormat: ' + name + ' is not supported by this runtime');
    }
    const resolved = { locale: 'en-US', calendar: 'gregory', numberingSystem: 'latn' };
    const zone = options.timeZone === undefined ? __jsr$zoneData('UTC') : __jsr$zone(options.timeZone);
    resolved.timeZone = zone.name;
    let any = false;
    for (const name of COMPONENTS) {
      const value = __jsr$choice(options, name, NUMERIC);
      if (value !== undefined) { resolved[name] = value; any = true; }
    }
    if (!any) {
      if (defaults !== 'time') resolved.year = resolved.month = resolved.day = 'numeric';
      if (defaults !== 'date') resolved.hour = resolved.minute = resolved.second = 'numeric';
    }
    const cycle = __jsr$choice(options, 'hourCycle', ['h11', 'h12', 'h23', 'h24']);
    if (resolved.hour !== undefined) {
      const hour12 = options.hour12 !== undefined ? !!options.hour12 : cycle === undefined || cycle === 'h11' || cycle === 'h12';
      resolved.hourCycle = options.hour12 !== undefined || cycle === undefined ? (hour12 ? 'h12' : 'h23') : cycle;
      resolved.hour12 = hour12;
    }
    const zoneName = __jsr$choice(options, 'timeZoneName', ZONE_NAMES);
    if (zoneName !== undefined) resolved.timeZoneName = zoneName;
    return { resolved, zone };
  }

  // -- formatting ---------------------------------------------------------------------------------
  function __jsr$pad(n, width) { const s = toStr(n); return s.length >= width ? s : '0'.repeat(width - s.length) + s; }
  function __jsr$offsetName(offset, style) {
    if (offset === 0) return 'GMT';
    const sign = offset < 0 ? '-' : '+', minutes = floor(abs(offset) / 60), h = floor(minutes / 60), m = minutes % 60;
    if (style === 'longOffset') return 'GMT' + sign + __jsr$pad(h, 2) + ':' + __jsr$pad(m, 2);
    return 'GMT' + sign + h + (m ? ':' + __jsr$pad(m, 2) : '');
  }
  function __jsr$parts(format, value) {
    const ms = value === undefined ? now() : +value;
    if (!isFinite(ms)) throw new RangeError('Invalid time value');
    const r = format.resolved, state = __jsr$stateAt(format.zone, ms);
    const local = new Date(ms + state.offset * 1000);
    const fields = { year: local.getUTCFullYear(), month: local.getUTCMonth() + 1, day: local.getUTCDate() };
    const parts = [];
    function add(type, text) { parts.push({ type, value: text }); }
    function numeric(name, n) { return r[name] === '2-digit' ? __jsr$pad(n % 100, 2) : toStr(n); }
    const date = [];
    if (r.month !== undefined) date.push(['month', numeric('month', fields.month)]);
    if (r.day !== undefined) date.push(['day', numeric('day', fields.day)]);
    if (r.year !== undefined) date.push(['year', numeric('year', fields.year)]);
    date.forEach(function __jsr$date(p, i) { if (i) add('literal', '/'); add(p[0], p[1]); });
    const time = [];
    if (r.hour !== undefined) {
      let h = local.getUTCHours();
      if (r.hourCycle === 'h12' || r.hourCycle === 'h11') h = r.hourCycle === 'h12' ? (h % 12 || 12) : h % 12;
      else if (r.hourCycle === 'h24') h = h || 24;
      const twoDigit = r.hour === '2-digit' || !r.hour12;
      time.push(['hour', twoDigit ? __jsr$pad(h, 2) : toStr(h)]);
    }
    if (r.minute !== undefined) {
      const m = local.getUTCMinutes();
      time.push(['minute', r.hour !== undefined || r.minute === '2-digit' ? __jsr$pad(m, 2) : toStr(m)]);
    }
    if (r.second !== undefined) {
      const s = local.getUTCSeconds();
      time.push(['second', r.minute !== undefined || r.second === '2-digit' ? __jsr$pad(s, 2) : toStr(s)]);
    }
    if (date.length && time.length) add('literal', ', ');
    time.forEach(function __jsr$time(p, i) { if (i) add('literal', ':'); add(p[0], p[1]); });
    if (r.hour !== undefined && r.hour12) {
      add('literal', ' ');
      add('dayPeriod', local.getUTCHours() < 12 ? 'AM' : 'PM');
    }
    if (r.timeZoneName !== undefined) {
      add('literal', ' ');
      const abbreviation = state.name;
      add('timeZoneName', r.timeZoneName === 'short' && abbreviation !== null && /^[A-Za-z]+$/.test(abbreviation)
        ? abbreviation : __jsr$offsetName(state.offset, r.timeZoneName));
    }
    return parts;
  }

  function DateTimeFormat(locales, options) {
    if (!new.target) return new DateTimeFormat(locales, options);
    apply(remember, formats, [this, __jsr$resolve(options, 'date')]);
  }
  function __jsr$format(self) {
    const format = self !== null && typeof self === 'object' ? apply(formatOf, formats, [self]) : undefined;
    if (format === undefined) throw new TypeError('Method called on an object that is not an Intl.DateTimeFormat');
    return format;
  }
  __jsr$define(DateTimeFormat.prototype, 'formatToParts', function formatToParts(date) {
    return __jsr$parts(__jsr$format(this), date);
  });
  __jsr$define(DateTimeFormat.prototype, 'format', function format(date) {
    return __jsr$parts(__jsr$format(this), date).map(function __jsr$value(p) { return p.value; }).join('');
  });
  __jsr$define(DateTimeFormat.prototype, 'resolvedOptions', function resolvedOptions() {
    return Object.assign({}, __jsr$format(this).resolved);
  });
  __jsr$define(DateTimeFormat, 'supportedLocalesOf', function supportedLocalesOf(locales) {
    const list = locales === undefined ? [] : typeof locales === 'string' ? [locales] : Array.from(locales);
    return list.filter(function __jsr$en(l) { return /^en(-US)?$/i.test(toStr(l)); });
  });

  // Date's locale methods given locales or options go through DateTimeFormat; without, they stay QuickJS's.
  for (const [method, defaults] of [['toLocaleString', 'all'], ['toLocaleDateString', 'date'],
    ['toLocaleTimeString', 'time']]) {
    const plain = original[method];
    __jsr$define(DateProto, method, {
      [method](locales, options) {
        if (locales === undefined && options === undefined) return plain.call(this);
        const ms = DateProto.getTime.call(this);
        if (!isFinite(ms)) return 'Invalid Date';
        return __jsr$parts(__jsr$resolve(options, defaults), ms).map(function __jsr$value(p) { return p.value; }).join('');
      },
    }[method]);
  }
  __jsr$define(G, 'Intl', { DateTimeFormat });
}(globalThis));
