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
})();
