// One client: its settings, secrets and actions; the create and edit forms.

import * as api from '../api.js';
import {
  h, append, clear, loading, errorBox, table, time, badge, mono, empty, list, dl, field, checkbox, busy,
  openDialog, secretPanel, splitList, splitLines, id, notice, relative, confirmByName, managedNotice, managedBy,
} from '../ui.js';

const AUTH_METHODS = [
  ['client_secret_basic', 'client_secret_basic — secret in the Authorization header'],
  ['client_secret_post', 'client_secret_post — secret in the form body'],
  ['private_key_jwt', 'private_key_jwt — a JWT signed with its key (JWKS)'],
  ['federated_jwt', 'federated_jwt — a token of a trusted issuer'],
  ['tls_client_auth', 'tls_client_auth — a CA-issued client certificate'],
  ['self_signed_tls_client_auth', 'self_signed_tls_client_auth — a certificate in its JWKS'],
];

const TLS_FIELDS = [
  ['', 'None'],
  ['tls_client_auth_subject_dn', 'Subject DN'],
  ['tls_client_auth_san_dns', 'SAN DNS name'],
  ['tls_client_auth_san_uri', 'SAN URI'],
  ['tls_client_auth_san_ip', 'SAN IP address'],
  ['tls_client_auth_san_email', 'SAN e-mail address'],
];

// The client page.

export function renderShow(ctx) {
  const [cid] = ctx.params;
  ctx.setTitle(`Client ${cid}`);
  const top = h('div', { class: 'secret-slot' });
  const body = h('div', null, loading('Loading the client…'));
  append(ctx.main, [
    h('p', { class: 'crumbs' }, h('a', { href: '#/clients' }, '← Clients')),
    top,
    body,
  ]);

  // A secret handed over by the create form, shown once.
  let panel = null;
  const showSecret = (secret, title) => {
    if (panel) panel.dispose();
    panel = secretPanel({ secret, clientId: cid, title, onDismiss: () => { panel = null; } });
    top.append(panel.panel);
    panel.panel.focus();
  };
  ctx.onCleanup(() => { if (panel) panel.dispose(); panel = null; });

  const handed = ctx.handoff.secret;
  delete ctx.handoff.secret;

  const flash = h('div', { 'aria-live': 'polite' });
  const say = (text, kind = 'success') => { clear(flash); flash.append(notice(text, kind)); };

  const draw = (c) => {
    clear(body);
    ctx.setTitle(c.name || c.client_id);
    body.append(renderClient(c, { flash, say, showSecret, redraw: draw, navigate: ctx.navigate }));
  };

  api.admin('GET', `/clients/${api.enc(cid)}`).then((c) => {
    draw(c);
    if (handed && handed.clientId === c.client_id) {
      if (handed.secret) showSecret(handed.secret, 'The new client’s secret');
      else say('Client created. It has no secret: it authenticates with its keys, certificate or federated identity.');
    }
  }).catch((err) => {
    if (err.expired) return;
    clear(body);
    body.append(h('h1', null, 'Client'), errorBox(err));
    if (handed && handed.secret) showSecret(handed.secret, 'The new client’s secret');
  });
}

