// The rules page (leads and admins): the ordered rule list in force, which rule
// would route a sample case and why (`previewRoute`), a replay of an edited rule
// set over a past period with its before/after table (`simulateRules`), and
// putting the edited set in force (`setRules`, which the API allows admins).

import { gql } from './api.js';
import { h, field, banner, mount, chip, words, select } from './ui.js';

const ACTIONS = 'tier team priority tags sensitive startSwarm autoAssign';
const RULES = `{ configuration { rules { version rules { id name enabled condition actions { ${ACTIONS} } } default { ${ACTIONS} } } } }`;

// A RuleSetObj as the RuleSetInput it came from (null actions left out).
function asInput(set) {
  const actions = (a) => Object.fromEntries(Object.entries(a).filter(([, v]) => v !== null));
  return {
    rules: set.rules.map((r) => ({ id: r.id, name: r.name, enabled: r.enabled, condition: r.condition, actions: actions(r.actions) })),
    default: actions(set.default),
  };
}

// A condition (ConditionInput's shape) in words.
export function conditionText(c) {
  const list = (xs, n = 6) => (xs.length > n ? `${xs.slice(0, n).join(', ')} \u2026 (+${xs.length - n})`
    : xs.length > 1 ? `${xs.slice(0, -1).join(', ')} or ${xs[xs.length - 1]}` : xs.join(''));
  const where = (m) => (m.inSubject === false ? ' (body)' : m.inBody === false ? ' (subject)' : '');
  if (!c || typeof c !== 'object') return String(c);
  const [k, v] = Object.entries(c)[0] || [];
  switch (k) {
    case 'all': return v.map((x) => (x.any ? `(${conditionText(x)})` : conditionText(x))).join(' and ');
    case 'any': return v.map(conditionText).join(' or ');
    case 'not': return `not (${conditionText(v)})`;
    case 'channel': return `channel is ${list(v.map(words))}`;
    case 'keywords': return `mentions ${list(v.words.map((w) => `\u201c${w}\u201d`))}${where(v)}`;
    case 'regex': return `matches /${v.pattern}/${where(v)}`;
    case 'segment': return `customer is ${v}`;
    case 'keyAccount': return v ? 'a key account' : 'not a key account';
    case 'language': return `language is ${list(v)}`;
    case 'hasTag': return `tagged ${v}`;
    case 'priority': return `opened as ${list(v.map(words))}`;
    default: return JSON.stringify(c);
  }
}

function describeActions(a) {
  return [a.tier && `tier ${a.tier}`, a.team && `team ${a.team}`, a.priority && `priority ${words(a.priority)}`,
    a.tags && a.tags.length && `tags ${a.tags.join(', ')}`, a.sensitive && 'sensitive', a.startSwarm && 'start a swarm',
    a.autoAssign && 'auto-assign'].filter(Boolean).join(' \u00b7 ') || 'default route';
}

