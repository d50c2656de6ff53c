/* Porchlight's own script: progressive enhancement and the signature pad. */
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  function setupPad(root) {
    if (root.dataset.ready) return;
    root.dataset.ready = "1";
    var canvas = root.querySelector("canvas");
    var pngInput = root.querySelector("input[name=signature_png]");
    var strokesInput = root.querySelector("input[name=strokes]");
    var pad = new SignaturePad(canvas, { minWidth: 0.8, maxWidth: 2.6, penColor: "#10204a" });

    function save() {
      if (pad.isEmpty()) {
        pngInput.value = "";
        strokesInput.value = "";
      } else {
        strokesInput.value = JSON.stringify(pad.toData());
        pngInput.value = pad.toDataURL("image/png");
      }
    }

    // Size the canvas to its box and the screen's pixel ratio, then redraw from the
    // stroke data: rotating the phone or resizing the window keeps the signature.
    function fit() {
      var ratio = Math.max(window.devicePixelRatio || 1, 1);
      var data = pad.toData();
      if (!data.length && strokesInput.value) {
        try { data = JSON.parse(strokesInput.value); } catch (e) { data = []; }
      }
      var width = canvas.offsetWidth, height = canvas.offsetHeight;
      if (!width || !height) return;
      var oldWidth = parseFloat(canvas.dataset.cssWidth || width);
      var scale = width / oldWidth;
      if (scale !== 1) {
        data.forEach(function (stroke) {
          stroke.points.forEach(function (p) { p.x *= scale; p.y *= scale; });
        });
      }
      canvas.dataset.cssWidth = width;
      canvas.width = width * ratio;
      canvas.height = height * ratio;
      canvas.getContext("2d").scale(ratio, ratio);
      pad.clear();
      if (data.length) pad.fromData(data);
      save();
    }

    pad.addEventListener("endStroke", save);
    root.querySelector("[data-pad-clear]").addEventListener("click", function () {
      pad.clear();
      save();
    });
    var timer;
    window.addEventListener("resize", function () {
      clearTimeout(timer);
      timer = setTimeout(fit, 100);
    });
    fit();
  }

  htmx.onLoad(function (element) {
    var pads = element.querySelectorAll ? element.querySelectorAll("[data-signature-pad]") : [];
    Array.prototype.forEach.call(pads, setupPad);
  });
})();

// --- flashed messages ---
// A message is about the action that just happened: the next htmx request empties the
// region (a partial brings its own messages out of band).
(function () {
  "use strict";
  document.addEventListener("htmx:beforeRequest", function () {
    var region = document.getElementById("flashes");
    if (region) region.innerHTML = "";
  });
})();

// --- proposals: the option toggle ---
// A tap whose request fails (offline, a server error) must not leave a ticked box
// beside a total that ignores it: put the box back and say so. (An expired CSRF
// token is answered by the server with a reload that says why.)
(function () {
  "use strict";

  function failed(event) {
    var box = event.detail && event.detail.elt;
    if (!box || !box.matches || !box.matches("input[type=checkbox][name=option]")) return;
    box.checked = !box.checked;
    var totals = document.getElementById("totals");
    if (!totals) return;
    var note = totals.querySelector("[data-toggle-error]");
    if (!note) {
      note = document.createElement("p");
      note.className = "error";
      note.setAttribute("role", "alert");
      note.setAttribute("data-toggle-error", "");
      totals.appendChild(note);
    }
    note.textContent = totals.dataset.toggleError || "";
  }

  document.addEventListener("htmx:responseError", failed);
  document.addEventListener("htmx:sendError", failed);
})();

// --- tickets: portal ---
// Too many or too large files are refused as soon as they are chosen, before a long
// upload on a phone network ends in a 413. The server checks again, by content.
(function () {
  "use strict";

  function checkFiles(input) {
    var maxFiles = parseInt(input.dataset.maxFiles, 10);
    var maxBytes = parseInt(input.dataset.maxBytes, 10);
    var message = "";
    if (input.files.length > maxFiles) {
      message = input.dataset.tooMany;
    } else {
      for (var i = 0; i < input.files.length; i++) {
        if (input.files[i].size > maxBytes) {
          message = input.dataset.tooLarge.replace("{name}", input.files[i].name);
          break;
        }
      }
    }
    input.setCustomValidity(message);
    if (message) input.reportValidity();
  }

  document.addEventListener("change", function (event) {
    var input = event.target;
    if (input.matches && input.matches("input[type=file][data-max-files]")) checkFiles(input);
  });
})();

// --- tickets: admin ---

// --- copy a link (admin: "Copy a link for this contact") ---
// A button with data-copy="#input" copies that input's value; without the clipboard
// API (or permission) the value is selected for Ctrl+C instead.
(function () {
  "use strict";

  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("button[data-copy]") : null;
    if (!button) return;
    var input = document.querySelector(button.dataset.copy);
    if (!input) return;
    input.select();
    var done = function () { button.textContent = button.dataset.copied || button.textContent; };
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(input.value).then(done, function () { input.select(); });
    } else {
      try { if (document.execCommand("copy")) done(); } catch (e) { /* selected: Ctrl+C works */ }
    }
  });
})();
