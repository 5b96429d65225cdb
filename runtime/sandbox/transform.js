// RudderStack transformation mode: evaluated right after the user's script, in its scope, and
// evaluating to the wrapper the driver starts with {events: [message...], metadata: {messageId: metadata}}.
// Semantics of rudder-transformer's transformWrapper (src/util/ivmFactory.js): transformEvent runs
// per event, all events concurrently, and a throw fails that event alone; transformBatch runs once.
// It resolves to rows {transformedEvent, metadata} or {error, metadata}; runtime/transform.py turns
// them into {statusCode, output | error, metadata}. V0's `function transform(events)` is a batch handler.
function __jsr$rudderstack(transformEvent, transformBatch) {
  'use strict';
  const toStr = Object.prototype.toString, isArray = Array.isArray, all = Promise.all.bind(Promise);
  const KEYS = ['sourceId', 'sourceName', 'workspaceId', 'sourceType', 'sourceCategory', 'destinationId',
    'destinationType', 'destinationName', 'namespace', 'originalSourceId', 'trackingPlanId', 'trackingPlanVersion',
    'sourceTpConfig', 'mergedTpConfig', 'jobId', 'sourceJobId', 'sourceJobRunId', 'sourceTaskRunId', 'recordId',
    'messageId', 'messageIds', 'rudderId', 'receivedAt', 'eventName', 'eventType', 'sourceDefinitionId',
    'destinationDefinitionId', 'transformationId', 'transformationVersionId'];
  function __jsr$isObject(o) { return toStr.call(o) === '[object Object]'; }
  // "Name: message" and the stack up to the last frame of the handler, as extractStackTrace keeps it.
  function __jsr$errorText(e, handlerName) {
    if (e === null || typeof e !== 'object') return String(e);
    const frames = String(e.stack === undefined ? '' : e.stack).split('\n');
    let last = -1;
    for (let i = frames.length - 1; i >= 0; i--) if (frames[i].includes(handlerName)) { last = i; break; }
    const kept = frames.slice(0, last + 1).join('\n').split('<input>').join('script.js');
    return String(e.name) + ': ' + String(e.message) + (kept ? '\n' + kept : '');
  }
  return async function __jsr$transformWrapper(payload) {
    if ((transformEvent === undefined) === (transformBatch === undefined)) {
      throw new TypeError(transformEvent === undefined
        ? 'the transformation defines neither transformEvent nor transformBatch'
        : 'the transformation defines both transformEvent and transformBatch: keep one');
    }
    const byId = payload.metadata, messages = payload.events, rows = [];
    function __jsr$own(event) { return event ? byId[event.messageId] || {} : {}; }
    function __jsr$metadata(event) {
      const found = __jsr$own(event), out = {};
      for (const key of KEYS) out[key] = found[key];
      return out;
    }
    if (transformBatch !== undefined) {
      let output;
      try {
        output = await transformBatch(messages, __jsr$metadata);
      } catch (e) {
        return [{error: __jsr$errorText(e, 'transformBatch'), metadata: {}}];
      }
      if (!isArray(output)) return [{error: 'returned events from transformBatch(event) is not an array', metadata: {}}];
      return output.map(function __jsr$batchRow(event) {
        return __jsr$isObject(event) ? {transformedEvent: event, metadata: __jsr$metadata(event)}
          : {error: 'returned event in events array from transformBatch(events) is not an object', metadata: {}};
      });
    }
    await all(messages.map(async function __jsr$eventRow(event) {
      const metadata = byId[event.messageId] || {};
      try {
        const output = await transformEvent(event, __jsr$metadata);
        if (output === null || output === undefined) return;
        if (isArray(output)) {
          if (!output.every(__jsr$isObject)) {
            rows.push({error: 'returned event in events array from transformEvent(event) is not an object', metadata});
            return;
          }
          for (const item of output) rows.push({transformedEvent: item, metadata});
          return;
        }
        if (!__jsr$isObject(output)) {
          rows.push({error: 'returned event from transformEvent(event) is not an object', metadata});
          return;
        }
        rows.push({transformedEvent: output, metadata});
      } catch (e) {
        rows.push({error: __jsr$errorText(e, 'transformEvent'), metadata});
      }
    }));
    return rows;
  };
}
__jsr$rudderstack(typeof transformEvent === 'function' ? transformEvent : undefined,
  typeof transformBatch === 'function' ? transformBatch : typeof transform === 'function' ? transform : undefined);
