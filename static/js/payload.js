// The dead letter's payload in a JSON-mode Monaco. The form sends its text, which the server parses again
// (invalid JSON comes back as a translated error and nothing is replayed); text that is not JSON is stopped
// here already, with the position of Monaco's first JSON error when it has one.
(function () {
  "use strict";
  const host = document.getElementById("payload-editor");
  const text = document.getElementById("payload-text");
  const form = document.getElementById("edit-form");
  const problem = document.getElementById("payload-error");
  JSR.loadMonaco(host, (monaco) => {
    const editor = monaco.editor.create(host, {
      value: text.value, language: "json", automaticLayout: true, minimap: {enabled: false},
      scrollBeyondLastLine: false, fontSize: 13,
    });
    const model = editor.getModel();
    text.hidden = true;
    model.onDidChangeContent(() => {
      text.value = model.getValue();
      problem.textContent = "";
    });
    form.addEventListener("submit", (event) => {
      try {
        JSON.parse(model.getValue());
      } catch (error) {
        event.preventDefault();
        const first = monaco.editor.getModelMarkers({resource: model.uri})
          .find((marker) => marker.severity === monaco.MarkerSeverity.Error);
        problem.textContent = first ? form.dataset.invalidAt.replace("{line}", first.startLineNumber)
          .replace("{column}", first.startColumn) : form.dataset.invalid;
        editor.focus();
      }
    });
    host.dataset.ready = "true";
  });
})();
