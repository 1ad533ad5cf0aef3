// The audit trail: GET /v1/admin/audit with filters, paginated with after;
// each event opens to a diff of its before and after.

import * as api from '../api.js';
import { h, append, loader, time, mono, empty, field, id, badge } from '../ui.js';
import { diff, show } from '../diff.js';

const PAGE_SIZE = 50;
const ACTIONS = ['client.create', 'client.update', 'client.disable', 'client.enable', 'client.delete', 'client.rotate_secret',
  'client.revoke_secret', 'client.revoke_tokens', 'keys.rotate', 'keys.revoke', 'keys.update', 'token.revoke'];

function freshState() {
  return { actor: '', action: '', target_id: '', since: '', until: '', cursors: [''], page: 0 };
}

// toRFC3339 reads a datetime-local value (local time) as an RFC 3339 instant.
function toRFC3339(local) {
  if (!local) return undefined;
  const d = new Date(local);
  if (Number.isNaN(d.getTime())) throw new api.ApiError(0, '', `“${local}” is not a date and time.`);
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function render(ctx) {
  ctx.setTitle('Audit trail');
  const st = ctx.state.audit || (ctx.state.audit = freshState());
  // A link such as #/audit?target_id=… starts a fresh search.
  if ([...ctx.query.keys()].length) {
    Object.assign(st, freshState());
    for (const k of ['actor', 'action', 'target_id']) if (ctx.query.get(k)) st[k] = ctx.query.get(k);
  }

  const listId = id('actions');
  const inputs = {
    actor: h('input', { type: 'text', value: st.actor, 'data-testid': 'audit-actor', placeholder: 'client:gooclaim_app_… or cli:alice', spellcheck: 'false' }),
    action: h('input', { type: 'text', value: st.action, 'data-testid': 'audit-action', list: listId, placeholder: 'client.rotate_secret', spellcheck: 'false' }),
    target_id: h('input', { type: 'text', value: st.target_id, 'data-testid': 'audit-target', placeholder: 'a client ID or key ID', spellcheck: 'false' }),
    since: h('input', { type: 'datetime-local', value: st.since, step: '1' }),
    until: h('input', { type: 'datetime-local', value: st.until, step: '1' }),
  };
  const clearBtn = h('button', { type: 'button', class: 'btn btn-link' }, 'Clear');
  const form = h('form', { class: 'search search-audit', role: 'search', 'aria-label': 'Filter the audit trail' },
    field('Actor', inputs.actor),
    field('Action', inputs.action),
    h('datalist', { id: listId }, ACTIONS.map((a) => h('option', { value: a }))),
    field('Target', inputs.target_id),
    field('Since', inputs.since),
    field('Until', inputs.until),
    h('div', { class: 'search-actions' }, h('button', { type: 'submit', class: 'btn btn-primary', 'data-testid': 'audit-filter' }, 'Filter'), clearBtn));
  const results = h('div', { class: 'results', 'aria-live': 'polite' });
  append(ctx.main, [
    h('div', { class: 'page-head' }, h('h1', null, 'Audit trail')),
    h('p', { class: 'muted' }, 'Every change to clients and keys, oldest first. Open an event to see what changed. Times are in your local time zone.'),
    form,
    results,
  ]);

  const load = loader(results, 'Loading events…', () => api.admin('GET', '/audit', {
    query: {
      limit: PAGE_SIZE, after: st.cursors[st.page] || undefined, actor: st.actor, action: st.action, target_id: st.target_id,
      since: toRFC3339(st.since), until: toRFC3339(st.until),
    },
  }), (page, reload) => renderPage(st, page || {}, reload));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    for (const k of Object.keys(inputs)) st[k] = inputs[k].value.trim();
    st.cursors = [''];
    st.page = 0;
    load();
  });
  clearBtn.addEventListener('click', () => {
    Object.assign(st, freshState());
    for (const k of Object.keys(inputs)) inputs[k].value = '';
    load();
  });
  load();
}

function renderPage(st, page, reload) {
  const frag = document.createDocumentFragment();
  const events = page.events || [];
  const filtered = ['actor', 'action', 'target_id', 'since', 'until'].some((k) => st[k]);
  if (events.length === 0) {
    frag.append(empty(st.page > 0 ? 'No more events.' : filtered ? 'No event matches these filters.' : 'No events yet.'));
  } else {
    frag.append(h('div', { class: 'events', 'data-testid': 'audit-events' },
      h('div', { class: 'event-head', 'aria-hidden': 'true' }, h('span', null, '#'), h('span', null, 'When'), h('span', null, 'Action'), h('span', null, 'Actor'), h('span', null, 'Target')),
      events.map(renderEvent)));
  }
  const next = page.next_after;
  if (st.page > 0 || next) {
    const prev = h('button', { type: 'button', class: 'btn', disabled: st.page === 0 }, '← Previous');
    const nextBtn = h('button', { type: 'button', class: 'btn', disabled: !next, 'data-testid': 'audit-next' }, 'Next →');
    prev.addEventListener('click', () => {
      st.page -= 1;
      st.cursors.length = st.page + 1;
      reload();
    });
    nextBtn.addEventListener('click', () => {
      st.cursors[st.page + 1] = String(next);
      st.page += 1;
      reload();
    });
    frag.append(h('nav', { class: 'pager', 'aria-label': 'Pages of events' }, prev, h('span', { class: 'muted' }, `Page ${st.page + 1}`), nextBtn));
  }
  return frag;
}

