/*!
 * Caricom Connects — support chat widget.
 * Dependency-free (ES2020). Speaks the Socket.IO v5 / Engine.IO v4 protocol
 * directly over a WebSocket, using the event names of Rasa's socketio channel.
 *
 * Embed:
 *   <script src="/static/webchat/widget.js" data-server="" defer></script>
 * Options (attributes on that script tag):
 *   data-server  origin of the chat server, e.g. "https://chat.example.com";
 *                empty or missing = same origin as the page.
 *   data-path    Socket.IO path on that server (default "/socket.io/").
 *   data-open    "true" = open the panel as soon as the page loads.
 *   data-lazy    "true" = connect only when the customer first opens the panel
 *                or sends a message (default: connect on page load).
 *
 * Security: all customer and server text is inserted with textContent /
 * createTextNode, never innerHTML.
 */
(() => {
  'use strict';

  if (window.CaricomChat && window.CaricomChat.__ccw) return; // loaded twice

  // Must be read synchronously, while the script is executing.
  const SCRIPT =
    document.currentScript ||
    document.querySelector('script[src*="webchat/widget.js"]') ||
    document.querySelector('script[src$="widget.js"]');

  const dataset = (SCRIPT && SCRIPT.dataset) || {};
  const OPTIONS = {
    server: (dataset.server || '').trim(),
    path: (dataset.path || '/socket.io/').trim(),
    open: dataset.open === 'true',
    lazy: dataset.lazy === 'true',
  };

  const MAX_LEN = 2000;
  const COUNTER_FROM = 1800;
  const HISTORY_MAX = 100;
  const TYPING_MS = 15000;
  const HANDSHAKE_MS = 20000;
  const CONFIRM_FALLBACK_MS = 4000;
  const BACKOFF_MAX_MS = 30000;
  const KEY_SESSION = 'ccw_session_id';
  const KEY_HISTORY = 'ccw_history';
  const SENDERS = ['customer', 'bot', 'rep', 'system'];
  const LABELS = { bot: 'Assistant', rep: 'Support team' };
  const STATUS_TEXT = {
    connecting: 'Connecting…',
    connected: 'Online',
    reconnecting: 'Reconnecting…',
  };

  // ---------------------------------------------------------------- storage
  const memoryStore = {};
  const store = {
    get(key) {
      try {
        return window.localStorage.getItem(key);
      } catch (_) {
        return key in memoryStore ? memoryStore[key] : null;
      }
    },
    set(key, value) {
      try {
        window.localStorage.setItem(key, value);
      } catch (_) {
        memoryStore[key] = value;
      }
    },
  };

  const validSessionId = (id) => typeof id === 'string' && /^[A-Za-z0-9_.:-]{1,128}$/.test(id);

  // The session id is a secret the server issues: ask with the one it confirmed before, or
  // with none, and keep whatever session_confirm names (a made-up or stale one is replaced).
  let sessionId = store.get(KEY_SESSION);
  if (!validSessionId(sessionId)) sessionId = null;

  function loadHistory() {
    let list;
    try {
      list = JSON.parse(store.get(KEY_HISTORY) || '[]');
    } catch (_) {
      return [];
    }
    if (!Array.isArray(list)) return [];
    const out = [];
    for (const it of list.slice(-HISTORY_MAX)) {
      if (!it || typeof it !== 'object' || !SENDERS.includes(it.who)) continue;
      const item = { who: it.who };
      if (typeof it.text === 'string') item.text = it.text;
      if (it.kind === 'error') item.kind = 'error';
      if (typeof it.image === 'string') item.image = it.image;
      if (typeof it.alt === 'string') item.alt = it.alt;
      if (it.link && typeof it.link === 'object' && typeof it.link.url === 'string') {
        item.link = { url: it.link.url, title: str(it.link.title) };
      }
      const buttons = normaliseButtons(it.buttons);
      if (buttons.length) {
        item.buttons = buttons;
        if (it.used) {
          item.used = true;
          if (Number.isInteger(it.chosen)) item.chosen = it.chosen;
        }
      }
      if (it.who === 'customer' && it.pending && typeof it.out === 'string') {
        item.pending = true; // typed while offline, never sent: resend after connecting
        item.out = it.out;
      }
      out.push(item);
    }
    return out;
  }

  let history = [];

  function saveHistory() {
    if (history.length > HISTORY_MAX) history = history.slice(-HISTORY_MAX);
    store.set(KEY_HISTORY, JSON.stringify(history));
  }

  // -------------------------------------------------------------- helpers
  function el(tag, className, attrs) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (attrs) for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    return node;
  }

  const SVG_NS = 'http://www.w3.org/2000/svg';
  function icon(paths, className) {
    const svg = document.createElementNS(SVG_NS, 'svg');
    svg.setAttribute('viewBox', '0 0 24 24');
    svg.setAttribute('width', '24');
    svg.setAttribute('height', '24');
    svg.setAttribute('aria-hidden', 'true');
    svg.setAttribute('focusable', 'false');
    if (className) svg.setAttribute('class', className);
    for (const d of paths) {
      const p = document.createElementNS(SVG_NS, 'path');
      p.setAttribute('d', d);
      svg.appendChild(p);
    }
    return svg;
  }
  const ICON_CHAT = [
    'M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-4.5 3.6A.9.9 0 0 1 3 20.9V6a2 2 0 0 1 1-2z',
  ];
  const ICON_CLIP = ['M21.4 11.1l-8.5 8.5a5.5 5.5 0 0 1-7.8-7.8l8.5-8.5a3.7 3.7 0 0 1 5.2 5.2l-8.5 8.5a1.8 1.8 0 0 1-2.6-2.6l7.8-7.8'];
  const ICON_CLOSE = ['M6 6l12 12', 'M18 6L6 18'];
  const ICON_SEND = ['M3.4 20.4l17.45-7.48a1 1 0 0 0 0-1.84L3.4 3.6a.99.99 0 0 0-1.39.91L2 9.12c0 .5.37.93.87.99L17 12 2.87 13.88c-.5.07-.87.5-.87 1l.01 4.61c0 .71.73 1.2 1.39.91z'];
  const ICON_WAVE = ['M2 15c2 0 2-1.5 4-1.5S8 15 10 15s2-1.5 4-1.5 2 1.5 4 1.5 2-1.5 4-1.5', 'M2 19c2 0 2-1.5 4-1.5S8 19 10 19s2-1.5 4-1.5 2 1.5 4 1.5 2-1.5 4-1.5', 'M17 4a4 4 0 1 1-4 4'];

  /** Only http(s) URLs (absolute, or relative to the page) are ever used. */
  function safeUrl(value) {
    if (typeof value !== 'string' || !value.trim()) return null;
    try {
      const u = new URL(value.trim(), window.location.href);
      return u.protocol === 'http:' || u.protocol === 'https:' ? u.href : null;
    } catch (_) {
      return null;
    }
  }

  const URL_RE = /\bhttps?:\/\/[^\s<>"']+/gi;

  /** Append text as text nodes, newlines as <br>; optionally link http(s) URLs. */
  function appendText(parent, text, linkify) {
    const lines = String(text).split(/\r\n|\r|\n/);
    lines.forEach((line, i) => {
      if (i > 0) parent.appendChild(document.createElement('br'));
      if (!linkify) {
        parent.appendChild(document.createTextNode(line));
        return;
      }
      let last = 0;
      for (const match of line.matchAll(URL_RE)) {
        const raw = match[0].replace(/[.,;:!?)\]}'"]+$/, '');
        const href = safeUrl(raw);
        if (!href) continue;
        if (match.index > last) parent.appendChild(document.createTextNode(line.slice(last, match.index)));
        const a = el('a', 'ccw-link', { href, target: '_blank', rel: 'noopener noreferrer nofollow' });
        a.textContent = raw;
        parent.appendChild(a);
        last = match.index + raw.length;
      }
      if (last < line.length) parent.appendChild(document.createTextNode(line.slice(last)));
    });
  }

  const str = (v) => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : '');

  function normaliseButtons(list) {
    if (!Array.isArray(list)) return [];
    const out = [];
    for (const b of list) {
      if (!b || typeof b !== 'object') continue;
      const title = str(b.title) || str(b.payload);
      const payload = str(b.payload) || str(b.title);
      if (title.trim() && payload.trim()) out.push({ title, payload });
    }
    return out;
  }

  const IMAGE_EXT = /\.(png|jpe?g|gif|webp|avif|svg)(\?|#|$)/i;

  /** Map a bot_uttered attachment (string or Rasa-style object) to image/link. */
  function readAttachment(att, item) {
    if (typeof att === 'string') {
      const url = safeUrl(att);
      if (!url) return;
      if (IMAGE_EXT.test(url)) item.image = url;
      else item.link = { url, title: '' };
      return;
    }
    if (!att || typeof att !== 'object') return;
    const payload = att.payload && typeof att.payload === 'object' ? att.payload : {};
    const url = safeUrl(str(payload.src) || str(payload.url) || str(att.src) || str(att.url) ||
      (typeof att.payload === 'string' ? att.payload : ''));
    if (!url) return;
    const title = str(payload.title) || str(att.title) || str(payload.name) || str(att.name);
    if (att.type === 'image' || (!att.type && IMAGE_EXT.test(url))) {
      item.image = url;
      if (title) item.alt = title;
    } else {
      item.link = { url, title };
    }
  }

  // ------------------------------------------------------------------ DOM
  let root, launcher, badge, panel, statusEl, statusText, list, typingRow, form, input, counter;
  const rows = new WeakMap(); // history item -> row element
  let isOpen = false;
  let unread = 0;
  let typingTimer = null;
  let pinned = true; // the message list is scrolled to (near) the bottom

  function buildDom() {
    root = el('div', 'ccw-root');
    root.style.display = 'none'; // until widget.css has loaded (avoids a flash of unstyled content)

    launcher = el('button', 'ccw-launcher', {
      type: 'button',
      'data-testid': 'ccw-launcher',
      'aria-controls': 'ccw-panel',
      'aria-expanded': 'false',
      'aria-label': 'Open support chat',
    });
    launcher.appendChild(icon(ICON_CHAT, 'ccw-icon ccw-icon-chat'));
    launcher.appendChild(icon(ICON_CLOSE, 'ccw-icon ccw-icon-close'));
    badge = el('span', 'ccw-badge', { 'aria-hidden': 'true' });
    badge.hidden = true;
    launcher.appendChild(badge);

    panel = el('section', 'ccw-panel', {
      id: 'ccw-panel',
      role: 'dialog',
      'aria-modal': 'false',
      'aria-labelledby': 'ccw-title',
      'data-testid': 'ccw-panel',
    });
    panel.hidden = true;

    // header
    const header = el('header', 'ccw-header');
    const avatar = el('div', 'ccw-avatar');
    avatar.appendChild(icon(ICON_WAVE, 'ccw-icon'));
    const heading = el('div', 'ccw-heading');
    const title = el('h2', 'ccw-title', { id: 'ccw-title' });
    title.textContent = 'Caricom Connects — Support';
    statusEl = el('div', 'ccw-status', { 'data-testid': 'ccw-status', role: 'status' });
    statusEl.appendChild(el('span', 'ccw-dot', { 'aria-hidden': 'true' }));
    statusText = el('span', 'ccw-status-text');
    statusEl.appendChild(statusText);
    heading.append(title, statusEl);
    const closeBtn = el('button', 'ccw-close', { type: 'button', 'aria-label': 'Close chat' });
    closeBtn.appendChild(icon(ICON_CLOSE, 'ccw-icon'));
    closeBtn.addEventListener('click', () => close());
    header.append(avatar, heading, closeBtn);

    // messages
    list = el('div', 'ccw-messages', {
      role: 'log',
      'aria-live': 'polite',
      'aria-relevant': 'additions',
      'aria-label': 'Conversation',
      tabindex: '0',
    });
    const intro = el('p', 'ccw-intro');
    intro.textContent = 'Hi there! 👋 Ask us anything about Caricom Connects — we’re happy to help.';
    list.appendChild(intro);

    typingRow = el('div', 'ccw-row ccw-row-bot ccw-row-typing');
    const typing = el('div', 'ccw-typing', { 'data-testid': 'ccw-typing' });
    for (let i = 0; i < 3; i++) typing.appendChild(el('span', 'ccw-typing-dot', { 'aria-hidden': 'true' }));
    const typingSr = el('span', 'ccw-sr-only');
    typingSr.textContent = 'Support is typing…';
    typing.appendChild(typingSr);
    typingRow.appendChild(typing);
    typingRow.hidden = true;
    list.appendChild(typingRow);

    // composer
    form = el('form', 'ccw-composer', { novalidate: '' });
    const label = el('label', 'ccw-sr-only', { for: 'ccw-input' });
    label.textContent = 'Type your message';
    input = el('textarea', 'ccw-input', {
      id: 'ccw-input',
      rows: '1',
      maxlength: String(MAX_LEN),
      placeholder: 'Type your message…',
      autocomplete: 'off',
      enterkeyhint: 'send',
      'aria-describedby': 'ccw-counter ccw-hint',
      'data-testid': 'ccw-input',
    });
    counter = el('span', 'ccw-counter', { id: 'ccw-counter' });
    counter.hidden = true;
    const hint = el('span', 'ccw-sr-only', { id: 'ccw-hint' });
    hint.textContent = 'Press Enter to send, Shift+Enter for a new line.';
    const sendBtn = el('button', 'ccw-send', {
      type: 'submit',
      'aria-label': 'Send message',
      'data-testid': 'ccw-send',
    });
    sendBtn.appendChild(icon(ICON_SEND, 'ccw-icon'));
    form.append(label, input, counter, hint, sendBtn);

    panel.append(header, list, form);
    root.append(panel, launcher);
    document.body.appendChild(root);

    // events
    launcher.addEventListener('click', () => (isOpen ? close() : open()));
    panel.addEventListener('keydown', (e) => {
      if (e.key === 'Escape') {
        e.stopPropagation();
        close();
      }
    });
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      submitInput();
    });
    input.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && !e.shiftKey && !e.isComposing && e.keyCode !== 229) {
        e.preventDefault();
        submitInput();
      }
    });
    input.addEventListener('input', onInput);
    list.addEventListener('scroll', () => {
      pinned = nearBottom();
    }, { passive: true });
  }

  function onInput() {
    const len = input.value.length;
    if (len >= COUNTER_FROM) {
      counter.hidden = false;
      counter.textContent = `${len} / ${MAX_LEN}`;
      counter.classList.toggle('ccw-counter-max', len >= MAX_LEN);
    } else {
      counter.hidden = true;
      counter.textContent = '';
    }
    // auto-grow up to the CSS max-height
    input.style.height = 'auto';
    const borders = input.offsetHeight - input.clientHeight;
    input.style.height = `${Math.min(input.scrollHeight + borders, 140)}px`;
  }

  function submitInput() {
    const value = input.value;
    if (!value.trim()) {
      input.value = '';
      onInput();
      input.focus();
      return;
    }
    if (sendText(value)) {
      input.value = '';
      onInput();
    }
    input.focus();
  }

  function loadCss(done) {
    let finished = false;
    const finish = () => {
      if (!finished) {
        finished = true;
        done();
      }
    };
    const base = (SCRIPT && SCRIPT.src) || window.location.href;
    const href = new URL('widget.css', base).href;
    const strip = (u) => u.split(/[?#]/)[0];
    let link = Array.from(document.querySelectorAll('link[rel~="stylesheet"]')).find(
      (l) => l.hasAttribute('data-ccw') || strip(l.href) === strip(href)
    );
    if (link && link.sheet) {
      finish();
      return;
    }
    if (!link) {
      link = el('link', null, { rel: 'stylesheet', href, 'data-ccw': '' });
      document.head.appendChild(link);
    }
    link.addEventListener('load', finish);
    link.addEventListener('error', finish);
    setTimeout(finish, 4000);
  }

  // ------------------------------------------------------------ rendering
  function nearBottom() {
    return list.scrollHeight - list.scrollTop - list.clientHeight < 80;
  }
  function scrollToEnd() {
    list.scrollTop = list.scrollHeight;
    pinned = true;
  }

  function renderItem(item) {
    const who = item.who;
    const row = el('div', `ccw-row ccw-row-${who}`);
    if (item.kind === 'error') row.classList.add('ccw-row-error');

    if (LABELS[who]) {
      const label = el('div', 'ccw-label');
      label.textContent = LABELS[who];
      row.appendChild(label);
    }

    const text = typeof item.text === 'string' ? item.text : '';
    const image = safeUrl(item.image);
    const link = item.link && typeof item.link === 'object' ? safeUrl(item.link.url) : null;

    if (text || image || link) {
      const bubble = el('div', `ccw-bubble ccw-bubble-${who}`, {
        'data-testid': 'ccw-message',
        'data-sender': who,
      });
      if (item.kind === 'error') bubble.classList.add('ccw-error');
      if (text) appendText(bubble, text, who === 'bot' || who === 'rep');
      if (image) {
        const a = el('a', 'ccw-image-link', { href: image, target: '_blank', rel: 'noopener noreferrer nofollow' });
        const img = el('img', 'ccw-image', { src: image, loading: 'lazy' });
        img.alt = typeof item.alt === 'string' && item.alt ? item.alt : 'Image';
        img.addEventListener('load', () => {
          if (pinned) scrollToEnd(); // keep the bottom in view as the image takes its height
        });
        a.appendChild(img);
        if (text) bubble.appendChild(document.createElement('br'));
        bubble.appendChild(a);
      }
      if (link) {
        const a = el('a', 'ccw-attachment', { href: link, target: '_blank', rel: 'noopener noreferrer nofollow' });
        let name = str(item.link.title);
        if (!name) {
          try {
            name = decodeURIComponent(new URL(link).pathname.split('/').pop() || '') || 'Open attachment';
          } catch (_) {
            name = 'Open attachment';
          }
        }
        a.appendChild(icon(ICON_CLIP, 'ccw-icon'));
        const span = el('span');
        span.textContent = name;
        a.appendChild(span);
        if (text || image) bubble.appendChild(document.createElement('br'));
        bubble.appendChild(a);
      }
      row.appendChild(bubble);
    }

    if (Array.isArray(item.buttons) && item.buttons.length) {
      const group = el('div', 'ccw-buttons', { role: 'group', 'aria-label': 'Suggested replies' });
      item.buttons.forEach((b, i) => {
        const btn = el('button', 'ccw-button', { type: 'button', 'data-testid': 'ccw-button' });
        btn.textContent = str(b.title);
        if (item.used) {
          btn.disabled = true;
          if (item.chosen === i) btn.classList.add('ccw-chosen');
        }
        btn.addEventListener('click', (e) => onButton(item, i, group, e));
        group.appendChild(btn);
      });
      row.appendChild(group);
    }

    if (item.pending) markPending(row, true);
    return row;
  }

  function markPending(row, pending) {
    row.classList.toggle('ccw-pending', pending);
    let note = row.querySelector('.ccw-meta');
    if (pending && !note) {
      note = el('div', 'ccw-meta');
      note.textContent = 'Will be sent when reconnected';
      row.appendChild(note);
    } else if (!pending && note) {
      note.remove();
    }
  }

  function addItem(item, opts = {}) {
    const row = renderItem(item);
    if (!row.childNodes.length) return null;
    const stick = opts.forceScroll || nearBottom();
    list.insertBefore(row, typingRow);
    rows.set(item, row);
    history.push(item);
    saveHistory();
    if (stick) scrollToEnd();
    return row;
  }

  function redrawHistory() {
    const frag = document.createDocumentFragment();
    for (const item of history) {
      const row = renderItem(item);
      rows.set(item, row);
      frag.appendChild(row);
    }
    list.insertBefore(frag, typingRow);
    scrollToEnd();
  }

  function showTyping() {
    const stick = nearBottom();
    typingRow.hidden = false;
    if (stick) scrollToEnd();
    clearTimeout(typingTimer);
    typingTimer = setTimeout(hideTyping, TYPING_MS);
  }

  function hideTyping() {
    clearTimeout(typingTimer);
    typingTimer = null;
    if (typingRow) typingRow.hidden = true;
  }

  function updateBadge() {
    badge.hidden = unread === 0;
    badge.textContent = unread > 9 ? '9+' : String(unread);
    launcher.setAttribute(
      'aria-label',
      isOpen ? 'Close support chat'
        : unread ? `Open support chat (${unread} new message${unread === 1 ? '' : 's'})` : 'Open support chat'
    );
  }

  // ------------------------------------------------------ chat behaviour
  const outbox = []; // history items waiting to be emitted

  function queueMessage(message, display) {
    const item = { who: 'customer', text: display, pending: true, out: message };
    addItem(item, { forceScroll: true });
    outbox.push(item);
    ensureStarted();
    flush();
  }

  function sendText(text) {
    if (!root || typeof text !== 'string') return false;
    const message = text.trim();
    if (!message) return false;
    queueMessage(message, message);
    return true;
  }

  function onButton(item, index, group, event) {
    if (item.used) return;
    const b = item.buttons[index];
    if (!b) return;
    item.used = true;
    item.chosen = index;
    group.querySelectorAll('button').forEach((btn, i) => {
      btn.disabled = true;
      if (i === index) btn.classList.add('ccw-chosen');
    });
    saveHistory();
    queueMessage(b.payload, b.title);
    // keyboard activation (detail 0): keep focus in the panel, the button is now disabled
    if (event && event.detail === 0) input.focus();
  }

  // What the gateway is told with each message: the browser's language, a hint it uses
  // only while the customer's own words cannot tell ("ok", "1").
  function messageMetadata() {
    const language = typeof navigator !== 'undefined' ? navigator.language : '';
    return language ? { language: language } : {};
  }

  function flush() {
    if (!ready || !outbox.length) return;
    let sent = false;
    while (outbox.length && ready) {
      const item = outbox[0];
      if (!emit('user_uttered', { message: item.out, session_id: sessionId, metadata: messageMetadata() })) break;
      outbox.shift();
      delete item.out;
      delete item.pending;
      const row = rows.get(item);
      if (row) markPending(row, false);
      sent = true;
    }
    saveHistory();
    if (sent) showTyping();
  }

  function onBotUttered(data) {
    hideTyping();
    if (typeof data === 'string') data = { text: data };
    if (!data || typeof data !== 'object' || Array.isArray(data)) return;

    const who = ['bot', 'rep', 'system'].includes(data.sender) ? data.sender : 'bot';
    const item = { who };
    const text = str(data.text);
    if (text.trim()) item.text = text;
    const buttons = normaliseButtons(data.quick_replies).concat(normaliseButtons(data.buttons));
    if (buttons.length) item.buttons = buttons;
    if (typeof data.image === 'string') {
      const url = safeUrl(data.image);
      if (url) item.image = url;
    }
    if (data.attachment != null) readAttachment(data.attachment, item);

    if (!item.text && !item.buttons && !item.image && !item.link) return; // nothing we can show
    addItem(item);
    if (!isOpen) {
      unread++;
      updateBadge();
    }
  }

  function onServerError(data) {
    let message = '';
    if (typeof data === 'string') message = data;
    else if (data && typeof data === 'object') message = str(data.message) || str(data.error);
    if (!message.trim()) message = 'Something went wrong. Please try again.';
    hideTyping();
    addItem({ who: 'system', kind: 'error', text: message }, { forceScroll: true });
  }

  // ------------------------------------------ Socket.IO over a WebSocket
  let ws = null;
  let started = false; // connect() has been called at least once
  let stopped = false; // page is being hidden / unloaded
  let everConnected = false;
  let sioConnected = false; // got "40"
  let ready = false; // got session_confirm (or fallback): may send user_uttered
  let attempt = 0;
  let reconnectTimer = null;
  let handshakeTimer = null;
  let watchdogTimer = null;
  let confirmTimer = null;
  let pingLimit = 45000;
  let lastPing = 0;

  function socketUrl() {
    const base = new URL(OPTIONS.server || window.location.href, window.location.href);
    const scheme = base.protocol === 'https:' ? 'wss:' : 'ws:';
    let path = OPTIONS.path || '/socket.io/';
    if (!path.startsWith('/')) path = `/${path}`;
    if (!path.endsWith('/')) path += '/';
    return `${scheme}//${base.host}${path}?EIO=4&transport=websocket`;
  }

  function setState(next) {
    if (!statusEl) return;
    statusEl.setAttribute('data-state', next);
    statusText.textContent = STATUS_TEXT[next];
    if (root) root.setAttribute('data-ccw-state', next);
  }

  function ensureStarted() {
    if (!started && !stopped) connect();
  }

  function connect() {
    clearTimeout(reconnectTimer);
    reconnectTimer = null;
    if (ws || stopped) return;
    started = true;
    setState(everConnected || attempt > 0 ? 'reconnecting' : 'connecting');
    let sock;
    try {
      sock = new WebSocket(socketUrl());
    } catch (_) {
      scheduleReconnect();
      return;
    }
    ws = sock;
    handshakeTimer = setTimeout(() => drop(sock), HANDSHAKE_MS);
    sock.onmessage = (ev) => {
      if (sock === ws && typeof ev.data === 'string') onEnginePacket(ev.data);
    };
    sock.onclose = () => {
      if (sock !== ws) return;
      teardown();
      scheduleReconnect();
    };
    sock.onerror = () => { /* a close event follows */ };
  }

  function teardown() {
    if (ws) hideTyping(); // no reply can arrive on a dead socket
    ws = null;
    sioConnected = false;
    ready = false;
    clearTimeout(handshakeTimer);
    clearTimeout(watchdogTimer);
    clearTimeout(confirmTimer);
  }

  /** Give up on this socket (dead, refused, closed by server) and reconnect. */
  function drop(sock) {
    if (!sock || sock !== ws) return;
    teardown();
    try {
      sock.close();
    } catch (_) { /* ignore */ }
    scheduleReconnect();
  }

  function scheduleReconnect() {
    if (stopped || reconnectTimer) return;
    setState('reconnecting');
    const delay = Math.min(1000 * 2 ** attempt, BACKOFF_MAX_MS); // 1s, 2s, 4s … 30s
    attempt++;
    reconnectTimer = setTimeout(connect, delay);
  }

  /** Retry at once (e.g. network came back) instead of waiting out the backoff. */
  function retryNow() {
    if (stopped || ws || !started) return;
    clearTimeout(reconnectTimer);
    reconnectTimer = null;
    connect();
  }

  function armWatchdog() {
    lastPing = Date.now();
    clearTimeout(watchdogTimer);
    const sock = ws;
    const check = () => {
      if (sock !== ws) return;
      const idle = Date.now() - lastPing;
      if (idle >= pingLimit) drop(sock); // no ping within pingInterval + pingTimeout
      else watchdogTimer = setTimeout(check, pingLimit - idle);
    };
    watchdogTimer = setTimeout(check, pingLimit);
  }

  function rawSend(packet) {
    if (!ws || ws.readyState !== WebSocket.OPEN) return false;
    try {
      ws.send(packet);
      return true;
    } catch (_) {
      return false;
    }
  }

  function emit(event, data) {
    if (!sioConnected) return false;
    return rawSend(`42${JSON.stringify([event, data])}`);
  }

  function onEnginePacket(packet) {
    const type = packet.charAt(0);
    const body = packet.slice(1);
    switch (type) {
      case '0': { // open
        let info = {};
        try {
          info = JSON.parse(body) || {};
        } catch (_) { /* keep defaults */ }
        const interval = Number(info.pingInterval) || 25000;
        const timeout = Number(info.pingTimeout) || 20000;
        pingLimit = interval + timeout;
        armWatchdog();
        rawSend('40'); // connect to the default namespace
        break;
      }
      case '2': // ping -> pong
        rawSend(`3${body}`);
        armWatchdog();
        break;
      case '1': // close
        drop(ws);
        break;
      case '4':
        onSocketIoPacket(body);
        break;
      default: // '3' pong, '6' noop, others: ignore
        break;
    }
  }

  function onSocketIoPacket(packet) {
    const type = packet.charAt(0);
    let rest = packet.slice(1);
    if (rest.charAt(0) === '/') { // namespace
      const comma = rest.indexOf(',');
      const nsp = comma < 0 ? rest : rest.slice(0, comma);
      rest = comma < 0 ? '' : rest.slice(comma + 1);
      if (nsp !== '/') return;
    }
    const ack = /^\d+/.exec(rest);
    if (ack) rest = rest.slice(ack[0].length);
    let data;
    if (rest) {
      try {
        data = JSON.parse(rest);
      } catch (_) {
        return;
      }
    }
    switch (type) {
      case '0': // CONNECT
        onNamespaceConnected();
        break;
      case '1': // DISCONNECT (server closed our namespace)
        drop(ws);
        break;
      case '4': // CONNECT_ERROR
        if (data && typeof data === 'object' && data.message) statusEl.title = str(data.message);
        drop(ws);
        break;
      case '2': // EVENT
        if (Array.isArray(data) && typeof data[0] === 'string') {
          if (ack) rawSend(`43${ack[0]}[]`);
          onEvent(data[0], data[1]);
        }
        break;
      default: // ACK / binary: not used
        break;
    }
  }

  function onNamespaceConnected() {
    clearTimeout(handshakeTimer);
    sioConnected = true;
    everConnected = true;
    attempt = 0;
    statusEl.removeAttribute('title');
    emit('session_request', { session_id: sessionId });
    // Wait for session_confirm (server has joined us to the session room) before
    // sending queued messages; fall back if the server never confirms.
    clearTimeout(confirmTimer);
    confirmTimer = setTimeout(markReady, CONFIRM_FALLBACK_MS);
  }

  function markReady() {
    clearTimeout(confirmTimer);
    if (!sioConnected || ready) return;
    ready = true;
    setState('connected');
    flush();
  }

  function onEvent(name, data) {
    switch (name) {
      case 'session_confirm': {
        const id = typeof data === 'string' ? data : data && typeof data === 'object' ? data.session_id : null;
        if (validSessionId(id) && id !== sessionId) {
          sessionId = id;
          store.set(KEY_SESSION, id);
        }
        markReady();
        break;
      }
      case 'bot_uttered':
        onBotUttered(data);
        break;
      case 'error':
        onServerError(data);
        break;
      default:
        break;
    }
  }

  // ------------------------------------------------------ open / close
  function open(opts = {}) {
    if (!root) return;
    if (!isOpen) {
      isOpen = true;
      panel.hidden = false;
      root.classList.add('ccw-open');
      launcher.setAttribute('aria-expanded', 'true');
      unread = 0;
      updateBadge();
      scrollToEnd();
    }
    ensureStarted();
    if (opts.focus !== false) input.focus({ preventScroll: true });
  }

  function close() {
    if (!root || !isOpen) return;
    const hadFocus = panel.contains(document.activeElement);
    isOpen = false;
    panel.hidden = true;
    root.classList.remove('ccw-open');
    launcher.setAttribute('aria-expanded', 'false');
    updateBadge();
    if (hadFocus) launcher.focus();
  }

  // --------------------------------------------------------------- init
  function init() {
    if (document.querySelector('.ccw-root')) return;
    buildDom();
    setState('connecting');
    history = loadHistory();
    // Messages typed while offline before a reload are still waiting: resend them.
    for (const item of history) if (item.pending) outbox.push(item);
    redrawHistory();
    updateBadge();
    loadCss(() => {
      root.style.display = '';
      if (isOpen) scrollToEnd();
    });

    if (OPTIONS.open) open({ focus: false });
    if (!OPTIONS.lazy || outbox.length) ensureStarted();

    window.addEventListener('online', retryNow);
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState === 'visible') retryNow();
    });
    window.addEventListener('pagehide', () => {
      stopped = true;
      clearTimeout(reconnectTimer);
      reconnectTimer = null;
      const sock = ws;
      teardown();
      if (sock) {
        try {
          sock.close(1000);
        } catch (_) { /* ignore */ }
      }
    });
    window.addEventListener('pageshow', (e) => {
      if (e.persisted && stopped) {
        stopped = false;
        if (started) connect();
      }
    });
  }

  window.CaricomChat = Object.freeze({
    open: () => open(),
    close: () => close(),
    send: (text) => sendText(text),
    __ccw: true,
  });

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init, { once: true });
  else init();
})();
