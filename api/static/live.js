// podium pages without their own script: the live indicator, and the filter counts of the
// saga lists (of one type, or of every type together).
'use strict';

(() => {
  const { stream } = window.podium;
  stream({
    stats: (s) => {
      for (const nav of document.querySelectorAll('.filters[data-type]')) {
        const type = nav.dataset.type;
        const counts = type ? ((s.types || {})[type] || {}) : s.counts;
        let total = 0;
        for (const [status, n] of Object.entries(counts)) {
          total += n;
          const pill = nav.querySelector('[data-status="' + status + '"] span');
          if (pill) pill.textContent = String(n);
        }
        const all = nav.querySelector('[data-status="all"] span');
        if (all) all.textContent = String(type ? total : s.total);
      }
      for (const [type, counts] of Object.entries(s.types || {})) {
        const pill = document.querySelector('.filters.types [data-type="' + type + '"] span');
        if (pill) pill.textContent = String(Object.values(counts).reduce((a, b) => a + b, 0));
      }
      const every = document.querySelector('.filters.types [data-types="all"] span');
      if (every) every.textContent = String(s.total);
    },
  });
})();
