// Rep console: live updates over server-sent events, canned responses, the wrap-up form.
// Pages are rendered (and escaped) on the server; this script only swaps in fragments the server
// rendered, so customer text never passes through JavaScript string building.
(function () {
  'use strict';

  const body = document.body;
  const pageName = body.dataset.page;
  const conversationId = body.dataset.conversationId ? Number(body.dataset.conversationId) : null;

  // Live status ------------------------------------------------------------------------------

  const liveBadge = document.querySelector('[data-testid="live-status"]');
  function setLive(on) {
    if (liveBadge) liveBadge.dataset.state = on ? 'on' : 'off';
  }

  // Debounced refresh, so a burst of events costs one request.
  let refreshTimer = null;
  function scheduleRefresh() {
    if (refreshTimer) return;
    refreshTimer = setTimeout(() => {
      refreshTimer = null;
      refresh().catch(() => setLive(false));
    }, 150);
  }

  async function fetchOrSignIn(url) {
    const response = await fetch(url, { credentials: 'same-origin', headers: { Accept: 'text/html,application/json' } });
    if (response.status === 401) {
      window.location.assign('/console/login');
      throw new Error('signed out');
    }
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    return response;
  }

  async function refresh() {
    if (pageName === 'queue') {
      const target = document.getElementById('queue-live');
      const response = await fetchOrSignIn('/console/queue/fragment');
      target.innerHTML = await response.text();
    } else if (pageName === 'conversation' && conversationId) {
      const response = await fetchOrSignIn(`/console/conversations/${conversationId}/fragment`);
      applyConversation(await response.json());
    }
  }

  function applyConversation(data) {
    const transcript = document.querySelector('[data-live="transcript"]');
    const pinned = transcript && transcript.scrollTop + transcript.clientHeight >= transcript.scrollHeight - 40;
    for (const [part, html] of Object.entries(data.parts || {})) {
      const target = document.querySelector(`[data-live="${part}"]`);
      if (target) target.innerHTML = html;
    }
    if (transcript && pinned) transcript.scrollTop = transcript.scrollHeight;
    const owner = data.owner === null ? '' : String(data.owner);
    if (data.state !== body.dataset.state || owner !== body.dataset.owner) {
      // What this person may do changed (claimed, reassigned, resolved elsewhere).
      const reply = document.getElementById('reply-text');
      if (!reply || !reply.value.trim()) {
        window.location.reload();
      } else {
        const banner = document.querySelector('[data-testid="changed-banner"]');
        if (banner) banner.hidden = false;
      }
    }
  }

  function concerns(event) {
    if (pageName === 'queue') return true;
    if (pageName !== 'conversation') return false;
    try {
      const data = JSON.parse(event.data);
      return event.type === 'resync' || data.conversation_id === conversationId;
    } catch (_) {
      return false;
    }
  }

  if ((pageName === 'queue' || pageName === 'conversation') && 'EventSource' in window) {
    const source = new EventSource('/console/events');
    let opened = false;
    source.addEventListener('open', () => {
      setLive(true);
      // After a reconnect, catch up on what happened while the stream was down.
      if (opened) scheduleRefresh();
      opened = true;
    });
    source.addEventListener('error', () => setLive(false));
    for (const kind of ['queue', 'message', 'delivery', 'note', 'resync', 'language']) {
      source.addEventListener(kind, (event) => {
        if (concerns(event)) scheduleRefresh();
      });
    }
    window.addEventListener('pagehide', () => source.close());
  }

  // Waiting times move on even when nothing happens.
  if (pageName === 'queue') setInterval(scheduleRefresh, 60000);

  // Conversation page --------------------------------------------------------------------------

  const transcript = document.querySelector('[data-live="transcript"]');
  if (transcript) transcript.scrollTop = transcript.scrollHeight;

  for (const select of document.querySelectorAll('select[data-canned-target]')) {
    select.addEventListener('change', () => {
      const option = select.selectedOptions[0];
      const target = document.getElementById(select.dataset.cannedTarget);
      if (!option || !option.value || !target) return;
      const text = option.dataset.text || '';
      const start = target.selectionStart ?? target.value.length;
      const end = target.selectionEnd ?? target.value.length;
      target.value = target.value.slice(0, start) + text + target.value.slice(end);
      target.focus();
      select.value = '';
    });
  }

  for (const fieldset of document.querySelectorAll('fieldset[data-follow-up]')) {
    const fields = fieldset.querySelector('.follow-up-fields');
    const sync = () => {
      const yes = fieldset.querySelector('input[value="yes"]').checked;
      fields.hidden = !yes;
      for (const input of fields.querySelectorAll('input, select')) input.required = yes;
    };
    fieldset.addEventListener('change', sync);
    sync();
  }

  // One click per form: a double click must not send a reply twice.
  for (const form of document.querySelectorAll('form')) {
    form.addEventListener('submit', () => {
      for (const button of form.querySelectorAll('button[type="submit"]')) button.disabled = true;
    });
  }
})();
