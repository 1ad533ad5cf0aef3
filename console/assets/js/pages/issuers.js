// Trusted issuers: the identity providers whose tokens authenticate the
// clients bound to their subjects (GET/POST /v1/admin/issuers,
// GET/PATCH/DELETE /v1/admin/issuers/{name}); the list, one issuer, the
// create and edit forms.

import * as api from '../api.js';
import {
  h, append, clear, loader, loading, errorBox, table, time, badge, mono, empty, dl, field, checkbox, busy,
  openDialog, notice, confirmByName, managedNotice, managedBy,
} from '../ui.js';

const DEFAULT_AGE = '1h';

const muted = (text) => h('span', { class: 'muted' }, text);

const status = (t) => (t.disabled ? badge('disabled', 'bad') : badge('enabled', 'ok'));

// keysSource says where an issuer's keys come from, as `issuers list` does.
function keysSource(t) {
  if (t.jwks_uri) return 'jwks_uri';
  if (t.jwks) {
    const n = (t.jwks.keys || []).length;
    return `JWK Set (${n} key${n === 1 ? '' : 's'})`;
  }
  return 'OpenID discovery';
}

// The list.

export function renderList(ctx) {
  ctx.setTitle('Trusted issuers');
  const results = h('div', { class: 'results', 'aria-live': 'polite' });
  append(ctx.main, [
    h('div', { class: 'page-head' }, h('h1', null, 'Trusted issuers'),
      h('div', { class: 'page-actions' }, h('a', { href: '#/issuers/new', class: 'btn btn-primary', 'data-testid': 'new-issuer' }, 'Add issuer'))),
    h('p', { class: 'muted' }, 'Identity providers (a Kubernetes cluster, GitHub Actions, a SPIFFE trust domain) whose tokens authenticate the clients bound to their subjects, with no secret of ours: ',
      h('code', null, 'federated: NAME=SUBJECT'), '.'),
    results,
  ]);
  loader(results, 'Loading the trusted issuers…', () => api.admin('GET', '/issuers'), (out) => renderIssuers((out && out.issuers) || []))();
}

function renderIssuers(issuers) {
  if (issuers.length === 0) {
    return h('div', { 'data-testid': 'issuers-empty' }, empty('No trusted issuers yet — add one.',
      h('p', null, h('a', { href: '#/issuers/new', class: 'btn btn-primary' }, 'Add a trusted issuer'))));
  }
  // managed_by says a configuration file manages an issuer; a column only
  // when some issuer has one.
  const managed = issuers.some((t) => t.managed_by);
  return table([
    { label: 'Name', cell: (t) => h('a', { href: `#/issuers/${api.page(t.name)}`, class: 'strong', 'data-testid': 'issuer-link' }, t.name) },
    { label: 'Issuer', cell: (t) => mono(t.issuer) },
    { label: 'Keys', cell: keysSource },
    { label: 'Audience', cell: (t) => (t.audience ? h('span', { 'data-testid': 'issuer-audience' }, t.audience) : muted('default')) },
    { label: 'Max token age', cell: (t) => t.max_token_age || muted(`${DEFAULT_AGE} (default)`) },
    { label: 'Status', cell: status },
    managed ? { label: 'Managed by', cell: (t) => (t.managed_by ? managedBy(t.managed_by) : muted('by hand')) } : null,
    { label: 'Created', cell: (t) => time(t.created_at) },
  ].filter(Boolean), issuers, { caption: 'Trusted issuers', rowAttrs: (t) => ({ 'data-issuer-name': t.name }) });
}

// One issuer.

export function renderShow(ctx) {
  const [name] = ctx.params;
  ctx.setTitle(`Issuer ${name}`);
  const flash = h('div', { 'aria-live': 'polite' });
  const body = h('div', null, loading('Loading the issuer…'));
  append(ctx.main, [h('p', { class: 'crumbs' }, h('a', { href: '#/issuers' }, '← Trusted issuers')), body]);
  const draw = (t) => {
    clear(body);
    ctx.setTitle(t.name);
    body.append(renderIssuer(t, { flash, redraw: draw, navigate: ctx.navigate }));
  };
  api.admin('GET', `/issuers/${api.enc(name)}`).then(draw).catch((err) => {
    if (err.expired) return;
    clear(body);
    body.append(h('h1', null, 'Trusted issuer'), errorBox(err));
  });
}

