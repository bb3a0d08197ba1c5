// The admin page: bearer tokens (create one, shown once; revoke), and the teams
// and agents of the configuration with their current load.

import { gql } from './api.js';
import { h, field, banner, mount, chip, words, select, time } from './ui.js';

export function render(ctx) {
  const note = banner();
  const created = h('div', { 'aria-live': 'polite' });
  const tokens = h('div', {});
  const people = h('div', {});
  const user = h('input', { name: 'user', required: true });
  const role = select('role', ['AGENT', 'LEAD', 'AUDITOR', 'CUSTOMER', 'ADMIN'].map((r) => [r, words(r)]), 'AGENT');
  const tiers = h('input', { name: 'tiers', placeholder: 'L1, L2' });
  const form = h('form', { class: 'act row' }, field('User', user), field('Role', role), field('Tiers (agents, leads)', tiers),
    h('button', { type: 'submit' }, 'Create token'));
  mount(ctx.main, h('h1', {}, 'Tokens & people'), note,
    h('section', { 'aria-labelledby': 'tok-title' }, h('h2', { id: 'tok-title' }, 'Tokens'), form, created, tokens),
    h('section', { 'aria-labelledby': 'ppl-title' }, h('h2', { id: 'ppl-title' }, 'Teams and agents'), people));

  const loadTokens = async () => {
    const { tokens: list } = await gql('{ tokens { tokenId user role tiers expiresAt expired } }');
    mount(tokens, h('table', { class: 'cases' },
      h('thead', {}, h('tr', {}, ['User', 'Role', 'Tiers', 'Expires', 'Token id', ''].map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, list.map((t) => h('tr', {},
        h('td', { 'data-label': 'User' }, t.user), h('td', { 'data-label': 'Role' }, words(t.role)),
        h('td', { 'data-label': 'Tiers' }, t.tiers.join(', ')),
        h('td', { 'data-label': 'Expires' }, t.expiresAt ? time(t.expiresAt) : 'never'),
        h('td', { 'data-label': 'Token id' }, h('code', {}, t.tokenId)),
        h('td', {}, h('button', {
          type: 'button', class: 'secondary', 'aria-label': `Revoke ${t.user}'s token ${t.tokenId}`,
          onclick: async () => {
            if (!window.confirm(`Revoke ${t.user}'s token? It stops working at once.`)) return;
            try { await gql('mutation($id: String!) { revokeToken(tokenId: $id) }', { id: t.tokenId }); await loadTokens(); } catch (e) { note.error(e); }
          },
        }, 'Revoke')))))));
  };

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    note.clear();
    try {
      const { createToken: t } = await gql(`mutation($u: String!, $r: Role!, $t: [String!]!) {
        createToken(user: $u, role: $r, tiers: $t) { token tokenId user role } }`,
      { u: user.value.trim(), r: role.value, t: tiers.value.split(',').map((s) => s.trim()).filter(Boolean) });
      const shown = h('input', { readonly: true, value: t.token, class: 'mono', onfocus: (e) => e.target.select() });
      mount(created, h('div', { class: 'banner ok' },
        h('p', {}, `Token for ${t.user} (${words(t.role)}). Copy it now: it is shown only once.`), field('New token', shown)));
      form.reset();
      await loadTokens();
    } catch (e) {
      note.error(e);
    }
  });

  loadTokens().catch((e) => note.error(e));
  gql(`{ configuration { teams { name tier description members }
    agents { id name worksTiers teams openCases maxCases swarms } } }`).then(({ configuration: c }) => {
    mount(people,
      h('h3', {}, 'Teams'),
      c.teams.length ? h('ul', { class: 'list' }, c.teams.map((t) => h('li', {}, h('strong', {}, t.name), ` ${t.tier} `,
        t.description ? h('span', { class: 'muted' }, t.description) : null, ` \u00b7 ${t.members.join(', ') || 'no members'}`)))
        : h('p', { class: 'empty' }, 'No teams.'),
      h('h3', {}, 'Agents'),
      c.agents.length ? h('table', { class: 'cases' },
        h('thead', {}, h('tr', {}, ['Agent', 'Tiers', 'Teams', 'Load', 'Swarms'].map((x) => h('th', { scope: 'col' }, x)))),
        h('tbody', {}, c.agents.map((a) => h('tr', {},
          h('td', { 'data-label': 'Agent' }, a.name && a.name !== a.id ? `${a.name} (${a.id})` : a.id),
          h('td', { 'data-label': 'Tiers' }, a.worksTiers.join(', ')),
          h('td', { 'data-label': 'Teams' }, a.teams.join(', ')),
          h('td', { 'data-label': 'Load' }, chip(`${a.openCases}/${a.maxCases}`, a.openCases >= a.maxCases ? 'breached' : '')),
          h('td', { 'data-label': 'Swarms' }, String(a.swarms))))))
        : h('p', { class: 'empty' }, 'No agents in the directory.'));
  }, (e) => note.error(e));
}
