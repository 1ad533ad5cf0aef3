// Policies: the server-wide defaults (GET /v1/admin/policies), and trying a
// client's expressions before they are saved (POST
// /v1/admin/policies/evaluate), which issues no token and counts nothing.

import * as api from '../api.js';
import { h, append, clear, loading, errorBox, loader, badge, mono, list, dl, field, busy, time, id } from '../ui.js';
import { parseMetadata } from './client.js';

const AUTH_METHODS = ['client_secret_basic', 'client_secret_post', 'private_key_jwt', 'federated_jwt', 'tls_client_auth', 'self_signed_tls_client_auth'];

export function render(ctx) {
  ctx.setTitle('Policies');
  const defaults = h('section', { class: 'panel', 'data-testid': 'policy-defaults', 'aria-labelledby': 'policy-defaults-title' },
    h('h2', { id: 'policy-defaults-title' }, 'Server-wide defaults'));
  const defaultsBody = h('div', null, loading('Loading the server’s policies…'));
  defaults.append(defaultsBody);
  append(ctx.main, [
    h('h1', null, 'Policies'),
    h('p', { class: 'muted' }, 'What every client gets unless it sets its own, and a place to try claim expressions and conditions before saving them. See docs/policies.md.'),
    defaults,
    tryPanel(ctx),
  ]);
  loader(defaultsBody, 'Loading the server’s policies…', () => api.admin('GET', '/policies'), renderDefaults)();
}

const none = (text) => h('span', { class: 'muted' }, text);

function renderDefaults(p) {
  const claims = Object.entries(p.default_claims || {}).sort(([a], [b]) => (a < b ? -1 : 1));
  const quotas = p.default_quotas || [];
  const lim = p.limits || {};
  return h('div', null,
    dl([
      ['Default claims (CEL)', claims.length
        ? h('ul', { class: 'chips', 'data-testid': 'default-claims' }, claims.map(([k, v]) => h('li', { class: 'chip' }, mono(k), ' = ', mono(v))))
        : h('span', { class: 'muted', 'data-testid': 'default-claims' }, 'none: tokens carry only the clients’ own claims')],
      ['Default token quotas', quotas.length
        ? h('span', { 'data-testid': 'default-quotas' }, quotas.join(', '))
        : h('span', { class: 'muted', 'data-testid': 'default-quotas' }, 'none: clients without quotas of their own may have any number of tokens')],
      ['Token reuse', h('span', { 'data-testid': 'default-reuse' },
        p.reuse_tokens ? 'On' : 'Off', ' for the clients that say “default”',
        none(` — each node keeps up to ${p.reuse_max_tokens} tokens to give again`))],
      ['Default audience', p.default_audience ? mono(p.default_audience) : none('none')],
      ['Default token lifetime', p.default_token_ttl || none('none')],
      ['Default rate limit', p.default_rate_limit ? [p.default_rate_limit, none(' per client_id')] : none('none')],
      ['Expression limits', `${lim.max_claims} claims per client, ${lim.max_expression_length} bytes per expression, a cost of ${lim.max_cost} at most`],
      ['Claims no expression may set', list(p.registered_claims, 'none')],
    ]),
    h('p', { class: 'hint' }, 'These are the flags of the node that answered (serve --default-claim, --default-quota, --reuse-tokens, --reuse-max-tokens): give every node of a fleet the same.'));
}

