/* Customer complaint chat: WebSocket client for /chat/ws.
 *
 * Everything that comes from the server or from the customer is put on the
 * page with textContent, never parsed as HTML.
 */
(function () {
  'use strict';

  var MAX_LEN = 2000;
  var LANG_KEY = 'cg-lang';
  var K = {
    session: 'cg-chat-session',
    after: 'cg-chat-after',
    seen: 'cg-chat-seen',
    outbox: 'cg-chat-outbox',
    log: 'cg-chat-log',
    caseInfo: 'cg-chat-case'
  };
  var LOG_LIMIT = 400;
  var SEEN_LIMIT = 1000;

  var STRINGS = {
    en: {
      pageTitle: 'Complaints — online chat',
      title: 'Customer complaints',
      subtitle: 'Online complaint service',
      introSummary: 'About this service',
      intro1: 'This chat is for customers of our securities and banking services who wish to make a complaint.',
      intro2: 'We will ask a few questions to record your complaint: what happened, when and where, who was involved, how to reach you, and what you would like us to do; then we read it back to you to check. A complaint handler — a real person — then reviews your case and replies to you here.',
      intro3: 'You will receive a case number. Please keep it for your records.',
      privacy: 'For your safety, never type passwords, PINs, verification codes or full card numbers.',
      conversationLabel: 'Conversation',
      emptyHint: 'Write your complaint below to begin. You may write in Chinese or English.',
      inputLabel: 'Your message',
      placeholder: 'Type your message…',
      help: 'Enter to send · Shift+Enter for a new line',
      send: 'Send',
      you: 'You',
      bot: 'Complaints desk (automated)',
      agent: 'Complaint handler',
      system: 'Notice',
      sending: 'Sending…',
      sent: '✓ Recorded',
      failed: 'Not sent',
      retry: 'Try again',
      chipsLabel: 'Suggested replies',
      caseLabel: 'Your case number',
      copy: 'Copy',
      copied: 'Copied',
      copyFailed: 'Please select and copy the number',
      status_collecting: 'We are recording your complaint',
      status_queued: 'Waiting for a complaint handler',
      status_claimed: 'A complaint handler is reviewing your case',
      status_answered: 'Answered — please read the reply below',
      status_closed: 'Closed',
      status_reopened: 'Reopened — a complaint handler will follow up',
      status_other: 'Status: {s}',
      conn_connecting: 'Connecting…',
      conn_online: 'Connected',
      conn_offline: 'Offline — retrying in {s} s',
      conn_offline_now: 'Offline — retrying…',
      err_too_long: 'Your message is too long: the limit is 2,000 characters. Please shorten it or send it in parts.',
      err_rate_limited: 'You are sending messages very quickly. Please wait a moment; we will send it shortly.',
      err_too_many_chats: 'Too many chats are open or were started from your network just now. Please close other chat windows; we will connect again shortly.',
      err_bad_message: 'That message could not be accepted. Please check it and try again.',
      err_no_session: 'Your chat session had expired. A new one has been started.',
      err_unavailable: 'We could not record that just now. We will try again in a moment.',
      err_generic: 'Something went wrong. Please try again.',
      counter: '{n} / 2000',
      newConversation: 'Start a new conversation',
      confirmNew: 'Start a new conversation? Please keep your case number if you have one.'
    },
    zh: {
      pageTitle: '在线投诉',
      title: '客户投诉',
      subtitle: '在线投诉服务',
      introSummary: '关于本服务',
      intro1: '本页面供我司证券及银行业务的客户在线提出投诉。',
      intro2: '我们会先询问几个问题以记录您的投诉：发生了什么、时间和地点、涉及哪些人员、如何联系您，以及您希望我们如何处理，并向您复述确认。随后由投诉专员（真人）审核您的案件，并在此回复您。',
      intro3: '您将获得一个案件编号，请妥善保存。',
      privacy: '为保障您的安全，请勿输入密码、交易密码、验证码或完整的银行卡号。',
      conversationLabel: '对话记录',
      emptyHint: '请在下方输入您的投诉内容开始对话，中文或英文均可。',
      inputLabel: '您的留言',
      placeholder: '请输入留言…',
      help: '按 Enter 发送 · Shift+Enter 换行',
      send: '发送',
      you: '您',
      bot: '投诉受理（自动回复）',
      agent: '投诉专员',
      system: '通知',
      sending: '发送中…',
      sent: '✓ 已记录',
      failed: '未发送',
      retry: '重试',
      chipsLabel: '快捷回复',
      caseLabel: '您的案件编号',
      copy: '复制',
      copied: '已复制',
      copyFailed: '请手动选择并复制编号',
      status_collecting: '正在记录您的投诉',
      status_queued: '等待投诉专员处理',
      status_claimed: '投诉专员正在处理您的案件',
      status_answered: '已答复，请查看下方回复',
      status_closed: '已结案',
      status_reopened: '已重新受理，投诉专员将跟进',
      status_other: '状态：{s}',
      conn_connecting: '正在连接…',
      conn_online: '已连接',
      conn_offline: '连接中断，{s} 秒后重试',
      conn_offline_now: '连接中断，正在重试…',
      err_too_long: '留言过长：每条最多 2000 个字符。请精简内容或分多条发送。',
      err_rate_limited: '您发送得太快了，请稍候片刻，我们会稍后自动发送。',
      err_too_many_chats: '您所在网络当前打开或新建的对话过多。请关闭其他对话窗口，我们会稍后自动重新连接。',
      err_bad_message: '这条留言无法受理，请检查后重试。',
      err_no_session: '您的会话已过期，已为您开始新的会话。',
      err_unavailable: '暂时无法记录这条留言，我们会稍后自动重试。',
      err_generic: '出现了问题，请重试。',
      counter: '{n} / 2000',
      newConversation: '开始新的对话',
      confirmNew: '要开始新的对话吗？如已有案件编号，请妥善保存。'
    }
  };

  /* ---------- storage (works even when storage is blocked) ---------- */

  function makeStore(name) {
    var backend = null;
    try {
      backend = window[name];
      backend.setItem('cg-probe', '1');
      backend.removeItem('cg-probe');
    } catch (e) {
      backend = null;
    }
    var mem = Object.create(null);
    return {
      get: function (k) {
        if (backend) {
          try { return backend.getItem(k); } catch (e) { /* fall through */ }
        }
        return k in mem ? mem[k] : null;
      },
      set: function (k, v) {
        mem[k] = String(v);
        if (backend) { try { backend.setItem(k, String(v)); } catch (e) { /* full or blocked */ } }
      },
      remove: function (k) {
        delete mem[k];
        if (backend) { try { backend.removeItem(k); } catch (e) { /* ignore */ } }
      },
      getJSON: function (k, dflt) {
        var v = this.get(k);
        if (v == null) return dflt;
        try { return JSON.parse(v); } catch (e) { return dflt; }
      },
      setJSON: function (k, v) { this.set(k, JSON.stringify(v)); }
    };
  }

  var local = makeStore('localStorage');
  var session = makeStore('sessionStorage');

  /* ---------- helpers ---------- */

  function $(id) { return document.getElementById(id); }

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text != null) node.textContent = String(text);
    return node;
  }

  function codePoints(s) { return Array.from(s).length; }

  function uuid() {
    try {
      if (window.crypto && typeof window.crypto.randomUUID === 'function') return window.crypto.randomUUID();
    } catch (e) { /* insecure context */ }
    var b = new Uint8Array(16);
    if (window.crypto && window.crypto.getRandomValues) {
      window.crypto.getRandomValues(b);
    } else {
      for (var i = 0; i < 16; i++) b[i] = Math.floor(Math.random() * 256);
    }
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    var h = Array.prototype.map.call(b, function (x) { return (x + 0x100).toString(16).slice(1); }).join('');
    return h.slice(0, 8) + '-' + h.slice(8, 12) + '-' + h.slice(12, 16) + '-' + h.slice(16, 20) + '-' + h.slice(20);
  }

  /* ---------- language ---------- */

  function detectLang() {
    var saved = local.get(LANG_KEY);
    if (saved === 'zh' || saved === 'en') return saved;
    var nav = (navigator.language || (navigator.languages && navigator.languages[0]) || 'en');
    return /^zh/i.test(nav) ? 'zh' : 'en';
  }

  var lang = detectLang();

  function t(key, vars) {
    var table = STRINGS[lang] || STRINGS.en;
    var s = Object.prototype.hasOwnProperty.call(table, key) ? table[key] : (STRINGS.en[key] || key);
    if (vars) {
      s = s.replace(/\{(\w+)\}/g, function (m, name) {
        return Object.prototype.hasOwnProperty.call(vars, name) ? String(vars[name]) : m;
      });
    }
    return s;
  }

  function applyLang() {
    document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';
    document.title = t('pageTitle');
    var nodes = document.querySelectorAll('[data-i18n]');
    for (var i = 0; i < nodes.length; i++) nodes[i].textContent = t(nodes[i].getAttribute('data-i18n'));
    nodes = document.querySelectorAll('[data-i18n-placeholder]');
    for (i = 0; i < nodes.length; i++) nodes[i].setAttribute('placeholder', t(nodes[i].getAttribute('data-i18n-placeholder')));
    nodes = document.querySelectorAll('[data-i18n-aria-label]');
    for (i = 0; i < nodes.length; i++) nodes[i].setAttribute('aria-label', t(nodes[i].getAttribute('data-i18n-aria-label')));
    var toggle = $('lang-toggle');
    if (lang === 'zh') {
      toggle.textContent = 'English';
      toggle.setAttribute('lang', 'en');
      toggle.setAttribute('aria-label', 'Switch to English');
    } else {
      toggle.textContent = '中文';
      toggle.setAttribute('lang', 'zh');
      toggle.setAttribute('aria-label', '切换到中文');
    }
    renderConn();
    renderCase();
    updateCounter();
    renderError();
  }

  function setLang(next) {
    lang = next === 'zh' ? 'zh' : 'en';
    local.set(LANG_KEY, lang);
    applyLang();
  }

  /* ---------- state ---------- */

  var messagesEl, inputEl, sendBtn, formEl, emptyHint;
  var outbox = session.getJSON(K.outbox, []);
  if (!Array.isArray(outbox)) outbox = [];
  var logEntries = session.getJSON(K.log, []);
  if (!Array.isArray(logEntries)) logEntries = [];
  var seen = session.getJSON(K.seen, []);
  if (!Array.isArray(seen)) seen = [];
  var seenSet = new Set(seen);
  var caseInfo = session.getJSON(K.caseInfo, null);

  var ws = null;
  var welcomed = false;
  var attempts = 0;
  var retryTimer = null;
  var retryAt = 0;
  var countdownTimer = null;
  var connState = 'connecting';
  var currentError = null; // {code, fallback}
  var errorTimer = null;
  var rateTimer = null;
  var lastNoSession = 0;

  function saveOutbox() { session.setJSON(K.outbox, outbox); }
  function saveLog() {
    if (logEntries.length > LOG_LIMIT) logEntries = logEntries.slice(logEntries.length - LOG_LIMIT);
    session.setJSON(K.log, logEntries);
  }
  function saveSeen() {
    if (seen.length > SEEN_LIMIT) {
      seen = seen.slice(seen.length - SEEN_LIMIT);
      seenSet = new Set(seen);
    }
    session.setJSON(K.seen, seen);
  }

  /* Returns false if this seq was already handled (a replay overlap). */
  function noteSeq(seq) {
    if (seq === undefined || seq === null || seq === '') return true;
    var s = String(seq);
    if (seenSet.has(s)) return false;
    seenSet.add(s);
    seen.push(s);
    saveSeen();
    session.set(K.after, s);
    return true;
  }

  /* ---------- rendering ---------- */

  function timeText(ms) {
    try {
      return new Date(ms).toLocaleTimeString(lang === 'zh' ? 'zh-CN' : 'en-GB', { hour: '2-digit', minute: '2-digit' });
    } catch (e) {
      return '';
    }
  }

  /* Follow new messages while the reader is at the end of the log; leave them be when they scrolled up. */
  var stuck = true;

  function nearBottom() {
    return messagesEl.scrollHeight - messagesEl.scrollTop - messagesEl.clientHeight < 80;
  }

  function scrollToEnd() {
    messagesEl.scrollTop = messagesEl.scrollHeight;
    stuck = true;
  }

  function updateEmpty() {
    var empty = messagesEl.children.length === 0;
    emptyHint.hidden = !empty;
  }

  function statusNodeFor(entry) {
    var status = el('div', 'msg-status');
    // Routine delivery states stay out of the live log's announcements; a failure is announced.
    if (entry.state !== 'failed') status.setAttribute('aria-hidden', 'true');
    if (entry.state === 'pending') {
      status.setAttribute('data-i18n', 'sending');
      status.textContent = t('sending');
    } else if (entry.state === 'failed') {
      var label = el('span', null, t('failed'));
      label.setAttribute('data-i18n', 'failed');
      status.appendChild(label);
      var retry = el('button', 'retry', t('retry'));
      retry.type = 'button';
      retry.setAttribute('data-i18n', 'retry');
      retry.addEventListener('click', function () { retryFailed(entry.id); });
      status.appendChild(retry);
    } else {
      status.setAttribute('data-i18n', 'sent');
      status.textContent = t('sent');
    }
    return status;
  }

  function renderEntry(entry) {
    var kind = entry.kind;
    if (kind !== 'customer' && kind !== 'bot' && kind !== 'agent' && kind !== 'system') kind = 'bot';
    var node = el('div', 'msg msg-' + kind);
    if (entry.id) node.setAttribute('data-id', entry.id);
    if (entry.seq != null) node.setAttribute('data-seq', String(entry.seq));
    if (kind === 'customer' && entry.state === 'pending') node.classList.add('pending');
    if (kind === 'customer' && entry.state === 'failed') node.classList.add('failed');

    var meta = el('div', 'msg-meta');
    var fromKey = kind === 'customer' ? 'you' : kind;
    var from = el('span', 'msg-from', t(fromKey));
    from.setAttribute('data-i18n', fromKey);
    meta.appendChild(from);
    if (entry.at) {
      var time = el('time', 'msg-time', timeText(entry.at));
      try { time.dateTime = new Date(entry.at).toISOString(); } catch (e) { /* ignore */ }
      meta.appendChild(time);
    }
    node.appendChild(meta);

    node.appendChild(el('p', 'msg-text', entry.text));

    if (Array.isArray(entry.buttons) && entry.buttons.length) {
      var group = el('div', 'chips');
      group.setAttribute('role', 'group');
      group.setAttribute('aria-label', t('chipsLabel'));
      group.setAttribute('data-i18n-aria-label', 'chipsLabel');
      entry.buttons.forEach(function (b, index) {
        if (!b || typeof b !== 'object') return;
        var title = b.title != null ? String(b.title) : String(b.payload || '');
        var payload = b.payload != null ? String(b.payload) : title;
        if (!title && !payload) return;
        var chip = el('button', 'chip', title || payload);
        chip.type = 'button';
        if (entry.used || entry.stale) {
          chip.disabled = true;
          if (entry.chosen === index) chip.classList.add('chosen');
        }
        chip.addEventListener('click', function () {
          if (chip.disabled) return;
          if (submit(payload, title || payload)) {
            entry.used = true;
            entry.chosen = index;
            saveLog();
            var all = group.querySelectorAll('button');
            for (var i = 0; i < all.length; i++) all[i].disabled = true;
            chip.classList.add('chosen');
            inputEl.focus();
          }
        });
        group.appendChild(chip);
      });
      if (group.children.length) node.appendChild(group);
    }

    if (kind === 'customer') node.appendChild(statusNodeFor(entry));
    return node;
  }

  function appendEntry(entry, forceScroll) {
    var stick = forceScroll || stuck || nearBottom();
    messagesEl.appendChild(renderEntry(entry));
    updateEmpty();
    if (stick) scrollToEnd();
    collapseIntroOnce();
  }

  function replaceEntry(entry) {
    var old = messagesEl.querySelector('.msg[data-id="' + cssEscape(entry.id) + '"]');
    if (old) old.replaceWith(renderEntry(entry));
  }

  function cssEscape(s) {
    if (window.CSS && CSS.escape) return CSS.escape(s);
    return String(s).replace(/[^a-zA-Z0-9_-]/g, function (c) { return '\\' + c.charCodeAt(0).toString(16) + ' '; });
  }

  var introCollapsed = false;
  function collapseIntroOnce() {
    if (introCollapsed) return;
    introCollapsed = true;
    // Make room for the conversation; the summary stays and can be reopened.
    var intro = $('intro');
    if (intro) intro.open = false;
  }

  /* ---------- connection status ---------- */

  function setConn(state) {
    connState = state;
    renderConn();
  }

  function renderConn() {
    var box = $('conn-status');
    var text = $('conn-text');
    var spoken = $('conn-sr');
    if (!box || !text) return;
    box.setAttribute('data-state', connState);
    var visible, stable;
    if (connState === 'online') {
      visible = stable = t('conn_online');
    } else if (connState === 'offline') {
      var secs = Math.max(0, Math.ceil((retryAt - Date.now()) / 1000));
      stable = t('conn_offline_now');
      visible = secs > 0 ? t('conn_offline', { s: secs }) : stable;
    } else {
      visible = stable = t('conn_connecting');
    }
    if (text.textContent !== visible) text.textContent = visible;
    if (spoken && spoken.textContent !== stable) spoken.textContent = stable;
  }

  /* ---------- case banner ---------- */

  function renderCase() {
    var banner = $('case-banner');
    if (!banner) return;
    if (!caseInfo || !caseInfo.case_id) {
      banner.hidden = true;
      return;
    }
    banner.hidden = false;
    var idEl = $('case-id');
    if (idEl.textContent !== caseInfo.case_id) idEl.textContent = caseInfo.case_id;
    var status = String(caseInfo.status || '');
    banner.setAttribute('data-status', status);
    var key = 'status_' + status;
    var words = Object.prototype.hasOwnProperty.call(STRINGS.en, key) ? t(key) : t('status_other', { s: status || '—' });
    $('case-status-text').textContent = words;
  }

  function copyCaseId() {
    var btn = $('copy-case');
    var id = caseInfo && caseInfo.case_id ? caseInfo.case_id : '';
    if (!id) return;
    function done(ok) {
      btn.textContent = t(ok ? 'copied' : 'copyFailed');
      btn.removeAttribute('data-i18n');
      setTimeout(function () {
        btn.setAttribute('data-i18n', 'copy');
        btn.textContent = t('copy');
      }, 2500);
    }
    function fallback() {
      var ok = false;
      try {
        var range = document.createRange();
        range.selectNodeContents($('case-id'));
        var sel = window.getSelection();
        sel.removeAllRanges();
        sel.addRange(range);
        ok = document.execCommand && document.execCommand('copy');
      } catch (e) {
        ok = false;
      }
      done(!!ok);
    }
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(id).then(function () { done(true); }, fallback);
    } else {
      fallback();
    }
  }

  /* ---------- errors near the composer ---------- */

  function showError(code, serverText) {
    currentError = { code: code, fallback: serverText || '' };
    renderError();
    clearTimeout(errorTimer);
    errorTimer = setTimeout(clearError, 12000);
  }

  function clearError() {
    currentError = null;
    renderError();
  }

  function renderError() {
    var box = $('composer-error');
    if (!box) return;
    if (!currentError) {
      box.textContent = '';
      inputEl && inputEl.removeAttribute('aria-invalid');
      return;
    }
    var code = currentError.code;
    var key = {
      too_long: 'err_too_long',
      rate_limited: 'err_rate_limited',
      too_many_chats: 'err_too_many_chats',
      bad_message: 'err_bad_message',
      no_session: 'err_no_session',
      unavailable: 'err_unavailable'
    }[code] || 'err_generic';
    box.textContent = t(key);
    if (code === 'too_long') inputEl.setAttribute('aria-invalid', 'true');
  }

  /* ---------- composer ---------- */

  function updateCounter() {
    var counter = $('char-count');
    if (!counter || !inputEl) return;
    var n = codePoints(inputEl.value);
    counter.textContent = t('counter', { n: n });
    counter.classList.toggle('over', n > MAX_LEN);
    counter.classList.toggle('near', n <= MAX_LEN && n > MAX_LEN * 0.9);
    if (n > MAX_LEN) {
      inputEl.setAttribute('aria-invalid', 'true');
    } else if (currentError && currentError.code === 'too_long') {
      clearError();
    } else {
      inputEl.removeAttribute('aria-invalid');
    }
  }

  function autoGrow() {
    inputEl.style.height = 'auto';
    inputEl.style.height = Math.min(inputEl.scrollHeight + 2, 180) + 'px';
  }

  /* Queue a customer message; returns true if it was accepted locally. */
  function submit(text, display) {
    var clean = String(text).replace(/\r\n?/g, '\n').trim();
    if (!clean) return false;
    if (codePoints(clean) > MAX_LEN) {
      showError('too_long');
      return false;
    }
    // Once the customer answers, earlier suggestion chips no longer apply.
    for (var i = 0; i < logEntries.length; i++) {
      if (logEntries[i].buttons && logEntries[i].buttons.length && !logEntries[i].used) logEntries[i].stale = true;
    }
    var chips = messagesEl.querySelectorAll('.chip');
    for (var j = 0; j < chips.length; j++) chips[j].disabled = true;
    var id = uuid();
    var now = Date.now();
    var item = { id: id, text: clean, at: now };
    outbox.push(item);
    saveOutbox();
    var entry = { kind: 'customer', id: id, text: display != null ? String(display) : clean, at: now, state: 'pending' };
    logEntries.push(entry);
    saveLog();
    appendEntry(entry, true);
    sendItem(item);
    return true;
  }

  var lastSent = Object.create(null);
  var RESEND_MS = 15000;
  /* Ids sent on the current socket and not yet answered. The server answers each message frame, in
     order, with an ack or an error; an error frame names no id, so it belongs to the oldest of these. */
  var inflight = [];

  function sendItem(item) {
    if (!ws || ws.readyState !== 1 || !welcomed) return;
    lastSent[item.id] = Date.now();
    inflight.push(item.id);
    try {
      ws.send(JSON.stringify({ type: 'message', id: item.id, text: item.text }));
    } catch (e) { /* the close handler reconnects and resends */ }
  }

  function flushOutbox() {
    for (var i = 0; i < outbox.length; i++) sendItem(outbox[i]);
  }

  /* Queued messages that the server is not currently answering. */
  function resendWaiting() {
    for (var i = 0; i < outbox.length; i++) {
      if (inflight.indexOf(outbox[i].id) < 0) sendItem(outbox[i]);
    }
  }

  /* An ack that never came: send again with the same id (the server ignores duplicates). */
  function resendStale() {
    var now = Date.now();
    for (var i = 0; i < outbox.length; i++) {
      var sentAt = lastSent[outbox[i].id];
      if (sentAt && now - sentAt > RESEND_MS) sendItem(outbox[i]);
    }
  }

  function findLogEntry(id) {
    for (var i = logEntries.length - 1; i >= 0; i--) {
      if (logEntries[i].id === id) return logEntries[i];
    }
    return null;
  }

  function markAcked(id) {
    var idx = -1;
    for (var i = 0; i < outbox.length; i++) if (outbox[i].id === id) { idx = i; break; }
    if (idx >= 0) {
      outbox.splice(idx, 1);
      saveOutbox();
    }
    delete lastSent[id];
    if (!outbox.length && currentError && (currentError.code === 'rate_limited' || currentError.code === 'unavailable')) {
      clearError();
    }
    var entry = findLogEntry(id);
    if (entry && entry.state !== 'sent') {
      entry.state = 'sent';
      saveLog();
      var node = messagesEl.querySelector('.msg[data-id="' + cssEscape(id) + '"]');
      if (node) {
        node.classList.remove('pending', 'failed');
        var old = node.querySelector('.msg-status');
        if (old) node.replaceChild(statusNodeFor(entry), old);
        else node.appendChild(statusNodeFor(entry));
      }
    }
  }

  function markFailed(id) {
    var idx = -1;
    for (var i = 0; i < outbox.length; i++) if (outbox[i].id === id) { idx = i; break; }
    var item = idx >= 0 ? outbox[idx] : null;
    if (idx >= 0) {
      outbox.splice(idx, 1);
      saveOutbox();
    }
    var entry = findLogEntry(id);
    if (entry) {
      entry.state = 'failed';
      if (item) entry.payload = item.text;
      saveLog();
      replaceEntry(entry);
    }
  }

  function retryFailed(id) {
    var entry = findLogEntry(id);
    if (!entry) return;
    var text = entry.payload != null ? entry.payload : entry.text;
    if (codePoints(text) > MAX_LEN) {
      // Put it back in the box so the customer can shorten it.
      inputEl.value = text;
      autoGrow();
      updateCounter();
      showError('too_long');
      inputEl.focus();
      return;
    }
    // A fresh id: the server already refused the old one.
    var newId = uuid();
    var old = messagesEl.querySelector('.msg[data-id="' + cssEscape(id) + '"]');
    if (old) old.setAttribute('data-id', newId);
    entry.id = newId;
    entry.state = 'pending';
    saveLog();
    replaceEntry(entry);
    var item = { id: newId, text: text, at: Date.now() };
    outbox.push(item);
    saveOutbox();
    sendItem(item);
  }

  /* ---------- socket ---------- */

  function wsUrl() {
    var proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    return proto + '//' + location.host + '/chat/ws';
  }

  function connect() {
    clearTimeout(retryTimer);
    retryTimer = null;
    clearInterval(countdownTimer);
    countdownTimer = null;
    if (ws && (ws.readyState === 0 || ws.readyState === 1)) return;
    setConn('connecting');
    var sock;
    try {
      sock = new WebSocket(wsUrl());
    } catch (e) {
      scheduleReconnect();
      return;
    }
    ws = sock;
    welcomed = false;
    inflight = [];
    sock.onopen = function () {
      if (sock !== ws) return;
      var hello = {
        type: 'hello',
        session: session.get(K.session) || null,
        language: lang,
        after: session.get(K.after) || null
      };
      sock.send(JSON.stringify(hello));
    };
    sock.onmessage = function (ev) {
      if (sock !== ws) return;
      var data;
      try { data = JSON.parse(ev.data); } catch (e) { return; }
      if (!data || typeof data !== 'object') return;
      handle(data);
    };
    sock.onclose = function () {
      if (sock !== ws) return;
      ws = null;
      welcomed = false;
      scheduleReconnect();
    };
    sock.onerror = function () { /* onclose follows and reconnects */ };
  }

  function scheduleReconnect() {
    if (retryTimer) return;
    attempts += 1;
    var base = Math.min(30000, 1000 * Math.pow(2, Math.min(attempts - 1, 5)));
    var delay = Math.round(base * (0.7 + Math.random() * 0.6));
    retryAt = Date.now() + delay;
    setConn('offline');
    retryTimer = setTimeout(connect, delay);
    clearInterval(countdownTimer);
    countdownTimer = setInterval(renderConn, 1000);
  }

  function reconnectNow() {
    if (ws && (ws.readyState === 0 || ws.readyState === 1)) return;
    attempts = 0;
    connect();
  }

  function handle(data) {
    switch (data.type) {
      case 'welcome': onWelcome(data); break;
      case 'ack':
        if (data.id != null) {
          var at = inflight.indexOf(String(data.id));
          if (at >= 0) inflight.splice(at, 1);
          markAcked(String(data.id));
        }
        break;
      case 'message': onMessage(data); break;
      case 'case': onCase(data); break;
      case 'error': onError(data); break;
      default: break;
    }
  }

  function onWelcome(data) {
    var previous = session.get(K.session);
    if (typeof data.session === 'string' && data.session) {
      if (previous && previous !== data.session) {
        // The server started a fresh conversation: old sequence numbers mean nothing there.
        seen = [];
        seenSet = new Set();
        saveSeen();
        session.remove(K.after);
      }
      session.set(K.session, data.session);
    }
    welcomed = true;
    attempts = 0;
    clearInterval(countdownTimer);
    countdownTimer = null;
    setConn('online');
    flushOutbox();
  }

  function onMessage(data) {
    if (!noteSeq(data.seq)) return;
    var from = String(data.from || 'bot');
    if (from === 'customer') {
      // Our own message echoed back (e.g. after a reload elsewhere): show it once only.
      if (data.id != null && findLogEntry(String(data.id))) return;
    }
    var kind = (from === 'agent' || from === 'system' || from === 'customer') ? from : 'bot';
    var entry = {
      kind: kind,
      text: data.text == null ? '' : String(data.text),
      at: Date.now(),
      seq: data.seq != null ? String(data.seq) : null,
      buttons: Array.isArray(data.buttons) ? data.buttons.map(function (b) {
        return b && typeof b === 'object' ? { title: b.title != null ? String(b.title) : '', payload: b.payload != null ? String(b.payload) : '' } : null;
      }).filter(Boolean) : []
    };
    if (kind === 'customer') { entry.state = 'sent'; if (data.id != null) entry.id = String(data.id); }
    if (!entry.text && !entry.buttons.length) return;
    // A new prompt from us makes older suggestion chips stale.
    if (entry.buttons.length) {
      for (var i = 0; i < logEntries.length; i++) {
        if (logEntries[i].buttons && logEntries[i].buttons.length && !logEntries[i].used) logEntries[i].stale = true;
      }
      var old = messagesEl.querySelectorAll('.chip');
      for (var j = 0; j < old.length; j++) old[j].disabled = true;
    }
    logEntries.push(entry);
    saveLog();
    appendEntry(entry, false);
  }

  function onCase(data) {
    if (!noteSeq(data.seq)) return;
    if (!data.case_id) return;
    caseInfo = { case_id: String(data.case_id), status: data.status != null ? String(data.status) : '' };
    session.setJSON(K.caseInfo, caseInfo);
    renderCase();
  }

  function onError(data) {
    var code = String(data.code || '');
    if (code === 'rate_limited' && !welcomed) {
      // Refused before the conversation started (too many chats from this address): the server closes the
      // socket and we connect again later, with the usual growing delay.
      showError('too_many_chats', data.message);
      return;
    }
    var id = data.id != null ? String(data.id) : null;
    var perMessage = code === 'too_long' || code === 'bad_message' || code === 'rate_limited' || code === 'unavailable';
    if (perMessage) {
      if (id) {
        var at = inflight.indexOf(id);
        if (at >= 0) inflight.splice(at, 1);
      } else if (inflight.length) {
        id = inflight.shift();
      }
    }
    if (code === 'no_session') {
      var now = Date.now();
      showError('no_session', data.message);
      if (now - lastNoSession > 5000) {
        lastNoSession = now;
        session.remove(K.session);
        session.remove(K.after);
        seen = [];
        seenSet = new Set();
        saveSeen();
        if (ws) { try { ws.close(); } catch (e) { /* ignore */ } }
      }
      return;
    }
    if (code === 'rate_limited' || code === 'unavailable') {
      // Not the message's fault: it stays queued and goes again shortly, with the same id.
      showError(code, data.message);
      clearTimeout(rateTimer);
      rateTimer = setTimeout(resendWaiting, code === 'rate_limited' ? 5000 : 3000);
      return;
    }
    if ((code === 'too_long' || code === 'bad_message') && id) markFailed(id);
    showError(code || 'generic', data.message);
  }

  /* ---------- restore and start ---------- */

  function restore() {
    var frag = document.createDocumentFragment();
    for (var i = 0; i < logEntries.length; i++) {
      var e = logEntries[i];
      if (e.kind === 'customer' && e.state === 'pending') {
        var queued = outbox.some(function (o) { return o.id === e.id; });
        if (!queued) e.state = 'sent';
      }
      frag.appendChild(renderEntry(e));
    }
    messagesEl.appendChild(frag);
    updateEmpty();
    if (logEntries.length) {
      introCollapsed = false;
      collapseIntroOnce();
    }
    scrollToEnd();
  }

  function startOver() {
    if (!window.confirm(t('confirmNew'))) return;
    [K.session, K.after, K.seen, K.outbox, K.log, K.caseInfo].forEach(function (k) { session.remove(k); });
    outbox = [];
    logEntries = [];
    seen = [];
    seenSet = new Set();
    caseInfo = null;
    while (messagesEl.firstChild) messagesEl.removeChild(messagesEl.firstChild);
    updateEmpty();
    renderCase();
    clearError();
    var intro = $('intro');
    if (intro) intro.open = true;
    introCollapsed = false;
    if (ws) {
      var old = ws;
      ws = null;
      try { old.close(); } catch (e) { /* ignore */ }
    }
    attempts = 0;
    connect();
    inputEl.focus();
  }

  function init() {
    messagesEl = $('messages');
    inputEl = $('message-input');
    sendBtn = $('send-button');
    formEl = $('composer');
    emptyHint = $('empty-hint');

    try {
      if (window.self !== window.top) document.documentElement.classList.add('embedded');
    } catch (e) {
      document.documentElement.classList.add('embedded');
    }

    applyLang();
    restore();

    messagesEl.addEventListener('scroll', function () { stuck = nearBottom(); }, { passive: true });
    if (typeof ResizeObserver === 'function') {
      // The banner, the intro or the keyboard changing size must not leave the newest message hidden.
      new ResizeObserver(function () { if (stuck) messagesEl.scrollTop = messagesEl.scrollHeight; }).observe(messagesEl);
    }

    $('lang-toggle').addEventListener('click', function () { setLang(lang === 'zh' ? 'en' : 'zh'); });
    $('copy-case').addEventListener('click', copyCaseId);
    $('new-conversation').addEventListener('click', startOver);

    formEl.addEventListener('submit', function (ev) {
      ev.preventDefault();
      if (submit(inputEl.value)) {
        inputEl.value = '';
        autoGrow();
        updateCounter();
        if (currentError && currentError.code !== 'rate_limited') clearError();
      }
      inputEl.focus();
    });

    inputEl.addEventListener('keydown', function (ev) {
      if (ev.key !== 'Enter' || ev.shiftKey || ev.altKey || ev.ctrlKey || ev.metaKey) return;
      // Enter that confirms an input-method candidate (Chinese typing) must not send.
      if (ev.isComposing || ev.keyCode === 229) return;
      ev.preventDefault();
      if (typeof formEl.requestSubmit === 'function') formEl.requestSubmit(sendBtn);
      else sendBtn.click();
    });

    inputEl.addEventListener('input', function () {
      autoGrow();
      updateCounter();
    });

    window.addEventListener('online', reconnectNow);
    document.addEventListener('visibilitychange', function () {
      if (document.visibilityState === 'visible') reconnectNow();
    });

    updateCounter();
    setInterval(resendStale, 5000);
    connect();
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
})();
