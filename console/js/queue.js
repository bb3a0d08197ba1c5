// The tier queue page: one tier's open cases, live through the `tierQueue`
// subscription, in the server's order (most urgent, nearest SLA deadline first),
// with SLA countdowns that tick while the page is open.

import { gql, subscribe } from './api.js';
import { h, banner, mount, countdown, risk, chip, words, time } from './ui.js';

const QUEUE = `subscription($tier: String!) { tierQueue(tier: $tier) {
  position change caseId eventType
  queue { tier length entries { rank case {
    id subject priority status assignee openedAt
    customer { name } swarm { lead members { agent } }
    sla { nextDeadline breached } } } } } }`;

const LAST = 'swarmdesk.tier';

export function render(ctx, tierParam) {
  const note = banner();
  const tabs = h('nav', { class: 'tabs', 'aria-label': 'Tiers' });
  const status = h('p', { class: 'muted', 'aria-live': 'polite' }, 'Loading\u2026');
  const body = h('div', { class: 'queue' });
  mount(ctx.main, h('h1', {}, tierParam ? `Queue ${tierParam}` : 'Queues'), note, tabs, status, body);
  let stop = null;
  let timer = null;
  let last = null;

  const draw = () => {
    if (!last) return;
    const q = last.queue;
    status.textContent = `${q.length} open case${q.length === 1 ? '' : 's'} in ${q.tier} \u00b7 live`
      + (last.change !== 'SNAPSHOT' ? ` \u00b7 last change: ${words(last.change)}` : '');
    if (!q.entries.length) {
      mount(body, h('p', { class: 'empty' }, 'Nothing waiting here.'));
      return;
    }
    const now = Date.now();
    // Redrawing must not take the keyboard focus away from the case it is on.
    const focused = body.contains(document.activeElement) && document.activeElement.closest('tr');
    const keep = focused ? focused.dataset.caseId : null;
    mount(body, h('table', { class: 'cases' },
      h('caption', { class: 'sr-only' }, `Open cases of ${q.tier}, most urgent first`),
      h('thead', {}, h('tr', {},
        ['#', 'Case', 'Priority', 'SLA', 'Assignee', 'Swarm', 'Opened'].map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, q.entries.map(({ rank, case: c }) => {
        const r = risk(c.sla, now);
        return h('tr', { class: `risk-${r || 'none'}`, dataset: { caseId: c.id } },
          h('td', { 'data-label': 'Rank' }, rank),
          h('td', { 'data-label': 'Case' },
            h('a', { href: `#/case/${encodeURIComponent(c.id)}` }, c.subject),
            c.customer ? h('small', { class: 'muted' }, ` ${c.customer.name}`) : null),
          h('td', { 'data-label': 'Priority' }, chip(words(c.priority), `p-${c.priority.toLowerCase()}`)),
          h('td', { 'data-label': 'SLA' }, c.sla
            ? (c.sla.breached.length ? chip(`breached ${c.sla.breached.map(words).join(', ')}`, 'breached') : '')
            : h('span', { class: 'muted' }, 'no SLA'),
          c.sla && c.sla.nextDeadline ? h('span', { class: `due ${r}` }, ` ${countdown(c.sla.nextDeadline, now)}`) : ''),
          h('td', { 'data-label': 'Assignee' }, c.assignee || h('span', { class: 'muted' }, 'unassigned')),
          h('td', { 'data-label': 'Swarm' }, c.swarm ? chip(`swarm \u00b7 ${c.swarm.members.length}`, 'swarm') : ''),
          h('td', { 'data-label': 'Opened' }, time(c.openedAt)));
      }))));
    if (keep) {
      const link = body.querySelector(`tr[data-case-id="${CSS.escape(keep)}"] a`);
      if (link) link.focus({ preventScroll: true });
    }
  };

  const show = (tier) => {
    sessionStorage.setItem(LAST, tier);
    for (const a of tabs.querySelectorAll('a')) {
      if (a.dataset.tier === tier) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
    }
    if (stop) stop();
    last = null;
    status.textContent = `Connecting to ${tier}\u2026`;
    stop = subscribe(QUEUE, { tier }, (data) => { last = data.tierQueue; note.clear(); draw(); }, (e) => note.error(e));
  };

  (async () => {
    try {
      const { tiers: all, me } = await gql('{ tiers me { role tiers } }');
      // An agent's queues are the tiers they work; leads also see the tiers below
      // theirs; roles without tiers (admins, auditors) see every queue.
      const top = Math.max(-1, ...me.tiers.map((t) => all.indexOf(t)));
      const tiers = me.role === 'AGENT' && me.tiers.length ? all.filter((t) => me.tiers.includes(t))
        : me.role === 'LEAD' && top >= 0 ? all.slice(0, top + 1) : all;
      tabs.replaceChildren(...tiers.map((t) => h('a', { href: `#/queue/${encodeURIComponent(t)}`, dataset: { tier: t } }, t)));
      let tier = tierParam && tiers.includes(tierParam) ? tierParam : null;
      if (!tier) {
        const remembered = sessionStorage.getItem(LAST);
        if (remembered && tiers.includes(remembered)) tier = remembered;
      }
      if (!tier) {
        // The first tier the caller works; else the lowest shown.
        tier = me.tiers.find((t) => tiers.includes(t)) || tiers[0];
      }
      ctx.main.querySelector('h1').textContent = `Queue ${tier}`;
      show(tier);
    } catch (e) {
      note.error(e);
    }
  })();
  timer = setInterval(draw, 30000);
  return () => { if (stop) stop(); clearInterval(timer); };
}