function renderIssuer(t, { flash, redraw, navigate }) {
  const path = `/issuers/${api.enc(t.name)}`;
  const say = (text) => { clear(flash); flash.append(notice(text, 'success')); };
  const setDisabled = async (disabled) => {
    redraw(await api.admin('PATCH', path, { body: { disabled } }));
    say(disabled ? 'Issuer disabled: its tokens authenticate no one; the clients’ bindings are kept.' : 'Issuer enabled: its tokens authenticate again.');
  };
  const toggle = t.disabled
    ? h('button', {
      type: 'button', class: 'btn', 'data-testid': 'enable-issuer',
      onClick: async (ev) => {
        try {
          await busy(ev.currentTarget, 'Enabling…', () => setDisabled(false));
        } catch (err) {
          if (!err.expired) { clear(flash); flash.append(errorBox(err)); }
        }
      },
    }, 'Enable')
    : h('button', {
      type: 'button', class: 'btn', 'data-testid': 'disable-issuer',
      onClick: () => openDialog({
        title: `Disable ${t.name}?`,
        body: [h('p', null, 'Its tokens stop authenticating anyone at once. The clients bound to its subjects keep their bindings, and work again when it is enabled.')],
        confirmLabel: 'Disable',
        danger: true,
        onConfirm: () => setDisabled(true),
      }),
    }, 'Disable');

  const frag = document.createDocumentFragment();
  frag.append(h('div', { class: 'page-head' },
    h('div', null, h('h1', null, t.name, ' ', status(t)), h('p', { class: 'muted' }, mono(t.issuer))),
    h('div', { class: 'page-actions wrap' },
      h('a', { href: `#/issuers/${api.page(t.name)}/edit`, class: 'btn', 'data-testid': 'edit-issuer' }, 'Edit'),
      toggle,
      h('button', { type: 'button', class: 'btn btn-danger', 'data-testid': 'remove-issuer', onClick: () => removeDialog(t, navigate) }, 'Remove'))));
  frag.append(flash);
  const managed = managedNotice('trusted issuer', t.managed_by);
  if (managed) frag.append(managed);
  frag.append(h('section', { class: 'panel' }, h('h2', null, 'Settings'), dl([
    ['Name', mono(t.name)],
    ['Issuer', h('span', { 'data-testid': 'issuer-url' }, mono(t.issuer))],
    ['Status', t.disabled ? 'Disabled: its tokens authenticate no one' : 'Enabled'],
    ['Keys', h('span', { 'data-testid': 'issuer-keys' }, keysSource(t))],
    ['JWKS URI', t.jwks_uri ? mono(t.jwks_uri) : null],
    ['Audience', h('span', { 'data-testid': 'issuer-audience' }, t.audience || muted('this server’s issuer or token endpoint'))],
    ['Max token age', h('span', { 'data-testid': 'issuer-max-age' }, t.max_token_age || muted(`${DEFAULT_AGE} (default)`))],
    ['Managed by', t.managed_by ? h('span', { 'data-testid': 'issuer-managed-by' }, managedBy(t.managed_by)) : null],
    ['Created', time(t.created_at)],
    ['Updated', time(t.updated_at)],
  ])));
  if (t.jwks) {
    frag.append(h('section', { class: 'panel' }, h('h2', null, 'Public keys (JWKS)'),
      h('pre', { class: 'code', tabindex: '0', 'data-testid': 'issuer-jwks' }, JSON.stringify(t.jwks, null, 2))));
  }
  frag.append(h('p', { class: 'muted' }, 'Bind a client to one of its subjects with ', mono(`${t.name}=SUBJECT`),
    ' in the client’s federated identities, or ', mono(`gooclaim-auth clients create --federated ${t.name}=SUBJECT`), '.'));
  frag.append(h('p', null, h('a', { href: `#/audit?target_id=${api.enc(t.name)}` }, 'Audit trail of this issuer →')));
  return frag;
}