function renderClient(c, { flash, say, showSecret, redraw, navigate }) {
  const cid = c.client_id;
  const path = `/clients/${api.enc(cid)}`;
  const frag = document.createDocumentFragment();

  const act = (label, cls, fn, attrs = {}) => h('button', { type: 'button', class: cls, onClick: fn, ...attrs }, label);

  const post = async (suffix, body, message) => {
    const out = await api.admin('POST', `${path}/${suffix}`, { body: body || {} });
    redraw(out.client || out);
    say(message);
    return out;
  };

  const actions = h('div', { class: 'page-actions wrap' },
    h('a', { href: `#/clients/${api.page(cid)}/edit`, class: 'btn', 'data-testid': 'edit-client' }, 'Edit'),
    c.disabled
      ? act('Enable', 'btn', async (ev) => {
        try { await busy(ev.currentTarget, 'Enabling…', () => post('enable', {}, 'Client enabled: it can obtain tokens again.')); } catch (err) { showErr(flash, err); }
      }, { 'data-testid': 'enable-client' })
      : act('Disable', 'btn', () => openDialog({
        title: `Disable ${c.name}?`,
        body: [h('p', null, 'The client can no longer obtain tokens, and every token it holds is revoked now. Enabling it again does not bring those tokens back.')],
        confirmLabel: 'Disable',
        danger: true,
        onConfirm: () => post('disable', {}, 'Client disabled; its tokens are revoked.'),
      }), { 'data-testid': 'disable-client' }),
    act('Rotate secret', 'btn', () => rotateDialog(c, post, showSecret), { 'data-testid': 'rotate-secret' }),
    act('Revoke old secret', 'btn', () => openDialog({
      title: 'Revoke the old secret?',
      body: [h('p', null, 'Every secret but the newest stops working now, ending the grace period of the last rotation.')],
      confirmLabel: 'Revoke old secret',
      danger: true,
      onConfirm: () => post('revoke-secret', { old: true }, 'The old secret no longer works.'),
    }), { disabled: (c.secrets || []).length < 2, title: (c.secrets || []).length < 2 ? 'Only one secret is live' : null, 'data-testid': 'revoke-secret' }),
    act('Revoke tokens', 'btn', () => openDialog({
      title: 'Revoke every token of this client?',
      body: [h('p', null, 'Tokens issued up to now stop being active. The client can still obtain new ones.')],
      confirmLabel: 'Revoke tokens',
      danger: true,
      onConfirm: () => post('revoke-tokens', {}, 'Every token issued up to now is revoked.'),
    }), { 'data-testid': 'revoke-tokens' }),
    act('Delete', 'btn btn-danger', () => deleteDialog(c, navigate), { 'data-testid': 'delete-client' }));

  frag.append(h('div', { class: 'page-head' },
    h('div', null,
      h('h1', null, c.name || '(no name)', ' ', c.disabled ? badge('disabled', 'bad') : badge('enabled', 'ok')),
      h('p', { class: 'muted' }, mono(cid))),
    actions));
  frag.append(flash);
  const managed = managedNotice('client', c.managed_by);
  if (managed) frag.append(managed);

  const secretMethod = !c.auth_methods || c.auth_methods.length === 0 ? 'every method its credentials allow' : null;
  const tls = TLS_FIELDS.find(([k]) => k && c[k]);
  frag.append(h('section', { class: 'panel' }, h('h2', null, 'Settings'), dl([
    ['Client ID', mono(cid)],
    ['Name', c.name],
    ['Incarnation', c.incarnation ? mono(c.incarnation) : null],
    ['Scopes', list(c.scopes, 'none')],
    ['Audiences', list(c.audiences, 'the server’s default')],
    ['Token lifetime', c.token_ttl || h('span', { class: 'muted' }, 'the server’s default')],
    ['Rate limit', c.rate_limit || h('span', { class: 'muted' }, 'the server’s default')],
    ['Token quotas', [
      c.quotas && c.quotas.length ? c.quotas.join(', ') : h('span', { class: 'muted' }, 'the server’s default, if any'),
      ' — ', c.quota_mode === 'warn' ? 'warn only (issued past the quota, breach audited)' : 'enforced (refused past the quota)']],
    ['Claims (CEL)', Object.keys(c.claims || {}).length
      ? h('ul', { class: 'chips', 'data-testid': 'client-claims' }, Object.entries(c.claims).sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([k, v]) => h('li', { class: 'chip' }, mono(k), ' = ', mono(v))))
      : h('span', { class: 'muted' }, 'none (the server’s default claims, if any)')],
    ['Condition (CEL)', c.condition ? h('span', { 'data-testid': 'client-condition' }, mono(c.condition)) : h('span', { class: 'muted' }, 'none')],
    ['Token reuse', h('span', { 'data-testid': 'client-token-reuse-shown' }, REUSE_SHOWN[c.token_reuse] || h('span', { class: 'muted' }, REUSE_SHOWN.default))],
    ['Auth methods (configured)', list(c.auth_methods, secretMethod)],
    ['Auth methods (allowed now)', list(c.allowed_auth_methods, 'none')],
    ['JWKS URI', c.jwks_uri ? mono(c.jwks_uri) : null],
    ['Certificate must name', tls ? [tls[1], ': ', mono(c[tls[0]])] : null],
    ['Exchange audiences', list(c.exchange_audiences, 'none')],
    ['DPoP-bound tokens', c.dpop_bound_access_tokens ? 'Required' : 'Not required'],
    ['Certificate-bound tokens', c.tls_client_certificate_bound_access_tokens ? 'Required' : 'Not required'],
    ['Tokens revoked before', c.tokens_revoked_before ? time(c.tokens_revoked_before) : null],
    ['Managed by', c.managed_by ? h('span', { 'data-testid': 'client-managed-by' }, managedBy(c.managed_by)) : null],
    ['Created', time(c.created_at)],
    ['Updated', time(c.updated_at)],
  ])));

  const secrets = c.secrets || [];
  const secretsSection = h('section', { class: 'panel', 'data-testid': 'client-secrets' }, h('h2', null, 'Secrets'));
  if (secrets.length === 0) secretsSection.append(empty('No secrets: this client authenticates without one.'));
  else {
    secretsSection.append(table([
      { label: 'Secret ID', cell: (x) => mono(x.id) },
      { label: 'Kind', cell: (x) => x.kind },
      { label: 'Created', cell: (x) => time(x.created_at) },
      { label: 'Expires', cell: (x) => (x.expires_at ? [time(x.expires_at), ' ', h('span', { class: 'muted' }, `(${relative(x.expires_at)})`)] : h('span', { class: 'muted' }, 'never')) },
    ], secrets, { caption: 'Secrets' }));
  }

  const meta = Object.entries(c.metadata || {}).sort(([a], [b]) => (a < b ? -1 : 1));
  const metaSection = h('section', { class: 'panel' }, h('h2', null, 'Metadata'));
  if (meta.length === 0) metaSection.append(empty('No metadata.'));
  else metaSection.append(table([{ label: 'Key', cell: ([k]) => mono(k) }, { label: 'Value', cell: ([, v]) => v }], meta, { caption: 'Metadata' }));

  const fed = c.federated || [];
  const fedSection = h('section', { class: 'panel' }, h('h2', null, 'Federated identities'));
  if (fed.length === 0) fedSection.append(empty('None.'));
  else fedSection.append(table([{ label: 'Issuer', cell: (f) => mono(f.issuer) }, { label: 'Subject', cell: (f) => mono(f.subject) }], fed, { caption: 'Federated identities' }));

  frag.append(secretsSection);
  frag.append(h('div', { class: 'grid-2' }, metaSection, fedSection));
  if (c.jwks) {
    frag.append(h('section', { class: 'panel' }, h('h2', null, 'Public keys (JWKS)'),
      h('pre', { class: 'code', tabindex: '0' }, JSON.stringify(c.jwks, null, 2))));
  }
  frag.append(h('p', null, h('a', { href: `#/audit?target_id=${api.enc(cid)}` }, 'Audit trail of this client →')));
  return frag;
}

