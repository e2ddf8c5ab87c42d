/* Embeddable complaint-chat launcher.
 *
 *   <script src="https://complaints.example.com/static/widget.js" async></script>
 *
 * Optional attributes on the script tag:
 *   data-lang="zh" | "en"        language of the button (default: the browser's)
 *   data-position="left"         put the button bottom-left instead of bottom-right
 *
 * The chat itself runs in an iframe served by the gateway (same origin as this
 * script), so the host page never sees the conversation.
 */
(function () {
  'use strict';

  if (window.__complaintWidgetLoaded) return;
  window.__complaintWidgetLoaded = true;

  var script = document.currentScript;
  if (!script) {
    var all = document.getElementsByTagName('script');
    for (var i = all.length - 1; i >= 0; i--) {
      if (/\/static\/widget\.js(\?|#|$)/.test(all[i].src || '')) { script = all[i]; break; }
    }
  }
  var origin;
  try {
    origin = new URL(script && script.src ? script.src : '/', location.href).origin;
  } catch (e) {
    origin = location.origin;
  }
  var chatUrl = origin + '/';

  var wanted = script && script.getAttribute('data-lang');
  var nav = navigator.language || (navigator.languages && navigator.languages[0]) || 'en';
  var lang = wanted === 'zh' || wanted === 'en' ? wanted : (/^zh/i.test(nav) ? 'zh' : 'en');
  var left = script && script.getAttribute('data-position') === 'left';

  var T = {
    en: { open: 'Complain', openLabel: 'Open the complaint chat', close: 'Close', closeLabel: 'Close the complaint chat', frame: 'Complaint chat' },
    zh: { open: '投诉', openLabel: '打开在线投诉', close: '关闭', closeLabel: '关闭在线投诉', frame: '在线投诉' }
  }[lang];

  var CSS = [
    ':host { all: initial; }',
    '*, *::before, *::after { box-sizing: border-box; }',
    '.launcher {',
    '  position: fixed; bottom: 20px; ' + (left ? 'left' : 'right') + ': 20px; z-index: 2147483000;',
    '  display: inline-flex; align-items: center; gap: 8px;',
    '  min-height: 48px; padding: 0 20px 0 16px; border: 0; border-radius: 999px;',
    '  background: #1d4a73; color: #fff; cursor: pointer;',
    '  font: 600 16px/1 system-ui, -apple-system, "Segoe UI", "PingFang SC", "Microsoft YaHei", "Noto Sans CJK SC", Roboto, Arial, sans-serif;',
    '  box-shadow: 0 6px 18px rgba(16, 37, 58, 0.28);',
    '}',
    '.launcher:hover { background: #143652; }',
    '.launcher:focus-visible, .close:focus-visible { outline: 3px solid #f5b942; outline-offset: 3px; }',
    '.icon { width: 20px; height: 16px; border-radius: 4px; background: #fff; position: relative; flex: none; }',
    '.icon::after { content: ""; position: absolute; left: 4px; bottom: -5px; border-width: 6px 6px 0 0; border-style: solid; border-color: #fff transparent transparent transparent; }',
    '.panel {',
    '  position: fixed; bottom: 84px; ' + (left ? 'left' : 'right') + ': 20px; z-index: 2147483001;',
    '  width: 400px; height: min(640px, calc(100vh - 110px));',
    '  display: flex; flex-direction: column;',
    '  background: #fff; border-radius: 14px; overflow: hidden;',
    '  box-shadow: 0 12px 40px rgba(16, 37, 58, 0.35); border: 1px solid #c9d3de;',
    '}',
    '.panel[hidden] { display: none; }',
    '.bar { display: flex; justify-content: flex-end; background: #143652; padding: 4px; flex: none; }',
    '.close {',
    '  min-height: 32px; padding: 0 12px; border: 1px solid rgba(255,255,255,0.6); border-radius: 999px;',
    '  background: transparent; color: #fff; cursor: pointer;',
    '  font: 500 14px/1 system-ui, -apple-system, "Segoe UI", "PingFang SC", "Microsoft YaHei", "Noto Sans CJK SC", Roboto, Arial, sans-serif;',
    '}',
    '.close:hover { background: rgba(255,255,255,0.12); }',
    'iframe { flex: 1 1 auto; width: 100%; border: 0; display: block; background: #fff; }',
    '@media (max-width: 520px) {',
    '  .panel { inset: 0; width: 100%; height: 100%; border-radius: 0; border: 0; }',
    '  .launcher { bottom: 14px; ' + (left ? 'left' : 'right') + ': 14px; }',
    '}'
  ].join('\n');

  function build() {
    var host = document.createElement('div');
    host.setAttribute('data-complaint-widget', '');
    var root = host.attachShadow ? host.attachShadow({ mode: 'open' }) : host;

    var style = document.createElement('style');
    style.textContent = CSS;
    root.appendChild(style);

    var launcher = document.createElement('button');
    launcher.type = 'button';
    launcher.className = 'launcher';
    launcher.setAttribute('aria-label', T.openLabel);
    launcher.setAttribute('aria-expanded', 'false');
    launcher.setAttribute('aria-controls', 'complaint-panel');
    launcher.setAttribute('lang', lang === 'zh' ? 'zh-CN' : 'en');
    var icon = document.createElement('span');
    icon.className = 'icon';
    icon.setAttribute('aria-hidden', 'true');
    launcher.appendChild(icon);
    launcher.appendChild(document.createTextNode(T.open));

    var panel = document.createElement('div');
    panel.className = 'panel';
    panel.id = 'complaint-panel';
    panel.hidden = true;
    panel.setAttribute('role', 'dialog');
    panel.setAttribute('aria-label', T.frame);
    panel.setAttribute('lang', lang === 'zh' ? 'zh-CN' : 'en');

    var bar = document.createElement('div');
    bar.className = 'bar';
    var close = document.createElement('button');
    close.type = 'button';
    close.className = 'close';
    close.textContent = T.close + ' ✕';
    close.setAttribute('aria-label', T.closeLabel);
    bar.appendChild(close);
    panel.appendChild(bar);

    var frame = null;

    function open() {
      if (!frame) {
        frame = document.createElement('iframe');
        frame.title = T.frame;
        frame.src = chatUrl;
        frame.setAttribute('allow', 'clipboard-write');
        frame.setAttribute('referrerpolicy', 'no-referrer');
        panel.appendChild(frame);
      }
      panel.hidden = false;
      launcher.setAttribute('aria-expanded', 'true');
      launcher.style.display = window.matchMedia && window.matchMedia('(max-width: 520px)').matches ? 'none' : '';
      setTimeout(function () { try { frame.focus(); } catch (e) { /* ignore */ } }, 50);
    }

    function hide() {
      panel.hidden = true;
      launcher.setAttribute('aria-expanded', 'false');
      launcher.style.display = '';
      launcher.focus();
    }

    launcher.addEventListener('click', function () {
      if (panel.hidden) open(); else hide();
    });
    close.addEventListener('click', hide);
    panel.addEventListener('keydown', function (ev) {
      if (ev.key === 'Escape') hide();
    });

    root.appendChild(panel);
    root.appendChild(launcher);
    document.body.appendChild(host);
  }

  if (document.body) build();
  else document.addEventListener('DOMContentLoaded', build);
})();