function removeDialog(t, navigate) {
  confirmByName({
    title: `Remove ${t.name}?`,
    text: 'Its tokens stop authenticating anyone, for good. The server refuses while clients are bound to its subjects: unbind them first, or disable the issuer instead.',
    what: 'issuer’s name',
    name: t.name,
    confirmLabel: 'Remove issuer',
    testid: 'remove-confirm',
    onConfirm: async () => {
      await api.admin('DELETE', `/issuers/${api.enc(t.name)}`);
      navigate('#/issuers');
    },
  });
}

// The form, for create and edit: the fields of POST and PATCH
// /v1/admin/issuers, which check them; their refusals are shown as said.

function issuerForm(t, { create }) {
  const f = {
    name: h('input', { type: 'text', required: true, spellcheck: 'false', autocomplete: 'off', maxlength: '63', placeholder: 'k8s-prod', 'data-testid': 'issuer-name-input' }),
    issuer: h('input', { type: 'url', required: true, value: t.issuer || '', spellcheck: 'false', placeholder: 'https://token.actions.githubusercontent.com', 'data-testid': 'issuer-url-input' }),
    jwks_uri: h('input', { type: 'url', value: t.jwks_uri || '', spellcheck: 'false', placeholder: 'https://k8s-prod.example.com/openid/v1/jwks', 'data-testid': 'issuer-jwks-uri-input' }),
    jwks: h('textarea', { rows: 5, class: 'mono', spellcheck: 'false', value: t.jwks ? JSON.stringify(t.jwks, null, 2) : '', placeholder: '{"keys": [ … ]}', 'data-testid': 'issuer-jwks-input' }),
    audience: h('input', { type: 'text', value: t.audience || '', spellcheck: 'false', placeholder: 'this server’s issuer or token endpoint', 'data-testid': 'issuer-audience-input' }),
    max_token_age: h('input', { type: 'text', value: t.max_token_age || '', spellcheck: 'false', placeholder: `${DEFAULT_AGE} (default)`, 'data-testid': 'issuer-max-age-input' }),
  };
  const disabled = create ? null : checkbox('Disabled', { checked: Boolean(t.disabled), 'data-testid': 'issuer-disabled-input' },
    'Its tokens authenticate no one; the clients’ bindings are kept.');
  const el = h('div', { class: 'form-grid' },
    h('fieldset', { class: 'group' }, h('legend', null, 'Identity'),
      create ? field('Name', f.name, 'How clients name it, NAME=SUBJECT; never changes. Lower-case letters, digits, - _ . (such as k8s-prod or github).') : null,
      field('Issuer URL', f.issuer, 'The exact “iss” of its tokens: an https URL without query.'),
      field('Audience', f.audience, 'The “aud” its tokens must carry. Empty: this server’s issuer or token endpoint.'),
      field('Max token age', f.max_token_age, `How long after its “iat” a token is accepted, whatever its “exp”: 1m to 24h. Empty: ${DEFAULT_AGE}.`),
      disabled ? disabled.el : null),
    h('fieldset', { class: 'group' }, h('legend', null, 'Keys'),
      h('p', { class: 'hint' }, 'At most one of the two. Neither: found by OpenID discovery from the issuer URL (ISSUER/.well-known/openid-configuration).'),
      field('JWKS URI', f.jwks_uri, 'An https URL of its public JWK Set, at a public address.'),
      field('JWKS', f.jwks, 'Or its public JWK Set itself, as JSON, for an issuer this server cannot reach (kubectl get --raw /openid/v1/jwks).')));

  const values = () => {
    const v = {
      issuer: f.issuer.value.trim(),
      jwks_uri: f.jwks_uri.value.trim(),
      jwks: parseJWKS(f.jwks.value),
      audience: f.audience.value.trim(),
      max_token_age: f.max_token_age.value.trim(),
    };
    if (create) v.name = f.name.value.trim();
    else v.disabled = disabled.input.checked;
    return v;
  };
  return { el, values };
}

function parseJWKS(text) {
  if (!text.trim()) return null;
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new api.ApiError(0, '', `The JWKS is not valid JSON: ${err.message}`);
  }
}

