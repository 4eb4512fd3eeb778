// SLA watch and follow-ups: reload the list when the monitor marks something or a follow-up
// changes. The server renders (and escapes) the fragment; this only swaps it in.
(function () {
  'use strict';

  const target = document.getElementById('sla-live');
  const pageName = document.body.dataset.page;
  if (!('EventSource' in window)) return;

  let timer = null;
  function refresh() {
    if (timer) return;
    timer = setTimeout(async () => {
      timer = null;
      if (target) {
        const response = await fetch('/console/sla/fragment', { credentials: 'same-origin' });
        if (response.status === 401) { window.location.assign('/console/login'); return; }
        if (response.ok) target.innerHTML = await response.text();
      } else if (pageName === 'follow-ups') {
        window.location.reload();
      }
    }, 200);
  }

  const source = new EventSource('/console/events');
  const badge = document.querySelector('[data-testid="live-status"]');
  source.addEventListener('open', () => { if (badge) badge.dataset.state = 'on'; });
  source.addEventListener('error', () => { if (badge) badge.dataset.state = 'off'; });
  const kinds = target ? ['sla', 'follow_up', 'queue', 'resync'] : ['follow_up'];
  for (const kind of kinds) source.addEventListener(kind, refresh);
  window.addEventListener('pagehide', () => source.close());
})();
