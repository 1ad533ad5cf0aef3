// Signing keys: GET /v1/admin/keys, rotate, revoke.

import * as api from '../api.js';
import { h, append, clear, loading, errorBox, table, time, mono, empty, field, checkbox, openDialog, notice, id } from '../ui.js';
import { keyState } from './overview.js';

export function render(ctx) {
  ctx.setTitle('Signing keys');
  const flash = h('div', { 'aria-live': 'polite' });
  const body = h('div', null, loading('Loading the keys…'));
  const rotate = h('button', { type: 'button', class: 'btn btn-primary', 'data-testid': 'rotate-keys' }, 'Rotate');
  append(ctx.main, [
    h('div', { class: 'page-head' }, h('h1', null, 'Signing keys'), h('div', { class: 'page-actions' }, rotate)),
    h('p', { class: 'muted' }, 'Public facts only: the private keys never leave the server.'),
    flash,
    body,
  ]);
  const say = (node) => { clear(flash); flash.append(node); };

  const load = async () => {
    try {
      const out = await api.admin('GET', '/keys');
      clear(body);
      body.append(renderKeys((out && out.keys) || [], { say, reload: load }));
    } catch (err) {
      if (err.expired) return;
      clear(body);
      body.append(errorBox(err));
    }
  };

  rotate.addEventListener('click', () => {
    const now = checkbox('Sign with it at once', {}, 'For a suspected compromise: skips the publish-ahead delay, so verifiers with a cached key set may briefly refuse its tokens.');
    openDialog({
      title: 'Add a signing key?',
      body: [
        h('p', null, 'The new key is published in the JWK Set at once and starts signing after the server’s publish-ahead delay (10 minutes by default). The current key is retired then, and stays published until its tokens expire.'),
        now.el,
      ],
      confirmLabel: 'Rotate',
      onConfirm: async () => {
        const k = await api.admin('POST', '/keys/rotate', { body: now.input.checked ? { publish_ahead: '0' } : {} });
        say(notice(`New key ${k.kid} (${k.alg}) signs from ${new Date(k.signing_from).toLocaleString()}.`, 'success'));
        await load();
      },
    });
  });
  load();
}

function renderKeys(keys, { say, reload }) {
  if (keys.length === 0) return empty('No signing keys.');
  return table([
    { label: 'Key ID', cell: (k) => mono(k.kid) },
    { label: 'Algorithm', cell: (k) => k.alg },
    { label: 'State', cell: (k) => keyState(k.state) },
    { label: 'Created', cell: (k) => time(k.created_at) },
    { label: 'Signing from', cell: (k) => time(k.signing_from) },
    { label: 'Retired', cell: (k) => time(k.retired_at) },
    { label: 'Published until', cell: (k) => time(k.published_until) },
    { label: 'Actions', cell: (k) => h('button', { type: 'button', class: 'btn btn-small btn-danger-outline', 'data-testid': 'revoke-key', 'aria-label': `Revoke key ${k.kid}`, onClick: () => revokeDialog(k, say, reload) }, 'Revoke') },
  ], keys, { caption: 'Signing keys', rowAttrs: (k) => ({ 'data-kid': k.kid }) });
}

function revokeDialog(k, say, reload) {
  const reason = h('textarea', { id: id('reason'), rows: 3, maxlength: '500', 'data-testid': 'revoke-reason' });
  openDialog({
    title: `Revoke key ${k.kid}?`,
    body: [
      h('p', null, 'The key leaves the JWK Set now: every token it signed stops verifying, and it never signs again.',
        k.state === 'active' ? ' It is the active key: a new key of the same algorithm is created and signs at once.' : ''),
      h('p', null, 'Key: ', mono(k.kid), ` (${k.alg}, ${k.state})`),
      field('Reason', reason, 'What happened; kept in the server’s log and echoed back. Optional.'),
    ],
    confirmLabel: 'Revoke key',
    danger: true,
    onConfirm: async () => {
      const r = reason.value.trim();
      const out = await api.admin('POST', `/keys/${api.enc(k.kid)}/revoke`, { body: r ? { reason: r } : {} });
      const rep = out && out.replacement;
      say(notice(rep ? `Key ${out.revoked.kid} revoked; key ${rep.kid} signs in its place.` : `Key ${(out && out.revoked && out.revoked.kid) || k.kid} revoked.`, 'success'));
      await reload();
    },
  });
}
