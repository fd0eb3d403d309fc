// podium order page: live refresh of the DAG, steps and timeline; cancel and retry.
'use strict';

(() => {
  const { stream, post } = window.podium;
  const root = document.getElementById('order');
  const id = root.dataset.orderId;
  let version = Number(root.dataset.version || 0);

  // Offer only what the orchestrator would accept: cancel while running, retry when failed.
  function updateActions() {
    const live = root.querySelector('.order-live');
    const status = live ? live.dataset.status : '';
    const cancel = document.querySelector('#actions [data-action="cancel"]');
    const retry = document.querySelector('#actions [data-action="retry"]');
    if (cancel) cancel.hidden = !(status === 'pending' || status === 'approved');
    if (retry) retry.hidden = status !== 'failed';
  }
  updateActions();

  let loading = false;
  let again = false;
  async function refresh() {
    if (loading) { again = true; return; }
    loading = true;
    try {
      const r = await fetch('/ui/orders/' + encodeURIComponent(id) + '/live');
      if (r.ok && version === 0) {
        window.location.reload(); // the order appeared: load the whole page
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
      // Any change of this order: its snapshot, a timeline record (which may arrive before
      // or after the snapshot of the same version), or its leaving the read model.
      if (ev.reset || ev.orders.some((o) => o.order_id === id)) refresh();
    },
  });

  const actions = document.getElementById('actions');
  if (actions) {
    const result = document.getElementById('action-result');
    actions.addEventListener('click', async (e) => {
      const button = e.target.closest('button[data-action]');
      if (!button) return;
      const action = button.dataset.action;
      const reason = window.prompt('Reason for the ' + action + ' (recorded in the order history):', action + ' requested from the dashboard');
      if (reason === null) return;
      result.className = 'action-result';
      result.textContent = action + '…';
      try {
        const r = await post('/orders/' + encodeURIComponent(id) + '/' + action, { reason });
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