function showErr(slot, err) {
  if (err.expired) return;
  clear(slot);
  slot.append(errorBox(err));
}

function rotateDialog(c, post, showSecret) {
  const grace = h('input', { type: 'text', value: '24h', id: id('grace'), required: true, spellcheck: 'false', 'data-testid': 'rotate-grace' });
  openDialog({
    title: `Rotate the secret of ${c.name}`,
    body: [
      h('p', null, 'A new secret is generated and shown once. The current secret keeps working for the grace period, so the client can switch over.'),
      field('Grace period', grace, 'Such as 24h, 7d or 30m; at most 30d. 0 ends the current secret at once.'),
    ],
    confirmLabel: 'Rotate secret',
    canConfirm: () => grace.value.trim() !== '',
    onConfirm: async () => {
      const out = await post('rotate-secret', { grace: grace.value.trim() }, 'Secret rotated.');
      if (out.client_secret) showSecret(out.client_secret, 'The new secret');
    },
  });
}

function deleteDialog(c, navigate) {
  const name = c.name || c.client_id;
  confirmByName({
    title: `Delete ${name}?`,
    text: 'The client and its secrets are deleted, and its tokens stop being active for good. This cannot be undone.',
    what: 'client’s name',
    name,
    confirmLabel: 'Delete client',
    testid: 'delete-confirm',
    onConfirm: async () => {
      await api.admin('DELETE', `/clients/${api.enc(c.client_id)}`);
      navigate('#/clients');
    },
  });
}

