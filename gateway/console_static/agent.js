/* Complaint handlers' console: queue, case record, replies, the handling process (notes, findings, the plan and
 * its approval, escalation), what follows the answer (return visits, follow-ups, typical cases, the customer's
 * earlier cases) and answer templates.
 *
 * Talks to the JSON API on the same origin. Everything that comes from the
 * server (and so from customers) is put on the page with textContent.
 */
(function () {
  'use strict';

  var LANG_KEY = 'cg-lang';
  var POLL_MS = 10000;
  var SOON_MS = 24 * 3600 * 1000;
  var REPLY_MAX = 4000;
  var SCAN_MAX_BYTES = 700 * 1024;  // the API's limit for a scanned letter (handoff/registration.py)
  var LATE_MS = 3600 * 1000;  // a complaint received longer ago than this is registered late, with a reason

  var STRINGS = {
    en: {
      pageTitle: 'Complaint console',
      appName: 'Complaint console',
      skipToCase: 'Skip to the open case',
      logout: 'Sign out',
      loginTitle: 'Sign in',
      loginIntro: 'For complaint handlers and supervisors.',
      loginName: 'Name',
      loginPassword: 'Password',
      loginSubmit: 'Sign in',
      loginMissing: 'Please enter your name and password.',
      loginFailed: 'The name or password is not correct.',
      sessionEnded: 'Your session has ended. Please sign in again.',
      role_agent: 'Complaint handler',
      role_supervisor: 'Supervisor',
      role_admin: 'Administrator',
      desks: 'Desks: {langs}',
      live_live: 'Live updates',
      live_polling: 'Refreshing every 10 s',
      live_off: 'Not connected',
      queueTitle: 'Cases',
      nextCase: 'Take next case',
      filterLabel: 'Show',
      filterOpen: 'Open cases',
      refresh: 'Refresh',
      queueEmpty: 'No cases here.',
      queueEmptyNext: 'The queue is empty: no case is waiting.',
      queueLoading: 'Loading…',
      caseRegion: 'Case',
      caseEmpty: 'Choose a case from the list, or take the next case in the queue.',
      backToQueue: '← Back to the list',
      actionsLabel: 'Case actions',
      claim: 'Claim',
      release: 'Release',
      resolve: 'Resolve…',
      closeCase: 'Close case',
      resolveTitle: 'Resolve this case',
      outcomeLabel: 'Outcome',
      outcomeChoose: 'Choose an outcome…',
      outcome_upheld: 'Upheld',
      outcome_partially_upheld: 'Partially upheld',
      outcome_not_upheld: 'Not upheld',
      outcome_withdrawn: 'Withdrawn by the customer',
      summaryLabel: 'Summary of findings and what was done',
      resolveSubmit: 'Resolve case',
      cancel: 'Cancel',
      resolveNeedOutcome: 'Please choose an outcome.',
      resolveNeedSummary: 'Please write a summary.',
      complaintTitle: 'Complaint record',
      conversationTitle: 'Conversation',
      replyLabel: 'Reply to the customer',
      replyHint: 'Sent to the customer by {channel}. Case language: {language}.',
      replySend: 'Send reply',
      replyEmpty: 'Please write a reply first.',
      replyTooLong: 'The reply is too long.',
      replyWarning: 'Please rephrase: avoid words that argue with or blame the customer (“{w}”). Acknowledge, apologise for the trouble, explain and help.',
      deadlinesTitle: 'Deadlines',
      riskTitle: 'Risk',
      customerTitle: 'Customer',
      auditTitle: 'Audit trail',
      f_product: 'Product',
      f_incident_time: 'When',
      f_place: 'Where',
      f_people_involved: 'People involved',
      f_description: 'What happened',
      f_desired_resolution: 'What the customer wants',
      f_name: 'Name',
      f_phone: 'Phone',
      f_email: 'Email',
      f_account_id: 'Account',
      d_acknowledge_by: 'Acknowledge by',
      d_investigate_by: 'Investigate by',
      d_respond_by: 'Respond by',
      notGiven: 'Not given',
      noDeadline: 'No deadline',
      dueIn: 'Due in {d}',
      overdueBy: 'Overdue by {d}',
      dur_d: '{n} d',
      dur_h: '{n} h',
      dur_m: '{n} min',
      lessThanMinute: 'under a minute',
      status_collecting: 'Collecting',
      status_queued: 'Queued',
      status_claimed: 'Claimed',
      status_answered: 'Answered',
      status_closed: 'Closed',
      status_reopened: 'Reopened',
      due_overdue: 'Overdue',
      due_due_soon: 'Due soon',
      due_on_time: 'On time',
      satisfaction: 'Customer satisfaction: {n}/5',
      satisfactionAt: 'rated {t}',
      surveyAsked: 'Satisfaction survey sent; waiting for the customer’s rating.',
      surveyUndeliverable: 'The satisfaction survey could not be sent to the customer.',
      risk_high: 'High risk',
      risk_medium: 'Medium risk',
      risk_low: 'Low risk',
      riskScore: 'Score {n}',
      noReasons: 'No warning signs recorded.',
      riskRules: 'Rules: {list}',
      prio_urgent: 'Urgent',
      prio_high: 'High priority',
      prio_normal: 'Normal',
      prio_low: 'Low priority',
      lang_zh: 'Chinese',
      lang_en: 'English',
      from_customer: 'Customer',
      from_bot: 'Automated desk',
      from_agent: 'Complaint handler',
      from_system: 'System',
      unassigned: 'Unassigned',
      assignedTo: 'Handler: {name}',
      mine: 'you',
      created: 'Received {t}',
      noName: '(no name)',
      claimed: 'You have claimed {id}.',
      released: '{id} is back in the queue.',
      replied: 'Your reply was sent.',
      resolved: '{id} is resolved.',
      closed: '{id} is closed.',
      reassignLabel: 'Reassign to',
      reassignChoose: 'Choose a handler…',
      reassignSubmit: 'Reassign',
      reassignNeedAgent: 'Please choose a handler.',
      reassigned: '{id} is now with {name}.',
      newCase: 'New case in the queue: {id}',
      reopenedCase: 'Case {id} is back in the queue: the customer is not satisfied.',
      alert_high_risk: 'Alert: {id} is a high-risk complaint.',
      alert_due_soon: 'Alert: the answer to {id} is due soon.',
      alert_overdue: 'Alert: the answer to {id} is overdue.',
      alertOther: 'Alert about {id}: {kind}',
      file: 'file',
      sessionChanged: 'You signed in again elsewhere; the console now uses that session. Please try again.',
      errNetwork: 'The server cannot be reached. Please check the connection and try again.',
      errHttp: 'The request failed ({status}).',
      act_created: 'Created',
      act_queued: 'Queued',
      act_claimed: 'Claimed',
      act_released: 'Released',
      act_replied: 'Replied',
      act_resolved: 'Resolved',
      act_closed: 'Closed',
      act_reopened: 'Reopened',
      act_reopen: 'Reopened (customer not satisfied)',
      act_reassign: 'Reassigned',
      act_reassigned: 'Reassigned',
      act_survey: 'Satisfaction survey',
      act_satisfaction: 'Customer rated the handling',
      act_rated: 'Customer rated the handling',
      act_acknowledged: 'Acknowledged',
      act_assigned: 'Assigned',
      act_escalated: 'Escalated',
      act_customer_message: 'Customer wrote',
      act_claim: 'Claimed',
      act_release: 'Released to the queue',
      act_reclaim: 'Returned to the queue (no heartbeat)',
      act_reply: 'Replied to the customer',
      act_resolve: 'Resolved',
      act_close: 'Closed',
      act_register: 'Registered by staff',
      registerOpen: 'Register a complaint',
      registerTitle: 'Register a complaint',
      registerIntro: 'For a complaint that came in person, by letter, in the comment book, by a call you took or as a referral. Record it on the day it came, finished or not.',
      registerHow: 'Receipt',
      registerHandling: 'First handling',
      registerSubmit: 'Register',
      close: 'Close',
      regChannel: 'How it came',
      regLanguage: 'Customer’s language',
      regUnit: 'Receiving unit',
      regReceivedAt: 'Received at',
      regReceivedHint: 'When the complaint came in; every deadline counts from it.',
      regLateReason: 'Why it is registered late',
      regDeclined: 'The customer declined to give a contact',
      regDescriptionHint: 'The customer’s own account of events.',
      regProductChoose: 'Not given',
      regIncidentDate: 'Date',
      regIncidentTime: 'Time, if known',
      regFile: 'Scanned letter or form (optional)',
      regFileHint: 'At most 700 KB.',
      regFileTooBig: 'This file is {size} KB: a scan can be at most 700 KB. Please scan it again at a lower resolution.',
      regFileUnreadable: 'The file could not be read. Please choose it again.',
      regNeedDescription: 'Please write what happened, in the customer’s words.',
      regNeedLateReason: 'This complaint came in more than an hour ago: please give the reason it is registered late.',
      regFuture: 'The time received cannot be in the future.',
      regNeedDate: 'Please give the date of the incident as well as the time.',
      regFieldError: '{field}: {message}',
      registered: '{id} is registered and in the queue.',
      f_unit: 'Receiving unit',
      f_registered_by: 'Registered by',
      f_preliminary_opinion: 'Preliminary opinion',
      f_contact: 'Contact',
      f_files: 'Files',
      contactDeclined: 'Declined to give a contact',
      d_received_at: 'Received',
      incomplete: 'Incomplete: missing {list}.',
      incompleteBadge: 'Incomplete',
      m_name: 'name',
      m_contact: 'contact',
      m_description: 'what happened',
      m_product: 'product',
      m_incident_time: 'when it happened',
      m_desired_resolution: 'what the customer wants',
      langScript: '{language} ({script})',
      script_Hant: 'Traditional',
      replyHintStaff: 'Registered by staff ({channel}). A reply goes out by SMS only if the customer gave a mobile number and SMS is on here; otherwise call or write to the customer and note what was said. Case language: {language}.',
      prod_brokerage_account: 'Brokerage account',
      prod_online_trading: 'Online / app trading',
      prod_margin_trading: 'Margin trading',
      prod_funds_wealth: 'Funds and wealth products',
      prod_ipo_subscription: 'IPO subscription',
      prod_bank_securities_transfer: 'Transfers and withdrawals',
      prod_fees_commissions: 'Fees and commissions',
      prod_dividends_corporate_actions: 'Dividends and corporate actions',
      prod_branch_service: 'Branch service',
      prod_other: 'Other',
      prod_unknown: 'Not given',
      status_awaiting_approval: 'Awaiting approval',
      act_note: 'Internal note',
      act_findings: 'Findings recorded',
      act_triage: 'Classified',
      act_propose: 'Plan proposed',
      act_approve: 'Plan approved',
      act_return: 'Plan returned',
      act_escalate: 'Escalated',
      act_return_visit: 'Return visit',
      propose: 'Propose the answer…',
      escalate: 'Escalate…',
      proposeTitle: 'Propose the answer',
      proposeIntro: 'Where the firm’s approval policy asks for it, a supervisor approves the plan before the answer goes to the customer.',
      answerLabel: 'Answer to the customer',
      measuresLabel: 'Corrective measures',
      compensationLabel: 'Compensation',
      compNone: 'None',
      compPay: 'Compensate the customer',
      amountLabel: 'Amount',
      currencyLabel: 'Currency',
      responsibleLabel: 'Staff responsible',
      staffLabel: 'Staff member',
      staffActionLabel: 'What happens to them',
      proposeSubmit: 'Submit the plan',
      proposeNeedAnswer: 'Please write the answer to the customer.',
      proposeNeedAmount: 'Please give the amount of compensation: a number, zero or more.',
      proposeNeedCurrency: 'Please give the currency as a three-letter code such as CNY.',
      proposeNeedStaff: 'Please name the staff member and what happens to them, or leave both empty.',
      proposedForApproval: 'The plan for {id} awaits a supervisor’s approval.',
      proposedSent: 'The answer to {id} went out.',
      resolveNeedsApproval: 'This case needs a supervisor’s approval before the answer goes out: propose the answer instead. What you wrote here is carried over.',
      resolveToPropose: 'Propose the answer instead',
      escalateTitle: 'Escalate to a higher unit',
      escalateTo: 'To',
      escalateReason: 'Reason',
      escalateSubmit: 'Escalate',
      escalateNeedUnit: 'Please choose the unit to escalate to.',
      escalateNeedReason: 'Please give the reason for the escalation.',
      escalatedTo: '{id} is now in the queue of {unit}.',
      planTitle: 'Handling plan',
      planAwaiting: 'Awaiting a supervisor’s approval',
      planApproved: 'Approved by {name} · {t}',
      planReturned: 'Returned by {name}: {reason}',
      planSent: 'Sent to the customer: this case needed no approval.',
      resolutionShown: 'Resolved in one step: this case needed no approval.',
      p_answer: 'Answer',
      p_outcome: 'Outcome',
      p_measures: 'Corrective measures',
      p_compensation: 'Compensation',
      p_responsible: 'Staff responsible',
      p_by: 'Proposed by',
      p_resolved_by: 'Resolved by',
      compensationNone: 'None',
      responsibleShown: '{staff}: {action}',
      byAt: '{name} · {t}',
      approve: 'Approve',
      returnPlan: 'Return…',
      returnReason: 'Why the plan goes back to the handler',
      returnSubmit: 'Return the plan',
      returnNeedReason: 'Please give the reason the plan goes back.',
      approved: 'The plan for {id} is approved; the answer went out.',
      returnedTo: 'The plan for {id} went back to {name}.',
      ownPlan: 'This is your own plan: another supervisor approves it.',
      approvalLabel: 'Approval',
      returnedPlans: 'Returned plans ({n})',
      returnedBy: 'Returned by {name}: {reason}',
      findingsTitle: 'Investigation findings',
      findingsDue: 'Investigate by {t}',
      findingsLabel: 'Record what the investigation established',
      findingsSubmit: 'Record findings',
      findingsAdded: 'The findings are on the case.',
      findingsHolder: 'The handler who has claimed the case records the findings.',
      notesTitle: 'Internal notes',
      notesHint: 'For colleagues only, never sent to the customer.',
      noteLabel: 'Add a note',
      noteSubmit: 'Add note',
      noteAdded: 'Note added.',
      entriesEmpty: 'None yet.',
      entryEmpty: 'Please write something first.',
      classifyTitle: 'Classification',
      f_department: 'Responsible department',
      f_nature: 'Nature',
      departmentWhereReceived: '{unit} (where it was received)',
      nature_service_environment: 'Service environment',
      nature_product: 'Service product',
      nature_attitude: 'Service attitude',
      nature_process: 'Service process',
      nature_other: 'Other',
      natureChoose: 'Not classified',
      classifySubmit: 'Save',
      classified: 'The classification of {id} is saved.',
      classifyNothing: 'Choose another nature or department first.',
      escalationsTitle: 'Escalations',
      escalationRoute: '{from} → {to}',
      insertTemplate: 'Insert a template',
      templateHint: 'Its text goes in at the cursor. With the keyboard, press Enter to insert the one chosen.',
      templateChoose: 'Choose a template…',
      templatesOpen: 'Templates',
      templatesTitle: 'Answer templates',
      templatesIntro: 'Approved wording that handlers insert into a reply or a plan. Each is checked against the phrases never to say to a customer.',
      templatesEmpty: 'No templates yet.',
      templateAdd: 'Add a template',
      templateLanguage: 'Language',
      templateTitleLabel: 'Title',
      templateTextLabel: 'Text',
      templateSubmit: 'Add template',
      templateDelete: 'Delete',
      templateDeleteLabel: 'Delete the template “{title}”',
      templateAdded: 'The template is added.',
      templateRemoved: 'The template is deleted.',
      templateNeed: 'Please give a title and the text.',
      templateMeta: '{language} · {name}',
      alert_escalated: 'Alert: {id} was escalated to {unit}.',
      alert_awaiting_approval: 'A plan for {id} awaits approval.',
      alert_reopened: 'Alert: the customer of {id} is not satisfied; the case is reopened.',
      alert_return_visit_due: 'A return visit for {id} is due.',
      alert_acknowledge_due_soon: 'Alert: nobody has taken {id} yet, and its acknowledgement is due soon.',
      alert_acknowledge_overdue: 'Alert: the acknowledgement of {id} is overdue.',
      alert_investigate_due_soon: 'Alert: the findings on {id} are due soon.',
      alert_investigate_overdue: 'Alert: the findings on {id} are overdue.',
      alert_register_missing: 'Alert: the register of {unit} for {month} has not been filed with head office.',
      alert_hotspot: 'Alert: a hot spot of complaints, {count} about {what} in {days} days.',
      alert_login_burst: 'Alert: many failed sign-ins to the account {account}.',
      alert_account_changed: 'Alert: the administrator account {account} was changed.',
      alertAbout: 'Alert about {what}: {kind}',
      hotspotWhat_product: 'the product “{v}”',
      hotspotWhat_unit: '{v}',
      hotspotWhat_staff: 'the staff member {v}',
      dueFilters: 'What is due',
      dueReturnVisit: 'Return visits due',
      dueFollowUp: 'Follow-ups due',
      queueEmptyReturnVisit: 'No return visits are due.',
      queueEmptyFollowUp: 'No follow-ups are due.',
      rowFollowUp: 'Follow up {d}',
      rowReturnVisit: 'Return visit {t}',
      proposeForApproval: 'Propose for approval…',
      proposeSend: 'Send the answer…',
      proposeSubmitApproval: 'Submit for approval',
      proposeSubmitSend: 'Send the answer',
      proposeIntroApproval: 'A supervisor approves this plan before the answer goes to the customer.',
      proposeIntroSend: 'This case needs no approval: the answer goes to the customer at once.',
      act_follow_up: 'Follow-up date set',
      act_flag: 'Typical case flag',
      visitTitle: 'Return visit',
      visitsLogged: 'Return visits logged',
      visitLog: 'Log a return visit',
      visitMethod: 'How',
      visitAt: 'When',
      visitAtHint: 'Leave empty for now.',
      visitReached: 'Was the customer reached?',
      yes: 'Yes',
      no: 'No',
      visitScore: 'Satisfaction score',
      visitScoreHint: '1 very dissatisfied, 5 very satisfied; leave it if the customer gave none.',
      visitMeasures: 'Corrective measures',
      measuresDone: 'Carried out',
      measuresNotDone: 'Not carried out',
      measuresUnchecked: 'Not checked',
      visitNote: 'Note',
      visitSubmit: 'Log the visit',
      visitNeedReached: 'Please say whether the customer was reached.',
      visitFuture: 'The visit cannot be in the future.',
      visitDue: 'Return visit due {t}',
      visitTries: 'Tries so far: {n}',
      vm_phone: 'Phone call',
      vm_sms: 'SMS',
      vm_email: 'Email',
      vm_webchat: 'Web chat',
      vm_visit: 'Visit in person',
      vm_letter: 'Letter',
      vm_other: 'Other',
      vm_survey: 'Satisfaction survey',
      visitReachedYes: 'Reached',
      visitReachedNo: 'Not reached',
      visitScoreShown: 'Score {n}/5',
      visitMeasures_true: 'Measures carried out',
      visitMeasures_false: 'Measures NOT carried out',
      closed_as_satisfied: 'Closed: the customer is satisfied.',
      closed_as_not_reached: 'Closed: the customer could not be reached ({n} tries).',
      closed_as_referred: 'Closed: still dissatisfied after a second answer; referred to mediation or arbitration.',
      visitReopened: 'Reopened: the customer is not satisfied.',
      referralTold: 'Told about mediation and arbitration {t}: “{text}”',
      referralNotTold: 'The customer’s channel cannot carry it: call or write to tell them about mediation and arbitration (the note says what to tell them).',
      visitedClosed: 'The customer is satisfied: {id} is closed.',
      visitedRetry: 'Not reached: try again from {t}.',
      visitedNotReached: '{id} is closed: the customer could not be reached.',
      visitedReopened: 'The customer is not satisfied: {id} is reopened and back with {name}.',
      visitedReferred: 'The customer is still not satisfied: {id} is closed and referred to mediation or arbitration.',
      satViaVisit: 'on a return visit by {name} ({method})',
      satViaCustomer: 'the customer’s own rating by {channel}',
      satVia: 'by {method}',
      followTitle: 'Follow-up',
      followOn: 'Follow up on…',
      followNote: 'What to do then',
      followSubmit: 'Set the date',
      followNeedDate: 'Please choose the date to follow up on.',
      followShown: 'Follow up on {d}',
      followIsDue: 'due',
      followSetBy: 'Set by {name} · {t}',
      followNone: 'No follow-up date set.',
      followSet: 'Follow up on {id} on {d}.',
      typicalBadge: 'Typical case',
      typicalTitle: 'Typical case',
      typicalHint: 'Typical cases go into the quarter’s case studies.',
      typicalReason: 'Why it is typical',
      typicalSubmit: 'Flag as a typical case',
      typicalRemove: 'Remove the flag',
      typicalNeedReason: 'Please say why this case is typical.',
      typicalFlaggedBy: 'Flagged by {name} · {t}',
      typicalFlagged: '{id} is flagged as a typical case.',
      typicalRemoved: '{id} is no longer flagged as typical.',
      earlierTitle: 'Earlier cases of this customer',
      earlierNone: 'None'
    },
    zh: {
      pageTitle: '投诉处理台',
      appName: '投诉处理台',
      skipToCase: '跳到当前案件',
      logout: '退出登录',
      loginTitle: '登录',
      loginIntro: '供投诉专员及主管使用。',
      loginName: '用户名',
      loginPassword: '密码',
      loginSubmit: '登录',
      loginMissing: '请输入用户名和密码。',
      loginFailed: '用户名或密码不正确。',
      sessionEnded: '登录已失效，请重新登录。',
      role_agent: '投诉专员',
      role_supervisor: '主管',
      role_admin: '管理员',
      desks: '受理语种：{langs}',
      live_live: '实时更新',
      live_polling: '每 10 秒刷新',
      live_off: '未连接',
      queueTitle: '案件',
      nextCase: '领取下一个案件',
      filterLabel: '显示',
      filterOpen: '未结案件',
      refresh: '刷新',
      queueEmpty: '这里没有案件。',
      queueEmptyNext: '队列为空：暂无待处理案件。',
      queueLoading: '正在加载…',
      caseRegion: '案件',
      caseEmpty: '请从列表中选择一个案件，或领取队列中的下一个案件。',
      backToQueue: '← 返回列表',
      actionsLabel: '案件操作',
      claim: '领取',
      release: '退回队列',
      resolve: '办结…',
      closeCase: '结案',
      resolveTitle: '办结此案件',
      outcomeLabel: '处理结果',
      outcomeChoose: '请选择处理结果…',
      outcome_upheld: '投诉成立',
      outcome_partially_upheld: '部分成立',
      outcome_not_upheld: '投诉不成立',
      outcome_withdrawn: '客户撤回',
      summaryLabel: '调查结论及处理情况摘要',
      resolveSubmit: '办结案件',
      cancel: '取消',
      resolveNeedOutcome: '请选择处理结果。',
      resolveNeedSummary: '请填写处理摘要。',
      complaintTitle: '投诉记录',
      conversationTitle: '对话记录',
      replyLabel: '回复客户',
      replyHint: '将通过{channel}发送给客户。案件语言：{language}。',
      replySend: '发送回复',
      replyEmpty: '请先填写回复内容。',
      replyTooLong: '回复内容过长。',
      replyWarning: '建议修改措辞：避免与客户争辩或归咎客户（“{w}”）。请先表示理解、为给客户带来的不便致歉，再说明情况并提供帮助。',
      deadlinesTitle: '时限',
      riskTitle: '风险',
      customerTitle: '客户信息',
      auditTitle: '操作记录',
      f_product: '产品或业务',
      f_incident_time: '发生时间',
      f_place: '发生地点',
      f_people_involved: '涉及人员',
      f_description: '事情经过',
      f_desired_resolution: '客户诉求',
      f_name: '姓名',
      f_phone: '电话',
      f_email: '电子邮箱',
      f_account_id: '账户',
      d_acknowledge_by: '确认受理期限',
      d_investigate_by: '调查期限',
      d_respond_by: '答复期限',
      notGiven: '未提供',
      noDeadline: '无期限',
      dueIn: '剩余 {d}',
      overdueBy: '已逾期 {d}',
      dur_d: '{n}天',
      dur_h: '{n}小时',
      dur_m: '{n}分钟',
      lessThanMinute: '不到一分钟',
      status_collecting: '采集中',
      status_queued: '待受理',
      status_claimed: '处理中',
      status_answered: '已答复',
      status_closed: '已结案',
      status_reopened: '重新受理',
      due_overdue: '已逾期',
      due_due_soon: '即将到期',
      due_on_time: '未到期',
      satisfaction: '客户满意度：{n}/5',
      satisfactionAt: '评价时间 {t}',
      surveyAsked: '已发送满意度调查，等待客户评价。',
      surveyUndeliverable: '满意度调查未能发送给客户。',
      risk_high: '高风险',
      risk_medium: '中风险',
      risk_low: '低风险',
      riskScore: '评分 {n}',
      noReasons: '未发现预警信号。',
      riskRules: '命中规则：{list}',
      prio_urgent: '紧急',
      prio_high: '优先',
      prio_normal: '普通',
      prio_low: '较低',
      lang_zh: '中文',
      lang_en: '英文',
      from_customer: '客户',
      from_bot: '自动受理',
      from_agent: '投诉专员',
      from_system: '系统',
      unassigned: '未分配',
      assignedTo: '处理人：{name}',
      mine: '您',
      created: '受理时间 {t}',
      noName: '（未留姓名）',
      claimed: '您已领取 {id}。',
      released: '{id} 已退回队列。',
      replied: '回复已发送。',
      resolved: '{id} 已办结。',
      closed: '{id} 已结案。',
      reassignLabel: '改派给',
      reassignChoose: '请选择处理人…',
      reassignSubmit: '改派',
      reassignNeedAgent: '请选择处理人。',
      reassigned: '{id} 已改派给 {name}。',
      newCase: '队列中有新案件：{id}',
      reopenedCase: '案件 {id} 已重新进入队列：客户对处理结果不满意。',
      alert_high_risk: '预警：{id} 为高风险投诉。',
      alert_due_soon: '预警：{id} 即将到答复期限。',
      alert_overdue: '预警：{id} 已超过答复期限。',
      alertOther: '关于 {id} 的预警：{kind}',
      file: '文件',
      sessionChanged: '您已在别处重新登录，本页已改用新的登录状态，请重试。',
      errNetwork: '无法连接服务器，请检查网络后重试。',
      errHttp: '请求失败（{status}）。',
      act_created: '创建',
      act_queued: '进入队列',
      act_claimed: '领取',
      act_released: '退回队列',
      act_replied: '回复客户',
      act_resolved: '办结',
      act_closed: '结案',
      act_reopened: '重新受理',
      act_reopen: '重新受理（客户不满意）',
      act_reassign: '改派',
      act_reassigned: '改派',
      act_survey: '满意度调查',
      act_satisfaction: '客户评价',
      act_rated: '客户评价',
      act_acknowledged: '确认受理',
      act_assigned: '分派',
      act_escalated: '升级',
      act_customer_message: '客户留言',
      act_claim: '领取',
      act_release: '退回队列',
      act_reclaim: '超时未响应，退回队列',
      act_reply: '回复客户',
      act_resolve: '办结',
      act_close: '结案',
      act_register: '人工登记',
      registerOpen: '登记投诉',
      registerTitle: '登记投诉',
      registerIntro: '用于现场来访、来信、意见簿、工作人员接听的电话及转办的投诉。请于受理当日登记，信息不全也应登记。',
      registerHow: '受理情况',
      registerHandling: '初步处理',
      registerSubmit: '登记',
      close: '关闭',
      regChannel: '投诉方式',
      regLanguage: '客户语言',
      regUnit: '受理单位',
      regReceivedAt: '受理时间',
      regReceivedHint: '收到投诉的时间，各项时限均自此起算。',
      regLateReason: '延迟登记的原因',
      regDeclined: '客户拒绝留下联系方式',
      regDescriptionHint: '按客户本人的陈述记录事情经过。',
      regProductChoose: '未说明',
      regIncidentDate: '日期',
      regIncidentTime: '时间（如知道）',
      regFile: '来信或表格扫描件（可选）',
      regFileHint: '不超过 700 KB。',
      regFileTooBig: '该文件为 {size} KB，扫描件不能超过 700 KB。请降低分辨率后重新扫描。',
      regFileUnreadable: '无法读取该文件，请重新选择。',
      regNeedDescription: '请按客户本人的陈述填写事情经过。',
      regNeedLateReason: '该投诉的受理时间已超过一小时：请填写延迟登记的原因。',
      regFuture: '受理时间不能晚于现在。',
      regNeedDate: '请同时填写发生日期。',
      regFieldError: '{field}：{message}',
      registered: '{id} 已登记并进入队列。',
      f_unit: '受理单位',
      f_registered_by: '登记人',
      f_preliminary_opinion: '初步处理意见',
      f_contact: '联系方式',
      f_files: '附件',
      contactDeclined: '客户拒绝留下联系方式',
      d_received_at: '受理时间',
      incomplete: '记录不完整：缺少{list}。',
      incompleteBadge: '不完整',
      m_name: '姓名',
      m_contact: '联系方式',
      m_description: '事情经过',
      m_product: '产品或业务',
      m_incident_time: '发生时间',
      m_desired_resolution: '客户诉求',
      langScript: '{language}（{script}）',
      script_Hant: '繁体',
      replyHintStaff: '由工作人员登记（{channel}）。仅当客户留有手机号且本系统已开通短信时，回复才会以短信发出；否则请致电或致函客户，并记录沟通内容。案件语言：{language}。',
      prod_brokerage_account: '证券账户',
      prod_online_trading: '网上/APP交易',
      prod_margin_trading: '融资融券',
      prod_funds_wealth: '基金理财',
      prod_ipo_subscription: '新股申购',
      prod_bank_securities_transfer: '银证转账/出入金',
      prod_fees_commissions: '手续费/佣金',
      prod_dividends_corporate_actions: '分红/公司行动',
      prod_branch_service: '营业部服务',
      prod_other: '其他',
      prod_unknown: '未说明',
      status_awaiting_approval: '待审批',
      act_note: '内部备注',
      act_findings: '记录调查核实情况',
      act_triage: '分类',
      act_propose: '提交处理方案',
      act_approve: '审批通过',
      act_return: '退回处理方案',
      act_escalate: '升级上报',
      act_return_visit: '回访',
      propose: '提交处理方案…',
      escalate: '升级上报…',
      proposeTitle: '提交处理方案',
      proposeIntro: '按本公司审批规定需要审批的，处理方案经主管审批后才会答复客户。',
      answerLabel: '答复客户的内容',
      measuresLabel: '整改措施',
      compensationLabel: '赔偿',
      compNone: '无赔偿',
      compPay: '向客户赔偿',
      amountLabel: '金额',
      currencyLabel: '币种',
      responsibleLabel: '责任人处理',
      staffLabel: '责任人',
      staffActionLabel: '处理措施',
      proposeSubmit: '提交方案',
      proposeNeedAnswer: '请填写答复客户的内容。',
      proposeNeedAmount: '请填写赔偿金额：不小于零的数字。',
      proposeNeedCurrency: '请以三位字母代码填写币种，如 CNY。',
      proposeNeedStaff: '请同时填写责任人及其处理措施，或两项都不填。',
      proposedForApproval: '{id} 的处理方案已提交，等待主管审批。',
      proposedSent: '{id} 的答复已发出。',
      resolveNeedsApproval: '此案件的答复须经主管审批后才能发出：请改为提交处理方案，这里已填写的内容会一并带入。',
      resolveToPropose: '改为提交处理方案',
      escalateTitle: '升级上报至上级单位',
      escalateTo: '上报至',
      escalateReason: '原因',
      escalateSubmit: '升级上报',
      escalateNeedUnit: '请选择上报的单位。',
      escalateNeedReason: '请填写升级上报的原因。',
      escalatedTo: '{id} 已上报至{unit}，进入其队列。',
      planTitle: '处理方案',
      planAwaiting: '待主管审批',
      planApproved: '已由 {name} 审批通过 · {t}',
      planReturned: '已被 {name} 退回：{reason}',
      planSent: '已答复客户：此案件无需审批。',
      resolutionShown: '已一步办结：此案件无需审批。',
      p_answer: '答复内容',
      p_outcome: '处理结果',
      p_measures: '整改措施',
      p_compensation: '赔偿',
      p_responsible: '责任人处理',
      p_by: '提出人',
      p_resolved_by: '办结人',
      compensationNone: '无',
      responsibleShown: '{staff}：{action}',
      byAt: '{name} · {t}',
      approve: '审批通过',
      returnPlan: '退回…',
      returnReason: '退回原因',
      returnSubmit: '退回方案',
      returnNeedReason: '请填写退回原因。',
      approved: '{id} 的处理方案已审批通过，答复已发出。',
      returnedTo: '{id} 的处理方案已退回给 {name}。',
      ownPlan: '这是您本人提交的方案，须由其他主管审批。',
      approvalLabel: '审批',
      returnedPlans: '已退回的方案（{n}）',
      returnedBy: '被 {name} 退回：{reason}',
      findingsTitle: '调查核实情况',
      findingsDue: '调查期限：{t}',
      findingsLabel: '记录调查核实的情况',
      findingsSubmit: '保存调查情况',
      findingsAdded: '调查情况已记录。',
      findingsHolder: '由已领取此案件的处理人记录调查情况。',
      notesTitle: '内部备注',
      notesHint: '仅供同事查看，不会发送给客户。',
      noteLabel: '添加备注',
      noteSubmit: '添加备注',
      noteAdded: '备注已添加。',
      entriesEmpty: '暂无。',
      entryEmpty: '请先填写内容。',
      classifyTitle: '分类与责任部门',
      f_department: '责任部门',
      f_nature: '投诉性质',
      departmentWhereReceived: '{unit}（受理单位）',
      nature_service_environment: '服务环境',
      nature_product: '服务产品',
      nature_attitude: '服务态度',
      nature_process: '服务流程',
      nature_other: '其他',
      natureChoose: '未分类',
      classifySubmit: '保存',
      classified: '{id} 的分类已保存。',
      classifyNothing: '请先选择其他性质或部门。',
      escalationsTitle: '升级上报',
      escalationRoute: '{from} → {to}',
      insertTemplate: '插入模板',
      templateHint: '模板内容插入到光标处。使用键盘时，选好后按回车键插入。',
      templateChoose: '请选择模板…',
      templatesOpen: '答复模板',
      templatesTitle: '答复模板',
      templatesIntro: '经审定的措辞，供专员插入回复或处理方案。每条模板都会检查是否含有不得对客户说的话。',
      templatesEmpty: '暂无模板。',
      templateAdd: '新增模板',
      templateLanguage: '语言',
      templateTitleLabel: '标题',
      templateTextLabel: '内容',
      templateSubmit: '添加模板',
      templateDelete: '删除',
      templateDeleteLabel: '删除模板“{title}”',
      templateAdded: '模板已添加。',
      templateRemoved: '模板已删除。',
      templateNeed: '请填写标题和内容。',
      templateMeta: '{language} · {name}',
      alert_escalated: '预警：{id} 已升级上报至{unit}。',
      alert_awaiting_approval: '{id} 的处理方案等待审批。',
      alert_reopened: '预警：{id} 的客户不满意，案件已重新受理。',
      alert_return_visit_due: '{id} 需要回访。',
      alert_acknowledge_due_soon: '预警：{id} 尚无人受理，确认受理期限将至。',
      alert_acknowledge_overdue: '预警：{id} 已超过确认受理期限。',
      alert_investigate_due_soon: '预警：{id} 的调查期限将至。',
      alert_investigate_overdue: '预警：{id} 已超过调查期限。',
      alert_register_missing: '预警：{unit} {month} 的投诉记录表尚未报送总部。',
      alert_hotspot: '预警：投诉热点，{days} 天内关于{what}的投诉已有 {count} 件。',
      alert_login_burst: '预警：账户 {account} 多次登录失败。',
      alert_account_changed: '预警：管理员账户 {account} 已被更改。',
      alertAbout: '关于{what}的预警：{kind}',
      hotspotWhat_product: '产品“{v}”',
      hotspotWhat_unit: '{v}',
      hotspotWhat_staff: '员工 {v}',
      dueFilters: '到期事项',
      dueReturnVisit: '待回访',
      dueFollowUp: '待跟进',
      queueEmptyReturnVisit: '暂无到期的回访。',
      queueEmptyFollowUp: '暂无到期的跟进。',
      rowFollowUp: '跟进 {d}',
      rowReturnVisit: '回访 {t}',
      proposeForApproval: '提交审批…',
      proposeSend: '答复客户…',
      proposeSubmitApproval: '提交审批',
      proposeSubmitSend: '发送答复',
      proposeIntroApproval: '此方案须经主管审批后才会答复客户。',
      proposeIntroSend: '此案件无需审批：答复将直接发给客户。',
      act_follow_up: '设定跟进日期',
      act_flag: '典型案例标记',
      visitTitle: '回访',
      visitsLogged: '回访记录',
      visitLog: '记录回访',
      visitMethod: '回访方式',
      visitAt: '回访时间',
      visitAtHint: '不填即为现在。',
      visitReached: '是否联系上客户？',
      yes: '是',
      no: '否',
      visitScore: '满意度评分',
      visitScoreHint: '1 为非常不满意，5 为非常满意；客户未评分的可不选。',
      visitMeasures: '整改措施',
      measuresDone: '已落实',
      measuresNotDone: '未落实',
      measuresUnchecked: '未核实',
      visitNote: '回访情况',
      visitSubmit: '记录回访',
      visitNeedReached: '请选择是否联系上客户。',
      visitFuture: '回访时间不能晚于现在。',
      visitDue: '回访期限 {t}',
      visitTries: '已尝试 {n} 次',
      vm_phone: '电话',
      vm_sms: '短信',
      vm_email: '电子邮件',
      vm_webchat: '网页在线',
      vm_visit: '上门或当面',
      vm_letter: '信函',
      vm_other: '其他',
      vm_survey: '满意度调查',
      visitReachedYes: '已联系上',
      visitReachedNo: '未联系上',
      visitScoreShown: '评分 {n}/5',
      visitMeasures_true: '整改措施已落实',
      visitMeasures_false: '整改措施未落实',
      closed_as_satisfied: '已结案：客户满意。',
      closed_as_not_reached: '已结案：多次尝试仍未联系上客户（{n} 次）。',
      closed_as_referred: '已结案：二次答复后客户仍不满意，已转介调解或仲裁。',
      visitReopened: '已重新受理：客户不满意。',
      referralTold: '已于 {t} 告知客户调解、仲裁途径：“{text}”',
      referralNotTold: '客户的渠道无法送达：请致电或致函告知客户调解、仲裁途径（告知内容见内部备注）。',
      visitedClosed: '客户满意：{id} 已结案。',
      visitedRetry: '未联系上客户：请于 {t} 起再次回访。',
      visitedNotReached: '{id} 已结案：未能联系上客户。',
      visitedReopened: '客户不满意：{id} 已重新受理，交回 {name} 处理。',
      visitedReferred: '客户仍不满意：{id} 已结案，并转介调解或仲裁。',
      satViaVisit: '回访所得：{name}（{method}）',
      satViaCustomer: '客户通过{channel}自评',
      satVia: '来源：{method}',
      followTitle: '跟进',
      followOn: '跟进日期',
      followNote: '跟进事项',
      followSubmit: '设定跟进日期',
      followNeedDate: '请选择跟进日期。',
      followShown: '跟进日期：{d}',
      followIsDue: '已到期',
      followSetBy: '由 {name} 设定 · {t}',
      followNone: '未设定跟进日期。',
      followSet: '{id} 的跟进日期已设为 {d}。',
      typicalBadge: '典型案例',
      typicalTitle: '典型案例',
      typicalHint: '典型案例将纳入本季度的案例分析。',
      typicalReason: '列为典型案例的原因',
      typicalSubmit: '标为典型案例',
      typicalRemove: '取消典型案例标记',
      typicalNeedReason: '请填写列为典型案例的原因。',
      typicalFlaggedBy: '由 {name} 标记 · {t}',
      typicalFlagged: '{id} 已标为典型案例。',
      typicalRemoved: '{id} 已取消典型案例标记。',
      earlierTitle: '该客户以往投诉',
      earlierNone: '无'
    }
  };

  /* Wording that argues with or blames the customer (complaint-handling rules). */
  var DISCOURAGED = [
    '不可能', '不会有这样的事', '不会有这种事', '责任不在', '没有错', '不是我们的错', '是您自己的', '你自己的问题', '无法受理',
    'impossible', "can't have happened", 'cannot have happened', 'could not have happened',
    'not our fault', 'your fault', 'your own fault', 'not our responsibility', 'you should have'
  ];

  /* ---------- small helpers ---------- */

  function $(id) { return document.getElementById(id); }

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text != null) node.textContent = String(text);
    return node;
  }

  /* A message's files as download links; the server sends them as attachments, never as a page. */
  var FILE_URL = /^attachment:([0-9a-f]{64})$/;
  function appendFiles(li, caseId, attachments) {
    if (!Array.isArray(attachments) || !attachments.length) return;
    var list = el('ul', 'msg-files');
    attachments.forEach(function (a) {
      if (!a || typeof a !== 'object') return;
      var item = el('li');
      var label = str(a.name) || t('file');
      var kept = FILE_URL.exec(str(a.url));
      if (kept) {
        var link = el('a', null, label);
        link.href = '/api/cases/' + encodeURIComponent(caseId) + '/attachments/' + kept[1];
        link.setAttribute('download', label);
        link.rel = 'noopener';
        item.appendChild(link);
      } else {
        item.appendChild(el('span', null, label));
      }
      if (a.size) item.appendChild(el('span', 'hint', ' (' + Math.max(1, Math.round(Number(a.size) / 1024)) + ' KB)'));
      list.appendChild(item);
    });
    li.appendChild(list);
  }

  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }

  function str(v) {
    if (v == null) return '';
    if (typeof v === 'string') return v;
    if (typeof v === 'number' || typeof v === 'boolean') return String(v);
    try { return JSON.stringify(v); } catch (e) { return String(v); }
  }

  function has(obj, key) { return Object.prototype.hasOwnProperty.call(obj, key); }

  function safeLocal() {
    try {
      var s = window.localStorage;
      s.getItem('x');
      return s;
    } catch (e) {
      return null;
    }
  }
  var storage = safeLocal();

  /* ---------- language ---------- */

  function detectLang() {
    var saved = storage ? storage.getItem(LANG_KEY) : null;
    if (saved === 'zh' || saved === 'en') return saved;
    var nav = navigator.language || (navigator.languages && navigator.languages[0]) || 'en';
    return /^zh/i.test(nav) ? 'zh' : 'en';
  }

  var lang = detectLang();

  function t(key, vars) {
    var table = STRINGS[lang] || STRINGS.en;
    var s = has(table, key) ? table[key] : (has(STRINGS.en, key) ? STRINGS.en[key] : key);
    if (vars) {
      s = s.replace(/\{(\w+)\}/g, function (m, name) { return has(vars, name) ? String(vars[name]) : m; });
    }
    return s;
  }

  /* A known code in words, or the raw value when the server sends something new. */
  function word(prefix, value) {
    var v = str(value);
    return has(STRINGS.en, prefix + v) ? t(prefix + v) : v;
  }

  function locale() { return lang === 'zh' ? 'zh-CN' : 'en-GB'; }

  function fmtTime(iso) {
    if (!iso) return '';
    var d = new Date(iso);
    if (isNaN(d.getTime())) return str(iso);
    try {
      return d.toLocaleString(locale(), { year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit' });
    } catch (e) {
      return d.toISOString();
    }
  }

  /* A day in the reader's words ("6 December 2026", "2026年12月6日"): a date alone is that day wherever the
   * reader is; a moment is the day it falls on here. */
  function fmtDate(value) {
    var text = str(value);
    if (!text) return '';
    var day = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
    var d = day ? new Date(+day[1], +day[2] - 1, +day[3]) : new Date(text);
    if (isNaN(d.getTime())) return text;
    try {
      return d.toLocaleDateString(locale(), { year: 'numeric', month: 'long', day: 'numeric' });
    } catch (e) {
      return text;
    }
  }

  /* Today here, as a date field holds it (2026-12-06). */
  function localToday() {
    var d = new Date();
    return d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate());
  }

  function fmtDuration(ms) {
    var mins = Math.floor(Math.abs(ms) / 60000);
    if (mins < 1) return t('lessThanMinute');
    var d = Math.floor(mins / 1440);
    var h = Math.floor((mins % 1440) / 60);
    var m = mins % 60;
    var parts = [];
    if (d) { parts.push(t('dur_d', { n: d })); if (h) parts.push(t('dur_h', { n: h })); }
    else if (h) { parts.push(t('dur_h', { n: h })); if (m) parts.push(t('dur_m', { n: m })); }
    else parts.push(t('dur_m', { n: m }));
    return parts.join(lang === 'zh' ? '' : ' ');
  }

  /* Fills node with a countdown to iso and marks it due-soon / overdue. For the answer deadline the
   * server's verdict (data-due-state; it knows the desk's "due soon" window) sets the colour, until the
   * clock here passes the deadline. */
  function paintDue(node, iso) {
    node.classList.remove('due-soon', 'overdue');
    if (!iso) { node.textContent = t('noDeadline'); return; }
    var due = new Date(iso).getTime();
    if (isNaN(due)) { node.textContent = str(iso); return; }
    var left = due - Date.now();
    var label = node.getAttribute('data-due-label');
    var prefix = label ? t(label) + (lang === 'zh' ? '：' : ': ') : '';
    if (left < 0) {
      node.textContent = prefix + t('overdueBy', { d: fmtDuration(left) });
      node.classList.add('overdue');
    } else {
      node.textContent = prefix + t('dueIn', { d: fmtDuration(left) });
      var state = node.getAttribute('data-due-state');
      if (state ? state !== 'on_time' : left < SOON_MS) node.classList.add('due-soon');
    }
  }

  function refreshCountdowns() {
    var nodes = document.querySelectorAll('[data-due]');
    for (var i = 0; i < nodes.length; i++) paintDue(nodes[i], nodes[i].getAttribute('data-due'));
  }

  function applyLang() {
    document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';
    document.title = t('pageTitle');
    var nodes = document.querySelectorAll('[data-i18n]');
    for (var i = 0; i < nodes.length; i++) nodes[i].textContent = t(nodes[i].getAttribute('data-i18n'));
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
    renderMe();
    renderLive();
    renderUnits();
    renderChannels();
    renderQueue();
    renderTemplateChoices();
    renderTemplateList();
    if (currentCase) renderCase(currentCase);
    checkReply();
    checkAnswer();
  }

  function setLang(next) {
    lang = next === 'zh' ? 'zh' : 'en';
    if (storage) { try { storage.setItem(LANG_KEY, lang); } catch (e) { /* ignore */ } }
    applyLang();
  }

  /* ---------- state ---------- */

  // The session itself is the HttpOnly cookie; the page only ever holds its CSRF token, in memory.
  var csrf = null;
  var me = null;
  var agents = null;
  var agentsSeq = 0;
  var units = null;
  var unitsSeq = 0;
  var channels = [];  // GET /api/channels: every channel adapter, then the ways staff register a complaint
  var registerDirty = false;
  var receivedTouched = false;
  var lateDemanded = false;  // the server asked for a late reason (its clock and the browser's may differ)
  var registerBy = null;  // who typed what the form holds
  var cases = [];
  var queueLoaded = false;
  var currentCase = null;
  var drafts = Object.create(null);
  var es = null;
  var esRetry = null;
  var pollTimer = null;
  var liveState = 'off';
  var queueTimer = null;
  var caseTimer = null;
  var toastTimer = null;
  var queueSeq = 0;
  var caseSeq = 0;
  var opening = 0;  // the request of a case being opened, while it is on its way
  var news = Object.create(null);
  var formDrafts = Object.create(null);
  var templates = null;
  var templatesSeq = 0;
  var dueFilter = '';  // the queue's quick filter: '', 'return_visit' or 'follow_up' (GET /api/cases?due=)
  var seen = Object.create(null);  // per case: what only some answers carry (earlier cases, needs_approval)

  /* ---------- API ---------- */

  function ApiError(status, message) {
    this.status = status;
    this.message = message;
  }

  function api(method, path, body, opts) {
    opts = opts || {};
    var headers = { 'Accept': 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    var sentCsrf = method === 'GET' ? null : csrf;
    if (sentCsrf) headers['X-CSRF-Token'] = sentCsrf;
    return fetch(path, {
      method: method,
      headers: headers,
      body: body !== undefined ? JSON.stringify(body) : undefined,
      credentials: 'same-origin',
      cache: 'no-store'
    }).then(function (res) {
      if (res.status === 204) return null;
      return res.text().then(function (text) {
        var data = null;
        if (text) { try { data = JSON.parse(text); } catch (e) { data = null; } }
        if (res.status === 401 && !opts.allow401) {
          onUnauthorized();
          throw new ApiError(401, t('sessionEnded'));
        }
        if (!res.ok) {
          var msg = '';
          if (data && data.error != null) {
            msg = typeof data.error === 'string' ? data.error : str(data.error.message || data.error);
          }
          var failure = new ApiError(res.status, msg || t('errHttp', { status: res.status }));
          if (res.status === 403 && method !== 'GET' && !opts.retried && path !== '/api/login') {
            return afterRefusal(method, path, body, opts, sentCsrf, failure);
          }
          throw failure;
        }
        return data;
      });
    }, function (e) {
      if (e instanceof ApiError) throw e;
      throw new ApiError(0, t('errNetwork'));
    });
  }

  /* A refused change may only mean the session changed in another tab (a new cookie, so a new CSRF
   * token). Ask who we are now: the same handler with a new token tries once more; anyone else starts
   * over on the console, and the change is not made in their name. Otherwise the refusal stands. */
  function afterRefusal(method, path, body, opts, sentCsrf, failure) {
    return api('GET', '/api/me').then(function (now) {
      if (!now || !now.name) throw failure;
      if (!me || now.name !== me.name) {
        setMe(now);
        showConsole();
        throw new ApiError(403, t('sessionChanged'));
      }
      setMe(now);
      if (!csrf || csrf === sentCsrf) throw failure;
      return api(method, path, body, { allow401: opts.allow401, retried: true });
    }, function () { throw failure; });
  }

  function setMe(data) {
    var changed = !me || !data || me.name !== data.name || me.role !== data.role;
    csrf = data && typeof data.csrf === 'string' ? data.csrf : null;
    me = data ? {
      name: str(data.name),
      role: str(data.role),
      languages: Array.isArray(data.languages) ? data.languages.map(str) : [],
      unit: typeof data.unit === 'string' ? data.unit : ''
    } : null;
    if (changed) agents = null;
  }

  function supervises() {
    return !!(me && (me.role === 'supervisor' || me.role === 'admin'));
  }

  function casePath(id, action) {
    return '/api/cases/' + encodeURIComponent(id) + (action ? '/' + action : '');
  }

  /* ---------- views ---------- */

  function showLogin(message) {
    stopLive();
    setMe(null);
    currentCase = null;
    cases = [];
    queueLoaded = false;
    drafts = Object.create(null);
    news = Object.create(null);
    seen = Object.create(null);
    dueFilter = '';
    paintDueFilters();
    clear($('queue'));
    $('queue-count').textContent = '';
    $('case-content').hidden = true;
    $('case-empty').hidden = false;
    $('console-view').classList.remove('case-open');
    $('reply-input').value = '';
    $('resolve-summary').value = '';
    $('resolve-outcome').value = '';
    hideResolve();
    formDrafts = Object.create(null);
    restoreForms(null);
    Object.keys(ACTION_FORMS).forEach(closeActionForm);
    hideReturn();
    closeTemplates();
    templates = null;
    closeRegister();  // kept for the same handler if only the session ran out (openRegister)
    ['case-error', 'reply-error', 'reply-warning', 'plan-error', 'note-error', 'findings-error', 'classify-error',
      'template-error', 'visit-error', 'follow-error', 'typical-error'].forEach(function (id) { $(id).textContent = ''; });
    $('console-view').hidden = true;
    $('agent-info').hidden = true;
    $('logout-button').hidden = true;
    $('live-status').hidden = true;
    $('login-view').hidden = false;
    var err = $('login-error');
    err.textContent = message || '';
    $('login-password').value = '';
    var name = $('login-name');
    (name.value ? $('login-password') : name).focus();
  }

  function showConsole() {
    $('login-view').hidden = true;
    $('console-view').hidden = false;
    $('logout-button').hidden = false;
    $('live-status').hidden = false;
    renderMe();
    loadQueue();
    loadAgents();
    loadUnits();
    loadChannels();
    loadTemplates();
    startLive();
    var fromHash = decodeURIComponent((location.hash || '').replace(/^#/, ''));
    if (fromHash && /^[\w.:-]{1,80}$/.test(fromHash)) openCase(fromHash, false);
  }

  function onUnauthorized() {
    if (!$('login-view').hidden) return;
    showLogin(t('sessionEnded'));
  }

  function renderMe() {
    var info = $('agent-info');
    if (!me) { info.hidden = true; $('templates-button').hidden = true; return; }
    info.hidden = false;
    $('agent-name').textContent = str(me.name);
    $('agent-role').textContent = word('role_', me.role);
    $('agent-role').hidden = !me.role;
    var desks = (me.languages || []).map(function (l) { return word('lang_', l); });
    $('agent-desks').textContent = desks.length ? t('desks', { langs: desks.join(lang === 'zh' ? '、' : ', ') }) : '';
    $('templates-button').hidden = !supervises();
    if (!supervises()) closeTemplates();
  }

  function toast(message, isError) {
    var box = $('toast');
    box.textContent = message;
    box.classList.toggle('error', !!isError);
    clearTimeout(toastTimer);
    toastTimer = setTimeout(function () { box.textContent = ''; }, isError ? 8000 : 4000);
  }

  /* ---------- login ---------- */

  function onLogin(ev) {
    ev.preventDefault();
    var name = $('login-name').value.trim();
    var password = $('login-password').value;
    var err = $('login-error');
    err.textContent = '';
    if (!name || !password) {
      err.textContent = t('loginMissing');
      return;
    }
    var btn = $('login-submit');
    btn.disabled = true;
    api('POST', '/api/login', { name: name, password: password }, { allow401: true }).then(function (data) {
      // The answer's bearer token is for API clients; this page keeps to the HttpOnly cookie.
      var agent = data && data.agent ? data.agent : { name: name, role: '' };
      setMe({ name: agent.name, role: agent.role, languages: agent.languages, unit: agent.unit, csrf: data && data.csrf });
      $('login-password').value = '';
      showConsole();
    }, function (e) {
      err.textContent = e.status === 401 ? t('loginFailed') : e.message;
      $('login-password').select();
    }).then(function () { btn.disabled = false; });
  }

  function onLogout() {
    resetRegister();  // a complaint half typed is not left for whoever signs in next
    var finish = function () { showLogin(''); };
    api('POST', '/api/logout', {}, { allow401: true }).then(finish, finish);
    if (history.replaceState) history.replaceState(null, '', location.pathname + location.search);
  }

  /* ---------- queue ---------- */

  var PRIORITY_RANK = { urgent: 0, high: 1, normal: 2, low: 3 };
  var DUE_RANK = { overdue: 0, due_soon: 1 };

  function sortCases(list) {
    return list.slice().sort(function (a, b) {
      var pa = has(PRIORITY_RANK, a.priority) ? PRIORITY_RANK[a.priority] : 4;
      var pb = has(PRIORITY_RANK, b.priority) ? PRIORITY_RANK[b.priority] : 4;
      if (pa !== pb) return pa - pb;
      var da = has(DUE_RANK, a.due) ? DUE_RANK[a.due] : 2;
      var db = has(DUE_RANK, b.due) ? DUE_RANK[b.due] : 2;
      if (da !== db) return da - db;
      var ta = Date.parse(a.created_at) || 0;
      var tb = Date.parse(b.created_at) || 0;
      if (ta !== tb) return ta - tb;
      return str(a.id) < str(b.id) ? -1 : 1;
    });
  }

  function loadQueue() {
    var seq = ++queueSeq;
    var status = $('status-filter').value;
    var query = [];
    if (status) query.push('status=' + encodeURIComponent(status));
    if (dueFilter) query.push('due=' + encodeURIComponent(dueFilter));
    var path = '/api/cases' + (query.length ? '?' + query.join('&') : '');
    if (!queueLoaded) $('queue-message').textContent = t('queueLoading');
    return api('GET', path).then(function (data) {
      if (seq !== queueSeq) return;
      cases = data && Array.isArray(data.cases) ? data.cases.filter(function (c) { return c && c.id; }) : [];
      queueLoaded = true;
      renderQueue();
      announceNews();
    }, function (e) {
      if (seq !== queueSeq || e.status === 401) return;
      $('queue-message').textContent = e.message;
    });
  }

  function scheduleQueue() {
    clearTimeout(queueTimer);
    queueTimer = setTimeout(loadQueue, 250);
  }

  function renderQueue() {
    var list = $('queue');
    if (!list || $('console-view').hidden) return;
    var active = document.activeElement;
    var focusedRow = active && active.closest ? active.closest('#queue .case-row') : null;
    var focusedId = focusedRow ? focusedRow.getAttribute('data-case-id') : null;
    clear(list);
    var sorted = sortCases(cases);
    $('queue-count').textContent = queueLoaded ? '(' + sorted.length + ')' : '';
    var empty = dueFilter === 'return_visit' ? 'queueEmptyReturnVisit' : dueFilter === 'follow_up' ? 'queueEmptyFollowUp'
      : 'queueEmpty';
    $('queue-message').textContent = queueLoaded && !sorted.length ? t(empty) : '';
    sorted.forEach(function (c) { list.appendChild(queueRow(c)); });
    if (focusedId) {
      var again = list.querySelector('.case-row[data-case-id="' + cssEscape(focusedId) + '"] .case-row-button');
      if (again) again.focus();
    }
  }

  function cssEscape(s) {
    if (window.CSS && CSS.escape) return CSS.escape(s);
    return String(s).replace(/[^a-zA-Z0-9_-]/g, function (c) { return '\\' + c.charCodeAt(0).toString(16) + ' '; });
  }

  /* The server's verdict on the case's deadline (it knows working days and holidays): a badge, or
   * nothing once the case is answered or closed. ``quiet`` leaves out "on time", for the busy list. */
  function dueBadge(node, due, quiet) {
    var known = due === 'overdue' || due === 'due_soon' || due === 'on_time';
    var shown = known && !(quiet && due === 'on_time');
    node.className = 'badge due-badge' + (shown ? ' due-' + due : '');
    node.textContent = shown ? t('due_' + due) : '';
    return node;
  }

  function queueRow(c) {
    var li = el('li', 'case-row');
    li.setAttribute('data-case-id', str(c.id));
    var selected = currentCase && currentCase.id === c.id;
    if (selected) li.classList.add('selected');

    var btn = el('button', 'case-row-button');
    btn.type = 'button';
    if (selected) btn.setAttribute('aria-current', 'true');

    var top = el('span', 'row-top');
    top.appendChild(el('span', 'row-id', c.id));
    var badges = el('span', 'row-badges');
    if (c.due === 'overdue' || c.due === 'due_soon') badges.appendChild(dueBadge(el('span'), c.due, true));
    if (c.status === 'reopened') badges.appendChild(el('span', 'badge status-badge status-reopened', t('status_reopened')));
    if (c.status === 'awaiting_approval') {
      badges.appendChild(el('span', 'badge status-badge status-awaiting_approval', t('status_awaiting_approval')));
    }
    if (c.incomplete === true) badges.appendChild(el('span', 'badge badge-incomplete', t('incompleteBadge')));
    if (objectOr(c.typical)) badges.appendChild(el('span', 'badge badge-typical', t('typicalBadge')));
    if (c.priority && c.priority !== 'normal') badges.appendChild(el('span', 'badge prio-' + str(c.priority), word('prio_', c.priority)));
    var grade = c.risk && c.risk.grade;
    if (grade) badges.appendChild(el('span', 'badge risk-' + str(grade), word('risk_', grade)));
    if (badges.firstChild) top.appendChild(badges);
    btn.appendChild(top);

    var name = el('span', 'row-name', (c.customer && c.customer.name) ? c.customer.name : t('noName'));
    var product = c.complaint && c.complaint.product;
    if (product) {
      name.appendChild(document.createTextNode(' '));
      name.appendChild(el('span', 'row-product', '· ' + word('prod_', product)));
    }
    btn.appendChild(name);

    var meta = [channelName(c.channel), languageLabel(c), word('status_', c.status)];
    if (c.assignee) meta.push(me && c.assignee === me.name ? t('assignedTo', { name: t('mine') }) : t('assignedTo', { name: str(c.assignee) }));
    btn.appendChild(el('span', 'row-meta', meta.filter(Boolean).join(' · ')));

    var respondBy = c.deadlines && c.deadlines.respond_by;
    if (c.status !== 'answered' && c.status !== 'closed') {
      var due = el('span', 'row-due');
      if (respondBy) due.setAttribute('data-due', str(respondBy));
      if (typeof c.due === 'string') due.setAttribute('data-due-state', c.due);
      paintDue(due, respondBy);
      btn.appendChild(due);
    }
    appendAfterAnswer(btn, c);
    li.appendChild(btn);
    return li;
  }

  /* A row's follow-up date and return visit, marked once they are due. */
  function appendAfterAnswer(btn, c) {
    var follow = objectOr(c.follow_up);
    if (follow && follow.on && c.status !== 'closed') {
      var on = el('span', 'row-note', t('rowFollowUp', { d: fmtDate(follow.on) }));
      if (str(follow.on) <= localToday()) on.classList.add('due-soon');
      btn.appendChild(on);
    }
    var visit = objectOr(c.return_visit);
    if (c.status === 'answered' && visit && visit.due) {
      var due = el('span', 'row-note', t('rowReturnVisit', { t: fmtTime(visit.due) }));
      if (Date.parse(visit.due) <= Date.now()) due.classList.add('overdue');
      btn.appendChild(due);
    }
  }

  /* The quick filters: one at a time, pressed again to show the whole list. */
  function paintDueFilters() {
    var buttons = document.querySelectorAll('[data-due-filter]');
    for (var i = 0; i < buttons.length; i++) {
      buttons[i].setAttribute('aria-pressed', buttons[i].getAttribute('data-due-filter') === dueFilter ? 'true' : 'false');
    }
  }

  function onDueFilter(ev) {
    var which = ev.currentTarget.getAttribute('data-due-filter');
    dueFilter = dueFilter === which ? '' : which;
    paintDueFilters();
    cases = [];
    queueLoaded = false;
    renderQueue();
    loadQueue();
  }

  function onQueueClick(ev) {
    var row = ev.target.closest && ev.target.closest('.case-row');
    if (!row) return;
    openCase(row.getAttribute('data-case-id'), true);
  }

  function takeNext() {
    var btn = $('next-case');
    btn.disabled = true;
    api('POST', '/api/cases/next', {}).then(function (c) {
      if (!c) {
        $('queue-message').textContent = t('queueEmptyNext');
        toast(t('queueEmptyNext'));
        return;
      }
      showCase(c, true);
      toast(t('claimed', { id: c.id }));
      loadQueue();
    }, function (e) {
      if (e.status !== 401) toast(e.message, true);
    }).then(function () { btn.disabled = false; });
  }

  /* ---------- case ---------- */

  function openCase(id, focus) {
    if (!id) return;
    if (focus) {
      $('case-error').textContent = '';
      $('reply-error').textContent = '';
    }
    var seq = ++caseSeq;
    opening = seq;
    return api('GET', casePath(id)).then(function (c) {
      if (opening === seq) opening = 0;
      if (seq !== caseSeq || !c) return;
      showCase(c, focus);
    }, function (e) {
      if (opening === seq) opening = 0;
      if (seq !== caseSeq || e.status === 401) return;
      toast(e.message, true);
    });
  }

  /* The open case again, after a live event; never in place of a case the handler is opening (the case being
   * opened comes as it is now anyway). */
  function refreshCase() {
    if (!currentCase || opening) return;
    var id = currentCase.id;
    var seq = ++caseSeq;
    api('GET', casePath(id)).then(function (c) {
      if (seq !== caseSeq || !c || !currentCase || currentCase.id !== id) return;
      renderCase(c);
    }, function () { /* keep what is on screen */ });
  }

  function scheduleCase() {
    clearTimeout(caseTimer);
    caseTimer = setTimeout(refreshCase, 250);
  }

  function showCase(c, focus) {
    var switching = !currentCase || currentCase.id !== c.id;
    if (switching) {
      if (currentCase) {
        drafts[currentCase.id] = $('reply-input').value;
        saveForms(currentCase.id);
      }
      $('reply-input').value = drafts[c.id] || '';
      restoreForms(c.id);
      Object.keys(ACTION_FORMS).forEach(closeActionForm);
      hideReturn();
      ['case-error', 'reply-error', 'plan-error', 'note-error', 'findings-error', 'classify-error', 'visit-error',
        'follow-error', 'typical-error'].forEach(function (id) { $(id).textContent = ''; });
    }
    renderCase(c);
    // A case from a registration or the queue's "next" comes without the customer's earlier cases: ask for them.
    if (!seen[c.id] || !seen[c.id].earlier) scheduleCase();
    if (switching) renderTemplateChoices();
    $('console-view').classList.add('case-open');
    if (history.replaceState) history.replaceState(null, '', '#' + encodeURIComponent(c.id));
    var rows = document.querySelectorAll('#queue .case-row');
    for (var i = 0; i < rows.length; i++) {
      var on = rows[i].getAttribute('data-case-id') === c.id;
      rows[i].classList.toggle('selected', on);
      var b = rows[i].querySelector('.case-row-button');
      if (b) { if (on) b.setAttribute('aria-current', 'true'); else b.removeAttribute('aria-current'); }
    }
    if (focus) {
      var title = $('case-title');
      title.focus({ preventScroll: true });
      if (window.matchMedia && window.matchMedia('(max-width: 760px)').matches) window.scrollTo(0, 0);
      else $('case-view').scrollIntoView({ block: 'nearest' });
    }
    if (switching) {
      var conv = $('conversation');
      conv.scrollTop = conv.scrollHeight;
    }
    checkReply();
  }

  function closeCaseView() {
    if (currentCase) {
      drafts[currentCase.id] = $('reply-input').value;
      saveForms(currentCase.id);
    }
    currentCase = null;
    $('case-content').hidden = true;
    $('case-empty').hidden = false;
    $('console-view').classList.remove('case-open');
    if (history.replaceState) history.replaceState(null, '', location.pathname + location.search);
    renderQueue();
    var first = document.querySelector('#queue .case-row-button');
    (first || $('next-case')).focus();
  }

  function addField(dl, label, value, opts) {
    opts = opts || {};
    var dt = el('dt', opts.long ? 'long-label' : null, label);
    var text = str(value).trim();
    var dd = el('dd', null, text || t('notGiven'));
    if (!text) dd.classList.add('empty');
    if (opts.long && text) dd.classList.add('long');
    if (opts.mono && text) dd.classList.add('mono');
    dl.appendChild(dt);
    dl.appendChild(dd);
    return dd;
  }

  /* A date and time in the reader's own time and words; a date alone (or the customer's words) as it is. */
  function incidentShown(value) {
    var text = str(value);
    return /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/.test(text) ? fmtTime(text) : text;
  }

  /* The case's language, and its script where it is not the usual one (Traditional Chinese). */
  function languageLabel(c) {
    var language = word('lang_', c.language);
    return c.script === 'Hant' ? t('langScript', { language: language, script: t('script_Hant') }) : language;
  }

  /* The record's gaps, named in the console's language: a case is on the record before it is complete. */
  function renderIncomplete(c) {
    var box = $('case-incomplete');
    var missing = c.incomplete === true && Array.isArray(c.missing) ? c.missing : [];
    box.hidden = !missing.length;
    box.textContent = missing.length
      ? t('incomplete', { list: missing.map(function (m) { return word('m_', m); }).join(lang === 'zh' ? '、' : ', ') })
      : '';
  }

  /* Files of the case itself (a scanned letter) that no message of the conversation already shows. */
  function caseFiles(c) {
    var shown = Object.create(null);
    (Array.isArray(c.messages) ? c.messages : []).forEach(function (m) {
      (m && Array.isArray(m.attachments) ? m.attachments : []).forEach(function (a) {
        if (a && typeof a === 'object') shown[str(a.url) + '\n' + str(a.name)] = true;
      });
    });
    return (Array.isArray(c.attachments) ? c.attachments : []).filter(function (a) {
      return a && typeof a === 'object' && !shown[str(a.url) + '\n' + str(a.name)];
    });
  }

  function renderCase(c) {
    currentCase = c;
    $('case-empty').hidden = true;
    $('case-content').hidden = false;

    $('case-title').textContent = str(c.id);
    var status = $('case-status');
    status.className = 'badge status-badge status-' + str(c.status);
    status.textContent = word('status_', c.status);
    var prio = $('case-priority');
    prio.className = 'badge prio-' + str(c.priority);
    prio.textContent = c.priority ? word('prio_', c.priority) : '';
    var risk = $('case-risk');
    var grade = c.risk && c.risk.grade;
    risk.className = 'badge risk-' + str(grade);
    risk.textContent = grade ? word('risk_', grade) : '';
    dueBadge($('case-due-badge'), c.due, false);

    var sub = [channelName(c.channel), languageLabel(c)];
    var received = c.received_at || c.created_at;
    if (received) sub.push(t('created', { t: fmtTime(received) }));
    sub.push(c.assignee
      ? t('assignedTo', { name: me && c.assignee === me.name ? str(c.assignee) + ' (' + t('mine') + ')' : str(c.assignee) })
      : t('unassigned'));
    $('case-sub').textContent = sub.filter(Boolean).join(' · ');
    var caseDue = $('case-due');
    var respondBy = c.deadlines && c.deadlines.respond_by;
    if (respondBy && c.status !== 'answered' && c.status !== 'closed') {
      caseDue.setAttribute('data-due', str(respondBy));
      caseDue.setAttribute('data-due-label', 'd_respond_by');
      if (typeof c.due === 'string') caseDue.setAttribute('data-due-state', c.due);
      else caseDue.removeAttribute('data-due-state');
      paintDue(caseDue, respondBy);
    } else {
      caseDue.removeAttribute('data-due');
      caseDue.classList.remove('due-soon', 'overdue');
      caseDue.textContent = '';
    }
    renderSatisfaction(c);
    renderIncomplete(c);

    // Complaint record
    var rec = $('complaint-record');
    clear(rec);
    var cp = c.complaint || {};
    addField(rec, t('f_unit'), c.unit ? unitName(c.unit) : '');
    if (c.registered_by) addField(rec, t('f_registered_by'), c.registered_by);
    addField(rec, t('f_product'), cp.product ? word('prod_', cp.product) : '');
    addField(rec, t('f_incident_time'), incidentShown(cp.incident_time));
    addField(rec, t('f_place'), cp.place);
    addField(rec, t('f_people_involved'), cp.people_involved);
    addField(rec, t('f_description'), cp.description, { long: true });
    addField(rec, t('f_desired_resolution'), cp.desired_resolution, { long: true });
    addField(rec, t('f_preliminary_opinion'), c.preliminary_opinion, { long: true });
    var files = caseFiles(c);
    if (files.length) {
      rec.appendChild(el('dt', 'long-label', t('f_files')));
      var filesCell = el('dd', 'long');
      appendFiles(filesCell, c.id, files);
      rec.appendChild(filesCell);
    }

    // Customer
    var cu = c.customer || {};
    var cust = $('customer-record');
    clear(cust);
    addField(cust, t('f_name'), cu.name);
    addField(cust, t('f_phone'), cu.phone, { mono: true });
    addField(cust, t('f_email'), cu.email);
    addField(cust, t('f_account_id'), cu.account_id, { mono: true });
    if (cu.contact_declined === true) addField(cust, t('f_contact'), t('contactDeclined'));

    // Deadlines
    var dl = $('deadlines');
    clear(dl);
    if (received) {
      dl.appendChild(el('dt', null, t('d_received_at')));
      var receivedCell = el('dd');
      var receivedTime = el('time', null, fmtTime(received));
      receivedTime.setAttribute('datetime', str(received));
      receivedCell.appendChild(receivedTime);
      dl.appendChild(receivedCell);
    }
    var dd = c.deadlines || {};
    ['acknowledge_by', 'investigate_by', 'respond_by'].forEach(function (k) {
      dl.appendChild(el('dt', null, t('d_' + k)));
      var cell = el('dd');
      if (dd[k]) {
        cell.appendChild(el('span', null, fmtTime(dd[k])));
        if (c.status !== 'closed' && c.status !== 'answered') {
          cell.appendChild(document.createElement('br'));
          var due = el('span', 'due');
          due.setAttribute('data-due', str(dd[k]));
          if (k === 'respond_by' && typeof c.due === 'string') due.setAttribute('data-due-state', c.due);
          paintDue(due, dd[k]);
          cell.appendChild(due);
        }
      } else {
        cell.textContent = t('noDeadline');
        cell.classList.add('empty');
      }
      dl.appendChild(cell);
    });

    // Risk
    var rd = $('risk-detail');
    clear(rd);
    var r = c.risk || {};
    var line = el('div', 'risk-line');
    if (r.grade) line.appendChild(el('span', 'badge risk-' + str(r.grade), word('risk_', r.grade)));
    if (r.score != null) line.appendChild(el('span', 'risk-score', t('riskScore', { n: str(r.score) })));
    rd.appendChild(line);
    if (Array.isArray(r.reasons) && r.reasons.length) {
      var ul = el('ul', 'risk-reasons');
      r.reasons.forEach(function (reason) { ul.appendChild(el('li', null, str(reason))); });
      rd.appendChild(ul);
    } else {
      rd.appendChild(el('p', 'hint', t('noReasons')));
    }
    if (Array.isArray(r.rules) && r.rules.length) {
      rd.appendChild(el('p', 'risk-rules', t('riskRules', { list: r.rules.map(str).join(', ') })));
    }

    // Conversation
    var conv = $('conversation');
    var stick = conv.scrollHeight - conv.scrollTop - conv.clientHeight < 60;
    clear(conv);
    (Array.isArray(c.messages) ? c.messages : []).forEach(function (m) {
      if (!m) return;
      var from = ['customer', 'bot', 'agent', 'system'].indexOf(m.from) >= 0 ? m.from : 'system';
      var li = el('li', 'msg msg-' + from);
      var meta = el('div', 'msg-meta');
      meta.appendChild(el('span', 'msg-from', t('from_' + from)));
      if (m.at) {
        var time = el('time', null, fmtTime(m.at));
        time.setAttribute('datetime', str(m.at));
        meta.appendChild(time);
      }
      if (m.channel && m.channel !== c.channel) meta.appendChild(el('span', null, channelName(m.channel)));
      li.appendChild(meta);
      li.appendChild(el('p', 'msg-text', str(m.text)));
      appendFiles(li, c.id, m.attachments);
      conv.appendChild(li);
    });
    if (stick) conv.scrollTop = conv.scrollHeight;

    // Audit trail, newest first
    var audit = $('audit-trail');
    clear(audit);
    var events = Array.isArray(c.events) ? c.events.slice() : [];
    events.reverse().forEach(function (ev) {
      if (!ev) return;
      var li = el('li');
      var time = el('time', 'audit-time', fmtTime(ev.at));
      if (ev.at) time.setAttribute('datetime', str(ev.at));
      li.appendChild(time);
      var action = el('span', 'audit-action', word('act_', ev.action));
      if (ev.action != null) action.title = str(ev.action);
      li.appendChild(action);
      if (ev.actor) {
        li.appendChild(document.createTextNode(' · '));
        li.appendChild(el('span', 'audit-actor', str(ev.actor)));
      }
      if (ev.detail != null && ev.detail !== '') li.appendChild(el('span', 'audit-detail', str(ev.detail)));
      audit.appendChild(li);
    });
    if (!events.length) audit.appendChild(el('li', 'hint', '—'));

    var hint = isStaffChannel(c.channel) ? 'replyHintStaff' : 'replyHint';
    $('reply-hint').textContent = t(hint, { channel: channelName(c.channel), language: languageLabel(c) });
    renderHandling(c);
    renderAfterAnswer(c);
    updateButtons(c);
  }

  function updateButtons(c) {
    var mine = !!(me && c.assignee && c.assignee === me.name);
    var supervisor = supervises();
    var closed = c.status === 'closed';
    // As the lifecycle allows (handoff/lifecycle.py): a waiting case is claimed; its holder answers or lets it go.
    var waiting = c.status === 'queued' || c.status === 'reopened';
    var holding = c.status === 'claimed' && mine;
    $('claim-button').disabled = !waiting;
    $('release-button').disabled = c.status !== 'claimed' || !(mine || supervisor);
    $('resolve-button').disabled = !holding;
    $('close-button').disabled = closed;
    $('reply-send').disabled = closed;
    $('reply-input').disabled = closed;
    if ($('resolve-button').disabled) hideResolve();
    updateHandlingButtons(c, holding, closed);
    renderReassign(c, supervisor, closed);
  }

  function renderSatisfaction(c) {
    var sat = c.satisfaction;
    var survey = c.survey;
    var box = $('case-satisfaction');
    clear(box);
    box.removeAttribute('data-score');
    box.classList.remove('unhappy');
    var score = sat && typeof sat === 'object' ? Number(sat.score) : NaN;
    if (!(score >= 1 && score <= 5)) {
      var note = survey === 'asked' ? 'surveyAsked' : survey === 'undeliverable' ? 'surveyUndeliverable' : null;
      box.hidden = !note;
      if (note) box.appendChild(el('span', 'sat-note', t(note)));
      return;
    }
    box.hidden = false;
    box.setAttribute('data-score', String(score));
    box.classList.toggle('unhappy', score <= 2);
    box.appendChild(el('span', 'sat-score', t('satisfaction', { n: score })));
    var source = satisfactionSource(c, sat);
    if (source) {
      box.appendChild(document.createTextNode(' · '));
      box.appendChild(el('span', 'sat-source', source));
    }
    if (sat.at) {
      var at = el('time', 'sat-at', t('satisfactionAt', { t: fmtTime(sat.at) }));
      at.setAttribute('datetime', str(sat.at));
      box.appendChild(document.createTextNode(' · '));
      box.appendChild(at);
    }
  }

  /* ---------- reassign (supervisors and admins) ---------- */

  function loadAgents() {
    if (!supervises()) { agents = null; return Promise.resolve(); }
    var seq = ++agentsSeq;
    return api('GET', '/api/agents').then(function (data) {
      if (seq !== agentsSeq) return;
      agents = data && Array.isArray(data.agents) ? data.agents.filter(function (a) { return a && a.name; }) : [];
      if (currentCase) renderReassign(currentCase, supervises(), currentCase.status === 'closed');
    }, function (e) {
      if (seq !== agentsSeq || e.status === 401) return;
      agents = null;
      toast(e.message, true);
    });
  }

  /* Only handlers who read the case's language: anyone else would not even see it in their queue. */
  function canTake(agent, c) {
    if (agent.role === 'supervisor' || agent.role === 'admin') return true;
    return !Array.isArray(agent.languages) || agent.languages.indexOf(c.language) >= 0;
  }

  function renderReassign(c, supervisor, closed) {
    var form = $('reassign-form');
    form.hidden = !supervisor;
    if (!supervisor) return;
    var select = $('reassign-agent');
    var keep = select.value;
    while (select.options.length > 1) select.remove(1);
    (agents || []).forEach(function (a) {
      if (!canTake(a, c) || a.name === c.assignee) return;
      var langs = (Array.isArray(a.languages) ? a.languages : []).map(function (l) { return word('lang_', l); });
      var label = str(a.name) + ' (' + [word('role_', a.role)].concat(langs).filter(Boolean).join(' · ') + ')';
      var option = el('option', null, label);
      option.value = str(a.name);
      select.appendChild(option);
    });
    select.value = keep;
    if (select.value !== keep) select.value = '';
    select.disabled = closed;
    $('reassign-submit').disabled = closed;
  }

  function onReassign(ev) {
    ev.preventDefault();
    var select = $('reassign-agent');
    var name = select.value;
    if (!name) {
      $('case-error').textContent = t('reassignNeedAgent');
      select.focus();
      return;
    }
    var id = currentCase && currentCase.id;
    caseAction('reassign', { agent: name }, $('reassign-submit'), null).then(function () {
      select.value = '';
      toast(t('reassigned', { id: id, name: name }));
    }, ignore);
  }

  function busy(btn, on) {
    btn.setAttribute('aria-busy', on ? 'true' : 'false');
    btn.disabled = !!on;
  }

  function caseAction(action, body, btn, doneKey, errEl) {
    if (!currentCase) return Promise.resolve(null);
    var id = currentCase.id;
    var err = errEl || $('case-error');
    err.textContent = '';
    busy(btn, true);
    function settle() {
      busy(btn, false);
      if (currentCase) updateButtons(currentCase);
    }
    return api('POST', casePath(id, action), body === undefined ? {} : body).then(function (c) {
      settle();
      if (c && c.id) {
        if (currentCase && currentCase.id === c.id) renderCase(c);
      } else {
        refreshCase();
      }
      if (doneKey) toast(t(doneKey, { id: id }));
      loadQueue();
      return c;
    }, function (e) {
      settle();
      if (e.status !== 401) err.textContent = e.message;
      throw e;
    });
  }

  function ignore() { /* error already shown */ }

  function showResolve() {
    openActionForm('resolve', 'resolve-outcome');
  }

  function hideResolve() {
    closeActionForm('resolve');
  }

  function onResolveSubmit(ev) {
    ev.preventDefault();
    var outcome = $('resolve-outcome').value;
    var summary = $('resolve-summary').value.trim();
    var err = $('resolve-error');
    $('resolve-outcome').removeAttribute('aria-invalid');
    $('resolve-summary').removeAttribute('aria-invalid');
    if (!outcome) {
      err.textContent = t('resolveNeedOutcome');
      $('resolve-outcome').setAttribute('aria-invalid', 'true');
      $('resolve-outcome').focus();
      return;
    }
    if (!summary) {
      err.textContent = t('resolveNeedSummary');
      $('resolve-summary').setAttribute('aria-invalid', 'true');
      $('resolve-summary').focus();
      return;
    }
    err.textContent = '';
    var btn = $('resolve-submit');
    caseAction('resolve', { summary: summary, outcome: outcome }, btn, 'resolved', err).then(function () {
      $('resolve-summary').value = '';
      $('resolve-outcome').value = '';
      hideResolve();
      $('resolve-button').focus();
    }, function (e) {
      // The approval policy asks a supervisor to approve this case's answer: the plan is the way.
      if (e.status === 409 && /approv/i.test(e.message || '')) {
        err.textContent = t('resolveNeedsApproval');
        $('resolve-to-propose').hidden = false;
        $('resolve-to-propose').focus();
      }
    });
  }

  /* ---------- handling: classification, notes, findings, the plan and its approval, escalation ---------- */

  var NATURES = ['service_environment', 'product', 'attitude', 'process', 'other'];
  /* The action forms under the case's buttons: one is open at a time. */
  var ACTION_FORMS = { resolve: 'resolve-button', propose: 'propose-button', escalate: 'escalate-button' };
  /* What a handler typed into a case's forms, kept per case like the reply (drafts). */
  var DRAFT_FIELDS = ['note-input', 'findings-input', 'propose-answer', 'propose-outcome', 'propose-measures',
    'propose-amount', 'propose-currency', 'propose-staff', 'propose-staff-action', 'escalate-reason', 'return-reason',
    'visit-method', 'visit-at', 'visit-note', 'follow-on', 'follow-note', 'typical-reason'];
  var DRAFT_DEFAULTS = { 'propose-currency': 'CNY', 'visit-method': 'phone' };
  /* The return visit's choices, kept per case with the drafts: [radio group name, value when none is chosen]. */
  var DRAFT_CHOICES = [['visit-reached', null], ['visit-score', null], ['visit-measures', '']];

  function objects(v) {
    return Array.isArray(v) ? v.filter(function (x) { return x && typeof x === 'object'; }) : [];
  }

  function objectOr(v) { return v && typeof v === 'object' && !Array.isArray(v) ? v : null; }

  function byAt(name, at) { return t('byAt', { name: str(name), t: fmtTime(at) }); }

  function saveForms(id) {
    if (!id) return;
    var kept = { pay: $('propose-comp-pay').checked };
    DRAFT_FIELDS.forEach(function (f) { kept[f] = $(f).value; });
    DRAFT_CHOICES.forEach(function (choice) { kept[choice[0]] = chosen(choice[0]); });
    formDrafts[id] = kept;
  }

  function restoreForms(id) {
    var kept = (id && formDrafts[id]) || {};
    DRAFT_FIELDS.forEach(function (f) {
      $(f).value = has(kept, f) ? kept[f] : (has(DRAFT_DEFAULTS, f) ? DRAFT_DEFAULTS[f] : '');
    });
    DRAFT_CHOICES.forEach(function (choice) { choose(choice[0], has(kept, choice[0]) ? kept[choice[0]] : choice[1]); });
    $('propose-comp-pay').checked = !!kept.pay;
    $('propose-comp-none').checked = !kept.pay;
    showReachedFields();
    checkAnswer();
  }

  /* The value of the radio button chosen in a group, or null. */
  function chosen(name) {
    var radio = document.querySelector('input[type="radio"][name="' + name + '"]:checked');
    return radio ? radio.value : null;
  }

  function choose(name, value) {
    var radios = document.querySelectorAll('input[type="radio"][name="' + name + '"]');
    for (var i = 0; i < radios.length; i++) radios[i].checked = value !== null && radios[i].value === value;
  }

  function clearFormErrors(form) {
    var errors = form.querySelectorAll('.form-error');
    for (var i = 0; i < errors.length; i++) errors[i].textContent = '';
    var marked = form.querySelectorAll('[aria-invalid="true"]');
    for (i = 0; i < marked.length; i++) marked[i].removeAttribute('aria-invalid');
  }

  /* Opens one of the action forms (resolve, propose, escalate) and closes the others. */
  function openActionForm(name, focusId) {
    Object.keys(ACTION_FORMS).forEach(function (other) {
      if (other !== name) closeActionForm(other);
    });
    var form = $(name + '-form');
    form.hidden = false;
    clearFormErrors(form);
    $(ACTION_FORMS[name]).setAttribute('aria-expanded', 'true');
    if (focusId) $(focusId).focus();
  }

  function closeActionForm(name) {
    var form = $(name + '-form');
    if (!form) return;
    form.hidden = true;
    clearFormErrors(form);
    $(ACTION_FORMS[name]).setAttribute('aria-expanded', 'false');
    if (name === 'resolve') $('resolve-to-propose').hidden = true;
  }

  function toggleActionForm(name, focusId) {
    if ($(name + '-form').hidden) openActionForm(name, focusId);
    else closeActionForm(name);
  }

  /* A field the page or the server found wrong: the message beside the form, the field marked and focused. */
  function markField(errEl, id, message) {
    errEl.textContent = message;
    if (!id) return;
    var input = $(id);
    input.setAttribute('aria-invalid', 'true');
    input.setAttribute('aria-errormessage', errEl.id);
    input.focus();
  }

  function renderEntries(list, entries) {
    clear(list);
    entries.forEach(function (e) {
      var li = el('li', 'entry');
      var meta = el('div', 'entry-meta');
      meta.appendChild(el('span', 'entry-by', e.by === 'system' ? t('from_system') : str(e.by)));
      if (e.at) {
        var time = el('time', null, fmtTime(e.at));
        time.setAttribute('datetime', str(e.at));
        meta.appendChild(time);
      }
      li.appendChild(meta);
      li.appendChild(el('p', 'entry-text', str(e.text)));
      list.appendChild(li);
    });
    if (!entries.length) list.appendChild(el('li', 'hint entry-empty', t('entriesEmpty')));
  }

  /* Options of a select, keeping what the handler chose unless the case's own value changed under it. */
  function fillSelect(select, options, caseId, current) {
    var untouched = select.getAttribute('data-case') !== caseId || select.value === select.getAttribute('data-value');
    var keep = select.value;
    clear(select);
    options.forEach(function (o) {
      var option = el('option', null, o[1]);
      option.value = o[0];
      select.appendChild(option);
    });
    select.value = untouched ? current : keep;
    if (select.selectedIndex < 0) select.value = current;
    select.setAttribute('data-case', caseId);
    select.setAttribute('data-value', current);
  }

  function unitById(id) {
    return (units || []).filter(function (u) { return u.id === id; })[0] || null;
  }

  /* Where the case is handled now: its department, else the unit that received it. */
  function handledBy(c) { return str(c.department || c.unit || defaultUnit()); }

  /* The units above the one handling the case, nearest first: where it can be escalated. */
  function unitsAbove(c) {
    var found = [];
    var here = unitById(handledBy(c));
    var next = here ? here.parent : null;
    while (next && unitById(next) && found.indexOf(next) < 0) {
      found.push(next);
      next = unitById(next).parent;
    }
    return found;
  }

  /* Whether a unit is the handler's own or under it (else its cases leave the handler's console). */
  function inMyUnits(id) {
    if (!me || !me.unit) return true;
    var seen = [];
    var unit = unitById(id);
    while (unit && seen.indexOf(unit.id) < 0) {
      if (unit.id === me.unit) return true;
      seen.push(unit.id);
      unit = unit.parent ? unitById(unit.parent) : null;
    }
    return false;
  }

  function renderClassification(c) {
    var rec = $('classify-record');
    clear(rec);
    var where = c.department ? unitName(c.department) : t('departmentWhereReceived', { unit: unitName(handledBy(c)) });
    addField(rec, t('f_department'), where);
    addField(rec, t('f_nature'), c.nature ? word('nature_', c.nature) : '');
    var natures = NATURES.map(function (n) { return [n, t('nature_' + n)]; });
    if (!c.nature) natures.unshift(['', t('natureChoose')]);
    fillSelect($('classify-nature'), natures, str(c.id), str(c.nature || ''));
    var departments = (units || []).map(function (u) { return [str(u.id), unitName(u.id)]; });
    fillSelect($('classify-department'), departments, str(c.id), handledBy(c));
  }

  function renderFindingsDue(c) {
    var box = $('findings-due');
    clear(box);
    var by = c.deadlines && c.deadlines.investigate_by;
    if (!by) return;
    box.appendChild(document.createTextNode(t('findingsDue', { t: fmtTime(by) })));
    if (c.status === 'answered' || c.status === 'closed') return;
    box.appendChild(document.createTextNode(' · '));
    var due = el('span', 'due');
    due.setAttribute('data-due', str(by));
    paintDue(due, by);
    box.appendChild(due);
  }

  function money(comp) {
    comp = objectOr(comp);
    if (!comp || comp.amount == null) return t('compensationNone');
    var amount = Number(comp.amount);
    var shown = isNaN(amount) ? str(comp.amount)
      : amount.toLocaleString(locale(), { minimumFractionDigits: 2, maximumFractionDigits: 2 });
    return shown + ' ' + str(comp.currency);
  }

  function responsibleShown(who) {
    who = objectOr(who);
    return who ? t('responsibleShown', { staff: str(who.staff), action: str(who.action) }) : '';
  }

  function planFields(dl, plan) {
    addField(dl, t('p_answer'), plan.answer, { long: true });
    addField(dl, t('p_outcome'), plan.outcome ? word('outcome_', plan.outcome) : '');
    addField(dl, t('p_measures'), plan.measures, { long: true });
    addField(dl, t('p_compensation'), money(plan.compensation));
    addField(dl, t('p_responsible'), responsibleShown(plan.responsible));
    addField(dl, t('p_by'), plan.by ? byAt(plan.by, plan.at) : '');
  }

  function planState(c, plan, approval) {
    if (c.status === 'awaiting_approval') return ['planAwaiting', 'plan-awaiting', {}];
    if (approval && approval.decision === 'approved') {
      return ['planApproved', 'plan-approved', { name: str(approval.by), t: fmtTime(approval.at) }];
    }
    if (approval && approval.decision === 'returned') {
      return ['planReturned', 'plan-returned', { name: str(approval.by), reason: str(approval.reason) }];
    }
    if (plan && ['answered', 'closed', 'reopened'].indexOf(c.status) >= 0) return ['planSent', 'plan-approved', {}];
    return null;
  }

  function renderPlan(c) {
    var plan = objectOr(c.proposal);
    var approval = objectOr(c.approval);
    var returned = objects(c.returned_plans);
    var resolution = plan ? null : objectOr(c.resolution);
    $('plan-panel').hidden = !plan && !returned.length && !resolution;
    var stateBox = $('plan-state');
    var state = plan ? planState(c, plan, approval) : (resolution ? ['resolutionShown', 'plan-approved', {}] : null);
    stateBox.className = 'plan-state' + (state ? ' ' + state[1] : '');
    stateBox.textContent = state ? t(state[0], state[2]) : '';
    var rec = $('plan-record');
    clear(rec);
    if (plan) planFields(rec, plan);
    else if (resolution) {
      addField(rec, t('p_answer'), resolution.summary, { long: true });
      addField(rec, t('p_outcome'), resolution.outcome ? word('outcome_', resolution.outcome) : '');
      addField(rec, t('p_resolved_by'), resolution.by);
    }

    var awaiting = c.status === 'awaiting_approval' && !!plan;
    var own = !!(plan && me && plan.by === me.name);
    var mayDecide = awaiting && supervises() && !own;
    $('approval-actions').hidden = !mayDecide;
    $('own-plan').hidden = !(awaiting && supervises() && own);
    if (!mayDecide) hideReturn();

    var details = $('returned-plans');
    details.hidden = !returned.length;
    $('returned-summary').textContent = t('returnedPlans', { n: returned.length });
    var list = $('returned-list');
    clear(list);
    returned.slice().reverse().forEach(function (old) {
      var li = el('li', 'entry');
      li.appendChild(el('p', 'entry-text plan-returned', t('returnedBy', { name: str(old.returned_by), reason: str(old.reason) })));
      var dl = el('dl', 'record');
      planFields(dl, old);
      li.appendChild(dl);
      list.appendChild(li);
    });
  }

  function renderEscalations(c) {
    var escalations = objects(c.escalations);
    $('escalations-panel').hidden = !escalations.length;
    var list = $('escalations-list');
    clear(list);
    escalations.slice().reverse().forEach(function (e) {
      var li = el('li', 'entry');
      var meta = el('div', 'entry-meta');
      meta.appendChild(el('span', 'entry-by', t('escalationRoute', { from: unitName(str(e.from)), to: unitName(str(e.to)) })));
      meta.appendChild(el('span', null, byAt(e.by, e.at)));
      li.appendChild(meta);
      li.appendChild(el('p', 'entry-text', str(e.reason)));
      list.appendChild(li);
    });
  }

  function renderEscalateChoices(c) {
    var above = unitsAbove(c);
    fillSelect($('escalate-to'), above.map(function (id) { return [id, unitName(id)]; }), str(c.id), above[0] || '');
    return above;
  }

  function renderHandling(c) {
    renderClassification(c);
    renderEntries($('notes-list'), objects(c.notes));
    renderEntries($('findings-list'), objects(c.findings));
    renderFindingsDue(c);
    renderPlan(c);
    renderEscalations(c);
    renderEscalateChoices(c);
  }

  function updateHandlingButtons(c, holding, closed) {
    $('propose-button').disabled = !holding;
    var movable = ['queued', 'reopened', 'claimed', 'awaiting_approval'].indexOf(c.status) >= 0;
    $('escalate-button').disabled = !movable || !unitsAbove(c).length;
    // Findings are the holder's, recorded while they work the case.
    $('findings-submit').disabled = !holding;
    $('findings-input').disabled = !holding;
    $('findings-holder').hidden = holding || closed;
    $('classify-submit').disabled = closed;
    $('classify-nature').disabled = closed;
    $('classify-department').disabled = closed;
    if ($('propose-button').disabled) closeActionForm('propose');
    if ($('escalate-button').disabled) closeActionForm('escalate');
  }

  function onClassify(ev) {
    ev.preventDefault();
    var c = currentCase;
    if (!c) return;
    var body = {};
    var nature = $('classify-nature').value;
    var department = $('classify-department').value;
    if (nature && nature !== str(c.nature || '')) body.nature = nature;
    if (department && department !== handledBy(c)) body.department = department;
    var err = $('classify-error');
    if (!Object.keys(body).length) { err.textContent = t('classifyNothing'); return; }
    caseAction('classify', body, $('classify-submit'), 'classified', err).then(function (done) {
      if (body.department && !inMyUnits(body.department) && done && currentCase && currentCase.id === done.id) {
        closeCaseView();  // it now waits in a unit this handler does not see
      }
    }, ignore);
  }

  /* A note or findings: what was typed goes on the case, and the box empties once it is there. */
  function entrySubmitter(action, inputId, errId, buttonId, doneKey) {
    return function (ev) {
      ev.preventDefault();
      var input = $(inputId);
      var err = $(errId);
      var text = input.value.trim();
      input.removeAttribute('aria-invalid');
      if (!text) { markField(err, inputId, t('entryEmpty')); return; }
      var id = currentCase && currentCase.id;
      caseAction(action, { text: text }, $(buttonId), doneKey, err).then(function () {
        if (currentCase && currentCase.id === id) input.value = '';
        if (formDrafts[id]) formDrafts[id][inputId] = '';
      }, ignore);
    };
  }

  /* ---------- the plan ---------- */

  /* A returned plan comes back into the empty form, for its proposer to change rather than retype. */
  function fillFromReturnedPlan(c) {
    var plan = objectOr(c.proposal);
    var approval = objectOr(c.approval);
    if (!plan || !approval || approval.decision !== 'returned') return;
    var empty = DRAFT_FIELDS.filter(function (f) { return /^propose-/.test(f) && f !== 'propose-currency'; })
      .every(function (f) { return !$(f).value; });
    if (!empty) return;
    $('propose-answer').value = str(plan.answer);
    $('propose-outcome').value = str(plan.outcome);
    $('propose-measures').value = str(plan.measures);
    var comp = objectOr(plan.compensation);
    $('propose-comp-pay').checked = !!comp;
    $('propose-comp-none').checked = !comp;
    $('propose-amount').value = comp && comp.amount != null ? str(comp.amount) : '';
    $('propose-currency').value = comp && comp.currency ? str(comp.currency) : 'CNY';
    var who = objectOr(plan.responsible);
    $('propose-staff').value = who ? str(who.staff) : '';
    $('propose-staff-action').value = who ? str(who.action) : '';
    checkAnswer();
  }

  function openPropose() {
    if ($('propose-form').hidden && currentCase) fillFromReturnedPlan(currentCase);
    toggleActionForm('propose', 'propose-answer');
  }

  /* The plan as the API takes it, or the first thing the page can tell is wrong: [body, [field id, key]]. */
  function planFromForm() {
    var answer = $('propose-answer').value.trim();
    var outcome = $('propose-outcome').value;
    if (!answer) return [null, ['propose-answer', 'proposeNeedAnswer']];
    if (!outcome) return [null, ['propose-outcome', 'resolveNeedOutcome']];
    var body = { answer: answer, outcome: outcome, measures: $('propose-measures').value.trim() || null,
      compensation: null, responsible: null };
    if ($('propose-comp-pay').checked) {
      var raw = $('propose-amount').value.trim();
      var amount = Number(raw);
      if (!raw || !isFinite(amount) || amount < 0) return [null, ['propose-amount', 'proposeNeedAmount']];
      var currency = $('propose-currency').value.trim().toUpperCase();
      if (!/^[A-Z]{3}$/.test(currency)) return [null, ['propose-currency', 'proposeNeedCurrency']];
      body.compensation = { amount: amount, currency: currency };
    }
    var staff = $('propose-staff').value.trim();
    var action = $('propose-staff-action').value.trim();
    if (staff || action) {
      if (!staff) return [null, ['propose-staff', 'proposeNeedStaff']];
      if (!action) return [null, ['propose-staff-action', 'proposeNeedStaff']];
      body.responsible = { staff: staff, action: action };
    }
    return [body, null];
  }

  /* Where the server's refusal "'compensation.currency': …" points. */
  var PLAN_FIELDS = {
    answer: 'propose-answer', outcome: 'propose-outcome', measures: 'propose-measures',
    compensation: 'propose-amount', 'compensation.amount': 'propose-amount',
    'compensation.currency': 'propose-currency', responsible: 'propose-staff',
    'responsible.staff': 'propose-staff', 'responsible.action': 'propose-staff-action'
  };

  function onProposeSubmit(ev) {
    ev.preventDefault();
    var form = $('propose-form');
    var err = $('propose-error');
    clearFormErrors(form);
    var made = planFromForm();
    if (made[1]) { markField(err, made[1][0], t(made[1][1])); return; }
    var id = currentCase && currentCase.id;
    caseAction('propose', made[0], $('propose-submit'), null, err).then(function (c) {
      toast(t(c && c.status === 'awaiting_approval' ? 'proposedForApproval' : 'proposedSent', { id: id }));
      if (currentCase && currentCase.id === id) {
        clearPlan();
        closeActionForm('propose');
        $('propose-button').focus();
      }
    }, function (e) {
      var named = /^'([\w.]+)'/.exec(e.message || '');
      if (named && has(PLAN_FIELDS, named[1])) markField(err, PLAN_FIELDS[named[1]], e.message);
    });
  }

  /* Empties the plan's fields (and only those: a note or findings being typed stay). */
  function clearPlan() {
    DRAFT_FIELDS.forEach(function (f) {
      if (/^propose-/.test(f)) $(f).value = f === 'propose-currency' ? 'CNY' : '';
    });
    $('propose-comp-pay').checked = false;
    $('propose-comp-none').checked = true;
    checkAnswer();
  }

  function onPayChange() {
    $('propose-comp-pay').checked = true;
    $('propose-comp-none').checked = false;
  }

  /* The resolve form's answer goes into the plan: for a case whose answer a supervisor approves. */
  function resolveToPropose() {
    var summary = $('resolve-summary').value.trim();
    var outcome = $('resolve-outcome').value;
    if (summary && !$('propose-answer').value.trim()) $('propose-answer').value = summary;
    if (outcome && !$('propose-outcome').value) $('propose-outcome').value = outcome;
    $('resolve-summary').value = '';
    $('resolve-outcome').value = '';
    checkAnswer();
    openActionForm('propose', 'propose-answer');
  }

  function checkAnswer() {
    var hit = discouraged($('propose-answer').value);
    $('propose-warning').textContent = hit ? t('replyWarning', { w: hit }) : '';
  }

  /* ---------- approval (supervisors) ---------- */

  function hideReturn() {
    $('return-form').hidden = true;
    $('return-button').setAttribute('aria-expanded', 'false');
    $('return-reason').removeAttribute('aria-invalid');
  }

  function onApprove() {
    caseAction('approve', {}, $('approve-button'), 'approved', $('plan-error')).catch(ignore);
  }

  function onReturnSubmit(ev) {
    ev.preventDefault();
    var err = $('plan-error');
    var reason = $('return-reason').value.trim();
    $('return-reason').removeAttribute('aria-invalid');
    if (!reason) { markField(err, 'return-reason', t('returnNeedReason')); return; }
    var id = currentCase && currentCase.id;
    var by = currentCase && currentCase.proposal ? str(currentCase.proposal.by) : '';
    caseAction('return', { reason: reason }, $('return-submit'), null, err).then(function () {
      toast(t('returnedTo', { id: id, name: by }));
      if (formDrafts[id]) formDrafts[id]['return-reason'] = '';
      $('return-reason').value = '';
      hideReturn();
    }, ignore);
  }

  /* ---------- escalation ---------- */

  function onEscalateSubmit(ev) {
    ev.preventDefault();
    var err = $('escalate-error');
    clearFormErrors($('escalate-form'));
    var to = $('escalate-to').value;
    var reason = $('escalate-reason').value.trim();
    if (!to) { markField(err, 'escalate-to', t('escalateNeedUnit')); return; }
    if (!reason) { markField(err, 'escalate-reason', t('escalateNeedReason')); return; }
    var id = currentCase && currentCase.id;
    caseAction('escalate', { to: to, reason: reason }, $('escalate-submit'), null, err).then(function () {
      toast(t('escalatedTo', { id: id, unit: unitName(to) }));
      if (formDrafts[id]) formDrafts[id]['escalate-reason'] = '';
      $('escalate-reason').value = '';
      closeActionForm('escalate');
      if (!inMyUnits(to) && currentCase && currentCase.id === id) closeCaseView();  // now another unit's case
    }, ignore);
  }

  /* ---------- after the answer: return visits, follow-ups, typical cases, the customer's earlier cases ---------- */

  function renderAfterAnswer(c) {
    var known = seen[c.id] || (seen[c.id] = {});
    if (Array.isArray(c.earlier_cases)) known.earlier = objects(c.earlier_cases);
    if (typeof c.needs_approval === 'boolean') known.needsApproval = c.needs_approval;
    renderProposeLabels(known.needsApproval);
    renderVisits(c);
    renderFollowUp(c);
    renderTypical(c);
    renderEarlier(known.earlier);
  }

  /* Whether the plan waits for a supervisor or goes out at once, said on its buttons (unknown: the plain words). */
  function renderProposeLabels(needsApproval) {
    var known = typeof needsApproval === 'boolean';
    [['propose-button', 'propose', 'proposeForApproval', 'proposeSend'],
      ['propose-submit', 'proposeSubmit', 'proposeSubmitApproval', 'proposeSubmitSend'],
      ['propose-intro', 'proposeIntro', 'proposeIntroApproval', 'proposeIntroSend']].forEach(function (words) {
      var key = !known ? words[1] : needsApproval ? words[2] : words[3];
      $(words[0]).setAttribute('data-i18n', key);
      $(words[0]).textContent = t(key);
    });
  }

  /* A method of return visit (or the channel a customer rated on) in words. */
  function visitMethod(method) {
    var m = str(method);
    return has(STRINGS.en, 'vm_' + m) ? t('vm_' + m) : channelName(m);
  }

  /* Words that begin a list item ("Phone call") as they read inside an English sentence ("phone call"). */
  function inSentence(text) {
    return lang === 'en' && /^[A-Z][a-z]/.test(text) ? text.charAt(0).toLowerCase() + text.slice(1) : text;
  }

  /* Where a score came from: a handler's return visit, or the customer's own answer on their channel. */
  function satisfactionSource(c, sat) {
    var via = str(sat.via);
    if (!via) return '';
    var visit = objects(c.return_visits).filter(function (v) { return v.reached === true && v.at === sat.at; }).pop();
    if (!visit) return t('satVia', { method: inSentence(visitMethod(via)) });
    if (visit.by === 'customer') return t('satViaCustomer', { channel: channelName(via) });
    return t('satViaVisit', { name: str(visit.by), method: inSentence(visitMethod(via)) });
  }

  function visitState(c) {
    var plan = objectOr(c.return_visit) || {};
    var closedAs = c.status === 'closed' ? str(c.closed_as) : '';
    if (closedAs) {
      var key = 'closed_as_' + closedAs;
      return [has(STRINGS.en, key) ? t(key, { n: Number(plan.attempts) || 0 }) : closedAs,
        closedAs === 'satisfied' ? 'plan-approved' : 'plan-returned'];
    }
    if (c.status === 'reopened' && objects(c.return_visits).length) return [t('visitReopened'), 'plan-returned'];
    return null;
  }

  function renderVisits(c) {
    var visits = objects(c.return_visits);
    var plan = objectOr(c.return_visit) || {};
    var open = c.status === 'answered';
    var state = visitState(c);
    $('visit-panel').hidden = !open && !visits.length && !state;
    var stateBox = $('visit-state');
    stateBox.className = 'plan-state' + (state ? ' ' + state[1] : '');
    stateBox.textContent = state ? state[0] : '';
    renderReferral(c);

    var dueBox = $('visit-due');
    clear(dueBox);
    if (open && plan.due) {
      dueBox.appendChild(document.createTextNode(t('visitDue', { t: fmtTime(plan.due) }) + ' · '));
      var left = el('span', 'due');
      left.setAttribute('data-due', str(plan.due));
      paintDue(left, plan.due);
      dueBox.appendChild(left);
    }
    $('visit-tries').textContent = open ? t('visitTries', { n: Number(plan.attempts) || 0 }) : '';

    var list = $('visits-list');
    clear(list);
    list.hidden = !visits.length;
    visits.slice().reverse().forEach(function (v) { list.appendChild(visitEntry(v)); });
    var form = $('visit-form');
    if (!open && !form.hidden) clearFormErrors(form);
    form.hidden = !open;
  }

  function visitEntry(v) {
    var li = el('li', 'entry visit-entry' + (v.reached === true ? '' : ' visit-missed'));
    var meta = el('div', 'entry-meta');
    var by = v.by === 'customer' ? t('from_customer') : v.by === 'system' ? t('from_system') : str(v.by);
    meta.appendChild(el('span', 'entry-by', by));
    if (v.at) {
      var time = el('time', null, fmtTime(v.at));
      time.setAttribute('datetime', str(v.at));
      meta.appendChild(time);
    }
    li.appendChild(meta);
    var facts = [visitMethod(v.method), t(v.reached === true ? 'visitReachedYes' : 'visitReachedNo')];
    if (v.score != null) facts.push(t('visitScoreShown', { n: str(v.score) }));
    if (v.measures_verified === true || v.measures_verified === false) facts.push(t('visitMeasures_' + v.measures_verified));
    li.appendChild(el('p', 'entry-text visit-facts', facts.join(' · ')));
    if (v.note) li.appendChild(el('p', 'entry-text', str(v.note)));
    return li;
  }

  /* A customer still dissatisfied after a second answer hears about mediation and arbitration: on their channel
   * (the conversation holds what they were told), or from the handler where no channel of ours reaches them. */
  function renderReferral(c) {
    var referral = objectOr(c.referral);
    var box = $('visit-referral');
    box.hidden = !referral;
    box.classList.remove('referral-pending');
    if (!referral) { box.textContent = ''; return; }
    var since = Date.parse(referral.at) || 0;
    var told = objects(c.messages).filter(function (m) {
      return m.from === 'system' && (Date.parse(m.at) || 0) >= since;
    }).pop();
    box.textContent = told ? t('referralTold', { t: fmtTime(told.at), text: str(told.text) }) : t('referralNotTold');
    if (!told) box.classList.add('referral-pending');
  }

  function showReachedFields() {
    var reached = chosen('visit-reached') === 'yes';
    $('visit-reached-fields').hidden = !reached;
  }

  function resetVisitForm() {
    ['visit-at', 'visit-note'].forEach(function (f) { $(f).value = ''; });
    $('visit-method').value = 'phone';
    DRAFT_CHOICES.forEach(function (choice) { choose(choice[0], choice[1]); });
    showReachedFields();
    clearFormErrors($('visit-form'));
  }

  /* The visit as the API takes it, or the first thing the page can tell is wrong: [body, [field id, key]]. */
  function visitFromForm() {
    var reached = chosen('visit-reached');
    if (!reached) return [null, ['visit-reached-yes', 'visitNeedReached']];
    var body = { method: $('visit-method').value, reached: reached === 'yes' };
    var at = $('visit-at').value;
    if (at) {
      var moment = localMoment(at);
      if (moment && moment.getTime() > Date.now() + 60000) return [null, ['visit-at', 'visitFuture']];
      body.at = isoWithOffset(at);
    }
    if (body.reached) {
      var score = chosen('visit-score');
      var measures = chosen('visit-measures');
      body.score = score ? Number(score) : null;
      body.measures_verified = measures ? measures === 'yes' : null;
    }
    var note = $('visit-note').value.trim();
    if (note) body.note = note;
    return [body, null];
  }

  var VISIT_FIELDS = { at: 'visit-at', method: 'visit-method', reached: 'visit-reached-yes', score: 'visit-score-1',
    measures_verified: 'visit-measures-yes', note: 'visit-note' };

  /* What the visit did to the case, for the toast. */
  function visitOutcome(c, id) {
    if (c.status === 'reopened') return t('visitedReopened', { id: id, name: str(c.assignee) });
    if (c.status === 'closed') {
      var key = { referred: 'visitedReferred', not_reached: 'visitedNotReached' }[str(c.closed_as)] || 'visitedClosed';
      return t(key, { id: id });
    }
    var plan = objectOr(c.return_visit) || {};
    return t('visitedRetry', { t: fmtTime(plan.due) });
  }

  function onVisitSubmit(ev) {
    ev.preventDefault();
    var err = $('visit-error');
    clearFormErrors($('visit-form'));
    var made = visitFromForm();
    if (made[1]) { markField(err, made[1][0], t(made[1][1])); return; }
    var id = currentCase && currentCase.id;
    caseAction('return-visit', made[0], $('visit-submit'), null, err).then(function (c) {
      if (c) toast(visitOutcome(c, id), c.status === 'reopened');
      if (currentCase && currentCase.id === id) resetVisitForm();
      else if (formDrafts[id]) delete formDrafts[id];
    }, function (e) {
      var named = /^'(\w+)'/.exec(e.message || '');
      if (named && has(VISIT_FIELDS, named[1])) markField(err, VISIT_FIELDS[named[1]], e.message);
    });
  }

  function renderFollowUp(c) {
    var follow = objectOr(c.follow_up);
    var box = $('follow-shown');
    clear(box);
    if (follow && follow.on) {
      var day = el('span', 'follow-date', t('followShown', { d: fmtDate(follow.on) }));
      box.appendChild(day);
      if (c.status !== 'closed' && str(follow.on) <= localToday()) {
        day.classList.add('due-soon');
        day.appendChild(document.createTextNode(' · ' + t('followIsDue')));
      }
      if (follow.note) box.appendChild(el('span', 'follow-note', str(follow.note)));
      box.appendChild(el('span', 'follow-by', t('followSetBy', { name: str(follow.by), t: fmtTime(follow.at) })));
    } else {
      box.appendChild(el('span', 'follow-by', t('followNone')));
    }
    var form = $('follow-form');
    if (c.status === 'closed' && !form.hidden) clearFormErrors(form);
    form.hidden = c.status === 'closed';
  }

  function onFollowSubmit(ev) {
    ev.preventDefault();
    var err = $('follow-error');
    clearFormErrors($('follow-form'));
    var on = $('follow-on').value;
    if (!on) { markField(err, 'follow-on', t('followNeedDate')); return; }
    var body = { on: on };
    var note = $('follow-note').value.trim();
    if (note) body.note = note;
    var id = currentCase && currentCase.id;
    caseAction('follow-up', body, $('follow-submit'), null, err).then(function () {
      toast(t('followSet', { id: id, d: fmtDate(on) }));
      if (currentCase && currentCase.id === id) {
        $('follow-on').value = '';
        $('follow-note').value = '';
      } else if (formDrafts[id]) {
        formDrafts[id]['follow-on'] = '';
        formDrafts[id]['follow-note'] = '';
      }
    }, function (e) {
      var named = /^'(on|note)'/.exec(e.message || '');
      if (named) markField(err, 'follow-' + named[1], e.message);
    });
  }

  function renderTypical(c) {
    var flag = objectOr(c.typical);
    $('case-typical').hidden = !flag;
    var shown = $('typical-shown');
    clear(shown);
    shown.hidden = !flag;
    if (flag) {
      shown.appendChild(el('p', 'entry-text', str(flag.reason)));
      shown.appendChild(el('p', 'hint', t('typicalFlaggedBy', { name: str(flag.by), t: fmtTime(flag.at) })));
    }
    $('typical-reason-field').hidden = !!flag;
    $('typical-submit').hidden = !!flag;
    $('typical-remove').hidden = !flag;
  }

  function onTypicalSubmit(ev) {
    ev.preventDefault();
    var err = $('typical-error');
    clearFormErrors($('typical-form'));
    var reason = $('typical-reason').value.trim();
    if (!reason) { markField(err, 'typical-reason', t('typicalNeedReason')); return; }
    var id = currentCase && currentCase.id;
    caseAction('flag', { typical: true, reason: reason }, $('typical-submit'), null, err).then(function () {
      toast(t('typicalFlagged', { id: id }));
      if (currentCase && currentCase.id === id) {
        $('typical-reason').value = '';
        $('typical-remove').focus();  // the button pressed is gone: the way back is next to where it was
      } else if (formDrafts[id]) {
        formDrafts[id]['typical-reason'] = '';
      }
    }, function (e) {
      if (/^'reason'/.test(e.message || '')) markField(err, 'typical-reason', e.message);
    });
  }

  function onTypicalRemove() {
    var id = currentCase && currentCase.id;
    caseAction('flag', { typical: false }, $('typical-remove'), null, $('typical-error')).then(function () {
      toast(t('typicalRemoved', { id: id }));
      if (currentCase && currentCase.id === id) $('typical-reason').focus();
    }, ignore);
  }

  /* The same customer's other cases (by phone, email or account), each a link that opens it here. */
  function renderEarlier(earlier) {
    var list = $('earlier-cases');
    clear(list);
    if (!earlier) { list.appendChild(el('li', 'hint', t('queueLoading'))); return; }
    earlier.forEach(function (e) {
      if (!e.id) return;
      var li = el('li', 'earlier-case');
      var link = el('a', 'earlier-link', str(e.id));
      link.href = '#' + encodeURIComponent(str(e.id));
      link.setAttribute('data-case-id', str(e.id));
      li.appendChild(link);
      li.appendChild(el('span', 'badge status-badge status-' + str(e.status), word('status_', e.status)));
      var facts = [e.product ? word('prod_', e.product) : t('prod_unknown')];
      if (e.outcome) facts.push(word('outcome_', e.outcome));
      if (e.channel) facts.push(channelName(e.channel));
      if (e.received_at) facts.push(fmtDate(e.received_at));
      li.appendChild(el('span', 'earlier-facts', facts.join(' · ')));
      list.appendChild(li);
    });
    if (!list.firstChild) list.appendChild(el('li', 'hint', t('earlierNone')));
  }

  function onEarlierClick(ev) {
    var link = ev.target.closest && ev.target.closest('a[data-case-id]');
    if (!link || ev.button !== 0 || ev.ctrlKey || ev.metaKey || ev.shiftKey || ev.altKey) return;
    ev.preventDefault();
    openCase(link.getAttribute('data-case-id'), true);
  }

  function bindAfterAnswer() {
    var filters = document.querySelectorAll('[data-due-filter]');
    for (var i = 0; i < filters.length; i++) filters[i].addEventListener('click', onDueFilter);
    $('visit-form').addEventListener('submit', onVisitSubmit);
    ['visit-reached-yes', 'visit-reached-no'].forEach(function (id) { $(id).addEventListener('change', showReachedFields); });
    $('follow-form').addEventListener('submit', onFollowSubmit);
    $('typical-form').addEventListener('submit', onTypicalSubmit);
    $('typical-remove').addEventListener('click', onTypicalRemove);
    $('earlier-cases').addEventListener('click', onEarlierClick);
    ['visit', 'follow', 'typical'].forEach(function (name) {
      var form = $(name + '-form');
      var settle = function (ev) {
        if (ev.target && ev.target.getAttribute && ev.target.getAttribute('aria-invalid') === 'true') {
          ev.target.removeAttribute('aria-invalid');
          $(name + '-error').textContent = '';
        }
        if (name === 'visit' && ev.target && ev.target.name === 'visit-reached') {
          $('visit-reached-yes').removeAttribute('aria-invalid');
          $('visit-error').textContent = '';
        }
      };
      form.addEventListener('input', settle);
      form.addEventListener('change', settle);
    });
  }

  /* ---------- answer templates (canned replies) ---------- */

  function loadTemplates() {
    var seq = ++templatesSeq;
    return api('GET', '/api/canned-replies').then(function (data) {
      if (seq !== templatesSeq) return;
      templates = data && Array.isArray(data.replies) ? objects(data.replies).filter(function (r) { return r.id != null; }) : [];
      renderTemplateChoices();
      renderTemplateList();
    }, function (e) {
      if (seq !== templatesSeq || e.status === 401) return;
      templates = null;
      toast(e.message, true);
    });
  }

  /* The template selects offer the templates in the open case's language. */
  function renderTemplateChoices() {
    var language = currentCase ? currentCase.language : null;
    var offered = (templates || []).filter(function (r) { return r.language === language; });
    ['reply-template', 'propose-template'].forEach(function (id) {
      var select = $(id);
      clear(select);
      var first = el('option', null, t('templateChoose'));
      first.value = '';
      select.appendChild(first);
      offered.forEach(function (r) {
        var option = el('option', null, str(r.title));
        option.value = str(r.id);
        select.appendChild(option);
      });
      select.value = '';
      select.closest('.template-field').hidden = !offered.length;
    });
  }

  function insertAtCursor(input, text) {
    var start = typeof input.selectionStart === 'number' ? input.selectionStart : input.value.length;
    var end = typeof input.selectionEnd === 'number' ? input.selectionEnd : start;
    input.setRangeText(text, start, end, 'end');
    input.focus();
    input.dispatchEvent(new Event('input', { bubbles: true }));
  }

  function insertChosen(select) {
    var chosen = (templates || []).filter(function (r) { return str(r.id) === select.value; })[0];
    select.value = '';
    var target = $(select.getAttribute('data-target'));
    if (chosen && target && !target.disabled) insertAtCursor(target, str(chosen.text));
  }

  /* A pick with the mouse inserts at once; with the keyboard the arrows only browse, and Enter inserts (a
   * closed select changes with each arrow press, which would insert every template passed on the way). */
  function bindTemplateSelect(select) {
    var byKey = false;
    select.addEventListener('keydown', function (ev) {
      if (ev.key === 'Enter') {
        if (select.value) { ev.preventDefault(); insertChosen(select); }
        return;
      }
      byKey = true;
    });
    select.addEventListener('pointerdown', function () { byKey = false; });
    select.addEventListener('change', function () { if (!byKey) insertChosen(select); });
  }

  function renderTemplateList() {
    var list = $('templates-list');
    clear(list);
    var all = templates || [];
    all.forEach(function (r) {
      var li = el('li', 'template-item');
      var head = el('div', 'template-head');
      head.appendChild(el('span', 'template-title', str(r.title)));
      head.appendChild(el('span', 'hint', t('templateMeta', { language: word('lang_', r.language), name: str(r.by) })));
      var remove = el('button', 'btn btn-small', t('templateDelete'));
      remove.type = 'button';
      remove.setAttribute('data-template-id', str(r.id));
      remove.setAttribute('aria-label', t('templateDeleteLabel', { title: str(r.title) }));
      head.appendChild(remove);
      li.appendChild(head);
      li.appendChild(el('p', 'template-text', str(r.text)));
      list.appendChild(li);
    });
    if (!all.length) list.appendChild(el('li', 'hint', t('templatesEmpty')));
  }

  function openTemplates() {
    var dialog = $('templates-dialog');
    if (dialog.open) return;
    $('template-language').value = currentCase && currentCase.language === 'en' ? 'en' : lang;
    clearFormErrors($('template-form'));
    loadTemplates();
    if (typeof dialog.showModal === 'function') dialog.showModal();
    else dialog.setAttribute('open', '');
    $('template-title').focus();
  }

  function closeTemplates() {
    var dialog = $('templates-dialog');
    if (!dialog.open) return;
    if (typeof dialog.close === 'function') dialog.close();
    else dialog.removeAttribute('open');
  }

  function onTemplateSubmit(ev) {
    ev.preventDefault();
    var err = $('template-error');
    clearFormErrors($('template-form'));
    var title = $('template-title').value.trim();
    var text = $('template-text').value.trim();
    if (!title) { markField(err, 'template-title', t('templateNeed')); return; }
    if (!text) { markField(err, 'template-text', t('templateNeed')); return; }
    var btn = $('template-submit');
    busy(btn, true);
    api('POST', '/api/canned-replies', { language: $('template-language').value, title: title, text: text }).then(function () {
      $('template-title').value = '';
      $('template-text').value = '';
      toast(t('templateAdded'));
      return loadTemplates();
    }, function (e) {
      if (e.status !== 401) markField(err, /^'title'/.test(e.message) ? 'template-title' : 'template-text', e.message);
    }).then(function () { busy(btn, false); });
  }

  function onTemplateListClick(ev) {
    var btn = ev.target.closest && ev.target.closest('button[data-template-id]');
    if (!btn) return;
    var err = $('template-error');
    err.textContent = '';
    busy(btn, true);
    api('DELETE', '/api/canned-replies/' + encodeURIComponent(btn.getAttribute('data-template-id'))).then(function () {
      toast(t('templateRemoved'));
      return loadTemplates();
    }, function (e) {
      busy(btn, false);
      if (e.status !== 401) err.textContent = e.message;
    });
  }

  function bindHandling() {
    $('propose-button').addEventListener('click', openPropose);
    $('propose-cancel').addEventListener('click', function () { closeActionForm('propose'); $('propose-button').focus(); });
    $('propose-form').addEventListener('submit', onProposeSubmit);
    $('propose-answer').addEventListener('input', checkAnswer);
    $('propose-amount').addEventListener('input', onPayChange);
    $('resolve-to-propose').addEventListener('click', resolveToPropose);
    $('escalate-button').addEventListener('click', function () { toggleActionForm('escalate', 'escalate-to'); });
    $('escalate-cancel').addEventListener('click', function () { closeActionForm('escalate'); $('escalate-button').focus(); });
    $('escalate-form').addEventListener('submit', onEscalateSubmit);
    ['propose', 'escalate'].forEach(function (name) {
      var form = $(name + '-form');
      form.addEventListener('keydown', function (ev) {
        if (ev.key === 'Escape') { closeActionForm(name); $(ACTION_FORMS[name]).focus(); }
      });
      form.addEventListener('input', function (ev) {
        if (ev.target && ev.target.getAttribute && ev.target.getAttribute('aria-invalid') === 'true') {
          ev.target.removeAttribute('aria-invalid');
          $(name + '-error').textContent = '';
        }
      });
    });
    $('approve-button').addEventListener('click', onApprove);
    $('return-button').addEventListener('click', function () {
      var open = $('return-form').hidden;
      if (open) {
        $('return-form').hidden = false;
        $('return-button').setAttribute('aria-expanded', 'true');
        $('return-reason').focus();
      } else {
        hideReturn();
      }
    });
    $('return-cancel').addEventListener('click', function () { hideReturn(); $('return-button').focus(); });
    $('return-form').addEventListener('submit', onReturnSubmit);
    $('classify-form').addEventListener('submit', onClassify);
    $('classify-form').addEventListener('change', function () { $('classify-error').textContent = ''; });
    $('note-form').addEventListener('submit', entrySubmitter('notes', 'note-input', 'note-error', 'note-submit', 'noteAdded'));
    $('findings-form').addEventListener('submit',
      entrySubmitter('findings', 'findings-input', 'findings-error', 'findings-submit', 'findingsAdded'));
    bindTemplateSelect($('reply-template'));
    bindTemplateSelect($('propose-template'));
    $('templates-button').addEventListener('click', openTemplates);
    $('templates-close').addEventListener('click', closeTemplates);
    $('template-form').addEventListener('submit', onTemplateSubmit);
    $('templates-list').addEventListener('click', onTemplateListClick);
  }

  /* ---------- registration by staff (walk-in, letter, comment book, call, referral) ---------- */

  /* Where the server's refusal "'customer.phone': …" points: the field, and its label. */
  var REG_FIELDS = {
    channel: ['reg-channel', 'regChannel'],
    language: ['reg-language', 'regLanguage'],
    unit: ['reg-unit', 'regUnit'],
    received_at: ['reg-received-at', 'regReceivedAt'],
    late_reason: ['reg-late-reason', 'regLateReason'],
    customer: ['reg-name', 'customerTitle'],
    'customer.name': ['reg-name', 'f_name'],
    'customer.phone': ['reg-phone', 'f_phone'],
    'customer.email': ['reg-email', 'f_email'],
    'customer.account_id': ['reg-account', 'f_account_id'],
    complaint: ['reg-description', 'complaintTitle'],
    'complaint.description': ['reg-description', 'f_description'],
    'complaint.product': ['reg-product', 'f_product'],
    'complaint.incident_time': ['reg-incident-date', 'f_incident_time'],
    'complaint.place': ['reg-place', 'f_place'],
    'complaint.people_involved': ['reg-people', 'f_people_involved'],
    'complaint.desired_resolution': ['reg-desired', 'f_desired_resolution'],
    preliminary_opinion: ['reg-opinion', 'f_preliminary_opinion'],
    attachment: ['reg-file', 'regFile']
  };

  function loadUnits() {
    var seq = ++unitsSeq;
    return api('GET', '/api/units').then(function (data) {
      if (seq !== unitsSeq) return;
      units = data && Array.isArray(data.units) ? data.units.filter(function (u) { return u && u.id; }) : [];
      renderUnits();
      if (currentCase) renderCase(currentCase);
    }, function (e) {
      if (seq !== unitsSeq || e.status === 401) return;
      units = null;  // the server then takes the head office; asked again when the form opens
      toast(e.message, true);
    });
  }

  function loadChannels() {
    return api('GET', '/api/channels').then(function (data) {
      channels = data && Array.isArray(data.channels) ? data.channels.filter(function (c) { return c && c.name; }) : [];
      renderChannels();
      renderQueue();
      if (currentCase) renderCase(currentCase);
    }, function (e) {
      if (e.status !== 401) toast(e.message, true);
    });
  }

  function channelOf(code) {
    return channels.filter(function (c) { return c.name === code; })[0] || null;
  }

  /* A channel's title in the page's language, or its code while the list has not come. */
  function channelName(code) {
    var found = channelOf(str(code));
    var titles = found && found.title && typeof found.title === 'object' ? found.title : {};
    return str(titles[lang] || titles.en || code);
  }

  /* Complaints that staff register: no channel adapter of the gateway reaches these customers. */
  function isStaffChannel(code) {
    var found = channelOf(str(code));
    return !!found && found.adapter === false;
  }

  /* The registration form's "how it came": the ways staff take complaints in, as the server lists them. */
  function renderChannels() {
    var select = $('reg-channel');
    var keep = select.value;
    clear(select);
    channels.filter(function (c) { return c.adapter === false; }).forEach(function (c) {
      var option = el('option', null, channelName(c.name));
      option.value = str(c.name);
      select.appendChild(option);
    });
    select.value = keep;
    if (select.value !== keep || !keep) select.selectedIndex = 0;
  }

  function unitName(id) {
    var unit = (units || []).filter(function (u) { return u.id === id; })[0];
    var names = unit && unit.name && typeof unit.name === 'object' ? unit.name : {};
    return str(names[lang] || names.en || names.zh || id);
  }

  /* The handler's own unit where the account names one, else the head office. */
  function defaultUnit() {
    var list = units || [];
    var own = me && me.unit ? list.filter(function (u) { return u.id === me.unit; })[0] : null;
    var hq = own || list.filter(function (u) { return u.kind === 'hq'; })[0] || list[0];
    return hq ? str(hq.id) : '';
  }

  function renderUnits() {
    var select = $('reg-unit');
    var keep = select.value;
    clear(select);
    (units || []).forEach(function (u) {
      var option = el('option', null, unitName(u.id));
      option.value = str(u.id);
      select.appendChild(option);
    });
    select.value = keep;
    if (select.value !== keep || !keep) select.value = defaultUnit();
  }

  function pad(n) { return (n < 10 ? '0' : '') + n; }

  /* A moment as a datetime-local field holds it: the browser's own time, to the minute. */
  function localInput(d) {
    return d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate()) + 'T' +
      pad(d.getHours()) + ':' + pad(d.getMinutes());
  }

  /* A datetime-local value ("2026-11-18T09:35", the browser's own time) as a Date, or null. */
  function localMoment(value) {
    var m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?/.exec(value || '');
    if (!m) return null;
    var d = new Date(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +(m[6] || 0));
    return isNaN(d.getTime()) ? null : d;
  }

  /* The same moment in ISO 8601 with the browser's offset, so the server reads the time the staff meant. */
  function isoWithOffset(value) {
    var d = localMoment(value);
    if (!d) return '';
    var offset = -d.getTimezoneOffset();
    var sign = offset < 0 ? '-' : '+';
    offset = Math.abs(offset);
    return localInput(d) + ':' + pad(d.getSeconds()) + sign + pad(Math.floor(offset / 60)) + ':' + pad(offset % 60);
  }

  function isLate() {
    var received = localMoment($('reg-received-at').value);
    return !!received && Date.now() - received.getTime() > LATE_MS;
  }

  function updateLate() {
    var late = lateDemanded || isLate();
    var reason = $('reg-late-reason');
    $('reg-late-field').hidden = !late;
    reason.required = late;
    reason.setAttribute('aria-required', late ? 'true' : 'false');
  }

  function fillReceivedNow() {
    var input = $('reg-received-at');
    var now = localInput(new Date());
    input.value = now;
    input.max = now;
  }

  function clearRegisterErrors() {
    $('register-error').textContent = '';
    $('reg-file-error').textContent = '';
    var marked = $('register-form').querySelectorAll('[aria-invalid="true"]');
    for (var i = 0; i < marked.length; i++) marked[i].removeAttribute('aria-invalid');
  }

  function resetRegister() {
    $('register-form').reset();
    $('reg-language').value = lang;
    $('reg-unit').value = defaultUnit();
    fillReceivedNow();
    lateDemanded = false;
    registerDirty = false;
    registerBy = null;
    receivedTouched = false;
    clearRegisterErrors();
    updateLate();
  }

  /* Opens the form; what was typed before it was closed without registering is still there. */
  function openRegister() {
    var dialog = $('register-dialog');
    if (dialog.open) return;
    if (!units) loadUnits();
    if (!channels.length) loadChannels();
    if (!registerDirty || registerBy !== (me && me.name)) resetRegister();
    else if (!receivedTouched) { fillReceivedNow(); updateLate(); }
    if (typeof dialog.showModal === 'function') dialog.showModal();
    else dialog.setAttribute('open', '');
    $('reg-channel').focus();
  }

  function closeRegister() {
    var dialog = $('register-dialog');
    if (!dialog.open) return;
    if (typeof dialog.close === 'function') dialog.close();
    else dialog.removeAttribute('open');
  }

  function chosenFile() {
    var input = $('reg-file');
    return input.files && input.files.length ? input.files[0] : null;
  }

  function onScanChosen() {
    var file = chosenFile();
    var err = $('reg-file-error');
    err.textContent = '';
    $('reg-file').removeAttribute('aria-invalid');
    if (file && file.size > SCAN_MAX_BYTES) {
      err.textContent = t('regFileTooBig', { size: Math.ceil(file.size / 1024) });
      $('reg-file').value = '';
    }
  }

  /* The chosen file as the API takes it, read in the page: {name, content_type, content_base64}. */
  function readScan() {
    var file = chosenFile();
    if (!file) return Promise.resolve(null);
    return new Promise(function (resolve, reject) {
      var reader = new FileReader();
      reader.onload = function () {
        var url = String(reader.result || '');
        resolve({
          name: file.name,
          content_type: file.type || 'application/octet-stream',
          content_base64: url.slice(url.indexOf(',') + 1)
        });
      };
      reader.onerror = function () { reject(new ApiError(0, t('regFileUnreadable'))); };
      reader.readAsDataURL(file);
    });
  }

  function incidentTime() {
    var day = $('reg-incident-date').value;
    var time = $('reg-incident-time').value;
    if (!day) return '';
    return time ? isoWithOffset(day + 'T' + time) : day;
  }

  function registration(scan) {
    function value(id) { return $(id).value.trim(); }
    function put(obj, key, v) { if (v) obj[key] = v; }
    var body = { channel: $('reg-channel').value, language: $('reg-language').value };
    put(body, 'unit', $('reg-unit').value);
    put(body, 'received_at', isoWithOffset($('reg-received-at').value));
    if (!$('reg-late-field').hidden) put(body, 'late_reason', value('reg-late-reason'));
    body.customer = { contact_declined: $('reg-declined').checked };
    put(body.customer, 'name', value('reg-name'));
    put(body.customer, 'phone', value('reg-phone'));
    put(body.customer, 'email', value('reg-email'));
    put(body.customer, 'account_id', value('reg-account'));
    body.complaint = {};
    put(body.complaint, 'description', value('reg-description'));
    put(body.complaint, 'product', $('reg-product').value);
    put(body.complaint, 'incident_time', incidentTime());
    put(body.complaint, 'place', value('reg-place'));
    put(body.complaint, 'people_involved', value('reg-people'));
    put(body.complaint, 'desired_resolution', value('reg-desired'));
    put(body, 'preliminary_opinion', value('reg-opinion'));
    if (scan) body.attachment = scan;
    return body;
  }

  /* What the page itself can tell is missing or wrong, in the form's order: [field id, message key]. */
  function registerProblem() {
    var received = localMoment($('reg-received-at').value);
    if (received && received.getTime() > Date.now() + 60000) return ['reg-received-at', 'regFuture'];
    if (isLate() && !$('reg-late-reason').value.trim()) return ['reg-late-reason', 'regNeedLateReason'];
    if (!$('reg-description').value.trim()) return ['reg-description', 'regNeedDescription'];
    if ($('reg-incident-time').value && !$('reg-incident-date').value) return ['reg-incident-date', 'regNeedDate'];
    return null;
  }

  function markRegister(id, message) {
    $('register-error').textContent = message;
    if (!id) return;
    if (id === 'reg-late-reason') updateLate();
    var input = $(id);
    input.setAttribute('aria-invalid', 'true');
    input.setAttribute('aria-errormessage', 'register-error');
    input.focus();
  }

  /* The server's refusal as it says it, beside the form, with the field it names in the console's words. */
  function showRefusal(message) {
    var named = /^'([\w.]+)'/.exec(message);
    var name = named ? named[1] : '';
    var target = has(REG_FIELDS, name) ? REG_FIELDS[name] : (has(REG_FIELDS, name.split('.')[0]) ? REG_FIELDS[name.split('.')[0]] : null);
    if (name === 'late_reason') lateDemanded = true;
    markRegister(target ? target[0] : null, target ? t('regFieldError', { field: t(target[1]), message: message }) : message);
  }

  function onRegisterSubmit(ev) {
    ev.preventDefault();
    clearRegisterErrors();
    updateLate();
    var problem = registerProblem();
    if (problem) { markRegister(problem[0], t(problem[1])); return; }
    var btn = $('register-submit');
    busy(btn, true);
    readScan().then(function (scan) {
      return api('POST', '/api/cases', registration(scan));
    }).then(function (c) {
      closeRegister();
      resetRegister();
      if (c && c.id) {
        showCase(c, true);
        toast(t('registered', { id: c.id }));
      }
      loadQueue();
    }, function (e) {
      if (e.status !== 401) showRefusal(e.message);
    }).then(function () { busy(btn, false); });
  }

  function onRegisterInput(ev) {
    // The form closing at sign-out blurs its field, which fires 'change' after the handler is gone: that keeps
    // the owner, so the same handler finds the form as they left it (openRegister).
    if (!me) return;
    registerDirty = true;
    registerBy = me.name;
    var target = ev.target;
    if (target && target.id === 'reg-received-at') { receivedTouched = true; updateLate(); }
    if (target && target.getAttribute && target.getAttribute('aria-invalid') === 'true') {
      target.removeAttribute('aria-invalid');
      $('register-error').textContent = '';
    }
  }

  /* ---------- reply ---------- */

  /* The first discouraged phrase in the text, or null (the server refuses the worst of them outright). */
  function discouraged(text) {
    var lower = text.toLowerCase();
    for (var i = 0; i < DISCOURAGED.length; i++) {
      if (lower.indexOf(DISCOURAGED[i].toLowerCase()) >= 0) return DISCOURAGED[i];
    }
    return null;
  }

  function checkReply() {
    var input = $('reply-input');
    var text = input.value;
    var n = Array.from(text).length;
    $('reply-count').textContent = n ? n + ' / ' + REPLY_MAX : '';
    var hit = discouraged(text);
    $('reply-warning').textContent = hit ? t('replyWarning', { w: hit }) : '';
  }

  function onReply(ev) {
    ev.preventDefault();
    if (!currentCase) return;
    var input = $('reply-input');
    var text = input.value.trim();
    var err = $('reply-error');
    err.textContent = '';
    if (!text) {
      err.textContent = t('replyEmpty');
      input.focus();
      return;
    }
    if (Array.from(text).length > REPLY_MAX) {
      err.textContent = t('replyTooLong');
      input.focus();
      return;
    }
    var id = currentCase.id;
    var btn = $('reply-send');
    busy(btn, true);
    api('POST', casePath(id, 'reply'), { text: text }).then(function (c) {
      if (currentCase && currentCase.id === id) {
        input.value = '';
        delete drafts[id];
        checkReply();
        if (c && c.id) renderCase(c); else refreshCase();
        var conv = $('conversation');
        conv.scrollTop = conv.scrollHeight;
      }
      toast(t('replied'));
      loadQueue();
    }, function (e) {
      if (e.status !== 401) err.textContent = e.message;
    }).then(function () {
      busy(btn, false);
      if (currentCase) updateButtons(currentCase);
    });
  }

  /* ---------- live updates ---------- */

  function setLive(state) {
    liveState = state;
    renderLive();
  }

  function renderLive() {
    var box = $('live-status');
    box.setAttribute('data-state', liveState);
    $('live-text').textContent = t('live_' + liveState);
    box.title = t('live_' + liveState);
  }

  function onEvent(ev) {
    var data;
    try { data = JSON.parse(ev.data); } catch (e) { return; }
    if (!data || typeof data !== 'object') return;
    if (data.type === 'alert') { onAlert(data); return; }
    if (data.type && data.type !== 'case') return;
    scheduleQueue();
    if (data.case_id && currentCase && String(data.case_id) === currentCase.id) scheduleCase();
    var id = str(data.case_id);
    if (!id || (currentCase && currentCase.id === id)) return;
    if (data.status === 'reopened') news[id] = 'reopenedCase';
    else if (data.status === 'queued' && data.reason !== 'released') news[id] = 'newCase';
  }

  /* A supervisor alert (high risk, due soon, overdue): every console refreshes its deadline badges;
   * supervisors and admins are also told. */
  function onAlert(data) {
    var id = str(data.case_id);
    scheduleQueue();
    if (id && currentCase && currentCase.id === id) scheduleCase();
    if (supervises()) toast(alertMessage(data), true);
    else if (id && HOLDER_ALERTS.indexOf(str(data.kind)) >= 0) tellHolder(id, data);
  }

  /* Alerts a handler hears about the cases they hold (the rest are the supervisors'). */
  var HOLDER_ALERTS = ['return_visit_due'];

  function tellHolder(id, data) {
    api('GET', casePath(id)).then(function (c) {
      if (c && me && c.assignee === me.name) toast(alertMessage(data), true);
    }, function () { /* not on this handler's desks any more */ });
  }

  /* An alert in the console's words: about a case, a unit (its register, a hot spot) or an account. */
  function alertMessage(data) {
    var kind = str(data.kind);
    var said = { id: str(data.case_id), unit: data.unit ? unitName(str(data.unit)) : '', account: str(data.account),
      month: str(data.month), count: str(data.count), days: str(data.window_days), what: hotspotWhat(data) };
    if (kind === 'register_missing' && data.for_unit) said.unit = unitName(str(data.for_unit));
    if (has(STRINGS.en, 'alert_' + kind)) return t('alert_' + kind, said);
    if (said.id) return t('alertOther', { id: said.id, kind: kind });
    return t('alertAbout', { what: said.unit || said.account || '—', kind: kind });
  }

  function hotspotWhat(data) {
    var dimension = str(data.dimension);
    var value = str(data.value);
    if (dimension === 'product') return t('hotspotWhat_product', { v: word('prod_', value) });
    if (dimension === 'unit') return t('hotspotWhat_unit', { v: unitName(value) });
    return has(STRINGS.en, 'hotspotWhat_' + dimension) ? t('hotspotWhat_' + dimension, { v: value }) : value;
  }

  /* Events name every case; announce only those this handler's queue shows (their desk languages). News never
   * hides an alert or an error still on screen (an escalation's alert comes with its case's "new in the queue"). */
  function announceNews() {
    var pending = news;
    news = Object.create(null);
    var box = $('toast');
    if (box.classList.contains('error') && box.textContent) return;
    Object.keys(pending).forEach(function (id) {
      if (currentCase && currentCase.id === id) return;  // already in front of the handler
      if (cases.some(function (c) { return c.id === id; })) toast(t(pending[id], { id: id }));
    });
  }

  function startPolling() {
    if (pollTimer) return;
    pollTimer = setInterval(function () {
      loadQueue();
      if (currentCase) refreshCase();
    }, POLL_MS);
  }

  function stopPolling() {
    clearInterval(pollTimer);
    pollTimer = null;
  }

  function startLive() {
    stopLive();
    if (typeof window.EventSource !== 'function') {
      setLive('polling');
      startPolling();
      return;
    }
    var source;
    try {
      source = new EventSource('/api/events');
    } catch (e) {
      setLive('polling');
      startPolling();
      return;
    }
    es = source;
    source.onopen = function () {
      if (source !== es) return;
      setLive('live');
      stopPolling();
      // Catch up on anything that happened while the stream was down.
      scheduleQueue();
      if (currentCase) scheduleCase();
    };
    source.onmessage = onEvent;
    source.addEventListener('case', onEvent);
    source.onerror = function () {
      if (source !== es) return;
      setLive('polling');
      startPolling();
      if (source.readyState === 2) {
        // The browser gave up (e.g. a 401 or a non-stream answer): check the session, retry later.
        es = null;
        api('GET', '/api/me').then(function () {
          clearTimeout(esRetry);
          esRetry = setTimeout(function () { if (me) startLive(); }, 30000);
        }, function () { /* 401 already handled */ });
      }
    };
  }

  function stopLive() {
    if (es) { try { es.close(); } catch (e) { /* ignore */ } }
    es = null;
    clearTimeout(esRetry);
    stopPolling();
    setLive('off');
  }

  /* ---------- start ---------- */

  function init() {
    applyLang();

    $('lang-toggle').addEventListener('click', function () { setLang(lang === 'zh' ? 'en' : 'zh'); });
    $('login-form').addEventListener('submit', onLogin);
    $('logout-button').addEventListener('click', onLogout);
    $('queue').addEventListener('click', onQueueClick);
    $('next-case').addEventListener('click', takeNext);
    $('register-button').addEventListener('click', openRegister);
    $('register-close').addEventListener('click', closeRegister);
    $('register-cancel').addEventListener('click', closeRegister);
    $('register-form').addEventListener('submit', onRegisterSubmit);
    $('register-form').addEventListener('input', onRegisterInput);
    $('register-form').addEventListener('change', onRegisterInput);
    $('reg-file').addEventListener('change', onScanChosen);
    $('refresh-queue').addEventListener('click', function () {
      loadQueue();
      loadAgents();
      loadTemplates();
      if (currentCase) refreshCase();
    });
    $('status-filter').addEventListener('change', loadQueue);
    $('back-to-queue').addEventListener('click', closeCaseView);

    $('claim-button').addEventListener('click', function () {
      caseAction('claim', {}, this, 'claimed').catch(ignore);
    });
    $('release-button').addEventListener('click', function () {
      caseAction('release', {}, this, 'released').catch(ignore);
    });
    $('close-button').addEventListener('click', function () {
      caseAction('close', {}, this, 'closed').catch(ignore);
    });
    $('resolve-button').addEventListener('click', function () {
      if ($('resolve-form').hidden) showResolve(); else hideResolve();
    });
    $('resolve-cancel').addEventListener('click', function () {
      hideResolve();
      $('resolve-button').focus();
    });
    $('resolve-form').addEventListener('submit', onResolveSubmit);
    $('reassign-form').addEventListener('submit', onReassign);
    bindHandling();
    bindAfterAnswer();
    $('reassign-agent').addEventListener('change', function () { $('case-error').textContent = ''; });
    ['resolve-outcome', 'resolve-summary'].forEach(function (id) {
      $(id).addEventListener(id === 'resolve-outcome' ? 'change' : 'input', function () {
        if ($(id).getAttribute('aria-invalid') === 'true') {
          $(id).removeAttribute('aria-invalid');
          $('resolve-error').textContent = '';
        }
      });
    });
    $('resolve-form').addEventListener('keydown', function (ev) {
      if (ev.key === 'Escape') { hideResolve(); $('resolve-button').focus(); }
    });

    $('reply-form').addEventListener('submit', onReply);
    $('reply-input').addEventListener('input', checkReply);
    $('reply-input').addEventListener('keydown', function (ev) {
      if (ev.key === 'Enter' && (ev.ctrlKey || ev.metaKey) && !ev.isComposing) {
        ev.preventDefault();
        $('reply-send').click();
      }
    });

    document.addEventListener('keydown', function (ev) {
      if (ev.key === 'Escape' && currentCase && window.matchMedia && window.matchMedia('(max-width: 760px)').matches &&
          !(ev.target && /^(TEXTAREA|INPUT|SELECT)$/.test(ev.target.tagName))) {
        closeCaseView();
      }
    });

    setInterval(refreshCountdowns, 30000);

    api('GET', '/api/me', undefined, { allow401: true }).then(function (data) {
      if (data && data.name) {
        setMe(data);
        showConsole();
      } else {
        showLogin('');
      }
    }, function (e) {
      showLogin(e.status === 401 ? '' : e.message);
    });
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
})();
