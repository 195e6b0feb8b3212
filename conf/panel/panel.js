// xfed-panel: optional conveniences. Every page works without this file:
// forms are plain HTML POSTs and the server decides everything.
(function () {
  'use strict';

  function csrfToken() {
    var m = document.querySelector('meta[name="csrf-token"]');
    return m ? m.getAttribute('content') : '';
  }

  // Partner list: filter rows while typing (the Apply button filters on the
  // server for browsers without script).
  function setupFilter() {
    var input = document.querySelector('input[data-filter-table]');
    if (!input) return;
    var table = document.getElementById(input.getAttribute('data-filter-table'));
    var count = document.getElementById('partner-count');
    if (!table) return;
    var rows = Array.prototype.slice.call(table.tBodies[0].rows);
    var total = count ? count.textContent.replace(/^\d+ of /, '') : '';
    input.addEventListener('input', function () {
      var q = input.value.trim().toLowerCase();
      var shown = 0;
      rows.forEach(function (row) {
        var hit = q === '' || row.textContent.toLowerCase().indexOf(q) >= 0;
        row.hidden = !hit;
        if (hit) shown++;
      });
      if (count) count.textContent = shown + ' of ' + total;
    });
  }

  // Partner form: ask the server (POST /api/partners/validate, which runs
  // the same validation as Commit and saves nothing) what it thinks of the
  // negotiation fields, and say it in a live region. A hint only: Commit
  // is still judged by the server.
  function setupLiveCheck() {
    var form = document.getElementById('partner-form');
    var live = document.getElementById('matrix-live');
    if (!form || !live || !window.fetch) return;
    var original = form.querySelector('input[name="original"]');
    var timer = null;
    function check() {
      var body = {};
      ['domain', 'tls', 'sasl', 'dialback', 'type'].forEach(function (n) {
        var el = form.elements[n];
        if (el) body[n] = el.value;
      });
      if (!body.domain) body.domain = 'example.invalid';
      var url = '/api/partners/validate';
      if (original) url += '?original=' + encodeURIComponent(original.value);
      fetch(url, {
        method: 'POST',
        credentials: 'same-origin',
        headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrfToken() },
        body: JSON.stringify(body)
      }).then(function (r) { return r.ok ? r.json() : null; }).then(function (res) {
        if (!res) { live.textContent = ''; return; }
        var msgs = (res.issues || []).filter(function (i) { return i.row > 0; });
        if (msgs.length === 0) {
          live.textContent = 'Server check: this negotiation combination is accepted.';
        } else {
          live.textContent = 'Server check: ' + msgs.map(function (i) {
            return (i.severity === 'error' ? 'would be rejected: ' : 'warning: ') +
              i.message + ' (matrix row ' + i.row + ')';
          }).join('; ');
        }
      }).catch(function () { live.textContent = ''; });
    }
    ['tls', 'sasl', 'dialback'].forEach(function (n) {
      var el = form.elements[n];
      if (el) el.addEventListener('change', function () {
        clearTimeout(timer);
        timer = setTimeout(check, 150);
      });
    });
  }

  // Status page: reload while visible, so the numbers stay live.
  function setupRefresh() {
    var el = document.querySelector('[data-autorefresh]');
    if (!el) return;
    var secs = parseInt(el.getAttribute('data-autorefresh'), 10) || 15;
    setInterval(function () {
      // not while someone is using a control: a reload would move focus
      var busy = document.activeElement && document.activeElement !== document.body;
      if (document.visibilityState === 'visible' && !busy) window.location.reload();
    }, secs * 1000);
  }

  // Move focus to the first field the server marked invalid.
  function focusInvalid() {
    var bad = document.querySelector('[aria-invalid="true"]');
    if (bad) bad.focus();
  }

  document.addEventListener('DOMContentLoaded', function () {
    setupFilter();
    setupLiveCheck();
    setupRefresh();
    focusInvalid();
  });
})();