export function render(ctx) {
  const note = banner();
  const list = h('div', {}, h('p', { class: 'muted' }, 'Loading\u2026'));
  const preview = h('section', { class: 'card', 'aria-labelledby': 'pv-title' });
  const sim = h('section', { class: 'card', 'aria-labelledby': 'sim-title' });
  mount(ctx.main, h('h1', {}, 'Routing rules'), note, list, h('div', { class: 'two' }, preview, sim));
  let set = null;

  const draw = () => {
    mount(list, h('p', {}, `Rule set version ${set.version}: the first enabled rule that matches routes a new case.`),
      h('table', { class: 'cases rules' },
        h('thead', {}, h('tr', {}, ['#', 'Rule', 'When', 'Then', 'Enabled'].map((c) => h('th', { scope: 'col' }, c)))),
        h('tbody', {}, set.rules.map((r, i) => h('tr', { class: r.enabled ? '' : 'disabled' },
          h('td', { 'data-label': '#' }, i + 1),
          h('td', { 'data-label': 'Rule' }, h('strong', {}, r.id), r.name ? h('div', { class: 'muted' }, r.name) : null),
          h('td', { 'data-label': 'When', title: JSON.stringify(r.condition) }, conditionText(r.condition)),
          h('td', { 'data-label': 'Then' }, describeActions(r.actions)),
          h('td', { 'data-label': 'Enabled' }, r.enabled ? chip('on', 'ok') : chip('off')))),
        h('tr', {}, h('td', {}, '\u2013'), h('td', {}, h('strong', {}, 'default')), h('td', {}, 'no rule matched'),
          h('td', {}, describeActions(set.default)), h('td', {}, chip('on', 'ok'))))));
    drawPreview();
    drawSim();
  };

  const drawPreview = () => {
    const out = h('div', { 'aria-live': 'polite' });
    const f = h('form', { class: 'act' },
      field('Subject', h('input', { name: 'subject', required: true, value: 'Refund for a double charge' })),
      field('Body', h('textarea', { name: 'body', rows: 2 }, '')),
      field('Channel', select('channel', ['EMAIL', 'CHAT', 'PHONE', 'PORTAL', 'SOCIAL_PUBLIC', 'SOCIAL_DM', 'BOT'], 'EMAIL')),
      field('Segment', select('segment', ['B2C', 'B2B'], 'B2C')),
      field('Key account', h('input', { type: 'checkbox', name: 'keyAccount' })),
      field('Language', h('input', { name: 'language', value: 'en' })),
      field('Tags (comma separated)', h('input', { name: 'tags' })),
      h('button', { type: 'submit' }, 'Preview route'));
    f.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const e = f.elements;
      const input = {
        subject: e.subject.value, body: e.body.value, channel: e.channel.value, language: e.language.value,
        customer: { id: 'preview', segment: e.segment.value, keyAccount: e.keyAccount.checked },
        tags: e.tags.value.split(',').map((t) => t.trim()).filter(Boolean),
      };
      try {
        const { previewRoute: p } = await gql(`query($i: OpenCaseInput!) { previewRoute(input: $i) {
          ruleId ruleName ruleSetVersion actions { ${ACTIONS} } explanation } }`, { i: input });
        mount(out, h('p', {}, h('strong', {}, p.ruleId ? `Rule ${p.ruleId}${p.ruleName ? ` (${p.ruleName})` : ''}` : 'The default route'),
          ` \u2192 ${describeActions(p.actions)}`), h('ol', { class: 'explain' }, p.explanation.map((l) => h('li', {}, l))));
      } catch (err) {
        note.error(err);
      }
    });
    mount(preview, h('h2', { id: 'pv-title' }, 'Where would a case go?'), f, out);
  };

  const drawSim = () => {
    const iso = (d) => d.toISOString().slice(0, 16);
    const now = new Date();
    const draft = h('textarea', { name: 'rules', rows: 12, class: 'mono', spellcheck: 'false' }, JSON.stringify(asInput(set), null, 2));
    const from = h('input', { type: 'datetime-local', name: 'from', value: iso(new Date(now - 7 * 86400000)) });
    const to = h('input', { type: 'datetime-local', name: 'to', value: iso(new Date(now.getTime() + 60000)) });
    const out = h('div', { 'aria-live': 'polite' });
    const parse = () => JSON.parse(draft.value);
    const simulate = h('form', { class: 'act' },
      field('Edited rule set (RuleSetInput as JSON)', draft),
      h('div', { class: 'row' }, field('From (UTC)', from), field('To (UTC)', to)),
      h('div', { class: 'row' }, h('button', { type: 'submit' }, 'Simulate'),
        h('button', { type: 'button', class: 'secondary', onclick: apply }, 'Apply this rule set')));
    async function apply() {
      note.clear();
      try {
        const { setRules } = await gql(`mutation($r: RuleSetInput!, $v: Int) { setRules(rules: $r, expectedVersion: $v) {
          version rules { id name enabled condition actions { ${ACTIONS} } } default { ${ACTIONS} } } }`, { r: parse(), v: set.version });
        set = setRules;
        draw();
        note.show(`Rule set version ${set.version} is in force.`, 'ok');
      } catch (err) {
        note.error(err);
      }
    }
    simulate.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      note.clear();
      try {
        const { simulateRules: r } = await gql(`query($r: RuleSetInput!, $f: DateTime!, $t: DateTime!) {
          simulateRules(rules: $r, from: $f, to: $t) { cases hiddenCases changed
            byTier { name before after } byTeam { name before after }
            changes { caseId subject before { tier team ruleId } after { tier team ruleId } } } }`,
        { r: parse(), f: `${from.value}:00Z`, t: `${to.value}:00Z` });
        const counts = (title, rows) => h('table', { class: 'cases' }, h('caption', {}, title),
          h('thead', {}, h('tr', {}, ['', 'Before', 'After'].map((c) => h('th', { scope: 'col' }, c)))),
          h('tbody', {}, rows.map((x) => h('tr', { class: x.before !== x.after ? 'changed' : '' },
            h('th', { scope: 'row' }, x.name || '(no team)'), h('td', {}, x.before), h('td', {}, x.after)))));
        const place = (p) => `${p.tier}${p.team ? ` / ${p.team}` : ''}${p.ruleId ? ` (${p.ruleId})` : ''}`;
        mount(out, h('p', {}, `${r.cases} cases replayed, ${r.changed} would be routed differently`
          + (r.hiddenCases ? ` (${r.hiddenCases} not visible to you, not replayed)` : '') + '.'),
        h('div', { class: 'two' }, counts('By tier', r.byTier), counts('By team', r.byTeam)),
        r.changes.length ? h('ul', { class: 'list' }, r.changes.map((c) => h('li', {},
          h('a', { href: `#/case/${encodeURIComponent(c.caseId)}` }, c.subject), `: ${place(c.before)} \u2192 ${place(c.after)}`))) : null);
      } catch (err) {
        note.error(err instanceof SyntaxError ? `The rule set is not valid JSON: ${err.message}` : err);
      }
    });
    mount(sim, h('h2', { id: 'sim-title' }, 'Try an edited rule set'), simulate, out);
  };

  gql(RULES).then(({ configuration }) => { set = configuration.rules; draw(); }, (e) => note.error(e));
}