// How a client's token_reuse is shown: on, off, or the server's setting
// (serve --reuse-tokens) when it is default.
const REUSE_SHOWN = {
  on: 'On (a request for what a live token already grants gets that token again)',
  off: 'Off (every request gets a new token)',
  default: 'the server’s default',
};

// The form, for create and edit.

export function parseMetadata(text, what = 'Metadata', form = 'KEY=VALUE') {
  const out = {};
  for (const line of splitLines(text)) {
    const i = line.indexOf('=');
    if (i <= 0) throw new api.ApiError(0, '', `${what} line “${line}” is not ${form}.`);
    const k = line.slice(0, i).trim();
    if (Object.prototype.hasOwnProperty.call(out, k)) throw new api.ApiError(0, '', `${what} key “${k}” is given twice.`);
    out[k] = line.slice(i + 1).trim();
  }
  return out;
}

function parseFederated(text) {
  return splitLines(text).map((line) => {
    const i = line.indexOf('=');
    if (i <= 0 || i === line.length - 1) throw new api.ApiError(0, '', `Federated identity “${line}” is not ISSUER=SUBJECT.`);
    return { issuer: line.slice(0, i).trim(), subject: line.slice(i + 1).trim() };
  });
}

function parseJWKS(text) {
  if (!text.trim()) return null;
  let v;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw new api.ApiError(0, '', `The JWKS is not valid JSON: ${err.message}`);
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new api.ApiError(0, '', 'The JWKS must be a JSON object such as {"keys": [ … ]}.');
  return v;
}

function textarea(value, rows, attrs = {}) {
  return h('textarea', { rows, spellcheck: 'false', value, ...attrs });
}

