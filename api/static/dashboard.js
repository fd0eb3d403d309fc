// podium dashboard home: live counts by saga type and status, throughput and saga tables.
'use strict';

(() => {
  const { stream, money, ago, el, badge, sagaLink } = window.podium;
  const tables = [...document.querySelectorAll('table.orders[data-query]')];

  function setCount(key, value) {
    const node = document.querySelector('[data-count="' + key + '"]');
    if (!node || node.textContent === String(value)) return;
    node.textContent = String(value);
    const tile = node.closest('.tile');
    if (tile) {
      tile.classList.remove('bump');
      void tile.offsetWidth; // restart the animation
      tile.classList.add('bump');
    }
  }

  function drawSpark(series) {
    const names = ['placed', 'cancelled', 'completed'];
    let peak = 1;
    for (const n of names) for (const v of series[n] || []) peak = Math.max(peak, v);
    for (const n of names) {
      const values = series[n] || [];
      const line = document.querySelector('#spark [data-series="' + n + '"]');
      if (!line || values.length === 0) continue;
      const step = 600 / Math.max(1, values.length - 1);
      line.setAttribute('points', values.map((v, i) => (i * step).toFixed(1) + ',' + (88 - (v / peak) * 80).toFixed(1)).join(' '));
    }
    document.getElementById('spark-max').textContent = String(peak);
  }

  function onStats(s) {
    for (const [type, counts] of Object.entries(s.types || {})) {
      let total = 0;
      for (const [status, n] of Object.entries(counts)) {
        setCount(type + '/' + status, n);
        total += n;
      }
      setCount(type + '/total', total);
    }
    setCount('total', s.total);
    for (const [k, v] of Object.entries(s.throughput.per_second)) {
      const node = document.querySelector('[data-rate="' + k + '"]');
      if (node) node.textContent = v.toFixed(1);
    }
    drawSpark(s.throughput.series);
  }

  function row(table, o) {
    const withReason = table.id === 'failed-orders';
    const cells = [
      el('td', {}, sagaLink(o)),
      el('td', { class: 'type' }, o.type),
      el('td', {}, badge(o)),
      withReason
        ? el('td', { class: 'reason' }, (o.failed_step ? o.failed_step + ': ' : '') + (o.reason || ''))
        : el('td', {}, o.steps_done + '/' + o.steps_total),
      el('td', { class: 'num' }, money(o.total, o.currency)),
      el('td', {}, el('time', { datetime: o.updated_at, title: o.updated_at }, ago(o.updated_at))),
    ];
    return el('tr', { 'data-saga-id': o.saga_id }, ...cells);
  }

  async function loadTable(table) {
    const r = await fetch('/sagas?' + table.dataset.query);
    if (!r.ok) return;
    const page = await r.json();
    const body = table.tBodies[0];
    body.replaceChildren(...page.sagas.map((o) => row(table, o)));
    const empty = table.parentElement.querySelector('.empty');
    if (empty) empty.hidden = page.sagas.length > 0;
  }

  // Reload the tables at most once a second, and once more if changes came meanwhile.
  let loading = false;
  let again = false;
  async function reload() {
    if (loading) { again = true; return; }
    loading = true;
    try {
      await Promise.all(tables.map(loadTable));
    } finally {
      setTimeout(() => {
        loading = false;
        if (again) { again = false; reload(); }
      }, 1000);
    }
  }

  stream({ stats: onStats, orders: reload });
  reload();
  // Keep "3s ago" fresh between updates.
  setInterval(() => {
    for (const t of document.querySelectorAll('table.orders time[datetime]')) t.textContent = ago(t.getAttribute('datetime'));
  }, 5000);
})();
