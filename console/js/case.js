// The case page for staff: the case's state, its timeline (every event of its
// history, live through `caseEvents`), the actions an agent or lead takes on it,
// and the live swarm room (`swarmRoom` subscription) with its chat.

import { gql, subscribe } from './api.js';
import { conditionText } from './rules.js';
import { h, field, banner, mount, time, countdown, chip, words, select, duration } from './ui.js';

export const CASE_FIELDS = `id version status subject body channel language priority requestedPriority
  tier team sensitive assignee tags escalations openedAt updatedAt firstResponseAt awaitingCustomerSince
  customer { id name segment keyAccount }
  swarm { lead startedAt members { agent isLead joinedAt } }
  resolution { text tier by at }
  sla { policyId calendar firstResponseDue resolutionDue nextDeadline breached }`;

const HISTORY = `query($id: ID!, $from: Int!) { caseHistory(caseId: $id, fromVersion: $from, first: 200) {
  version type occurredAt actor { id role } payload } }`;

const EVENTS = `subscription($id: ID!, $from: Int!) { caseEvents(caseId: $id, fromVersion: $from) {
  version type occurredAt actor { id role } payload } }`;

const ROOM = `subscription($id: ID!) { swarmRoom(caseId: $id) {
  version change agent
  room { lead startedAt members { agent isLead joinedAt } chat { id author body at } } } }`;

const MUTATE = (name, args) => `mutation(${args.map(([a, t]) => `$${a}: ${t}`).join(', ')}) {
  ${name}(${args.map(([a]) => `${a}: $${a}`).join(', ')}) { ${CASE_FIELDS} } }`;

// What kind of timeline entry an event is: drives its style and the filter.
export function category(ev) {
  if (ev.type === 'MessagePosted') {
    const k = String(ev.payload.kind || '').toUpperCase();
    return k === 'PUBLIC_REPLY' ? 'public' : k === 'INTERNAL_NOTE' ? 'internal' : 'swarm';
  }
  if (ev.type.startsWith('Swarm')) return 'swarm';
  if (ev.type.startsWith('Sla') || ev.type === 'FirstResponded') return 'sla';
  if (['CaseRouted', 'CaseEscalated', 'CaseDeescalated', 'CaseTeamChanged'].includes(ev.type)) return 'routing';
  return 'other';
}

const LABELS = {
  public: 'Public reply', internal: 'Internal note', swarm: 'Swarm', sla: 'SLA', routing: 'Routing', other: 'Case',
};

function describe(ev) {
  const p = ev.payload || {};
  switch (ev.type) {
    case 'MessagePosted': return null;
    case 'CaseOpened': return `opened \u201c${p.subject || ''}\u201d`;
    case 'CaseRouted': return `routed to ${p.tier}${p.team ? ` / ${p.team}` : ''}`
      + (p.ruleId ? ` by rule ${p.ruleId} (rule set v${p.ruleSetVersion})` : ' by the default route')
      + (p.priority ? `, priority ${words(p.priority)}` : '') + (p.sensitive ? ', sensitive' : '');
    case 'CaseEscalated': return `escalated ${p.from || ''} \u2192 ${p.to || ''}${p.reason ? `: ${p.reason}` : ''}`;
    case 'CaseDeescalated': return `de-escalated ${p.from || ''} \u2192 ${p.to || ''}${p.reason ? `: ${p.reason}` : ''}`;
    case 'AgentAssigned': return `assigned to ${p.agent}`;
    case 'AgentUnassigned': return 'unassigned';
    case 'SwarmStarted': return `swarm started, led by ${p.lead}${p.reason ? `: ${p.reason}` : ''}`;
    case 'SwarmJoined': return `${p.agent} joined the swarm`;
    case 'SwarmLeft': return `${p.agent} left the swarm`;
    case 'SwarmLeadChanged': return `swarm lead ${p.from} \u2192 ${p.to}`;
    case 'SwarmEnded': return 'swarm ended';
    case 'PriorityChanged': return `priority ${words(p.from)} \u2192 ${words(p.to)}${p.reason ? `: ${p.reason}` : ''}`;
    case 'CaseResolved': return `resolved: ${p.resolution || p.text || ''}`;
    case 'CaseReopened': return `reopened${p.reason ? `: ${p.reason}` : ''}`;
    case 'SlaApplied': return `SLA policy ${p.policyId} applies`
      + (p.firstResponseSecs ? `: first response within ${duration(p.firstResponseSecs)}` : '')
      + (p.resolutionSecs ? `${p.firstResponseSecs ? ',' : ':'} resolution within ${duration(p.resolutionSecs)}` : '')
      + (p.calendar && p.calendar.id ? ` (${p.calendar.id} calendar)` : '');
    case 'SlaBreached': return `${words(p.kind)} deadline missed (policy ${p.policyId})`;
    case 'SlaEscalated': return `escalation step ${p.step} of policy ${p.policyId} (${words(p.clock)})`
      + (p.notifyLead ? ', lead notified' : '');
    case 'FirstResponded': return `first response by ${p.by}`;
    default: {
      const show = (v) => (typeof v !== 'object' ? String(v) : v && v.id ? v.id
        : (JSON.stringify(v).length > 60 ? `${JSON.stringify(v).slice(0, 57)}\u2026` : JSON.stringify(v)));
      const rest = Object.entries(p).filter(([, v]) => v !== null && v !== '' && !(Array.isArray(v) && !v.length))
        .map(([k, v]) => `${k}: ${show(v)}`).join(', ');
      return `${ev.type}${rest ? ` (${rest})` : ''}`;
    }
  }
}

