// Pickers find as the user types. Without this script a picker is a plain search form that reloads the page; with
// it, the page is fetched the same way and only the picker's list and its hints are swapped in.
(function () {
  "use strict";
  var WAIT_MS = 300;
  // Each picker on a page names this script: the first run serves them all.
  if (window.limsPickersReady) {
    return;
  }
  window.limsPickersReady = true;

  function swap(key, html) {
    var page = new DOMParser().parseFromString(html, "text/html");
    document.querySelectorAll('[data-picker="' + key + '"]').forEach(function (shown) {
      var fresh = page.getElementById(shown.id);
      if (fresh) {
        shown.replaceWith(document.importNode(fresh, true));
      }
    });
  }

  document.querySelectorAll("form.picker-search").forEach(function (form) {
    var input = form.querySelector('input[type="search"]');
    var key = form.querySelector('input[name="picker"]').value;
    var timer = null;
    var asked = 0;
    input.addEventListener("input", function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(function () {
        var ask = ++asked;
        var address = form.action.split("#")[0] + "?" + new URLSearchParams(new FormData(form)).toString();
        fetch(address, { credentials: "same-origin", headers: { Accept: "text/html" } })
          .then(function (response) { return response.ok ? response.text() : null; })
          .then(function (html) {
            // An answer to an older search that arrives late is not shown.
            if (html !== null && ask === asked) {
              swap(key, html);
            }
          })
          .catch(function () { /* the form still works: submitting it reloads the page */ });
      }, WAIT_MS);
    });
  });
})();
