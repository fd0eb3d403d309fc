// podium dashboard: helpers shared by the pages. Plain JS, no dependencies.
'use strict';

window.podium = (() => {
  const live = document.getElementById('live');

  // stream subscribes to the server-sent events of /events; handlers maps an event name
  // ("stats", "orders") to a function of its parsed data.
  function stream(handlers) {
    const es = new EventSource('/events');
    es.onopen = () => { live.textContent = 'live'; live.className = 'live on'; };
    es.onerror = () => { live.textContent = 'reconnecting…'; live.className = 'live off'; };
    for (const [name, fn] of Object.entries(handlers)) {
      es.addEventListener(name, (e) => fn(JSON.parse(e.data)));
    }
    es.addEventListener('stats', (e) => {
      const banner = document.getElementById('restoring');
      if (banner) banner.hidden = JSON.parse(e.data).ready;
    });
    return es;
  }

  // post sends a JSON POST; on 401 it asks for the API token once and retries.
  async function post(url, body) {
    const send = () => {
      const headers = { 'Content-Type': 'application/json' };
      const token = sessionStorage.getItem('podium-token');
      if (token) headers.Authorization = 'Bearer ' + token;
      return fetch(url, { method: 'POST', headers, body: JSON.stringify(body || {}) });
    };
    let r = await send();
    if (r.status === 401) {
      const token = window.prompt('This API requires a token (podium api --token). Token:');
      if (token) {
        sessionStorage.setItem('podium-token', token.trim());
        r = await send();
      }
    }
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

  function badge(status) {
    return el('span', { class: 'badge status-' + status }, status || '?');
  }

  function orderLink(id) {
    return el('a', { href: '/ui/orders/' + encodeURIComponent(id), class: 'order-link' }, id);
  }

  return { stream, post, money, ago, el, badge, orderLink };
})();
