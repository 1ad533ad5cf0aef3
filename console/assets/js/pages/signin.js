// Sign-in: an admin client's credentials, posted to the token endpoint
// (client_secret_post) for a token with scope auth:admin and the admin
// audience. The token stays in memory.

import * as api from '../api.js';
import { h, append, clear, busy, errorBox, id } from '../ui.js';

export function render(root, { message, kind = 'info', onSignedIn }) {
  document.title = 'Sign in — Gooclaim Auth';
  const idInput = h('input', { id: id('client-id'), name: 'client_id', type: 'text', autocomplete: 'username', required: true, spellcheck: 'false', autocapitalize: 'off', 'data-testid': 'signin-client-id' });
  const secretInput = h('input', { id: id('client-secret'), name: 'client_secret', type: 'password', autocomplete: 'current-password', required: true, 'data-testid': 'signin-client-secret' });
  const submit = h('button', { type: 'submit', class: 'btn btn-primary btn-block', 'data-testid': 'signin-submit' }, 'Sign in');
  const status = h('div', { class: 'signin-status', 'data-testid': 'signin-message' });
  if (message) {
    append(status, [h('div', { class: `alert alert-${kind}`, role: kind === 'error' || kind === 'warning' ? 'alert' : 'status' }, message)]);
  }
  const form = h('form', { class: 'signin-form', novalidate: true, 'aria-describedby': 'signin-help' },
    h('div', { class: 'field' }, h('label', { for: idInput.id }, 'Client ID'), idInput),
    h('div', { class: 'field' }, h('label', { for: secretInput.id }, 'Client secret'), secretInput),
    submit);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const cid = idInput.value.trim();
    const secret = secretInput.value;
    clear(status);
    if (!cid || !secret) {
      status.append(errorBox({ description: 'Enter the client ID and the client secret of an admin client.' }));
      (cid ? secretInput : idInput).focus();
      return;
    }
    try {
      await busy(submit, 'Signing in…', () => api.signIn(cid, secret));
      secretInput.value = '';
      onSignedIn();
    } catch (err) {
      secretInput.value = '';
      status.append(errorBox(err, 'Sign-in refused:'));
      secretInput.focus();
    }
  });
  const card = h('div', { class: 'signin-card' },
    h('div', { class: 'signin-brand' }, h('span', { class: 'brand-mark', 'aria-hidden': 'true' }, 'G'), 'Gooclaim Auth'),
    h('h1', null, 'Sign in to the console'),
    h('p', { id: 'signin-help', class: 'muted' },
      'Use an admin client: one allowed the scope ', h('code', null, 'auth:admin'), ' and the audience ',
      h('code', null, 'urn:gooclaim:auth:admin'), '. A one-time sign-in link from the command line signs you in directly.'),
    status,
    form,
    h('p', { class: 'fine' }, 'The token is kept in this tab’s memory only: reloading the page or closing the tab signs you out.'));
  root.append(h('main', { id: 'main', class: 'signin', tabindex: '-1' }, card));
  idInput.focus();
}
