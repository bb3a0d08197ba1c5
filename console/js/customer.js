// The customer's pages: their own cases, one case with its public replies (the
// API never gives a customer internal notes or swarm chat), a reply form, and a
// form to open a new case.

import { gql, subscribe } from './api.js';
import { h, field, banner, mount, time, chip, words, select } from './ui.js';

export function render(ctx, rest) {
  if (rest[0] === 'new') return openPage(ctx);
  if (rest[0] === 'case' && rest[1]) return casePage(ctx, rest[1]);
  return listPage(ctx);
}

function listPage(ctx) {
  const note = banner();
  const list = h('div', {}, h('p', { class: 'muted' }, 'Loading\u2026'));
  mount(ctx.main, h('h1', {}, 'My cases'), note, list, h('p', {}, h('a', { href: '#/my/new', class: 'button' }, 'Open a case')));
  gql('{ cases(first: 100) { nodes { id subject status updatedAt } } }').then(({ cases }) => {
    mount(list, cases.nodes.length ? h('ul', { class: 'list' }, cases.nodes.map((c) => h('li', {},
      h('a', { href: `#/my/case/${encodeURIComponent(c.id)}` }, c.subject), ' ',
      chip(words(c.status), `s-${c.status.toLowerCase()}`), ' ', h('small', { class: 'muted' }, 'updated ', time(c.updatedAt)))))
      : h('p', { class: 'empty' }, 'You have no cases yet.'));
  }, (e) => note.error(e));
}

function openPage(ctx) {
  const note = banner();
  const subject = h('input', { name: 'subject', required: true });
  const body = h('textarea', { name: 'body', rows: 6, required: true });
  const priority = select('priority', ['NORMAL', 'LOW', 'HIGH', 'URGENT'].map((p) => [p, words(p)]), 'NORMAL');
  const form = h('form', { class: 'card' }, note,
    field('Subject', subject), field('What happened?', body),
    field('How urgent is it for you?', priority, 'Our team sets the case\u2019s priority; this is your request.'),
    h('button', { type: 'submit' }, 'Open the case'));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try {
      const { openCase } = await gql(`mutation($s: String!, $b: String!, $p: Priority!, $c: String!) {
        openCase(input: { subject: $s, body: $b, channel: PORTAL, priority: $p, customer: { id: $c } }) { id } }`,
      { s: subject.value, b: body.value, p: priority.value, c: ctx.me.id });
      ctx.go(`#/my/case/${encodeURIComponent(openCase.id)}`);
    } catch (e) {
      note.error(e);
    }
  });
  mount(ctx.main, h('h1', {}, 'Open a case'), form);
}

function casePage(ctx, id) {
  const note = banner();
  const title = h('h1', {}, 'Case');
  const info = h('div', {});
  const messages = h('ol', { class: 'timeline', 'aria-label': 'Replies', 'aria-live': 'polite' });
  const reply = h('textarea', { name: 'body', rows: 4, required: true });
  const form = h('form', { class: 'act', 'aria-label': 'Reply' }, field('Your reply', reply), h('button', { type: 'submit' }, 'Send'));
  mount(ctx.main, h('p', {}, h('a', { href: '#/my' }, '\u2190 My cases')), title, note, info,
    h('h2', {}, 'Conversation'), messages, form);

  const load = async () => {
    const { case: c } = await gql(`query($id: ID!) { case(id: $id) { id subject body status openedAt
      messages(kinds: [PUBLIC_REPLY]) { id author body at } } }`, { id });
    if (!c) { note.show('No such case, or not yours to see (NOT_FOUND).'); return; }
    title.textContent = c.subject;
    mount(info, h('p', {}, chip(words(c.status), `s-${c.status.toLowerCase()}`), ' opened ', time(c.openedAt)),
      c.body ? h('blockquote', { class: 'case-body' }, c.body) : null);
    if (!c.messages.length) mount(messages, h('li', { class: 'empty' }, 'No replies yet: our team will answer here.'));
    else mount(messages, c.messages.map((m) => h('li', { class: 'ev public', dataset: { id: m.id } },
      h('div', { class: 'ev-head' }, h('strong', {}, m.author), ' ', time(m.at)), h('p', { class: 'ev-body' }, m.body))));
    form.hidden = c.status === 'CLOSED';
  };
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    try {
      await gql('mutation($c: ID!, $b: String!) { postMessage(caseId: $c, kind: PUBLIC_REPLY, body: $b) { version } }', { c: id, b: reply.value });
      reply.value = '';
      await load();
    } catch (e) {
      note.error(e);
    }
  });
  load().catch((e) => note.error(e));
  // New replies from the support team appear without a reload (one reload per
  // burst of events).
  let timer = null;
  const stop = subscribe('subscription($id: ID!) { caseEvents(caseId: $id, fromVersion: 1) { version } }', { id },
    () => { clearTimeout(timer); timer = setTimeout(() => load().catch(() => {}), 200); }, () => {});
  return () => { clearTimeout(timer); stop(); };
}
