// Clients: a search over the server's pages (GET /v1/admin/clients with
// limit, after and filters), one page at a time.

import * as api from '../api.js';
import { h, append, loader, table, time, badge, mono, empty, list, field, id } from '../ui.js';

const PAGE_SIZE = 25;

const BY = [
  { value: 'name', label: 'Name', placeholder: 'part of the name' },
  { value: 'id', label: 'Client ID', placeholder: 'gooclaim_app_…' },
  { value: 'scope', label: 'Scope', placeholder: 'claims:read' },
  { value: 'metadata', label: 'Metadata', placeholder: 'owner=partners-team' },
];

function freshState() {
  return { by: 'name', q: '', status: '', cursors: [''], page: 0 };
}

export function renderList(ctx) {
  ctx.setTitle('Clients');
  const st = ctx.state.clients || (ctx.state.clients = freshState());
  if (ctx.query.get('reset') !== null) Object.assign(st, freshState());

  const bySelect = h('select', { id: id('by'), name: 'by' }, BY.map((b) => h('option', { value: b.value, selected: b.value === st.by }, b.label)));
  const q = h('input', { type: 'search', id: id('q'), name: 'q', value: st.q, autocomplete: 'off', spellcheck: 'false', 'data-testid': 'clients-search' });
  const statusSel = h('select', { id: id('status'), name: 'status' },
    h('option', { value: '', selected: st.status === '' }, 'Any'),
    h('option', { value: 'false', selected: st.status === 'false' }, 'Enabled'),
    h('option', { value: 'true', selected: st.status === 'true' }, 'Disabled'));
  const setPlaceholder = () => { q.placeholder = (BY.find((b) => b.value === bySelect.value) || BY[0]).placeholder; };
  setPlaceholder();
  bySelect.addEventListener('change', setPlaceholder);
  const clearBtn = h('button', { type: 'button', class: 'btn btn-link' }, 'Clear');
  const form = h('form', { class: 'search', role: 'search', 'aria-label': 'Find clients' },
    field('Search by', bySelect),
    h('div', { class: 'field field-grow' }, h('label', { for: q.id }, 'Search'), q),
    field('Status', statusSel),
    h('div', { class: 'search-actions' }, h('button', { type: 'submit', class: 'btn btn-primary' }, 'Search'), clearBtn));
  const results = h('div', { class: 'results', 'aria-live': 'polite' });

  append(ctx.main, [
    h('div', { class: 'page-head' }, h('h1', null, 'Clients'),
      h('div', { class: 'page-actions' }, h('a', { href: '#/clients/new', class: 'btn btn-primary', 'data-testid': 'new-client' }, 'New client'))),
    form,
    results,
  ]);

  const load = loader(results, 'Loading clients…', () => fetchPage(st), (view, reload) => renderResults(st, view, reload));

  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    Object.assign(st, { by: bySelect.value, q: q.value.trim(), status: statusSel.value, cursors: [''], page: 0 });
    load();
  });
  clearBtn.addEventListener('click', () => {
    Object.assign(st, freshState());
    bySelect.value = 'name';
    q.value = '';
    statusSel.value = '';
    setPlaceholder();
    load();
    q.focus();
  });
  load();
}

async function fetchPage(st) {
  if (st.by === 'id' && st.q) {
    try {
      const c = await api.admin('GET', `/clients/${api.enc(st.q)}`);
      const keep = st.status === '' || String(Boolean(c.disabled)) === st.status;
      return { clients: keep ? [c] : [], next: '', single: true };
    } catch (err) {
      if (err.status === 404) return { clients: [], next: '', single: true, notFound: err };
      throw err;
    }
  }
  const query = { limit: PAGE_SIZE, after: st.cursors[st.page] || undefined, disabled: st.status || undefined };
  if (st.q) {
    if (st.by === 'name') query.name = st.q;
    else if (st.by === 'scope') query.scope = st.q;
    else if (st.by === 'metadata') {
      const i = st.q.indexOf('=');
      if (i <= 0) throw new api.ApiError(0, '', 'Search metadata as KEY=VALUE, such as owner=partners-team.');
      query[`metadata.${st.q.slice(0, i).trim()}`] = st.q.slice(i + 1).trim();
    }
  }
  const page = await api.admin('GET', '/clients', { query });
  return { clients: (page && page.clients) || [], next: (page && page.next_after) || '' };
}

function renderResults(st, view, reload) {
  const frag = document.createDocumentFragment();
  const filtered = Boolean(st.q || st.status);
  if (view.clients.length === 0) {
    if (view.notFound) frag.append(empty('No client with this ID.', h('p', { class: 'muted' }, view.notFound.description)));
    else if (!filtered && st.page === 0) {
      frag.append(empty('No clients yet — create one.', h('p', null, h('a', { href: '#/clients/new', class: 'btn btn-primary' }, 'Create a client'))));
    } else if (view.next) {
      // The server reads a bounded stretch of clients per page (a search
      // over a million clients would otherwise read them all at once).
      frag.append(empty('No match in this stretch of clients yet — “Next →” searches further.'));
    } else if (st.page > 0) frag.append(empty('No more clients.'));
    else frag.append(empty('No client matches this search.'));
  } else {
    frag.append(table([
      { label: 'Name', cell: (c) => h('a', { href: `#/clients/${api.page(c.client_id)}`, class: 'strong', 'data-testid': 'client-link' }, c.name || '(no name)') },
      { label: 'Client ID', cell: (c) => mono(c.client_id) },
      { label: 'Scopes', cell: (c) => list(c.scopes, 'none') },
      { label: 'Auth methods', cell: (c) => list(c.allowed_auth_methods, 'none') },
      { label: 'Status', cell: (c) => (c.disabled ? badge('disabled', 'bad') : badge('enabled', 'ok')) },
      { label: 'Created', cell: (c) => time(c.created_at) },
    ], view.clients, { caption: 'Clients', rowAttrs: (c) => ({ 'data-client-id': c.client_id }) }));
  }
  if (!view.single && (st.page > 0 || view.next)) {
    const prev = h('button', { type: 'button', class: 'btn', disabled: st.page === 0, 'data-testid': 'clients-prev' }, '← Previous');
    const next = h('button', { type: 'button', class: 'btn', disabled: !view.next, 'data-testid': 'clients-next' }, 'Next →');
    prev.addEventListener('click', () => {
      if (st.page === 0) return;
      st.page -= 1;
      st.cursors.length = st.page + 1;
      reload();
    });
    next.addEventListener('click', () => {
      if (!view.next) return;
      st.cursors[st.page + 1] = view.next;
      st.page += 1;
      reload();
    });
    frag.append(h('nav', { class: 'pager', 'aria-label': 'Pages of clients' }, prev, h('span', { class: 'muted' }, `Page ${st.page + 1}`), next));
  }
  return frag;
}