// patchBody keeps what changed from t. Where the keys come from is sent
// whole (jwks_uri and jwks together), so that clearing both means OpenID
// discovery and giving both is the server's to refuse.
function patchBody(t, v) {
  const out = {};
  for (const k of ['issuer', 'audience', 'max_token_age']) if (v[k] !== (t[k] || '')) out[k] = v[k];
  if (v.disabled !== Boolean(t.disabled)) out.disabled = v.disabled;
  if (v.jwks_uri !== (t.jwks_uri || '') || JSON.stringify(v.jwks) !== JSON.stringify(t.jwks || null)) {
    out.jwks_uri = v.jwks_uri;
    out.jwks = v.jwks;
  }
  return out;
}

// formPage renders a form page: submit(values) sends it and returns the
// hash to go to; a refusal is shown above the form.
function formPage(ctx, { heading, intro, form, submitLabel, busyLabel, failLabel, cancelHref, testid, submit }) {
  const errSlot = h('div', { class: 'form-error', tabindex: '-1' });
  const btn = h('button', { type: 'submit', class: 'btn btn-primary', 'data-testid': testid }, submitLabel);
  const el = h('form', { class: 'client-form', novalidate: true }, errSlot, form.el,
    h('div', { class: 'form-actions' }, btn, h('a', { href: cancelHref, class: 'btn' }, 'Cancel')));
  el.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clear(errSlot);
    try {
      const next = await busy(btn, busyLabel, () => submit(form.values(), errSlot));
      if (next) ctx.navigate(next);
    } catch (err) {
      if (err.expired) return;
      errSlot.append(errorBox(err, failLabel));
      errSlot.focus();
    }
  });
  return [heading, intro, el];
}

export function renderCreate(ctx) {
  ctx.setTitle('New trusted issuer');
  append(ctx.main, [
    h('p', { class: 'crumbs' }, h('a', { href: '#/issuers' }, '← Trusted issuers')),
    formPage(ctx, {
      heading: h('h1', null, 'New trusted issuer'),
      intro: h('p', { class: 'muted' }, 'The same settings as ', h('code', null, 'gooclaim-auth issuers add'), '. Empty fields take the defaults.'),
      form: issuerForm({}, { create: true }),
      submitLabel: 'Add issuer',
      busyLabel: 'Adding…',
      failLabel: 'The issuer was not added:',
      cancelHref: '#/issuers',
      testid: 'issuer-create-submit',
      submit: async (v) => {
        const body = Object.fromEntries(Object.entries(v).filter(([, x]) => x !== '' && x !== null));
        const t = await api.admin('POST', '/issuers', { body });
        return `#/issuers/${api.page(t.name)}`;
      },
    }),
  ]);
}

export function renderEdit(ctx) {
  const [name] = ctx.params;
  const back = `#/issuers/${api.page(name)}`;
  ctx.setTitle(`Edit ${name}`);
  const body = h('div', null, loading('Loading the issuer…'));
  append(ctx.main, [h('p', { class: 'crumbs' }, h('a', { href: back }, '← Back to the issuer')), body]);
  api.admin('GET', `/issuers/${api.enc(name)}`).then((t) => {
    clear(body);
    append(body, formPage(ctx, {
      heading: h('h1', null, 'Edit ', t.name),
      intro: [h('p', { class: 'muted' }, mono(t.issuer)), managedNotice('trusted issuer', t.managed_by)],
      form: issuerForm(t, { create: false }),
      submitLabel: 'Save changes',
      busyLabel: 'Saving…',
      failLabel: 'Not saved:',
      cancelHref: back,
      testid: 'issuer-edit-submit',
      submit: async (v, errSlot) => {
        const patch = patchBody(t, v);
        if (Object.keys(patch).length === 0) {
          errSlot.append(notice('Nothing changed.', 'info'));
          errSlot.focus();
          return '';
        }
        await api.admin('PATCH', `/issuers/${api.enc(name)}`, { body: patch });
        return back;
      },
    }));
  }).catch((err) => {
    if (err.expired) return;
    clear(body);
    body.append(h('h1', null, 'Edit trusted issuer'), errorBox(err));
  });
}
