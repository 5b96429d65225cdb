// What the portal's pages share: JSON calls with the session's CSRF token, Monaco loaded from static/monaco,
// server markers in a Monaco model, and a confirmation for submit buttons that carry data-confirm.
(function () {
  "use strict";
  const JSR = window.JSR = window.JSR || {};

  JSR.post = function (url, body, method) {
    return fetch(url, {
      method: method || "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "Accept": "application/json",
                "X-CSRFToken": document.querySelector('meta[name="csrf-token"]').content},
      body: JSON.stringify(body),
    });
  };

  // `host.dataset.monaco` is the URL of static/monaco/vs; made absolute because Monaco's web workers
  // resolve module URLs against their own (blob) location.
  JSR.loadMonaco = function (host, ready) {
    window.require.config({paths: {vs: new URL(host.dataset.monaco, window.location.href).href}});
    window.require(["vs/editor/editor.main"], () => ready(window.monaco));
  };

  // markers: [{line, column, message}] as the server's checks answer them.
  JSR.setMarkers = function (monaco, model, owner, markers) {
    monaco.editor.setModelMarkers(model, owner, markers.map((m) => ({
      startLineNumber: m.line, startColumn: m.column, endLineNumber: m.line,
      endColumn: model.getLineMaxColumn(Math.min(m.line, model.getLineCount())),
      message: m.message, severity: monaco.MarkerSeverity.Error,
    })));
  };

  // The SDK's type definitions for every JavaScript model of the page (completion and hovers).
  JSR.useSdkTypes = function (monaco, url) {
    const js = monaco.languages.typescript.javascriptDefaults;
    js.setCompilerOptions({target: monaco.languages.typescript.ScriptTarget.ES2022, allowNonTsExtensions: true,
                           noLib: false, checkJs: false});
    fetch(url).then((r) => r.text()).then((dts) => js.addExtraLib(dts, "file:///jsr-sdk.d.ts"));
  };

  // The server's check of the code as it is typed: `soon()` 500 ms after the last keystroke, `now()` at once.
  JSR.checker = function (url, body, setMarkers) {
    let timer = null;
    const now = async () => {
      const response = await JSR.post(url, body());
      if (response.ok) setMarkers("server", (await response.json()).markers);
    };
    return {now, soon: () => { clearTimeout(timer); timer = setTimeout(now, 500); }};
  };

  // A line in #save-message (role=status) about the last save.
  JSR.say = function (message, kind) {
    const box = document.getElementById("save-message");
    box.textContent = message;
    box.className = "flash " + (kind || "info");
    box.hidden = false;
  };

  // Ctrl/Cmd+S (in Monaco and on the page) or #save opens #save-dialog; its submit calls save(description).
  JSR.saveDialog = function (monaco, editor, save) {
    const dialog = document.getElementById("save-dialog");
    const open = () => {
      document.getElementById("change-description").value = "";
      dialog.showModal();
    };
    editor.addCommand(monaco.KeyMod.CtrlCmd | monaco.KeyCode.KeyS, open);
    document.addEventListener("keydown", (event) => {
      if ((event.ctrlKey || event.metaKey) && event.key.toLowerCase() === "s") {
        event.preventDefault();
        open();
      }
    });
    document.getElementById("save").addEventListener("click", open);
    document.getElementById("save-cancel").addEventListener("click", () => dialog.close());
    document.getElementById("save-form").addEventListener("submit", () => {
      save(document.getElementById("change-description").value);
    });
  };

  // What the page says after a save through the JSON API answered anything but 201: the new version in
  // #version-label, or the field errors in `form` and a marker at the source's line:column. True when saved.
  JSR.reportSave = function (response, answer, form, setMarkers) {
    const text = document.getElementById("messages").dataset;
    for (const box of form.querySelectorAll(".field-error")) box.textContent = "";
    if (response.ok) {
      const label = document.getElementById("version-label");
      const before = parseInt(label.textContent.match(/\d+/)[0], 10);
      label.textContent = label.textContent.replace(/\d+/, answer.version);
      JSR.say(before === answer.version ? text.unchanged : text.saved.replace("{n}", answer.version));
      return true;
    }
    if (response.status === 422) {
      for (const [name, message] of Object.entries(answer.fields || {})) {
        const box = form.querySelector(`.field-error[data-field="${name}"]`);
        if (box) box.textContent = message;
      }
      if (answer.fields && answer.fields.source) {
        setMarkers("server", [{line: answer.source_line || 1, column: answer.source_column || 1,
                               message: answer.fields.source}]);
      }
      JSR.say(text.invalid, "error");
    } else {
      JSR.say(answer.error || text.failed.replace("{s}", response.status), "error");
    }
    return false;
  };

  // Leaving with unsaved changes asks first.
  JSR.warnOnLeave = function (unsaved) {
    window.addEventListener("beforeunload", (event) => {
      if (unsaved()) {
        event.preventDefault();
        event.returnValue = document.getElementById("messages").dataset.leave;
      }
    });
  };

  // <button type="submit" data-confirm="Replay 12 dead letters?">: nothing is sent unless the user agrees.
  document.addEventListener("submit", (event) => {
    const button = event.submitter;
    if (button && button.dataset.confirm && !window.confirm(button.dataset.confirm)) event.preventDefault();
  });
})();
