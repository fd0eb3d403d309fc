// podium pages without their own script: the live indicator, and the status filter counts
// of the order list.
'use strict';

(() => {
  const { stream } = window.podium;
  stream({
    stats: (s) => {
      for (const [status, n] of Object.entries(s.counts)) {
        const pill = document.querySelector('.filters [data-status="' + status + '"] span');
        if (pill) pill.textContent = String(n);
      }
      const all = document.querySelector('.filters [data-status="all"] span');
      if (all) all.textContent = String(s.total);
    },
  });
})();
