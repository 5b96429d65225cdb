// The prelude runs in every fresh context before any user code. It locks the sandbox
// down, installs the SDK globals and evaluates to the driver object that only the
// Python side holds: user code can never reach it. Built-ins used here are captured
// first, so a script that later replaces JSON.stringify, Array.prototype.push or
// Promise cannot forge its result, its logs or its host requests.
//
// QuickJS compiles ~30 bytes of code per microsecond and every fresh context parses
// this file, so it is kept small: per-run cost is measured in bench/runtime_bench.py.
// Every function is named with the __jsr$ prefix so that the Python side can drop
// prelude frames from the stack traces users see. The driver is parked on a global
// only until Python has fetched its methods, before any user code exists. (No
// parentheses around the function: QuickJS scans a parenthesised expression twice to
// rule out an arrow function, which cost ~100 µs per context for this file.)
globalThis.__jsr$driver = function __jsr$prelude(G) {
  'use strict';
  const O = Object, define = O.defineProperty, freeze = O.freeze, protoOf = O.getPrototypeOf, assign = O.assign;
  const isFrozen = O.isFrozen, apply = Reflect.apply, keysOf = Reflect.ownKeys, stringify = JSON.stringify, parse = JSON.parse;
  const toStr = String, now = Date.now, isError = Error.isError, slice = String.prototype.slice, hasOwn = O.hasOwn;
  const wellFormed = String.prototype.toWellFormed, encodeUri = encodeURIComponent, unescapeUri = unescape;
  const P = Promise, then = P.prototype.then, resolved = P.resolve, rejected = P.reject;
  const MapCtor = Map, mapGet = Map.prototype.get, mapSet = Map.prototype.set;
  const ErrorCtor = Error, TypeErrorCtor = TypeError, ReferenceErrorCtor = ReferenceError;
  const hostFaults = new WeakSet(), markHostFault = WeakSet.prototype.add, isHostFault = WeakSet.prototype.has;

  // 1. No code generation, no stack hooks, no weak-ref callbacks.
  function __jsr$lock(obj, name, value) {
    define(obj, name, { value, writable: false, enumerable: false, configurable: false });
  }
  function __jsr$noCodegen() { throw new TypeErrorCtor('code generation from strings is disabled'); }
  const fnProto = protoOf(__jsr$lock);
  const protos = [fnProto, protoOf(async function __jsr$a() {}), protoOf(function* __jsr$g() {}),
    protoOf(async function* __jsr$ag() {})];
  for (let i = 0; i < 4; i++) __jsr$lock(protos[i], 'constructor', __jsr$noCodegen);
  __jsr$lock(__jsr$noCodegen, 'prototype', fnProto); // `x instanceof Function` still works
  __jsr$lock(G, 'Function', __jsr$noCodegen);
  __jsr$lock(G, 'eval', __jsr$noCodegen);
  __jsr$lock(ErrorCtor, 'prepareStackTrace', undefined);
  delete ErrorCtor.captureStackTrace;
  delete G.WeakRef;
  delete G.FinalizationRegistry;

  // QuickJS turns its uncatchable interrupt into a catchable error in a few places, so a
  // loop around them never ends in this process: Error.stackTraceLimit's valueOf (read for
  // every new error) and Promise.try go. The Promise executor and `using` disposers do it
  // too; `using` is refused at compile time, and the supervisor kills the runner process of
  // a run that outlives its deadline, whatever it does (runtime/pool.py).
  __jsr$lock(ErrorCtor, 'stackTraceLimit', ErrorCtor.stackTraceLimit);
  delete P.try;

  // 2. Console: entries are JSON texts in a null-prototype store, read after the run.
  const logs = { __proto__: null };
  let logCount = 0, logBytes = 0, dropped = 0, maxEntries = 0, maxBytes = 0;
  function __jsr$format(v) {
    if (typeof v === 'string') return v;
    if (typeof v !== 'object' || v === null) return typeof v === 'function' ? '[Function]' : toStr(v);
    try {
      if (isError(v)) return toStr(v.name) + ': ' + toStr(v.message);
      const text = stringify(v);
      return text === undefined ? toStr(v) : text;
    } catch (e) { return '[unprintable]'; }
  }
  // Error texts and log lines alike are cut at 8192 UTF-16 units.
  function __jsr$cap(text, max) { return text.length > max ? apply(slice, text, [0, max]) + '…' : text; }
  function __jsr$log(level, args) {
    let m = '';
    for (let i = 0; i < args.length; i++) m = i ? m + ' ' + __jsr$format(args[i]) : __jsr$format(args[i]);
    m = apply(wellFormed, __jsr$cap(m, 8192), []);
    const bytes = apply(unescapeUri, undefined, [encodeUri(m)]).length; // its UTF-8 size
    if (logCount >= maxEntries || logBytes + bytes > maxBytes) { dropped++; return; }
    // Only primitives go through stringify: on objects QuickJS's own JSON.stringify
    // stores into arrays, where an Array.prototype index setter would run.
    logs[logCount++] = '{"level":"' + level + '","time":' + now() + ',"message":' + stringify(m) + '}';
    logBytes += bytes;
  }
  const consoleObject = { __proto__: null };
  for (const level of ['log', 'info', 'debug', 'warn', 'error']) {
    consoleObject[level] = freeze(function __jsr$console(...args) { __jsr$log(level === 'log' ? 'info' : level, args); });
  }
  __jsr$lock(G, 'console', freeze(consoleObject));
  // RudderStack transformations call log(): a console line in plain runs; in transformation
  // mode "Log: ..." lines of their own level in test mode, nothing otherwise (ivmFactory.js).
  let logMode = 'console';
  __jsr$lock(G, 'log', function __jsr$rudderLog(...args) {
    if (logMode === 'console') return __jsr$log('info', args);
    if (logMode !== 'test') return;
    let m = 'Log:';
    for (let i = 0; i < args.length; i++) {
      m += ' ' + (typeof args[i] === 'object' ? __jsr$format(args[i] === null ? 'null' : args[i]) : toStr(args[i]));
    }
    __jsr$log('rudderstack', [m]);
  });

  // 3. Host requests: queued as JSON, served by Python between job rounds.
  const waiting = { __proto__: null };
  let inFlight = 0, outbox = '', nextId = 1;
  function __jsr$hostCall(api, method, args) {
    // The id is taken first: stringify runs the script's toJSON, which may call the SDK again.
    const id = nextId++;
    let payload;
    try {
      payload = stringify({ __proto__: null, id, api, method, args });
    } catch (e) {
      return apply(rejected, P, [new TypeErrorCtor(api + '.' + method + ': arguments must be JSON')]);
    }
    return new P(function __jsr$enqueue(resolve, reject) {
      waiting[id] = { __proto__: null, resolve, reject };
      inFlight++;
      outbox = outbox === '' ? payload : outbox + ',' + payload;
    });
  }
  function __jsr$api(api, methods) {
    const out = { __proto__: null };
    for (const method of methods) {
      out[method] = freeze(function __jsr$sdk(...args) { return __jsr$hostCall(api, method, args); });
    }
    return freeze(out);
  }
  const apis = {
    http: __jsr$api('http', ['get', 'post', 'put', 'patch', 'delete', 'request']),
    db: __jsr$api('db', ['query', 'findById', 'insert', 'update', 'delete']),
    cache: __jsr$api('cache', ['get', 'set', 'delete']),
    events: __jsr$api('events', ['publish']),
    secrets: __jsr$api('secrets', ['get']),
    logger: consoleObject,
  };
  // RudderStack's shims: fetchV2 resolves {url, status, headers, body} for every status, the body
  // parsed as JSON when it is JSON, and rejects on failure; fetch resolves to the JSON body
  // whatever the status, and to 'ERROR' on any failure or a body that is not JSON.
  const notJson = {};
  function __jsr$json(body) {
    if (typeof body !== 'string') return body;
    try { return parse(body); } catch (e) { return notJson; }
  }
  function __jsr$fetchV2(url, options) {
    return apply(then, apis.http.request(url, options === undefined ? null : options), [function __jsr$v2(r) {
      const body = __jsr$json(r.body);
      if (body !== notJson) r.body = body;
      return r;
    }]);
  }
  __jsr$lock(G, 'fetchV2', __jsr$fetchV2);
  __jsr$lock(G, 'geolocation', function __jsr$geolocation(ip) { return __jsr$hostCall('geolocation', 'lookup', [ip]); });
  __jsr$lock(G, 'fetch', function __jsr$fetch(url, options) {
    return apply(then, apis.http.request(url, options === undefined ? null : options), [
      function __jsr$ok(r) { const body = __jsr$json(r.body); return body === notJson ? 'ERROR' : body; },
      function __jsr$failed() { return 'ERROR'; }]);
  });

  // 4. Timers: fired by the driver, never past the run's deadline.
  const timers = { __proto__: null };
  let nextTimer = 1;
  __jsr$lock(G, 'setTimeout', function __jsr$setTimeout(callback, delay, ...args) {
    if (typeof callback !== 'function') throw new TypeErrorCtor('setTimeout: callback must be a function');
    timers[nextTimer] = { __proto__: null, at: now() + (+delay > 0 ? +delay : 0), callback, args };
    return nextTimer++;
  });
  __jsr$lock(G, 'clearTimeout', function __jsr$clearTimeout(id) { delete timers[id]; });

  // 5. Injected synchronous data: credentials and transformation metadata.
  let credentials = { __proto__: null }, metadataList = [], metadataByEvent = null;
  __jsr$lock(G, 'getCredential', function __jsr$getCredential(name) {
    if (name === null || name === undefined) throw new TypeErrorCtor('Key should be valid and defined');
    const key = toStr(name);
    return hasOwn(credentials, key) ? credentials[key] : undefined;
  });
  function __jsr$metadata(event) {
    const found = metadataByEvent === null ? undefined : apply(mapGet, metadataByEvent, [event]);
    return found !== undefined ? found : metadataList.length ? metadataList[0] : {};
  }
  __jsr$lock(G, 'metadata', __jsr$metadata);
  function __jsr$deepFreeze(v) {
    if (v !== null && typeof v === 'object' && !isFrozen(v)) {
      freeze(v);
      const keys = keysOf(v);
      for (let i = 0; i < keys.length; i++) __jsr$deepFreeze(v[keys[i]]);
    }
    return v;
  }

  // 6. The driver: the only thing Python talks to. Strings built by concatenation are
  // ropes, which the binding cannot convert: slice() returns them flat.
  function flat(s) { return apply(slice, s, [0]); }
  let ctx = null, settled = false, resultJson = 'null', failure = null;
  function __jsr$describe(e) {
    // QuickJS throws null when it cannot even allocate the error object (out of memory).
    if (e === null) return { __proto__: null, name: 'InternalError', message: 'out of memory', stack: '' };
    try {
      if (e !== null && typeof e === 'object' && isError(e)) {
        return { __proto__: null, name: __jsr$cap(toStr(e.name), 200), message: __jsr$cap(toStr(e.message), 8192),
          stack: __jsr$cap(toStr(e.stack), 8192), hostFault: apply(isHostFault, hostFaults, [e]) };
      }
      return { __proto__: null, name: 'Uncaught', message: __jsr$cap(__jsr$format(e), 8192), stack: '' };
    } catch (err) {
      return { __proto__: null, name: 'Error', message: '[error could not be described]', stack: '' };
    }
  }
  function __jsr$fulfilled(value) {
    if (settled) return;
    settled = true;
    try {
      const text = stringify(value);
      if (text !== undefined) resultJson = text;
    } catch (e) { failure = __jsr$describe(e); }
  }
  function __jsr$rejected(e) {
    if (!settled) { settled = true; failure = __jsr$describe(e); }
  }
  return {
    setup: function __jsr$setup(contextJson, envJson) {
      const env = parse(envJson);
      maxEntries = env.maxLogEntries;
      maxBytes = env.maxLogBytes;
      logMode = env.logMode;
      credentials = __jsr$deepFreeze(env.credentials);
      metadataList = env.metadata;
      // Only for a script that names crypto: sandbox/crypto.js, evaluated next, takes this away.
      if (env.entropy !== undefined) {
        define(G, '__jsr$crypto', { value: { entropy: env.entropy, hostCall: __jsr$hostCall }, configurable: true });
      }
      ctx = parse(contextJson);
      __jsr$deepFreeze(ctx);
      ctx = freeze(assign({}, ctx, apis));
    },
    // `handler` is what the script's own scope binds to the name (function, const or let).
    start: function __jsr$start(handler, handlerName, inputJson) {
      if (typeof handler !== 'function') {
        return __jsr$rejected(new ReferenceErrorCtor('the script does not define a function named ' + handlerName));
      }
      const input = parse(inputJson);
      const transform = handlerName === 'transformEvent' || handlerName === 'transformBatch';
      if (handlerName === 'transformBatch' && metadataList.length && input !== null) {
        metadataByEvent = new MapCtor();
        for (let i = 0; i < input.length; i++) apply(mapSet, metadataByEvent, [input[i], metadataList[i]]);
      }
      let r;
      try {
        r = apply(handler, undefined, [input, transform ? __jsr$metadata : ctx]);
        if (r === null || typeof r !== 'object' || typeof r.then !== 'function') return __jsr$fulfilled(r);
      } catch (e) {
        return __jsr$rejected(e);
      }
      apply(then, apply(resolved, P, [r]), [__jsr$fulfilled, __jsr$rejected]);
    },
    // '0' running, '1' settled and idle, '2' settled with host calls in flight; then the queued requests.
    poll: function __jsr$poll() {
      const batch = outbox;
      outbox = '';
      return flat((settled ? (inFlight > 0 ? '2' : '1') : '0') + batch);
    },
    deliver: function __jsr$deliver(responsesJson) {
      const responses = parse(responsesJson);
      for (let i = 0; i < responses.length; i++) {
        const r = responses[i], entry = waiting[r.id];
        if (entry === undefined) continue;
        delete waiting[r.id];
        inFlight--;
        if (r.ok) { entry.resolve(r.value); continue; }
        const err = new ErrorCtor(toStr(r.error.message));
        err.name = toStr(r.error.name);
        // Only this mark, never a name a script can also set, makes a failure a host fault.
        if (err.name === 'HostError') apply(markHostFault, hostFaults, [err]);
        if (r.error.status !== undefined) err.status = r.error.status;
        entry.reject(err);
      }
    },
    nextTimerAt: function __jsr$nextTimerAt() {
      let at = -1;
      for (const id in timers) if (at < 0 || timers[id].at < at) at = timers[id].at;
      return at;
    },
    fireTimers: function __jsr$fireTimers(time) {
      for (const id in timers) {
        const t = timers[id];
        if (t.at > time) continue;
        delete timers[id];
        try { apply(t.callback, undefined, t.args); } catch (e) {
          const d = __jsr$describe(e);
          __jsr$log('error', ['Uncaught exception in timer callback: ' + d.name + ': ' + d.message]);
        }
      }
    },
    // Lines: outcome JSON ({"ok":true,"value":...} or the error), log entries, dropped count.
    // JSON text never holds a raw newline, so '\n' separates the parts safely.
    finish: function __jsr$finish() {
      let out = failure === null ? '{"ok":true,"value":' + resultJson + '}'
        : '{"ok":false,"error":{"name":' + stringify(failure.name) + ',"message":' + stringify(failure.message)
          + ',"stack":' + stringify(failure.stack) + ',"hostFault":' + (failure.hostFault === true) + '}}';
      out += '\n[';
      for (let i = 0; i < logCount; i++) out = i ? out + ',' + logs[i] : out + logs[i];
      return flat(out + ']\n' + dropped);
    },
  };
}(globalThis);
