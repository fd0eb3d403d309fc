// podium dashboard: helpers shared by the pages. Plain JS, no dependencies.
'use strict';

window.podium = (() => {
  const live = document.getElementById('live');

  // toLogin sends the browser to the login page, coming back here afterwards.
  function toLogin() {
    window.location.assign('/login?next=' + encodeURIComponent(window.location.pathname + window.location.search));
  }

  // stream subscribes to the server-sent events of /events; handlers maps an event name
  // ("stats", "orders") to a function of its parsed data. A stream the server refused (401
  // when the session ended, 503 at the stream limit) is not retried by the browser: it
  // goes to the login page, or tries again a few seconds later.
  function stream(handlers) {
    let es;
    const connect = () => {
      es = new EventSource('/events');
      es.onopen = () => { live.textContent = 'live'; live.className = 'live on'; };
      es.onerror = () => {
        live.textContent = 'reconnecting…'; live.className = 'live off';
        if (es.readyState !== EventSource.CLOSED) return;
        fetch('/orders?limit=1').then((r) => {
          if (r.status === 401) toLogin();
          else setTimeout(connect, 5000);
        }, () => setTimeout(connect, 5000));
      };
      for (const [name, fn] of Object.entries(handlers)) {
        es.addEventListener(name, (e) => fn(JSON.parse(e.data)));
      }
      es.addEventListener('stats', (e) => {
        const banner = document.getElementById('restoring');
        if (banner) banner.hidden = JSON.parse(e.data).ready;
      });
    };
    connect();
  }

  // post sends a JSON POST (the session cookie goes with it); on 401 the session ended:
  // log in again.
  async function post(url, body) {
    const r = await fetch(url, {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body || {}),
    });
    if (r.status === 401) toLogin();
    return r;
  }

  const zero = new Set(['BIF', 'CLP', 'DJF', 'GNF', 'ISK', 'JPY', 'KMF', 'KRW', 'PYG', 'RWF', 'UGX', 'UYI', 'VND', 'VUV', 'XAF', 'XOF', 'XPF']);
  const three = new Set(['BHD', 'IQD', 'JOD', 'KWD', 'LYD', 'OMR', 'TND']);

  // money formats integer minor units.
  function money(minor, currency) {
    const digits = zero.has(currency) ? 0 : three.has(currency) ? 3 : 2;
    return (minor / 10 ** digits).toFixed(digits) + ' ' + (currency || '');
  }

  // ago is a short relative time.
  function ago(iso) {
    const s = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
    if (s < 1) return 'just now';
    if (s < 60) return Math.floor(s) + 's ago';
    if (s < 3600) return Math.floor(s / 60) + 'm ago';
    if (s < 86400) return Math.floor(s / 3600) + 'h ago';
    return new Date(iso).toISOString().slice(0, 10);
  }

  // el builds an element; text children become text nodes (never HTML).
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === 'class') e.className = v;
      else e.setAttribute(k, v);
    }
    for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    return e;
  }

  // badge shows a saga's status (s: a summary): coloured by its label where the stylesheet
  // knows it, else by the engine's status.
  function badge(s) {
    return el('span', { class: 'badge saga-' + s.saga_status + ' status-' + s.status }, s.status || '?');
  }

  // sagaLink links a saga (s: a summary) to its page: an order's, or a saga's of any type.
  function sagaLink(s) {
    const page = s.order_id ? '/ui/orders/' : '/ui/sagas/';
    return el('a', { href: page + encodeURIComponent(s.saga_id), class: 'order-link' }, s.saga_id);
  }

  return { stream, post, money, ago, el, badge, sagaLink };
})();
