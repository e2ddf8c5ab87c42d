/* Supervisors' record page: search the record, read a period's report, export a case, read and file a unit's
 * monthly register (记录表).
 *
 * The session is the agent console's cookie (sign in at /agent); this page only reads, so it sends no
 * CSRF token. Everything the server sends is shown with textContent, never as markup. */
(function () {
  'use strict';

  var LANG_KEY = 'cg-lang';
  var PAGE_SIZE = 20;

  var STRINGS = {
    en: {
      appName: 'Complaint records', skip: 'Skip to the search', toConsole: 'Agent console',
      gateTitle: 'Sign in first', gateLink: 'Go to the agent console to sign in',
      gateSignIn: 'This page uses the agent console’s session. Sign in there, then come back.',
      gateRole: 'Only supervisors and admins can search the record and read reports.',
      gateRoleTitle: 'Not available for your role',
      searchTitle: 'Search the record', fText: 'Words in the complaint', fContact: 'Phone or email',
      fAccount: 'Account number', fCase: 'Case id (or its start)', fProduct: 'Product', fChannel: 'Channel',
      fStatus: 'Status', fRisk: 'Risk', fFrom: 'Received from', fTo: 'Received to', any: 'Any',
      searchButton: 'Search', resetButton: 'Clear', resultsCaption: 'Matching cases, newest first',
      colReceived: 'Received', colCase: 'Case', colChannel: 'Channel', colProduct: 'Product', colRisk: 'Risk',
      colStatus: 'Status', colCustomer: 'Customer', colDescription: 'Complaint', colExport: 'Export',
      prevPage: 'Previous', nextPage: 'Next', pageInfo: 'Page {page} of {pages}',
      searching: 'Searching…', found: '{n} cases found.', foundOne: '1 case found.', none: 'No case matches.',
      exportJson: 'JSON', exportHtml: 'HTML', exportLabel: 'Export case {id} as {fmt}',
      reportTitle: 'Complaint analysis', periodLegend: 'Period', kindQuarter: 'Quarter', kindMonth: 'Month',
      kindRange: 'Days', rQuarter: 'Quarter', rMonth: 'Month', reportButton: 'Show report', download: 'Download:',
      building: 'Building the report… (charts take a few seconds)', reportReady: 'Report for {label}.',
      reportPeriod: '{label}: {start} to {end}, against {previous} ({zone})',
      byChannel: 'By channel', byProduct: 'By product (cause)', byGrade: 'By risk grade', byOutcome: 'Outcomes',
      kTotal: 'Cases received', kAckMedian: 'Acknowledge, median hours', kAnsMedian: 'Answer, median hours',
      kAnsP90: 'Answer, p90 hours', kCloseMedian: 'Close, median hours', kAckShare: 'Acknowledged on time',
      kAnsShare: 'Answered on time', kSatisfaction: 'Satisfaction (mean of {n})', kRepeat: 'Repeat complainants',
      vsPrevious: 'vs previous period', chartChannel: 'Cases by channel', chartProduct: 'Cases by product',
      chartRisk: 'Cases by risk grade', chartHandling: 'Handling times', chartSatisfaction: 'Satisfaction',
      errNetwork: 'The server cannot be reached. Try again.', errHttp: 'The server answered {status}.',
      errPeriod: 'Choose a period first.', signedIn: '{name} ({role})', role_supervisor: 'supervisor',
      role_admin: 'admin',
      byUnit: 'By receiving unit', byDepartment: 'By responsible department', byNature: 'By nature',
      byStaff: 'Staff involved in most complaints', kSatisfactionRate: 'Satisfied (4-5), target {target}',
      kMeasures: 'Measures verified on a return visit', kCompensated: 'Cases compensated',
      typicalTitle: 'Typical cases flagged for case studies', typicalNone: 'No case was flagged in this period.',
      colNature: 'Nature', colReason: 'Why typical', colFlaggedBy: 'Flagged by', colEntry: 'Register entry',
      chartNature: 'Cases by nature', registerTitle: 'Register of complaints (记录表)',
      registerHint: 'A unit\u2019s month goes to head office by the third trading day of the next month. ' +
        'Downloading its HTML, CSV or PDF files it.',
      gUnit: 'Unit', registerButton: 'Show register', fileAs: 'File it as:',
      registerCaption: 'The unit\u2019s complaints of the month', filingTitle: 'Filed with head office',
      colFiled: 'Produced', filingDue: 'Due at head office by {due}.', notFiled: 'Not produced yet',
      filed: '{format} by {by}, {at} ({cases} cases)', loadingRegister: 'Reading the register…',
      registerReady: '{n} complaints received by {unit} in {month}.', errMonth: 'Choose a month first.'
    },
    zh: {
      appName: '投诉档案', skip: '跳到查询', toConsole: '处理台',
      gateTitle: '请先登录', gateLink: '前往处理台登录',
      gateSignIn: '本页使用处理台的登录状态。请先在处理台登录，再回到本页。',
      gateRole: '只有主管和管理员可以查询档案和查看报告。', gateRoleTitle: '您的角色无权使用本页',
      searchTitle: '查询投诉档案', fText: '投诉内容中的词语', fContact: '电话或邮箱', fAccount: '资金账号',
      fCase: '案件编号（或开头）', fProduct: '业务', fChannel: '渠道', fStatus: '状态', fRisk: '风险',
      fFrom: '受理日期从', fTo: '受理日期到', any: '全部', searchButton: '查询', resetButton: '清空',
      resultsCaption: '符合条件的案件，最新的在前', colReceived: '受理时间', colCase: '案件', colChannel: '渠道',
      colProduct: '业务', colRisk: '风险', colStatus: '状态', colCustomer: '客户', colDescription: '投诉内容',
      colExport: '导出', prevPage: '上一页', nextPage: '下一页', pageInfo: '第 {page} 页，共 {pages} 页',
      searching: '正在查询…', found: '找到 {n} 件。', foundOne: '找到 1 件。', none: '没有符合条件的案件。',
      exportJson: 'JSON', exportHtml: 'HTML', exportLabel: '以 {fmt} 导出案件 {id}',
      reportTitle: '投诉分析', periodLegend: '期间', kindQuarter: '季度', kindMonth: '月份', kindRange: '日期范围',
      rQuarter: '季度', rMonth: '月份', reportButton: '生成报告', download: '下载：',
      building: '正在生成报告…（图表需要几秒钟）', reportReady: '{label} 的报告。',
      reportPeriod: '{label}：{start} 至 {end}，对比 {previous}（{zone}）',
      byChannel: '按渠道', byProduct: '按业务（投诉原因）', byGrade: '按风险等级', byOutcome: '处理结果',
      kTotal: '受理投诉', kAckMedian: '受理确认时长中位数（小时）', kAnsMedian: '答复时长中位数（小时）',
      kAnsP90: '答复时长90分位（小时）', kCloseMedian: '办结时长中位数（小时）', kAckShare: '按时受理确认',
      kAnsShare: '按时答复', kSatisfaction: '满意度（{n} 份评价均分）', kRepeat: '重复投诉人',
      vsPrevious: '较上期', chartChannel: '按渠道', chartProduct: '按业务', chartRisk: '按风险等级',
      chartHandling: '处理时长', chartSatisfaction: '满意度',
      errNetwork: '无法连接服务器，请重试。', errHttp: '服务器返回 {status}。', errPeriod: '请先选择期间。',
      signedIn: '{name}（{role}）', role_supervisor: '主管', role_admin: '管理员',
      byUnit: '按受理单位', byDepartment: '按处理部门', byNature: '按投诉性质', byStaff: '投诉较多的人员',
      kSatisfactionRate: '满意率（4-5分），目标 {target}', kMeasures: '整改措施回访落实率', kCompensated: '赔偿案件数',
      typicalTitle: '典型案例', typicalNone: '本期无典型案例。', colNature: '性质', colReason: '典型原因',
      colFlaggedBy: '标记人', colEntry: '记录表', chartNature: '按投诉性质', registerTitle: '投诉记录表',
      registerHint: '各单位当月的记录表须在次月前三个交易日内报送总部。下载 HTML、CSV 或 PDF 即视为生成报送。',
      gUnit: '单位', registerButton: '查看记录表', fileAs: '生成报送：', registerCaption: '本单位当月受理的投诉',
      filingTitle: '报送总部情况', colFiled: '生成记录', filingDue: '须于 {due} 前报送总部。', notFiled: '尚未生成',
      filed: '{by} 于 {at} 生成 {format}（{cases} 件）', loadingRegister: '正在读取记录表…',
      registerReady: '{unit} {month} 共受理投诉 {n} 件。', errMonth: '请先选择月份。'
    }
  };

  var CODES = {
    product: {
      brokerage_account: ['brokerage account', '证券账户'], online_trading: ['online / app trading', '网上/APP交易'],
      margin_trading: ['margin trading', '融资融券'], funds_wealth: ['funds and wealth products', '基金理财'],
      ipo_subscription: ['IPO subscription', '新股申购'],
      bank_securities_transfer: ['transfers and withdrawals', '银证转账/出入金'],
      fees_commissions: ['fees and commissions', '手续费/佣金'],
      dividends_corporate_actions: ['dividends and corporate actions', '分红/公司行动'],
      branch_service: ['branch service', '营业部服务'], other: ['other', '其他'], unknown: ['not given', '未说明']
    },
    channel: {},  // from GET /api/channels: the gateway's channel adapters and the ways staff register complaints
    status: {
      collecting: ['collecting', '正在登记'], queued: ['queued', '排队中'], claimed: ['claimed', '处理中'],
      answered: ['answered', '已答复'], closed: ['closed', '已办结'], reopened: ['reopened', '已重新打开']
    },
    risk: { high: ['high', '高'], medium: ['medium', '中'], low: ['low', '低'] },
    nature: {
      service_environment: ['service environment', '服务环境'], product: ['service product', '服务产品'],
      attitude: ['service attitude', '服务态度'], process: ['service process', '服务流程'], other: ['other', '其他'],
      unknown: ['not classified', '未分类']
    },
    outcome: {
      upheld: ['upheld', '成立'], partially_upheld: ['partially upheld', '部分成立'],
      not_upheld: ['not upheld', '不成立'], withdrawn: ['withdrawn', '撤回'], unresolved: ['no answer yet', '尚未答复']
    }
  };

  var CHARTS = [['channel', 'chartChannel'], ['product', 'chartProduct'], ['risk', 'chartRisk'],
    ['nature', 'chartNature'], ['handling', 'chartHandling'], ['satisfaction', 'chartSatisfaction']];

  function $(id) { return document.getElementById(id); }
  function has(obj, key) { return Object.prototype.hasOwnProperty.call(obj, key); }
  function str(v) { return v === null || v === undefined ? '' : String(v); }

  /* ---------- language ---------- */

  var storage = (function () { try { var s = window.localStorage; s.getItem('x'); return s; } catch (e) { return null; } })();

  function detectLang() {
    var saved = storage ? storage.getItem(LANG_KEY) : null;
    if (saved === 'zh' || saved === 'en') return saved;
    return /^zh/i.test(navigator.language || '') ? 'zh' : 'en';
  }

  var lang = detectLang();

  function t(key, vars) {
    var table = STRINGS[lang];
    var s = has(table, key) ? table[key] : (has(STRINGS.en, key) ? STRINGS.en[key] : key);
    return s.replace(/\{(\w+)\}/g, function (m, name) { return vars && has(vars, name) ? str(vars[name]) : m; });
  }

  function codeName(kind, code) {
    if (kind === 'unit') return unitName(code);
    var names = CODES[kind] && has(CODES[kind], code) ? CODES[kind][code] : null;
    return names ? names[lang === 'zh' ? 1 : 0] : str(code);
  }

  function applyLang() {
    document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';
    document.title = t('appName');
    Array.prototype.forEach.call(document.querySelectorAll('[data-i18n]'), function (el) {
      el.textContent = t(el.getAttribute('data-i18n'));
    });
    var toggle = $('lang-toggle');
    toggle.textContent = lang === 'zh' ? 'English' : '中文';
    toggle.setAttribute('lang', lang === 'zh' ? 'en' : 'zh');
    toggle.setAttribute('aria-label', lang === 'zh' ? 'Switch to English' : '切换到中文');
    Array.prototype.forEach.call(document.querySelectorAll('select[data-codes]'), fillCodes);
    if (me) $('who').textContent = t('signedIn', { name: me.name, role: t('role_' + me.role) });
    if (lastPage) showResults(lastPage);
    if (lastReport) showReport(lastReport);
    fillUnits();
    if (lastRegister) showRegister(lastRegister, lastStatus);
  }

  function fillCodes(select) {
    var kind = select.getAttribute('data-codes');
    var chosen = select.value;
    select.textContent = '';
    select.appendChild(option('', t('any')));
    Object.keys(CODES[kind]).forEach(function (code) {
      if (code !== 'unknown') select.appendChild(option(code, codeName(kind, code)));
    });
    select.value = chosen;
  }

  function option(value, label) {
    var o = document.createElement('option');
    o.value = value;
    o.textContent = label;
    return o;
  }

  /* ---------- API ---------- */

  function ApiError(status, message) { this.status = status; this.message = message; }

  function getJson(path) {
    return fetch(path, { headers: { Accept: 'application/json' }, credentials: 'same-origin', cache: 'no-store' })
      .then(function (res) {
        return res.text().then(function (text) {
          var data = null;
          try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
          if (!res.ok) {
            var msg = data && typeof data.error === 'string' ? data.error : t('errHttp', { status: res.status });
            throw new ApiError(res.status, msg);
          }
          return data;
        });
      }, function () { throw new ApiError(0, t('errNetwork')); });
  }

  function failed(e) {
    if (e && (e.status === 401 || e.status === 403)) gate(e.status);
    return e && e.message ? e.message : t('errNetwork');
  }

  /* ---------- who is here ---------- */

  var me = null;

  function gate(status) {
    $('records').hidden = true;
    $('gate').hidden = false;
    $('gate-title').textContent = t(status === 403 ? 'gateRoleTitle' : 'gateTitle');
    $('gate-text').textContent = t(status === 403 ? 'gateRole' : 'gateSignIn');
  }

  function start() {
    getJson('/api/me').then(function (data) {
      me = { name: str(data && data.name), role: str(data && data.role), unit: str(data && data.unit) };
      if (me.role !== 'supervisor' && me.role !== 'admin') { gate(403); return; }
      $('who').textContent = t('signedIn', { name: me.name, role: t('role_' + me.role) });
      $('who').hidden = false;
      $('records').hidden = false;
      loadUnits();
      loadChannels();
      runSearch(1);
    }, function (e) { gate(e.status === 0 ? 401 : e.status); });
  }

  /* ---------- search ---------- */

  var lastPage = null;
  var lastParams = null;
  var searchSeq = 0;

  function formParams() {
    var params = new URLSearchParams();
    new FormData($('search-form')).forEach(function (value, name) {
      var v = str(value).trim();
      if (v) params.set(name, v);
    });
    params.set('page_size', String(PAGE_SIZE));
    return params;
  }

  function runSearch(page, params) {
    lastParams = params || formParams();
    lastParams.set('page', String(page));
    var seq = ++searchSeq;
    setStatus('search-status', t('searching'), false);
    getJson('/api/records/search?' + lastParams.toString()).then(function (data) {
      if (seq !== searchSeq) return;
      lastPage = data;
      showResults(data);
    }, function (e) {
      if (seq === searchSeq) setStatus('search-status', failed(e), true);
    });
  }

  function showResults(data) {
    var total = Number(data.total) || 0;
    setStatus('search-status', total === 0 ? t('none') : total === 1 ? t('foundOne') : t('found', { n: total.toLocaleString() }), false);
    var body = $('results-body');
    body.textContent = '';
    (Array.isArray(data.items) ? data.items : []).forEach(function (hit) { body.appendChild(resultRow(hit)); });
    $('results').hidden = total === 0;
    var pages = Number(data.pages) || 0;
    $('pager').hidden = pages <= 1;
    $('page-info').textContent = t('pageInfo', { page: data.page, pages: pages });
    $('prev-page').disabled = data.page <= 1;
    $('next-page').disabled = data.page >= pages;
  }

  function cell(row, text, className) {
    var td = document.createElement('td');
    td.textContent = text;
    if (className) td.className = className;
    row.appendChild(td);
    return td;
  }

  function when(iso) {
    var d = new Date(str(iso));
    if (isNaN(d.getTime())) return str(iso);
    return d.toLocaleString(lang === 'zh' ? 'zh-CN' : 'en-GB', { dateStyle: 'medium', timeStyle: 'short' });
  }

  function resultRow(hit) {
    var tr = document.createElement('tr');
    cell(tr, when(hit.created_at), 'when');
    cell(tr, str(hit.id), 'id');
    cell(tr, codeName('channel', hit.channel));
    cell(tr, codeName('product', hit.product));
    cell(tr, codeName('risk', hit.risk_grade), 'grade-' + (has(CODES.risk, hit.risk_grade) ? hit.risk_grade : 'low'));
    cell(tr, codeName('status', hit.status));
    cell(tr, str(hit.customer_name));
    cell(tr, str(hit.description), 'desc');
    var links = cell(tr, '', 'export');
    ['json', 'html'].forEach(function (fmt) {
      var a = document.createElement('a');
      a.href = '/api/records/cases/' + encodeURIComponent(str(hit.id)) + '/export?format=' + fmt;
      a.setAttribute('download', '');
      a.textContent = t(fmt === 'json' ? 'exportJson' : 'exportHtml');
      a.setAttribute('aria-label', t('exportLabel', { id: str(hit.id), fmt: fmt.toUpperCase() }));
      links.appendChild(a);
    });
    entryLinks(cell(tr, '', 'entry'), str(hit.id));
    return tr;
  }

  // A case's register entry: the page opens in a tab, the PDF is saved.
  function entryLinks(td, id) {
    ['html', 'pdf'].forEach(function (fmt) {
      var a = document.createElement('a');
      a.href = '/api/cases/' + encodeURIComponent(id) + '/register?format=' + fmt;
      if (fmt === 'pdf') a.setAttribute('download', ''); else { a.target = '_blank'; a.rel = 'noopener'; }
      a.textContent = fmt.toUpperCase();
      td.appendChild(a);
    });
  }

  function setStatus(id, text, isError) {
    var el = $(id);
    el.textContent = text;
    el.classList.toggle('error', !!isError);
  }

  /* ---------- report ---------- */

  var lastReport = null;
  var reportSeq = 0;

  function kind() {
    var checked = document.querySelector('input[name="kind"]:checked');
    return checked ? checked.value : 'quarter';
  }

  function showKind() {
    var k = kind();
    Array.prototype.forEach.call(document.querySelectorAll('[data-kind]'), function (el) {
      el.hidden = el.getAttribute('data-kind') !== k;
    });
  }

  function fillQuarters() {
    var select = $('r-quarter');
    var now = new Date();
    var year = now.getFullYear();
    var q = Math.floor(now.getMonth() / 3) + 1;
    for (var i = 0; i < 12; i++) {
      var label = year + 'Q' + q;
      select.appendChild(option(label, label));
      q -= 1;
      if (q === 0) { q = 4; year -= 1; }
    }
  }

  function periodParams() {
    var k = kind();
    var period = '';
    if (k === 'quarter') period = $('r-quarter').value;
    else if (k === 'month') period = $('r-month').value;
    else if ($('r-from').value && $('r-to').value) period = $('r-from').value + '..' + $('r-to').value;
    if (!period) return null;
    var params = new URLSearchParams();
    params.set('period', period);
    return params;
  }

  function runReport() {
    var params = periodParams();
    if (!params) { setStatus('report-status', t('errPeriod'), true); return; }
    var seq = ++reportSeq;
    setStatus('report-status', t('building'), false);
    ['html', 'csv', 'pdf'].forEach(function (fmt) {
      var p = new URLSearchParams(params);
      p.set('format', fmt);
      $('dl-' + fmt).href = '/api/records/report?' + p.toString();
    });
    var json = new URLSearchParams(params);
    json.set('format', 'json');
    json.set('charts', 'true');
    getJson('/api/records/report?' + json.toString()).then(function (data) {
      if (seq !== reportSeq) return;
      lastReport = data;
      showReport(data);
    }, function (e) {
      if (seq === reportSeq) setStatus('report-status', failed(e), true);
    });
  }

  function number(value, kindOf) {
    if (value === null || value === undefined) return '–';
    if (kindOf === 'share') return (value * 100).toFixed(1) + '%';
    if (kindOf === 'hours') return Number(value).toFixed(1);
    if (kindOf === 'score') return Number(value).toFixed(2);
    return Number(value).toLocaleString();
  }

  function changeText(row) {
    if (!row || row.change_pct === null || row.change_pct === undefined) return '';
    var pct = Number(row.change_pct);
    return (pct > 0 ? '+' : '') + pct.toFixed(1) + '% ' + t('vsPrevious');
  }

  // More complaints or longer waits are worse; a larger share on time or a better score is better.
  function tone(pct, kindOf) {
    if (!pct) return '';
    var better = kindOf === 'share' || kindOf === 'score' ? pct > 0 : pct < 0;
    return better ? ' better' : ' worse';
  }

  function keyNumber(list, label, row, kindOf) {
    var box = document.createElement('div');
    var dt = document.createElement('dt');
    dt.textContent = label;
    var dd = document.createElement('dd');
    dd.textContent = number(row ? row.current : null, kindOf);
    var change = document.createElement('span');
    change.className = 'change' + tone(row ? Number(row.change_pct) : 0, kindOf);
    change.textContent = changeText(row);
    dd.appendChild(change);
    box.appendChild(dt);
    box.appendChild(dd);
    list.appendChild(box);
  }

  function countTable(id, rows, codes) {
    var body = $(id);
    body.textContent = '';
    (Array.isArray(rows) ? rows : []).forEach(function (row) {
      var tr = document.createElement('tr');
      var th = document.createElement('th');
      th.scope = 'row';
      th.textContent = codes ? codeName(codes, row.key) : str(row.key);
      tr.appendChild(th);
      cell(tr, number(row.current));
      cell(tr, changeText(row) ? (Number(row.change_pct) > 0 ? '+' : '') + Number(row.change_pct).toFixed(1) + '%' : '');
      body.appendChild(tr);
    });
  }

  function showReport(data) {
    var period = data.period || {};
    setStatus('report-status', t('reportReady', { label: period.label }), false);
    $('report-period').textContent = t('reportPeriod', { label: period.label, start: period.start, end: period.end,
      previous: (data.previous_period || {}).label, zone: period.zone });
    var list = $('key-numbers');
    list.textContent = '';
    var handling = data.handling || {};
    var deadlines = data.deadlines || {};
    var satisfaction = data.satisfaction || {};
    keyNumber(list, t('kTotal'), data.total, 'count');
    keyNumber(list, t('kAckMedian'), (handling.acknowledge || {}).median_hours, 'hours');
    keyNumber(list, t('kAnsMedian'), (handling.answer || {}).median_hours, 'hours');
    keyNumber(list, t('kAnsP90'), (handling.answer || {}).p90_hours, 'hours');
    keyNumber(list, t('kCloseMedian'), (handling.close || {}).median_hours, 'hours');
    keyNumber(list, t('kAckShare'), (deadlines.acknowledge || {}).share, 'share');
    keyNumber(list, t('kAnsShare'), (deadlines.answer || {}).share, 'share');
    keyNumber(list, t('kSatisfaction', { n: number((satisfaction.count || {}).current) }), satisfaction.mean, 'score');
    keyNumber(list, t('kRepeat'), (data.repeat || {}).complainants, 'count');
    keyNumber(list, t('kSatisfactionRate', { target: number(satisfaction.target, 'share') }), satisfaction.rate,
      'share');
    keyNumber(list, t('kMeasures'), (data.measures || {}).share, 'share');
    keyNumber(list, t('kCompensated'), (data.compensation || {}).cases, 'count');
    countTable('t-channel', data.by_channel, 'channel');
    countTable('t-product', data.by_product, 'product');
    countTable('t-grade', data.by_grade, 'risk');
    countTable('t-outcome', data.outcomes, 'outcome');
    countTable('t-unit', data.by_unit, 'unit');
    countTable('t-department', data.by_department, 'unit');
    countTable('t-nature', data.by_nature, 'nature');
    countTable('t-staff', data.by_staff, null);
    showTypical(Array.isArray(data.typical_cases) ? data.typical_cases : []);
    showCharts(data.charts || {});
    $('report').hidden = false;
  }

  function showTypical(cases) {
    var body = $('typical-body');
    body.textContent = '';
    cases.forEach(function (c) {
      var tr = document.createElement('tr');
      cell(tr, str(c.id), 'id');
      cell(tr, codeName('product', c.product));
      cell(tr, codeName('nature', c.nature));
      cell(tr, str(c.reason), 'desc');
      cell(tr, str(c.by));
      body.appendChild(tr);
    });
    $('typical').hidden = cases.length === 0;
    $('typical-none').hidden = cases.length !== 0;
  }

  function showCharts(charts) {
    var box = $('charts');
    box.textContent = '';
    CHARTS.forEach(function (chart) {
      var png = charts[chart[0]];
      // Only base64 goes into the data URL: whatever else came back is not shown.
      if (typeof png !== 'string' || !/^[A-Za-z0-9+/]+=*$/.test(png)) return;
      var figure = document.createElement('figure');
      var img = document.createElement('img');
      img.src = 'data:image/png;base64,' + png;
      img.alt = t(chart[1]);
      var caption = document.createElement('figcaption');
      caption.textContent = t(chart[1]);
      figure.appendChild(img);
      figure.appendChild(caption);
      box.appendChild(figure);
    });
  }

  /* ---------- the register ---------- */

  var units = [];
  var lastRegister = null;
  var lastStatus = null;
  var registerSeq = 0;

  function unitName(id) {
    var found = units.filter(function (u) { return u.id === id; })[0];
    if (!found || !found.name) return str(id);
    return str(lang === 'zh' ? found.name.zh : found.name.en) || str(id);
  }

  function fillUnits() {
    var select = $('g-unit');
    var chosen = select.value || (me ? me.unit : '');
    select.textContent = '';
    units.forEach(function (u) { select.appendChild(option(str(u.id), unitName(u.id))); });
    if (chosen) select.value = chosen;
  }

  function loadUnits() {
    getJson('/api/units').then(function (data) {
      units = Array.isArray(data && data.units) ? data.units : [];
      fillUnits();
    }, function () { /* the register form then offers the reader's own unit only */ });
  }

  function loadChannels() {
    getJson('/api/channels').then(function (data) {
      var names = {};
      (Array.isArray(data && data.channels) ? data.channels : []).forEach(function (c) {
        var title = c && c.title && typeof c.title === 'object' ? c.title : {};
        if (c && c.name) names[str(c.name)] = [str(title.en || c.name), str(title.zh || title.en || c.name)];
      });
      CODES.channel = names;
      applyLang();
    }, function () { /* channels are then shown by their codes */ });
  }

  function lastMonth() {
    var d = new Date();
    d.setDate(1);
    d.setMonth(d.getMonth() - 1);
    return d.getFullYear() + '-' + String(d.getMonth() + 1).padStart(2, '0');
  }

  function runRegister() {
    var month = $('g-month').value;
    if (!month) { setStatus('register-status', t('errMonth'), true); return; }
    var params = new URLSearchParams();
    params.set('month', month);
    if ($('g-unit').value) params.set('unit', $('g-unit').value);
    var seq = ++registerSeq;
    setStatus('register-status', t('loadingRegister'), false);
    ['html', 'csv', 'pdf'].forEach(function (fmt) {
      var p = new URLSearchParams(params);
      p.set('format', fmt);
      $('rg-' + fmt).href = '/api/records/register?' + p.toString();
    });
    Promise.all([getJson('/api/records/register?' + params.toString()),
      getJson('/api/records/register-status?month=' + encodeURIComponent(month))]).then(function (both) {
      if (seq !== registerSeq) return;
      lastRegister = both[0];
      lastStatus = both[1];
      showRegister(lastRegister, lastStatus);
    }, function (e) {
      if (seq === registerSeq) setStatus('register-status', failed(e), true);
    });
  }

  function showRegister(data, status) {
    var entries = Array.isArray(data.entries) ? data.entries : [];
    var unit = data.unit || {};
    setStatus('register-status', t('registerReady', { n: entries.length, unit: unitName(unit.id),
      month: str(data.month) }), false);
    var body = $('register-body');
    body.textContent = '';
    entries.forEach(function (entry) {
      var fields = entry.fields || {};
      var tr = document.createElement('tr');
      cell(tr, str(fields['受理日期']), 'when');
      cell(tr, str(entry.case_id), 'id');
      cell(tr, str(fields['投诉人']));
      cell(tr, str(fields['投诉事由']), 'desc');
      cell(tr, str(fields['性质']));
      cell(tr, str(fields['答复日期']), 'when');
      cell(tr, str(fields['客户满意度']));
      entryLinks(cell(tr, '', 'entry'), str(entry.case_id));
      body.appendChild(tr);
    });
    var filing = $('filing-body');
    filing.textContent = '';
    $('filing-due').textContent = status ? t('filingDue', { due: when(status.due_by) }) : '';
    ((status && status.units) || []).forEach(function (u) {
      var tr = document.createElement('tr');
      cell(tr, unitName(u.id));
      var runs = Array.isArray(u.produced) ? u.produced : [];
      var text = runs.length ? runs.map(function (r) {
        return t('filed', { format: str(r.format).toUpperCase(), by: r.by, at: when(r.at), cases: r.cases });
      }).join('; ') : t('notFiled');
      cell(tr, text, runs.length ? '' : 'filed-none');
      filing.appendChild(tr);
    });
    $('register').hidden = false;
  }

  /* ---------- wiring ---------- */

  function setLang(next) {
    lang = next === 'zh' ? 'zh' : 'en';
    if (storage) { try { storage.setItem(LANG_KEY, lang); } catch (e) { /* private mode */ } }
    applyLang();
  }

  document.addEventListener('DOMContentLoaded', function () {
    fillQuarters();
    applyLang();
    $('lang-toggle').addEventListener('click', function () { setLang(lang === 'zh' ? 'en' : 'zh'); });
    $('search-form').addEventListener('submit', function (e) { e.preventDefault(); runSearch(1); });
    $('search-form').addEventListener('reset', function () { window.setTimeout(function () { runSearch(1); }, 0); });
    $('prev-page').addEventListener('click', function () { runSearch(Math.max(1, lastPage.page - 1), lastParams); });
    $('next-page').addEventListener('click', function () { runSearch(lastPage.page + 1, lastParams); });
    $('report-form').addEventListener('submit', function (e) { e.preventDefault(); runReport(); });
    $('register-form').addEventListener('submit', function (e) { e.preventDefault(); runRegister(); });
    $('g-month').value = lastMonth();
    Array.prototype.forEach.call(document.querySelectorAll('input[name="kind"]'), function (radio) {
      radio.addEventListener('change', showKind);
    });
    start();
  });
})();
