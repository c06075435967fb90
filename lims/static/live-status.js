// Live status without reloading: poll the organization's change feed (one indexed query a call) and update the
// badges and accession numbers the page shows for the submissions and samples that changed.
(function () {
  "use strict";
  var holder = document.querySelector("[data-live-feed]");
  if (!holder) { return; }
  var feed = holder.getAttribute("data-live-feed");
  var cursor = holder.getAttribute("data-live-cursor");
  var EVERY_MS = 3000;
  var TONES = {"received": "ok", "results released": "ok", "rejected": "danger", "cancelled": "muted", "draft": "muted",
               "partly received": "warning", "in testing": "warning"};

  function show(id, status) {
    document.querySelectorAll('[data-status-of="' + id + '"]').forEach(function (badge) {
      badge.textContent = status;
      badge.className = "badge badge-" + (TONES[status] || "muted");
    });
  }

  function apply(event) {
    if (event.sample_id) {
      show(event.sample_id, event.status);
      if (event.kind === "sample.custody" && event.data) {
        document.querySelectorAll('[data-custody-of="' + event.sample_id + '"]').forEach(function (cell) {
          cell.textContent = event.data.action + (event.data.location ? ": " + event.data.location : "");
        });
      }
      if (event.data && event.data.accession_number) {
        document.querySelectorAll('[data-accession-of="' + event.sample_id + '"]').forEach(function (cell) {
          cell.textContent = event.data.accession_number;
        });
      }
    } else {
      show(event.submission_id, event.status);
    }
    var status = document.getElementById("live-status");
    if (status) { status.textContent = "Updated: " + event.kind.replace(/[._]/g, " ") + "."; }
  }

  function poll() {
    fetch(feed + "?after=" + encodeURIComponent(cursor), {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (page) {
        if (page) {
          page.items.forEach(apply);
          cursor = page.next_cursor;
        }
      })
      .catch(function () { /* the next poll tries again */ })
      .finally(function () { window.setTimeout(poll, EVERY_MS); });
  }

  window.setTimeout(poll, EVERY_MS);
}());
