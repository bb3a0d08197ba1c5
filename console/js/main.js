// The console's entry: sign-in with a pasted token, the navigation each role gets,
// and a hash router (#/queue/L1, #/case/ID, ...) that stops a page's live
// subscriptions when another page is shown.

import { gql, session, closeLive } from './api.js';
import { h, field, banner, mount } from './ui.js';
import * as queue from './queue.js';
import * as casePage from './case.js';
import * as rules from './rules.js';
import * as audit from './audit.js';
import * as admin from './admin.js';
import * as customer from './customer.js';

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const who = document.getElementById('who');
let me = null;
let cleanup = null;

const NAV = {
  AGENT: [['#/queue', 'Queues']],
  LEAD: [['#/queue', 'Queues'], ['#/rules', 'Rules']],
  ADMIN: [['#/queue', 'Queues'], ['#/rules', 'Rules'], ['#/admin', 'Tokens & people'], ['#/audit', 'Audit']],
  AUDITOR: [['#/audit', 'Audit']],
  CUSTOMER: [['#/my', 'My cases'], ['#/my/new', 'Open a case']],
};

const HOME = { AGENT: '#/queue', LEAD: '#/queue', ADMIN: '#/queue', AUDITOR: '#/audit', CUSTOMER: '#/my' };

function signInPage(message) {
  nav.replaceChildren();
  who.replaceChildren();
  const note = banner();
  const input = h('input', { type: 'password', name: 'token', autocomplete: 'off', required: true, spellcheck: 'false' });
  const form = h('form', { class: 'card signin', 'aria-labelledby': 'signin-title' },
    h('h1', { id: 'signin-title' }, 'Sign in to swarmdesk'),
    h('p', {}, 'Paste your bearer token. It is kept in this tab only (session storage) and sent to this server alone.'),
    note,
    field('Token', input),
    h('button', { type: 'submit' }, 'Sign in'));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    session.set(input.value.trim());
    try {
      await start();
      if (!location.hash || location.hash === '#/signin') location.hash = HOME[me.role] || '#/';
      else route();
    } catch (e) {
      session.clear();
      note.error(e);
    }
  });
  mount(main, form);
  if (message) note.show(message);
  input.focus();
}

async function start() {
  const data = await gql('{ me { id role } }');
  me = data.me;
  who.replaceChildren(
    h('span', { class: 'me' }, `${me.id} \u00b7 ${me.role.toLowerCase()}`),
    h('button', { type: 'button', class: 'link', onclick: signOut }, 'Sign out'));
  nav.replaceChildren(...(NAV[me.role] || []).map(([href, text]) => h('a', { href }, text)));
}

function signOut() {
  if (cleanup) cleanup();
  cleanup = null;
  closeLive();
  session.clear();
  me = null;
  location.hash = '';
  signInPage();
}

function route() {
  if (!me) return;
  if (cleanup) { try { cleanup(); } catch (_) { /* the page is gone anyway */ } }
  cleanup = null;
  const parts = (location.hash.replace(/^#\/?/, '') || '').split('/').map(decodeURIComponent);
  for (const a of nav.querySelectorAll('a')) {
    const current = location.hash.startsWith(a.getAttribute('href'));
    if (current) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  }
  const ctx = { me, main, go: (hash) => { location.hash = hash; } };
  const [page, ...rest] = parts;
  let view;
  switch (page) {
    case 'queue': view = queue.render(ctx, rest[0]); break;
    case 'case': view = casePage.render(ctx, rest[0]); break;
    case 'rules': view = rules.render(ctx); break;
    case 'audit': view = audit.render(ctx, rest[0]); break;
    case 'admin': view = admin.render(ctx); break;
    case 'my': view = customer.render(ctx, rest); break;
    default:
      location.replace(HOME[me.role] || '#/queue');
      return;
  }
  cleanup = typeof view === 'function' ? view : null;
  const heading = main.querySelector('h1');
  if (heading) { heading.tabIndex = -1; heading.focus({ preventScroll: true }); }
}

window.addEventListener('hashchange', route);

(async () => {
  if (!session.token()) return signInPage();
  try {
    await start();
    route();
  } catch (e) {
    session.clear();
    signInPage(e.words || String(e));
  }
})();
