// The auditor's pages: find a case, read its full history, and move a slider
// through its versions to see the case exactly as it was at each (`caseAt`).
// Every case opened here is recorded in the access log by the server.

import { gql } from './api.js';
import { h, field, banner, mount, chip, words, time } from './ui.js';
import { timelineEntry } from './case.js';

// The fields shown for a past version (the browser test asks the API for the same).
export const AT_FIELDS = 'version status subject priority tier team assignee tags swarm { lead } messages { id kind author body }';

export function render(ctx, id) {
  return id ? casePage(ctx, id) : searchPage(ctx);
}

function searchPage(ctx) {
  const note = banner();
  const input = h('input', { name: 'case', required: true, spellcheck: 'false' });
  const form = h('form', { class: 'act row' }, field('Case id', input), h('button', { type: 'submit' }, 'Open history'));
  form.addEventListener('submit', (ev) => { ev.preventDefault(); ctx.go(`#/audit/${encodeURIComponent(input.value.trim())}`); });
  const list = h('div', {});
  mount(ctx.main, h('h1', {}, 'Audit'), note, form, h('h2', {}, 'Recent cases'), list);
  gql('{ cases(first: 50) { nodes { id subject status updatedAt } } }').then(({ cases }) => {
    mount(list, h('ul', { class: 'list' }, cases.nodes.map((c) => h('li', {},
      h('a', { href: `#/audit/${encodeURIComponent(c.id)}` }, c.subject), ' ', chip(words(c.status)), ' ',
      h('small', { class: 'muted' }, time(c.updatedAt))))));
  }, (e) => note.error(e));
}

function casePage(ctx, id) {
  const note = banner();
  const title = h('h1', {}, `History of ${id}`);
  const slider = h('input', { type: 'range', name: 'version', min: 1, max: 1, value: 1, step: 1 });
  const label = h('output', { 'aria-live': 'polite' }, '');
  const state = h('div', { class: 'card', id: 'case-at' });
  const history = h('ol', { class: 'timeline', 'aria-label': 'History' });
  mount(ctx.main, h('p', {}, h('a', { href: '#/audit' }, '\u2190 Audit')), title, note,
    h('section', { 'aria-labelledby': 'at-title' }, h('h2', { id: 'at-title' }, 'The case at a version'),
      h('div', { class: 'row' }, field('Version', slider), label), state),
    h('section', {}, h('h2', {}, 'Full history'), history));

  let events = [];
  let asked = 0;
  const showAt = async (version) => {
    const ticket = ++asked;
    label.textContent = `version ${version} of ${slider.max}`;
    try {
      const { caseAt } = await gql(`query($id: ID!, $v: Int!) { caseAt(caseId: $id, version: $v) { ${AT_FIELDS} } }`, { id, v: version });
      if (ticket !== asked) return;
      const ev = events.find((e) => e.version === version);
      mount(state,
        h('p', {}, h('strong', {}, `Version ${caseAt.version}`), ev ? [' \u00b7 after ', ev.type, ' by ', ev.actor.id, ' ', time(ev.occurredAt)] : ''),
        h('dl', { class: 'facts' },
          [['Subject', caseAt.subject], ['Status', words(caseAt.status)], ['Priority', words(caseAt.priority)],
            ['Tier', `${caseAt.tier || '\u2013'}${caseAt.team ? ` / ${caseAt.team}` : ''}`], ['Assignee', caseAt.assignee || 'unassigned'],
            ['Swarm', caseAt.swarm ? `led by ${caseAt.swarm.lead}` : 'none'], ['Tags', (caseAt.tags || []).join(', ')],
            ['Messages', String(caseAt.messages.length)]]
            .map(([k, v]) => h('div', {}, h('dt', {}, k), h('dd', {}, v)))),
        h('details', {}, h('summary', {}, 'As the API returns it'),
          h('pre', { class: 'json', dataset: { version: caseAt.version } }, JSON.stringify(caseAt, null, 2))));
      for (const li of history.children) li.classList.toggle('future', Number(li.dataset.version) > version);
    } catch (e) {
      if (ticket === asked) note.error(e);
    }
  };
  slider.addEventListener('input', () => showAt(Number(slider.value)));

  (async () => {
    try {
      let from = 1;
      for (;;) {
        const page = (await gql(`query($id: ID!, $from: Int!) { caseHistory(caseId: $id, fromVersion: $from, first: 200) {
          version type occurredAt actor { id role } payload } }`, { id, from })).caseHistory;
        events = events.concat(page);
        if (page.length < 200) break;
        from = page[page.length - 1].version + 1;
      }
      if (!events.length) { note.show('No such case, or not yours to see (NOT_FOUND).'); return; }
      mount(history, events.map(timelineEntry));
      slider.max = String(events.length);
      slider.value = String(events.length);
      showAt(events.length);
    } catch (e) {
      note.error(e);
    }
  })();
}
