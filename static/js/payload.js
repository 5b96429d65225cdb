// The dead letter's payload in a JSON-mode Monaco; the form sends its text, which the server parses
// (invalid JSON comes back as a translated error and nothing is replayed).
(function () {
  "use strict";
  const host = document.getElementById("payload-editor");
  const text = document.getElementById("payload-text");
  JSR.loadMonaco(host, (monaco) => {
    const editor = monaco.editor.create(host, {
      value: text.value, language: "json", automaticLayout: true, minimap: {enabled: false},
      scrollBeyondLastLine: false, fontSize: 13,
    });
    text.hidden = true;
    editor.getModel().onDidChangeContent(() => { text.value = editor.getValue(); });
    host.dataset.ready = "true";
  });
})();
