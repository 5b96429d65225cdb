// Monaco's side-by-side diff of two versions of a script or a library (read only).
(function () {
  "use strict";
  const host = document.getElementById("diff");
  JSR.loadMonaco(host, (monaco) => {
    const diff = monaco.editor.createDiffEditor(host, {readOnly: true, automaticLayout: true, minimap: {enabled: false}});
    diff.setModel({
      original: monaco.editor.createModel(document.getElementById("left-source").value, "javascript"),
      modified: monaco.editor.createModel(document.getElementById("right-source").value, "javascript"),
    });
    host.dataset.ready = "true";
  });
})();