// clientForm builds the form; values() reads it into a request body (every field).
function clientForm(c, { create }) {
  const f = {};
  f.name = h('input', { type: 'text', required: true, value: c.name || '', maxlength: '200', 'data-testid': 'client-name' });
  f.client_id = h('input', { type: 'text', value: '', spellcheck: 'false', autocomplete: 'off', placeholder: 'generated: gooclaim_app_…' });
  f.scopes = h('input', { type: 'text', value: (c.scopes || []).join(' '), spellcheck: 'false', placeholder: 'claims:read claims:write', 'data-testid': 'client-scopes' });
  f.audiences = textarea((c.audiences || []).join('\n'), 2, { placeholder: 'https://api.example.com' });
  f.token_ttl = h('input', { type: 'text', value: c.token_ttl || '', placeholder: 'server default', spellcheck: 'false' });
  f.rate_limit = h('input', { type: 'text', value: c.rate_limit || '', placeholder: 'server default, e.g. 600/1m', spellcheck: 'false' });
  f.quotas = h('input', { type: 'text', value: (c.quotas || []).join(' '), placeholder: 'server default, e.g. 1000/1h 10000/1d', spellcheck: 'false', 'data-testid': 'client-quotas' });
  f.quota_mode = h('select', { 'data-testid': 'client-quota-mode' },
    [['enforce', 'Enforce: refuse tokens past a quota'], ['warn', 'Warn: issue them, audit the first breach']]
      .map(([v, label]) => h('option', { value: v, selected: (c.quota_mode || 'enforce') === v }, label)));
  f.token_reuse = h('select', { 'data-testid': 'client-token-reuse' },
    [['default', 'Server default'], ['on', 'On'], ['off', 'Off']]
      .map(([v, label]) => h('option', { value: v, selected: (c.token_reuse || 'default') === v }, label)));
  f.claims = textarea(Object.entries(c.claims || {}).map(([k, v]) => `${k}=${v}`).join('\n'), 3,
    { placeholder: 'tenant=client.metadata.tenant', class: 'mono', spellcheck: 'false', 'data-testid': 'client-claims-input' });
  f.condition = textarea(c.condition || '', 2,
    { placeholder: 'ip_in(request.remote_ip, ["10.0.0.0/8"])', class: 'mono', spellcheck: 'false', 'data-testid': 'client-condition-input' });
  f.metadata = textarea(Object.entries(c.metadata || {}).map(([k, v]) => `${k}=${v}`).join('\n'), 3, { placeholder: 'owner=partners-team\ncontact=partners@example.com' });
  const methodBoxes = AUTH_METHODS.map(([m, label]) => checkbox(label, { value: m, checked: (c.auth_methods || []).includes(m) }));
  f.jwks = textarea(c.jwks ? JSON.stringify(c.jwks, null, 2) : '', 4, { placeholder: '{"keys": [ … ]}', class: 'mono' });
  f.jwks_uri = h('input', { type: 'url', value: c.jwks_uri || '', placeholder: 'https://partner.example.com/jwks.json', spellcheck: 'false' });
  f.federated = textarea((c.federated || []).map((x) => `${x.issuer}=${x.subject}`).join('\n'), 2, { placeholder: 'k8s-prod=system:serviceaccount:payments:worker' });
  f.exchange_audiences = textarea((c.exchange_audiences || []).join('\n'), 2, { placeholder: 'https://downstream.example.com' });
  const tlsCurrent = TLS_FIELDS.find(([k]) => k && c[k]) || TLS_FIELDS[0];
  f.tls_kind = h('select', null, TLS_FIELDS.map(([k, label]) => h('option', { value: k, selected: k === tlsCurrent[0] }, label)));
  f.tls_value = h('input', { type: 'text', value: tlsCurrent[0] ? c[tlsCurrent[0]] : '', spellcheck: 'false', placeholder: 'CN=svc,O=Gooclaim' });
  const dpop = checkbox('Require DPoP-bound tokens', { checked: Boolean(c.dpop_bound_access_tokens) }, 'Every token request must carry a DPoP proof (RFC 9449).');
  const bound = checkbox('Require certificate-bound tokens', { checked: Boolean(c.tls_client_certificate_bound_access_tokens) }, 'Every token request must come over mutual TLS (RFC 8705).');
  f.client_secret = h('input', { type: 'password', value: '', autocomplete: 'new-password' });

  const syncTLS = () => { f.tls_value.disabled = f.tls_kind.value === ''; };
  f.tls_kind.addEventListener('change', syncTLS);
  syncTLS();

  const fieldset = (legend, ...children) => h('fieldset', { class: 'group' }, h('legend', null, legend), children);
  const el = h('div', { class: 'form-grid' },
    fieldset('Identity',
      field('Name', f.name, 'For people: shown in lists and the audit trail.'),
      create ? field('Client ID (optional)', f.client_id, 'Only to import an existing client; leave empty for a generated ID.') : null,
      field('Metadata', f.metadata, 'One KEY=VALUE per line.')),
    fieldset('Access',
      field('Scopes', f.scopes, 'Separated by spaces or commas.'),
      field('Audiences', f.audiences, 'One per line; the first is the default. Empty: the server’s audience.'),
      field('Token lifetime', f.token_ttl, 'Such as 15m (10s to 24h). Empty: the server’s default.'),
      field('Rate limit', f.rate_limit, 'LIMIT/WINDOW such as 600/1m. Empty: the server’s default.'),
      field('Token quotas', f.quotas, 'TOKENS/WINDOW per fixed UTC window, such as 1000/1h 10000/1d (the window divides a day). Empty: the server’s default.'),
      field('Quota mode', f.quota_mode),
      field('Claims (CEL)', f.claims, 'One NAME=EXPRESSION per line, over client, request and now, such as tenant=client.metadata.tenant; a null value leaves the claim out. Checked when saved.'),
      field('Condition (CEL)', f.condition, 'Must be true for a token, such as ip_in(request.remote_ip, ["10.0.0.0/8"]). Empty: none.'),
      field('Token reuse', f.token_reuse, 'On: a request for the same scope, audience and binding while a live token of the client has over half its lifetime left gets that token again, without signing. Server default: the server’s --reuse-tokens.'),
      field('Exchange audiences', f.exchange_audiences, 'Audiences it may obtain by token exchange (RFC 8693), one per line.')),
    fieldset('Authentication',
      h('fieldset', { class: 'checks' }, h('legend', null, 'Auth methods'),
        h('p', { class: 'hint' }, 'None ticked: every method its credentials allow.'), methodBoxes.map((b) => b.el)),
      field('JWKS URI', f.jwks_uri, 'https URL of its public JWK Set, for private_key_jwt.'),
      field('JWKS', f.jwks, 'Or the public JWK Set itself, as JSON.'),
      field('Federated identities', f.federated, 'One ISSUER=SUBJECT per line (a trusted issuer’s name and the sub of its tokens).'),
      h('div', { class: 'field-row' }, field('Certificate field (tls_client_auth)', f.tls_kind), h('div', { class: 'field-grow' }, field('Certificate value', f.tls_value))),
      create ? field('Import a secret (optional)', f.client_secret, 'An existing secret to keep; leave empty to generate one (shown once).') : null),
    fieldset('Sender-constrained tokens', dpop.el, bound.el));

  const values = () => {
    const name = f.name.value.trim();
    if (!name) throw new api.ApiError(0, '', 'The name is required.');
    const body = {
      name,
      scopes: splitList(f.scopes.value),
      audiences: splitList(f.audiences.value),
      token_ttl: f.token_ttl.value.trim(),
      rate_limit: f.rate_limit.value.trim(),
      quotas: splitList(f.quotas.value),
      quota_mode: f.quota_mode.value,
      claims: parseMetadata(f.claims.value, 'Claim', 'NAME=EXPRESSION'),
      condition: f.condition.value.trim(),
      token_reuse: f.token_reuse.value,
      metadata: parseMetadata(f.metadata.value),
      auth_methods: methodBoxes.filter((b) => b.input.checked).map((b) => b.input.value),
      jwks: parseJWKS(f.jwks.value),
      jwks_uri: f.jwks_uri.value.trim(),
      federated: parseFederated(f.federated.value),
      exchange_audiences: splitList(f.exchange_audiences.value),
      dpop_bound_access_tokens: dpop.input.checked,
      tls_client_certificate_bound_access_tokens: bound.input.checked,
    };
    for (const [k] of TLS_FIELDS) if (k) body[k] = '';
    if (f.tls_kind.value) {
      const v = f.tls_value.value.trim();
      if (!v) throw new api.ApiError(0, '', 'Give the certificate value, or choose None.');
      body[f.tls_kind.value] = v;
    }
    if (create) {
      const cid = f.client_id.value.trim();
      if (cid) body.client_id = cid;
      if (f.client_secret.value) body.client_secret = f.client_secret.value;
    }
    return body;
  };
  return { el, values, focus: () => f.name.focus(), clearSecret: () => { f.client_secret.value = ''; } };
}