function targetLink(e) {
  if (!e.target_id) return h('span', { class: 'muted' }, e.target_kind || '—');
  const label = [e.target_kind ? h('span', { class: 'muted' }, `${e.target_kind} `) : null, mono(e.target_id)];
  if (e.target_kind === 'client' && e.action !== 'client.delete') return h('a', { href: `#/clients/${api.page(e.target_id)}` }, label);
  return h('span', null, label);
}

function renderEvent(e) {
  const details = h('details', { class: 'event', 'data-seq': String(e.seq) });
  const summary = h('summary', { class: 'event-summary' },
    h('span', { class: 'event-seq' }, String(e.seq)),
    h('span', null, time(e.at)),
    h('span', null, badge(e.action, 'accent')),
    h('span', { class: 'event-actor' }, mono(e.actor)),
    h('span', null, e.target_id ? [e.target_kind ? `${e.target_kind} ` : '', mono(e.target_id)] : h('span', { class: 'muted' }, e.target_kind || '—')));
  details.append(summary);
  // The diff is built when first opened.
  let built = false;
  details.addEventListener('toggle', () => {
    if (!details.open || built) return;
    built = true;
    details.append(h('div', { class: 'event-body' },
      h('p', { class: 'event-meta' },
        'Target: ', targetLink(e),
        e.remote_addr ? [' · from ', mono(e.remote_addr)] : null,
        e.source ? [' · source ', mono(e.source)] : null),
      renderDiff(e.before, e.after)));
  });
  return details;
}

const KIND_LABEL = { added: 'added', removed: 'removed', changed: 'changed', same: 'unchanged' };
const KIND_MARK = { added: '+', removed: '−', changed: '~', same: ' ' };

export function renderDiff(before, after) {
  if ((before === null || before === undefined) && (after === null || after === undefined)) {
    return h('p', { class: 'muted' }, 'Nothing recorded before or after.');
  }
  const rows = diff(before, after);
  const changed = rows.filter((r) => r.kind !== 'same');
  const same = rows.filter((r) => r.kind === 'same');
  const note = before === null || before === undefined ? 'Created: every field is new.'
    : after === null || after === undefined ? 'Deleted: every field is gone.'
      : changed.length === 0 ? 'No field changed.' : `${changed.length} ${changed.length === 1 ? 'field' : 'fields'} changed.`;
  const row = (r) => h('tr', { class: `diff-${r.kind}` },
    h('td', { class: 'diff-mark', 'aria-hidden': 'true' }, KIND_MARK[r.kind]),
    h('th', { scope: 'row', class: 'diff-path' }, r.path, h('span', { class: 'sr-only' }, ` (${KIND_LABEL[r.kind]})`)),
    h('td', { class: 'diff-before' }, r.hasBefore ? show(r.before) : ''),
    h('td', { class: 'diff-after' }, r.hasAfter ? show(r.after) : ''));
  const head = h('thead', null, h('tr', null, h('th', { scope: 'col' }, h('span', { class: 'sr-only' }, 'Change')), h('th', { scope: 'col' }, 'Field'), h('th', { scope: 'col' }, 'Before'), h('th', { scope: 'col' }, 'After')));
  const out = h('div', { class: 'diff' }, h('p', { class: 'diff-note' }, note,
    h('span', { class: 'diff-legend' }, h('span', { class: 'diff-key diff-added' }, '+ added'), h('span', { class: 'diff-key diff-removed' }, '− removed'), h('span', { class: 'diff-key diff-changed' }, '~ changed'))));
  const shown = before && after ? changed : rows;
  if (shown.length) {
    out.append(h('div', { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': 'Changes' }, h('table', { class: 'diff-table' }, head, h('tbody', null, shown.map(row)))));
  }
  if (before && after && same.length) {
    const headSame = head.cloneNode(true);
    out.append(h('details', { class: 'diff-same' }, h('summary', null, `${same.length} unchanged ${same.length === 1 ? 'field' : 'fields'}`),
      h('div', { class: 'table-wrap' }, h('table', { class: 'diff-table' }, headSame, h('tbody', null, same.map(row))))));
  }
  return out;
}
