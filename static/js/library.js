// The library editor, built from the script workspace's parts (static/js/portal.js): Monaco with the SDK's
// types, the server's check as you type (linked against the tenant's other libraries, so a failed import shows
// as a marker at its line:column), Ctrl/Cmd+S save through the JSON API, the leave warning.
(function () {
  "use strict";
  const root = document.getElementById("workspace");
  const data = root.dataset;
  const writable = data.writable === "true";
  const settings = document.getElementById("settings");
  const field = (name) => settings.elements[name];

  JSR.loadMonaco(root, (monaco) => {
    JSR.useSdkTypes(monaco, data.sdk);
    const initial = document.getElementById("source").value;
    const editor = monaco.editor.create(document.getElementById("editor"), {
      value: initial, language: "javascript", readOnly: !writable, automaticLayout: true,
      minimap: {enabled: false}, scrollBeyondLastLine: false, fontSize: 14, tabSize: 2,
    });
    const model = editor.getModel();
    const setMarkers = (owner, markers) => JSR.setMarkers(monaco, model, owner, markers);
    // Unsaved means: a new library, or text that differs from the last saved version's.
    let savedText = data.libraryId ? initial : null;
    const dirtyNote = document.getElementById("dirty");
    const isDirty = () => savedText === null || model.getValue() !== savedText;
    const markDirty = () => { if (dirtyNote) dirtyNote.hidden = !isDirty(); };
    markDirty();

    if (writable) {
      const check = JSR.checker(data.checkUrl, () => ({name: field("name").value, source: model.getValue(),
                                                       library_id: data.libraryId}), setMarkers);
      model.onDidChangeContent(() => {
        markDirty();
        check.soon();
      });
      field("name").addEventListener("change", check.now);  // a new name may close an import cycle
      const save = async (description) => {
        const body = {source: model.getValue(), description: field("description").value,
                      change_description: description};
        if (!data.libraryId) body.name = field("name").value;
        const response = await JSR.post(data.saveUrl, body, data.saveMethod);
        const answer = await response.json().catch(() => ({}));
        if (response.status === 201) {
          savedText = body.source;
          window.location.assign(data.editUrl.replace("LIBRARY_ID", answer.id));
        } else if (JSR.reportSave(response, answer, settings, setMarkers)) {
          savedText = body.source;
          markDirty();
        }
      };
      JSR.saveDialog(monaco, editor, save);
      JSR.warnOnLeave(() => isDirty() && (data.libraryId || model.getValue() !== initial));
      check.now();
    }
    root.dataset.ready = "true";
  });
})();