// createBody drops the empty fields: absent means the server's default.
function createBody(v) {
  const out = {};
  for (const [k, val] of Object.entries(v)) {
    if (val === '' || val === null || val === false) continue;
    if (Array.isArray(val) && val.length === 0) continue;
    if (val && typeof val === 'object' && !Array.isArray(val) && Object.keys(val).length === 0) continue;
    out[k] = val;
  }
  return out;
}

const same = (a, b) => JSON.stringify(canon(a)) === JSON.stringify(canon(b));
function canon(v) {
  if (Array.isArray(v)) return v.map(canon);
  if (v && typeof v === 'object') return Object.fromEntries(Object.keys(v).sort().map((k) => [k, canon(v[k])]));
  return v;
}

// patchBody keeps only what changed from the client c.
function patchBody(c, v) {
  const cur = {
    name: c.name || '',
    scopes: c.scopes || [],
    audiences: c.audiences || [],
    token_ttl: c.token_ttl || '',
    rate_limit: c.rate_limit || '',
    quotas: c.quotas || [],
    quota_mode: c.quota_mode || 'enforce',
    claims: c.claims || {},
    condition: c.condition || '',
    token_reuse: c.token_reuse || 'default',
    metadata: c.metadata || {},
    auth_methods: c.auth_methods || [],
    jwks: c.jwks || null,
    jwks_uri: c.jwks_uri || '',
    federated: (c.federated || []).map((x) => ({ issuer: x.issuer, subject: x.subject })),
    exchange_audiences: c.exchange_audiences || [],
    dpop_bound_access_tokens: Boolean(c.dpop_bound_access_tokens),
    tls_client_certificate_bound_access_tokens: Boolean(c.tls_client_certificate_bound_access_tokens),
  };
  for (const [k] of TLS_FIELDS) if (k) cur[k] = c[k] || '';
  const out = {};
  for (const [k, val] of Object.entries(v)) {
    if (!same(cur[k], val)) out[k] = val;
  }
  // A tls_client_auth_* field replaces whichever was registered: send one.
  const tlsChanged = TLS_FIELDS.filter(([k]) => k && k in out).map(([k]) => k);
  if (tlsChanged.length > 1) {
    const set = tlsChanged.find((k) => v[k] !== '');
    for (const k of tlsChanged) if (k !== set) delete out[k];
  }
  return out;
}

