// podium saga page (an order's or a saga's of any type): live refresh of the DAG, steps
// and timeline; cancel and retry.
'use strict';

(() => {
  const { stream, post } = window.podium;
  const root = document.getElementById('order');
  const id = root.dataset.sagaId;
  const api = root.dataset.api; // the saga's JSON: /orders/{id} or /sagas/{id}
  const livePath = root.dataset.live; // its live fragment
  let version = Number(root.dataset.version || 0);

  // Offer only what the orchestrator would accept: the server lists it (data-actions) as
  // the engine decides it.
  function updateActions() {
    const live = root.querySelector('.order-live');
    const offered = new Set(((live && live.dataset.actions) || '').split(' ').filter(Boolean));
    for (const button of document.querySelectorAll('#actions button[data-action]')) {
      button.hidden = !offered.has(button.dataset.action);
    }
  }
  updateActions();

  let loading = false;
  let again = false;
  async function refresh() {
    if (loading) { again = true; return; }
    loading = true;
    try {
      const r = await fetch(livePath);
      if (r.ok && version === 0) {
        window.location.reload(); // the saga appeared: load the whole page
        return;
      }
      if (r.ok || r.status === 404) {
        root.innerHTML = await r.text(); // rendered and escaped by the server
        const live = root.querySelector('.order-live');
        version = Number((live && live.dataset.version) || 0);
        root.dataset.version = String(version);
        updateActions();
      }
    } finally {
      loading = false;
      if (again) { again = false; refresh(); }
    }
  }

  stream({
    orders: (ev) => {
      // Any change of this saga: its snapshot, a timeline record (which may arrive before
      // or after the snapshot of the same version), or its leaving the read model.
      if (ev.reset || ev.orders.some((o) => o.saga_id === id)) refresh();
    },
  });

  const actions = document.getElementById('actions');
  if (actions) {
    const result = document.getElementById('action-result');
    actions.addEventListener('click', async (e) => {
      const button = e.target.closest('button[data-action]');
      if (!button) return;
      const action = button.dataset.action;
      const reason = window.prompt('Reason for the ' + action + ' (recorded in the saga history):', action + ' requested from the dashboard');
      if (reason === null) return;
      result.className = 'action-result';
      result.textContent = action + '…';
      try {
        const r = await post(api + '/' + action, { reason });
        const body = await r.json().catch(() => ({}));
        result.className = 'action-result ' + (r.ok ? 'ok' : 'bad');
        result.textContent = r.ok ? action + ' requested' : (body.error || r.statusText);
      } catch (err) {
        result.className = 'action-result bad';
        result.textContent = String(err);
      }
    });
  }
})();
