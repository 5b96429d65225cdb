// Monaco's side-by-side diff of two script versions (read only).
(function () {
  "use strict";
  const host = document.getElementById("diff");
  window.require.config({paths: {vs: new URL(host.dataset.monaco, window.location.href).href}});
  window.require(["vs/editor/editor.main"], function () {
    const monaco = window.monaco;
    const diff = monaco.editor.createDiffEditor(host, {readOnly: true, automaticLayout: true, minimap: {enabled: false}});
    diff.setModel({
      original: monaco.editor.createModel(document.getElementById("left-source").value, "javascript"),
      modified: monaco.editor.createModel(document.getElementById("right-source").value, "javascript"),
    });
    host.dataset.ready = "true";
  });
})();