// Rule sets by version, as recorded when they came into force (staff may read them).
const ruleSets = new Map();
function ruleSet(version) {
  if (!ruleSets.has(version)) {
    ruleSets.set(version, gql('query($v: Int!) { ruleSet(version: $v) { rules { id name condition } } }', { v: version })
      .then((d) => d.ruleSet, () => null));
  }
  return ruleSets.get(version);
}

export function timelineEntry(ev) {
  const cat = category(ev);
  const text = describe(ev);
  const li = h('li', { class: `ev ${cat}`, dataset: { version: ev.version, type: ev.type } },
    h('div', { class: 'ev-head' },
      chip(LABELS[cat], cat), ' ',
      h('strong', {}, ev.actor.id), ' ',
      time(ev.occurredAt), ' ',
      h('span', { class: 'muted' }, `v${ev.version}`)),
    text ? h('p', { class: 'ev-text' }, text) : h('p', { class: 'ev-body' }, ev.payload.body));
  // Why the rule fired: its condition, from the rule set that routed the case.
  const p = ev.payload || {};
  if (ev.type === 'CaseRouted' && p.ruleId && p.ruleSetVersion) {
    ruleSet(p.ruleSetVersion).then((set) => {
      const rule = set && set.rules.find((r) => r.id === p.ruleId);
      if (rule) li.append(h('p', { class: 'ev-why' }, `${rule.name || rule.id}: it matched because ${conditionText(rule.condition)}.`));
    });
  }
  return li;
}

export function caseSummary(c) {
  const sla = c.sla;
  return h('dl', { class: 'facts' },
    fact('Status', chip(words(c.status), `s-${c.status.toLowerCase()}`)),
    fact('Priority', chip(words(c.priority), `p-${c.priority.toLowerCase()}`)),
    c.requestedPriority ? fact('Customer asked for', words(c.requestedPriority)) : null,
    fact('Tier', `${c.tier || '\u2013'}${c.team ? ` / ${c.team}` : ''}${c.sensitive ? ' (sensitive)' : ''}`),
    fact('Assignee', c.assignee || 'unassigned'),
    fact('Customer', c.customer ? `${c.customer.name || c.customer.id} (${c.customer.segment}${c.customer.keyAccount ? ', key account' : ''})` : '\u2013'),
    fact('Channel', words(c.channel)),
    fact('Opened', time(c.openedAt)),
    sla ? fact('SLA', `${sla.policyId}: ${sla.nextDeadline ? `next deadline ${countdown(sla.nextDeadline)}` : 'no deadline running'}`
      + (sla.breached.length ? `; breached ${sla.breached.map(words).join(', ')}` : '')) : null,
    c.tags && c.tags.length ? fact('Tags', c.tags.join(', ')) : null,
    c.resolution ? fact('Resolution', `${c.resolution.text} (by ${c.resolution.by}, ${c.resolution.tier || ''})`) : null,
    fact('Version', String(c.version)));
}

function fact(name, value) {
  return h('div', {}, h('dt', {}, name), h('dd', {}, value));
}

