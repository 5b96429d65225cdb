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

  // <button type="submit" data-confirm="Replay 12 dead letters?">: nothing is sent unless the user agrees.
  document.addEventListener("submit", (event) => {
    const button = event.submitter;
    if (button && button.dataset.confirm && !window.confirm(button.dataset.confirm)) event.preventDefault();
  });
})();