function tryPanel(ctx) {
  const f = {};
  const input = (testid, attrs = {}) => h('input', { type: 'text', spellcheck: 'false', autocomplete: 'off', 'data-testid': testid, ...attrs });
  f.client = input('try-client-id', { required: true, placeholder: 'gooclaim_app_…', value: ctx.query.get('client') || '' });
  f.claims = h('textarea', { rows: 3, spellcheck: 'false', class: 'mono', placeholder: 'tenant=client.metadata.tenant', 'data-testid': 'try-claims' });
  f.condition = h('textarea', { rows: 2, spellcheck: 'false', class: 'mono', placeholder: 'ip_in(request.remote_ip, ["10.0.0.0/8"])', 'data-testid': 'try-condition' });
  f.scope = input('try-scope', { placeholder: 'all of the client’s' });
  f.audience = input('try-audience', { placeholder: 'the client’s default' });
  f.remote_ip = input('try-remote-ip', { placeholder: '10.1.2.3' });
  f.auth_method = h('select', { 'data-testid': 'try-auth-method' },
    h('option', { value: '' }, 'client_secret_post (default)'), AUTH_METHODS.map((m) => h('option', { value: m }, m)));

  const errSlot = h('div', { class: 'form-error', tabindex: '-1' });
  const result = h('div', { 'aria-live': 'polite', 'data-testid': 'try-result' }, none('Evaluate to see the claims and the condition here.'));
  const loadOwn = h('button', { type: 'button', class: 'btn', 'data-testid': 'load-own' }, 'Load the client’s own');
  const submit = h('button', { type: 'submit', class: 'btn btn-primary', 'data-testid': 'evaluate' }, 'Evaluate');
  const titleId = id('try-title');
  const form = h('form', { class: 'client-form', novalidate: true, 'aria-labelledby': titleId },
    errSlot,
    field('Client ID', f.client, 'The stored client whose metadata, scopes and audiences the expressions read.'),
    field('Claims (CEL)', f.claims, 'One NAME=EXPRESSION per line, as in the client form. Empty: the client’s own, as saved. The server’s default claims apply to names not given.'),
    field('Condition (CEL)', f.condition, 'Empty: the client’s own, as saved.'),
    h('fieldset', { class: 'group' }, h('legend', null, 'The token request to suppose'),
      h('div', { class: 'field-row' },
        h('div', { class: 'field-grow' }, field('Scope', f.scope, 'Space-separated; empty: every scope of the client.')),
        h('div', { class: 'field-grow' }, field('Audience', f.audience, 'Empty: the client’s default.'))),
      h('div', { class: 'field-row' },
        h('div', { class: 'field-grow' }, field('Remote IP', f.remote_ip, 'What request.remote_ip is.')),
        h('div', { class: 'field-grow' }, field('Auth method', f.auth_method)))),
    h('div', { class: 'form-actions' }, submit, loadOwn));

  const fail = (err, prefix) => {
    if (err.expired) return;
    clear(errSlot);
    errSlot.append(errorBox(err, prefix));
    errSlot.focus();
  };
  const clientID = () => {
    const cid = f.client.value.trim();
    if (!cid) throw new api.ApiError(0, '', 'Give the ID of the client to evaluate.');
    return cid;
  };

  loadOwn.addEventListener('click', async () => {
    clear(errSlot);
    try {
      const cid = clientID();
      const c = await busy(loadOwn, 'Loading…', () => api.admin('GET', `/clients/${api.enc(cid)}`));
      f.claims.value = Object.entries(c.claims || {}).map(([k, v]) => `${k}=${v}`).join('\n');
      f.condition.value = c.condition || '';
    } catch (err) {
      fail(err, 'Not loaded:');
    }
  });

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clear(errSlot);
    try {
      const body = { client_id: clientID(), request: {} };
      const claims = parseMetadata(f.claims.value, 'Claim', 'NAME=EXPRESSION');
      if (Object.keys(claims).length) body.claims = claims;
      const cond = f.condition.value.trim();
      if (cond) body.condition = cond;
      for (const k of ['scope', 'audience', 'remote_ip', 'auth_method']) {
        const v = f[k].value.trim();
        if (v) body.request[k] = v;
      }
      const out = await busy(submit, 'Evaluating…', () => api.admin('POST', '/policies/evaluate', { body }));
      clear(result);
      result.append(renderResult(out));
    } catch (err) {
      clear(result);
      fail(err, 'Not evaluated:');
    }
  });

  return h('section', { class: 'panel', 'data-testid': 'policy-try', 'aria-labelledby': titleId },
    h('h2', { id: titleId }, 'Try expressions'),
    h('p', { class: 'muted' }, 'Evaluates as issuance would, against the stored client and the server’s default claims — without issuing a token or counting against its quotas or rate limit. Nothing is saved.'),
    h('div', { class: 'grid-2' }, form, result));
}

function conditionBadge(r) {
  if (r.condition === true) return badge('holds', 'ok');
  if (r.condition === false) return badge('does not hold', 'bad');
  const failed = (r.errors || []).some((e) => e.expression === 'condition');
  return failed ? badge('failed', 'bad') : badge('none', 'neutral');
}

function renderResult(r) {
  const errors = r.errors || [];
  const q = r.request || {};
  return h('div', { class: 'try-result' },
    h('h3', null, 'Result'),
    dl([
      ['Condition', h('span', { 'data-testid': 'try-condition-result' }, conditionBadge(r))],
      ['A token', h('span', { 'data-testid': 'try-issuable' }, r.issuable
        ? 'would be issued (credentials, quotas and rate limits aside)'
        : 'would be refused by these expressions')],
      ['Errors', errors.length
        ? h('ul', { class: 'try-errors', 'data-testid': 'try-errors' }, errors.map((e) => h('li', null, mono(e.expression), ': ', e.error)))
        : none('none')],
    ]),
    h('h3', null, 'Claims added to the token'),
    h('pre', { class: 'code', tabindex: '0', 'data-testid': 'try-claims-result', 'aria-label': 'Claims added to the token, as JSON' },
      JSON.stringify(r.claims || {}, null, 2)),
    h('h3', null, 'What the expressions saw'),
    dl([
      ['request.scope', list(q.scope, 'none')],
      ['request.audience', q.audience ? mono(q.audience) : none('none')],
      ['request.auth_method', q.auth_method ? mono(q.auth_method) : none('none')],
      ['request.remote_ip', q.remote_ip ? mono(q.remote_ip) : none('empty')],
      ['now', time(q.now)],
    ]));
}