export function render(ctx, id) {
  const note = banner();
  const head = h('div', { class: 'case-head' });
  const timeline = h('ol', { class: 'timeline', 'aria-label': 'Timeline', 'aria-live': 'polite' });
  const filter = select('filter', [['all', 'Everything'], ['public', 'Public replies'], ['internal', 'Internal notes'],
    ['swarm', 'Swarm'], ['routing', 'Routing'], ['sla', 'SLA']], 'all');
  filter.addEventListener('change', () => { timeline.dataset.filter = filter.value; });
  const actions = h('section', { class: 'actions', 'aria-labelledby': 'act-title' });
  const room = h('section', { class: 'room card', 'aria-labelledby': 'room-title' });
  const title = h('h1', {}, 'Case');
  const composer = h('div', {});
  mount(ctx.main, h('p', {}, h('a', { href: '#/queue' }, '\u2190 Queue')), title, note,
    h('div', { class: 'case-grid' },
      h('div', {}, head, composer,
        h('section', { 'aria-labelledby': 'tl-title' },
          h('div', { class: 'tl-head' }, h('h2', { id: 'tl-title' }, 'Timeline'), field('Show', filter)),
          timeline)),
      h('div', {}, room, actions)));

  let current = null;
  let actionsKey = null;
  let seen = 0;
  const stops = [];

  const show = (c) => {
    current = c;
    title.textContent = c.subject;
    mount(head, caseSummary(c), c.body ? h('blockquote', { class: 'case-body' }, c.body) : null);
    // Redraw the forms only when what they offer changes, so a draft survives
    // other people's events.
    const key = `${c.status}|${c.swarm ? c.swarm.members.map((m) => m.agent).join(',') : ''}`;
    if (key !== actionsKey) { actionsKey = key; drawActions(); }
  };

  const add = (ev) => {
    if (ev.version <= seen) return;
    seen = ev.version;
    timeline.append(timelineEntry(ev));
  };

  // Runs a mutation; a refusal is shown in words, the case redrawn on success.
  const act = async (name, args, values, form) => {
    note.clear();
    try {
      const data = await gql(MUTATE(name, args), { caseId: id, ...values });
      show(data[name]);
      if (form) form.reset();
      note.show(`Done: ${words(name.replace(/([A-Z])/g, '_$1'))}.`, 'ok');
    } catch (e) {
      note.error(e);
    }
  };

  const form = (label, name, args, controls, toValues, submitText) => {
    const f = h('form', { class: 'act', 'aria-label': label }, controls, h('button', { type: 'submit' }, submitText || label));
    f.addEventListener('submit', (ev) => { ev.preventDefault(); act(name, args, toValues(f), f); });
    return f;
  };
  const text = (name, label, opts = {}) => field(label, h(opts.area ? 'textarea' : 'input', { name, required: opts.required, rows: opts.area ? 3 : null, placeholder: opts.placeholder }));
  const val = (f, name) => f.elements[name].value.trim();
  const orNull = (v) => (v === '' ? null : v);

  const drawActions = () => {
    const c = current;
    const open = c.status === 'OPEN';
    const inSwarm = c.swarm && c.swarm.members.some((m) => m.agent === ctx.me.id);
    const lead = ctx.me.role === 'LEAD' || ctx.me.role === 'ADMIN';
    if (open) {
      const kind = select('kind', [['PUBLIC_REPLY', 'Public reply (the customer sees it)'], ['INTERNAL_NOTE', 'Internal note (staff only)']], 'PUBLIC_REPLY');
      mount(composer, form('Write on the case', 'postMessage', [['caseId', 'ID!'], ['kind', 'MessageKind!'], ['body', 'String!']],
        [field('Kind', kind), text('body', 'Message', { area: true, required: true })],
        (f) => ({ kind: f.elements.kind.value, body: val(f, 'body') }), 'Post'));
    } else {
      composer.replaceChildren();
    }
    mount(actions, h('h2', { id: 'act-title' }, 'Act'),
      open ? [
        form('Assign', 'assignCase', [['caseId', 'ID!'], ['agent', 'String']],
          text('agent', 'Agent (empty: me)'), (f) => ({ agent: orNull(val(f, 'agent')) })),
        form('Escalate', 'escalateCase', [['caseId', 'ID!'], ['toTier', 'String'], ['reason', 'String!']],
          [text('toTier', 'To tier (empty: next)'), text('reason', 'Reason', { required: true })],
          (f) => ({ toTier: orNull(val(f, 'toTier')), reason: val(f, 'reason') })),
        form('De-escalate', 'deescalateCase', [['caseId', 'ID!'], ['toTier', 'String'], ['reason', 'String!']],
          [text('toTier', 'To tier (empty: next lower)'), text('reason', 'Reason', { required: true })],
          (f) => ({ toTier: orNull(val(f, 'toTier')), reason: val(f, 'reason') })),
        !c.swarm ? form('Start a swarm', 'startSwarm', [['caseId', 'ID!'], ['reason', 'String!']],
          text('reason', 'Why swarm'), (f) => ({ reason: val(f, 'reason') }))
          : !inSwarm ? form('Join the swarm', 'joinSwarm', [['caseId', 'ID!']], [], () => ({}))
            : form('Leave the swarm', 'leaveSwarm', [['caseId', 'ID!']], [], () => ({})),
        c.swarm && lead ? form('Pull an agent into the swarm', 'joinSwarm', [['caseId', 'ID!'], ['agent', 'String']],
          text('agent', 'Agent', { required: true }), (f) => ({ agent: val(f, 'agent') }), 'Add to swarm') : null,
        form('Resolve', 'resolveCase', [['caseId', 'ID!'], ['resolution', 'String!']],
          text('resolution', 'Resolution', { required: true }), (f) => ({ resolution: val(f, 'resolution') })),
      ] : form('Reopen', 'reopenCase', [['caseId', 'ID!'], ['reason', 'String!']],
        text('reason', 'Reason'), (f) => ({ reason: val(f, 'reason') })));
  };

  const drawRoom = (u) => {
    const r = u.room;
    if (!r) {
      mount(room, h('h2', { id: 'room-title' }, 'Swarm room'), h('p', { class: 'muted' }, 'No active swarm.'));
      return;
    }
    const chat = h('ol', { class: 'chat', 'aria-label': 'Swarm chat', 'aria-live': 'polite' },
      r.chat.map((m) => h('li', { dataset: { id: m.id } }, h('strong', {}, m.author), ' ', time(m.at), h('p', {}, m.body))));
    const input = h('input', { name: 'body', required: true, autocomplete: 'off' });
    const f = h('form', { class: 'act', 'aria-label': 'Swarm chat message' }, field('Message to the swarm', input), h('button', { type: 'submit' }, 'Post'));
    f.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      try {
        await gql('mutation($c: ID!, $b: String!) { postMessage(caseId: $c, kind: SWARM_CHAT, body: $b) { version } }', { c: id, b: input.value });
        input.value = '';
      } catch (e) {
        note.error(e);
      }
    });
    const hadFocus = room.contains(document.activeElement) && document.activeElement.name === 'body';
    const draft = room.querySelector('input[name=body]');
    if (draft) input.value = draft.value;
    mount(room, h('h2', { id: 'room-title' }, 'Swarm room'),
      h('p', {}, `Lead: ${r.lead} \u00b7 since `, time(r.startedAt)),
      h('ul', { class: 'members', 'aria-label': 'Members' }, r.members.map((m) => h('li', {}, m.agent, m.isLead ? ' (lead)' : ''))),
      chat, f);
    chat.scrollTop = chat.scrollHeight;
    if (hadFocus) input.focus();
  };

  (async () => {
    try {
      const data = await gql(`query($id: ID!) { case(id: $id) { ${CASE_FIELDS} } }`, { id });
      if (!data.case) { note.show('No such case, or not yours to see (NOT_FOUND).'); return; }
      show(data.case);
      let from = 1;
      for (;;) {
        const page = (await gql(HISTORY, { id, from })).caseHistory;
        page.forEach(add);
        if (page.length < 200) break;
        from = page[page.length - 1].version + 1;
      }
      let refresh = null;
      stops.push(subscribe(EVENTS, { id, from: seen + 1 }, (d) => {
        note.live();
        add(d.caseEvents);
        clearTimeout(refresh);
        refresh = setTimeout(async () => {
          try { const c = (await gql(`query($id: ID!) { case(id: $id) { ${CASE_FIELDS} } }`, { id })).case; if (c) show(c); } catch (_) { /* the next event retries */ }
        }, 150);
      }, (e) => note.error(e)));
      stops.push(subscribe(ROOM, { id }, (d) => { note.live(); drawRoom(d.swarmRoom); }, (e) => note.error(e)));
    } catch (e) {
      note.error(e);
    }
  })();
  return () => stops.forEach((s) => s());
}
