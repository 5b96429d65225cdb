// The script workspace: Monaco editor with the SDK's types, snippets, server markers, Ctrl/Cmd+S save
// (through the JSON API with the session's CSRF token), the test panel and the leave warning.
(function () {
  "use strict";
  const root = document.getElementById("workspace");
  const data = root.dataset;
  const writable = data.writable === "true";
  const text = document.getElementById("messages").dataset;
  const settings = document.getElementById("settings");

  const TEMPLATES = {
    scheduled: "async function main(input, ctx) {\n  // ctx.trigger.scheduledAt: when this run was due\n" +
      "  console.log('running at', ctx.trigger && ctx.trigger.scheduledAt);\n  return {ok: true};\n}\n",
    http: "async function handler(request, ctx) {\n  console.log(request.method, request.path);\n" +
      "  return {status: 200, headers: {'content-type': 'application/json'}, body: {received: request.body}};\n}\n",
    event: "async function onEvent(event, ctx) {\n  console.info('event', event);\n  return {handled: true};\n}\n",
    oneoff: "function main(input, ctx) {\n  console.log('hello', input && input.name);\n" +
      "  return {greeting: `Hello, ${(input && input.name) || 'world'}!`};\n}\n",
    embedded: "function main(input, ctx) {\n  return {received: input};\n}\n",
  };
  const SAMPLE_INPUTS = {
    scheduled: {},
    http: {method: "POST", path: "/orders", query: {}, headers: {"content-type": "application/json"},
           body: {id: 1234}, ip: "203.0.113.7"},
    event: {type: "order.paid", orderId: 1234, amount: 99.5},
    oneoff: {name: "world"},
    embedded: {items: [{price: 10, qty: 2}]},
  };
  // Code defining transformEvent/transformBatch runs as a RudderStack transformation (portal/services/transformations.py),
  // whose input is RudderStack's request list.
  const TRANSFORMATION = /\b(?:function\s*\*?\s*|(?:const|let|var)\s+)(?:transformEvent|transformBatch)\b/;
  const RUDDERSTACK_REQUEST = [{
    message: {type: "track", event: "Order Completed", messageId: "msg-1", userId: "user-42",
              properties: {orderId: 1234, revenue: 99.5}},
    metadata: {sourceId: "source-1", destinationId: "destination-1", messageId: "msg-1"},
    destination: {ID: "destination-1", Config: {}},
  }];
  const SNIPPETS = [
    ["cron job", "Scheduled script: main(input, ctx)",
     "async function main(input, ctx) {\n\tconst due = ctx.trigger && ctx.trigger.scheduledAt;\n\t$0\n\treturn {ok: true};\n}"],
    ["webhook handler", "HTTP-trigger script: handler(request, ctx)",
     "async function handler(request, ctx) {\n\t$0\n\treturn {status: 200, headers: {'content-type': 'application/json'}, body: {ok: true}};\n}"],
    ["event handler", "Event script: onEvent(event, ctx)",
     "async function onEvent(event, ctx) {\n\t$0\n\treturn {handled: event.type};\n}"],
    ["rudderstack transformation", "RudderStack transformEvent(event, metadata)",
     "function transformEvent(event, metadata) {\n\tconst meta = metadata(event);\n\t$0\n\treturn event;\n}"],
  ];

  const field = (name) => settings.elements[name];
  const currentType = () => field("type").value;

  function showTypeFields() {
    for (const block of settings.querySelectorAll("[data-for-type]")) {
      block.hidden = block.dataset.forType !== currentType();
    }
  }

  function settingsJson() {
    const number = (name) => (field(name).value ? parseInt(field(name).value, 10) : null);
    return {
      name: field("name").value, type: currentType(), description: field("description").value,
      cron_expression: field("cron_expression").value, timezone: field("timezone").value,
      http_path: field("http_path").value, http_auth: field("http_auth").value,
      http_methods: Array.from(settings.querySelectorAll('input[name="http_methods"]:checked'), (box) => box.value),
      event_patterns: field("event_patterns").value.split("\n").map((line) => line.trim()).filter(Boolean),
      timeout_ms: number("timeout_ms"), memory_mb: number("memory_mb"), host_calls: number("host_calls"),
      concurrency: number("concurrency"),
    };
  }

  const post = JSR.post;

  const say = JSR.say;

  showTypeFields();
  field("type").addEventListener("change", showTypeFields);

  // -- trigger settings: copy buttons, and the webhook secret's rotation (the new one is shown once) -----
  document.querySelectorAll("button.copy").forEach((button) => {
    button.addEventListener("click", () => {
      navigator.clipboard.writeText(document.getElementById(button.dataset.copy).textContent);
    });
  });
  const rotate = document.getElementById("rotate-secret");
  if (rotate) {
    rotate.addEventListener("click", async () => {
      if (!window.confirm(rotate.dataset.confirm)) return;
      const response = await post(rotate.dataset.url, {});
      const answer = await response.json();
      if (!response.ok) {
        say(answer.error || text.failed.replace("{s}", response.status), "error");
        return;
      }
      document.getElementById("new-secret-value").textContent = answer.secret;
      document.getElementById("new-secret").hidden = false;
    });
  }

  JSR.loadMonaco(root, function (monaco) {
    JSR.useSdkTypes(monaco, data.sdk);
    monaco.languages.registerCompletionItemProvider("javascript", {
      provideCompletionItems(model, position) {
        const word = model.getWordUntilPosition(position);
        const range = {startLineNumber: position.lineNumber, endLineNumber: position.lineNumber,
                       startColumn: word.startColumn, endColumn: word.endColumn};
        return {suggestions: SNIPPETS.map(([label, detail, body]) => ({
          label, detail, insertText: body, range, kind: monaco.languages.CompletionItemKind.Snippet,
          insertTextRules: monaco.languages.CompletionItemInsertTextRule.InsertAsSnippet,
        }))};
      },
    });

    const initial = document.getElementById("source").value || TEMPLATES[currentType()];
    const editor = monaco.editor.create(document.getElementById("editor"), {
      value: initial, language: "javascript", readOnly: !writable, automaticLayout: true,
      minimap: {enabled: false}, scrollBeyondLastLine: false, fontSize: 14, tabSize: 2,
    });
    const model = editor.getModel();
    // Unsaved means: a new script, or text that differs from the last saved version's.
    let savedText = data.scriptId ? initial : null;
    const dirtyNote = document.getElementById("dirty");
    const isDirty = () => savedText === null || model.getValue() !== savedText;
    const markDirty = () => { if (dirtyNote) dirtyNote.hidden = !isDirty(); };
    const draft = document.getElementById("draft");
    if (draft) model.setValue(draft.value);  // the autosaved draft, restored over the saved source
    markDirty();

    // A new script follows its type's template until the user types into it.
    field("type").addEventListener("change", () => {
      if (!data.scriptId && Object.values(TEMPLATES).includes(model.getValue())) {
        model.setValue(TEMPLATES[currentType()]);
      }
      followSample();
    });

    const setMarkers = (owner, markers) => JSR.setMarkers(monaco, model, owner, markers);

    const check = JSR.checker(data.checkUrl, () => ({source: model.getValue()}), setMarkers);
    let draftTimer = null;
    async function saveDraft() {
      const response = await post(data.draftUrl, {source: model.getValue()});
      if (response.ok) root.dataset.draftSaved = String(model.getAlternativeVersionId());
    }
    model.onDidChangeContent(() => {
      markDirty();
      followSample();
      setMarkers("test", []);
      if (!writable) return;
      check.soon();
      if (data.draftUrl) {  // autosave 2 s after the last keystroke: a draft, never a version
        clearTimeout(draftTimer);
        draftTimer = setTimeout(saveDraft, 2000);
      }
    });
    const discard = document.getElementById("discard-draft");
    if (discard) {
      discard.addEventListener("click", () => {
        model.setValue(savedText);
        document.getElementById("draft-note").hidden = true;
      });
    }

    // -- save ------------------------------------------------------------------------------
    async function save(description) {
      const body = Object.assign(settingsJson(), {source: model.getValue(), change_description: description});
      const valueSaved = body.source;
      clearTimeout(draftTimer);  // the version about to be written replaces the draft
      const response = await post(data.saveUrl, body, data.saveMethod);
      const answer = await response.json().catch(() => ({}));
      if (response.status === 201) {
        savedText = valueSaved;
        window.location.assign(data.editUrl.replace("SCRIPT_ID", answer.id));
      } else if (JSR.reportSave(response, answer, settings, setMarkers)) {
        savedText = valueSaved;
        markDirty();
      }
    }
    if (writable) {
      JSR.saveDialog(monaco, editor, save);
      JSR.warnOnLeave(() => isDirty() && (data.scriptId || model.getValue() !== initial));
      check.now();
    }

    // -- test panel ------------------------------------------------------------------------
    const inputHost = document.getElementById("input-editor");
    let inputModel = null;
    const sample = () => JSON.stringify(TRANSFORMATION.test(model.getValue()) ? RUDDERSTACK_REQUEST
      : SAMPLE_INPUTS[currentType()], null, 2);
    let inputSample = sample();
    // The input follows the sample for the type (or a transformation's request list) until the user edits it.
    function followSample() {
      if (inputModel && inputModel.getValue() === inputSample && sample() !== inputSample) {
        inputSample = sample();
        inputModel.setValue(inputSample);
      }
    }
    if (inputHost) {
      const input = monaco.editor.create(inputHost, {
        value: inputSample, language: "json", automaticLayout: true, minimap: {enabled: false},
        lineNumbers: "off", scrollBeyondLastLine: false, fontSize: 13,
      });
      inputModel = input.getModel();
      const resultBox = document.getElementById("test-result");
      document.getElementById("run-test").addEventListener("click", async () => {
        const response = await post(data.testUrl, {source: model.getValue(), type: currentType(),
                                                   input: inputModel.getValue(), script_id: data.scriptId});
        if (response.headers.get("Content-Type").startsWith("application/json")) {
          const answer = await response.json();
          resultBox.textContent = Object.values(answer.fields || {}).join(" ") || answer.error;
          return;
        }
        resultBox.innerHTML = await response.text();
        const error = resultBox.querySelector(".error-box[data-line]");
        if (error && error.dataset.line) {
          const line = parseInt(error.dataset.line, 10);
          setMarkers("test", [{line, column: parseInt(error.dataset.column || "1", 10),
                               message: error.querySelector(".engine-message").textContent}]);
          editor.revealLineInCenter(line);
        }
      });
      const runSaved = document.getElementById("run-saved");
      if (runSaved) {
        runSaved.addEventListener("click", async () => {
          const response = await post(data.runUrl, {input: inputModel.getValue()});
          const answer = await response.json();
          if (response.ok) window.location.assign(answer.url);
          else resultBox.textContent = Object.values(answer.fields || {}).join(" ") || answer.error;
        });
      }
    }
    // -- replay against the draft -------------------------------------------------------------
    const replayForm = document.getElementById("replay-form");
    if (replayForm) {
      replayForm.addEventListener("submit", async (event) => {
        event.preventDefault();
        const box = document.getElementById("replay-result");
        const response = await post(replayForm.dataset.url, {
          source: model.getValue(), limit: replayForm.elements.limit.value, status: replayForm.elements.status.value,
        });
        if (response.headers.get("Content-Type").startsWith("application/json")) {
          const answer = await response.json();
          box.textContent = Object.values(answer.fields || {}).join(" ") || answer.error;
        } else {
          box.innerHTML = await response.text();
        }
      });
    }
    root.dataset.ready = "true";
  });
})();
