/* The little behaviour the pages have beyond htmx, wired from data- attributes.

   The Content-Security-Policy allows scripts from this site only (script-src 'self', no
   'unsafe-inline'), so no template carries an inline script or on* handler: an element asks for
   a behaviour with a data- attribute and this file, served from static/, gives it. Listeners sit
   on the document, so elements that htmx swaps in later get the behaviour too. Every page still
   works without JavaScript: each such form has a submit button in <noscript>. */
(function () {
  "use strict";

  // <select data-submit-on-change>: choosing an option submits its form (the language switch).
  document.addEventListener("change", function (event) {
    var field = event.target;
    if (!(field instanceof HTMLSelectElement) || !field.hasAttribute("data-submit-on-change")) {
      return;
    }
    if (!field.form) {
      return;
    }
    // requestSubmit runs validation and the submit event, as a click on a button would.
    if (typeof field.form.requestSubmit === "function") {
      field.form.requestSubmit();
    } else {
      field.form.submit();
    }
  });

  // <input data-select-on-focus>: focusing the field selects its whole value, ready to copy
  // (a new API token, shown once).
  document.addEventListener("focusin", function (event) {
    var field = event.target;
    if (field instanceof HTMLInputElement && field.hasAttribute("data-select-on-focus")) {
      field.select();
    }
  });
  // <input type=checkbox data-select-all="NAME" data-select-max="N">: checks or clears every
  // checkbox named NAME in its form (at most N: the most the page acts on at once), and shows
  // itself checked, cleared or mixed as the boxes are ticked one by one.
  function boxesFor(master) {
    var scope = master.form || document;
    var name = master.getAttribute("data-select-all");
    return Array.prototype.filter.call(
      scope.querySelectorAll("input[type=checkbox]"),
      function (box) { return box.name === name && !box.disabled; }
    );
  }
  function masterRefresh(master) {
    var boxes = boxesFor(master);
    var checked = boxes.filter(function (box) { return box.checked; }).length;
    master.checked = boxes.length > 0 && checked === boxes.length;
    master.indeterminate = checked > 0 && checked < boxes.length;
  }
  document.addEventListener("change", function (event) {
    var field = event.target;
    if (!(field instanceof HTMLInputElement) || field.type !== "checkbox") {
      return;
    }
    if (field.hasAttribute("data-select-all")) {
      var max = parseInt(field.getAttribute("data-select-max") || "0", 10) || Infinity;
      boxesFor(field).forEach(function (box, index) {
        box.checked = field.checked && index < max;
      });
      masterRefresh(field);
      return;
    }
    var scope = field.form || document;
    Array.prototype.forEach.call(scope.querySelectorAll("input[data-select-all]"), function (master) {
      if (master.getAttribute("data-select-all") === field.name) {
        masterRefresh(master);
      }
    });
  });
})();