export function renderCreate(ctx) {
  ctx.setTitle('New client');
  const form = clientForm({}, { create: true });
  const errSlot = h('div', { class: 'form-error', tabindex: '-1' });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary', 'data-testid': 'create-submit' }, 'Create client');
  const el = h('form', { class: 'client-form', novalidate: true },
    errSlot, form.el,
    h('div', { class: 'form-actions' }, submit, h('a', { href: '#/clients', class: 'btn' }, 'Cancel')));
  append(ctx.main, [
    h('p', { class: 'crumbs' }, h('a', { href: '#/clients' }, '← Clients')),
    h('h1', null, 'New client'),
    h('p', { class: 'muted' }, 'The same settings as ', h('code', null, 'gooclaim-auth clients create'), '. Empty fields take the server’s defaults.'),
    el,
  ]);
  ctx.onCleanup(form.clearSecret);
  el.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clear(errSlot);
    try {
      const body = createBody(form.values());
      const out = await busy(submit, 'Creating…', () => api.admin('POST', '/clients', { body }));
      form.clearSecret();
      const created = out.client;
      ctx.handoff.secret = { clientId: created.client_id, secret: out.client_secret || '' };
      ctx.navigate(`#/clients/${api.page(created.client_id)}`);
    } catch (err) {
      if (err.expired) return;
      errSlot.append(errorBox(err, 'The client was not created:'));
      errSlot.focus();
    }
  });
}

export function renderEdit(ctx) {
  const [cid] = ctx.params;
  ctx.setTitle(`Edit ${cid}`);
  const body = h('div', null, loading('Loading the client…'));
  append(ctx.main, [
    h('p', { class: 'crumbs' }, h('a', { href: `#/clients/${api.page(cid)}` }, '← Back to the client')),
    body,
  ]);
  api.admin('GET', `/clients/${api.enc(cid)}`).then((c) => {
    clear(body);
    ctx.setTitle(`Edit ${c.name}`);
    const form = clientForm(c, { create: false });
    const errSlot = h('div', { class: 'form-error', tabindex: '-1' });
    const submit = h('button', { type: 'submit', class: 'btn btn-primary', 'data-testid': 'edit-submit' }, 'Save changes');
    const el = h('form', { class: 'client-form', novalidate: true },
      errSlot, form.el,
      h('div', { class: 'form-actions' }, submit, h('a', { href: `#/clients/${api.page(cid)}`, class: 'btn' }, 'Cancel')));
    append(body, [h('h1', null, 'Edit ', c.name), h('p', { class: 'muted' }, mono(c.client_id)), managedNotice('client', c.managed_by), el]);
    el.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      clear(errSlot);
      try {
        const patch = patchBody(c, form.values());
        if (Object.keys(patch).length === 0) {
          errSlot.append(notice('Nothing changed.', 'info'));
          errSlot.focus();
          return;
        }
        await busy(submit, 'Saving…', () => api.admin('PATCH', `/clients/${api.enc(cid)}`, { body: patch }));
        ctx.navigate(`#/clients/${api.page(cid)}`);
      } catch (err) {
        if (err.expired) return;
        errSlot.append(errorBox(err, 'Not saved:'));
        errSlot.focus();
      }
    });
  }).catch((err) => {
    if (err.expired) return;
    clear(body);
    body.append(h('h1', null, 'Edit client'), errorBox(err));
  });
}
