// Configuration plans: a configuration document (configuration-as-code.md)
// planned with POST /v1/admin/apply?dry_run=true, then applied. Apply
// follows a plan of the exact text shown, so what is confirmed is what was
// reviewed; the server plans again inside its transaction all the same.

import * as api from '../api.js';
import {
  h, append, clear, loading, errorBox, badge, mono, empty, field, checkbox, button, busy,
  openDialog, secretPanel, notice,
} from '../ui.js';
import { renderDiff } from './audit.js';

// authconfig.MaxSize: the server refuses a larger document.
const MAX_DOCUMENT = 16 << 20;

const ACTION_BADGE = { create: 'ok', update: 'warn', delete: 'bad', unchanged: 'muted' };

export function render(ctx) {
  ctx.setTitle('Configuration plans');
  const st = ctx.state.plans || (ctx.state.plans = { text: '' });

  const text = h('textarea', {
    rows: 8, spellcheck: 'false', autocapitalize: 'off', value: st.text, 'data-testid': 'plan-document',
    placeholder: 'apiVersion: gooclaim.com/auth/v1\nkind: AuthConfig\nclients:\n  - client_id: billing-sync\n    name: Billing sync\n    secret: {generate: true}',
  });
  const file = h('input', { type: 'file', accept: '.yaml,.yml,.json,application/yaml,application/json', 'data-testid': 'plan-file' });
  const prune = checkbox('Prune', { 'data-testid': 'plan-prune' },
    'Also delete the clients and trusted issuers an earlier apply created or adopted that this document no longer names. Objects made by hand are never deleted.');
  const planBtn = h('button', { type: 'submit', class: 'btn btn-primary', 'data-testid': 'plan-submit' }, 'Plan');
  const applyBtn = button('Apply…', () => confirmApply(), 'btn', { disabled: true, 'data-testid': 'apply-submit' });
  const status = h('p', { class: 'hint', 'data-testid': 'apply-state', 'aria-live': 'polite' });
  const form = h('form', { class: 'panel', 'aria-label': 'Configuration document' },
    field('Configuration document (YAML)', text,
      'An AuthConfig document, as gooclaim-auth plan reads it. Secrets: only secret: {generate: true} — the console cannot read from_file or from_env.'),
    h('div', { class: 'field-row' },
      h('div', { class: 'field-grow' }, field('Or read a file', file, 'Read in this browser only, into the box above.')),
      h('div', { class: 'field-grow' }, prune.el)),
    h('div', { class: 'form-actions' }, planBtn, applyBtn),
    status);
  const secrets = h('div', { class: 'secret-slot' });
  const results = h('div', { class: 'results', 'aria-live': 'polite', 'data-testid': 'plan-results' });
  append(ctx.main, [
    h('div', { class: 'page-head' }, h('h1', null, 'Configuration plans')),
    h('p', { class: 'muted' }, 'Paste a configuration document to see what applying it would change, object by object and field by field; then apply it, in one transaction.'),
    form,
    secrets,
    results,
  ]);

  // planned is the last successful plan: the text and prune it was made
  // for. Apply needs it to match what the form holds now.
  let planned = null;
  let seq = 0;
  const current = () => ({ text: text.value, prune: prune.input.checked });
  const update = () => {
    const fresh = planned && planned.text === text.value && planned.prune === prune.input.checked;
    applyBtn.disabled = !fresh || !planned.plan.changed;
    status.textContent = !planned ? 'Plan the document to review its changes before applying it.'
      : !fresh ? 'The document or Prune changed since the plan below: plan again to apply.'
        : planned.plan.changed ? 'Ready: Apply makes exactly the changes planned below.' : 'Nothing to apply.';
  };
  text.addEventListener('input', () => { st.text = text.value; update(); });
  prune.input.addEventListener('change', update);
  update();

  file.addEventListener('change', () => {
    const f = file.files && file.files[0];
    if (!f) return;
    if (f.size > MAX_DOCUMENT) {
      show(notice(`${f.name} is larger than 16 MiB, the most the server reads: split it.`, 'error'));
      return;
    }
    const reader = new FileReader();
    reader.addEventListener('load', () => {
      text.value = String(reader.result);
      st.text = text.value;
      file.value = '';
      update();
      text.focus();
    });
    reader.addEventListener('error', () => show(notice(`${f.name} could not be read.`, 'error')));
    reader.readAsText(f);
  });

  const show = (...nodes) => { clear(results); append(results, nodes); };

  // The secrets an apply generated, shown once: dismissed one by one, and
  // cleared when the page is left.
  let panels = [];
  const dropSecrets = () => { for (const p of panels) p.dispose(); panels = []; };
  ctx.onCleanup(dropSecrets);

  const send = (doc, dryRun) => api.admin('POST', '/apply', {
    query: { dry_run: dryRun || undefined, prune: doc.prune || undefined, generate_secrets: true },
    body: doc.text,
    type: 'application/yaml',
  });

  // failed shows an error in the API's words: a document's problems each
  // with its line, anything else as the API said it.
  const failed = (err, prefix) => {
    if (err.expired) return;
    if (!err.problems || !err.problems.length) {
      show(errorBox(err, prefix));
      return;
    }
    const n = err.problems.length;
    show(h('div', { class: 'alert alert-error', role: 'alert', 'data-testid': 'plan-problems' },
      h('p', null, h('strong', null, `The document has ${n} ${n === 1 ? 'problem' : 'problems'}; nothing was changed.`)),
      h('ul', { class: 'problems' }, err.problems.map((p) => h('li', { 'data-line': String(p.line || '') },
        p.line > 0 ? button(`Line ${p.line}`, () => goToLine(text, p.line), 'btn btn-small', { title: 'Show this line in the document' }) : null,
        ' ', problemText(p))))));
  };

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const doc = current();
    const mine = ++seq;
    planned = null;
    update();
    show(loading('Planning…'));
    try {
      const plan = await busy(planBtn, 'Planning…', () => send(doc, true));
      if (mine !== seq) return;
      planned = { ...doc, plan };
      show(renderPlan(plan, false));
    } catch (err) {
      if (mine === seq) failed(err);
    }
    update();
  });

  function confirmApply() {
    const doc = current();
    const reviewed = planned.plan;
    const s = reviewed.summary;
    openDialog({
      title: 'Apply this plan?',
      body: [
        h('p', { 'data-testid': 'apply-counts' }, `${s.create} created, ${s.update} changed, ${s.delete} deleted.`),
        h('p', null, 'Every change is made in one transaction and audited with the actor apply.'),
        s.delete ? h('p', { class: 'strong' }, 'Deleted clients stop getting tokens at once; this cannot be undone.') : null,
      ],
      confirmLabel: 'Apply',
      danger: s.delete > 0,
      onConfirm: async () => {
        const mine = ++seq;
        planned = null;
        update();
        try {
          const out = await send(doc, false);
          if (mine !== seq) return;
          applied(out, reviewed);
        } catch (err) {
          if (mine !== seq) return;
          failed(err, err.status === 409 ? 'The store changed while applying: plan again to see what would change now.' : 'Nothing was applied.');
          if (!err.expired) results.append(button('Plan again', () => form.requestSubmit(), 'btn', { 'data-testid': 'plan-again' }));
        }
        update();
      },
    });
  }

  function applied(out, reviewed) {
    const gen = Object.entries(out.generated_secrets || {});
    dropSecrets();
    for (const [clientId, secret] of gen) {
      const p = secretPanel({
        secret, clientId, title: `The secret generated for ${clientId}`,
        onDismiss: () => { panels = panels.filter((x) => x !== p); },
      });
      panels.push(p);
      secrets.append(p.panel);
    }
    const s = out.summary || {};
    // The server plans again inside its transaction: say so if that plan
    // is not the one confirmed.
    const same = JSON.stringify(out.objects) === JSON.stringify(reviewed.objects);
    show(
      out.applied
        ? notice(`Applied: ${s.create} created, ${s.update} changed, ${s.delete} deleted.`, 'success')
        : notice('Nothing was changed: the store already matched the document.', 'info'),
      same ? null : notice('The store had changed since your plan: below is what was applied.', 'warning'),
      renderPlan(out, true));
    if (panels.length) panels[0].panel.focus();
  }
}

// problemText is a problem as the API words it (authconfig.Problem.String),
// without its file and line, which the button beside it gives.
function problemText(p) {
  return [p.object, p.field, p.message].filter(Boolean).join(': ');
}

// goToLine selects a line of the document, for a problem's button.
function goToLine(text, line) {
  const lines = text.value.split('\n');
  const start = lines.slice(0, line - 1).reduce((n, l) => n + l.length + 1, 0);
  text.focus();
  text.setSelectionRange(start, start + (lines[line - 1] || '').length);
}

function renderPlan(plan, done) {
  const s = plan.summary || {};
  const objects = plan.objects || [];
  const changed = objects.filter((o) => o.action !== 'unchanged');
  const same = objects.filter((o) => o.action === 'unchanged');
  const frag = h('div', { class: 'plan', 'data-testid': done ? 'apply-result' : 'plan' },
    h('p', { class: 'plan-summary', 'data-testid': 'plan-summary' },
      `${done ? 'Applied plan' : 'Plan'}: ${s.create} to create, ${s.update} to update, ${s.delete} to delete, ${s.unchanged} unchanged. `,
      h('span', { class: 'muted' }, 'Document ', mono(plan.digest || ''))));
  if (!plan.changed) {
    frag.append(h('div', { 'data-testid': 'plan-nothing' },
      empty('Nothing to change.', h('p', null, 'The store already matches this document.'))));
  }
  frag.append(...changed.map(renderObject));
  if (same.length) {
    frag.append(h('details', { class: 'diff-same' }, h('summary', null, `${same.length} unchanged`),
      h('ul', { class: 'chips' }, same.map((o) => h('li', { class: 'chip', 'data-object': `${o.kind}/${o.id}` },
        `${o.kind} ${o.id}`, o.unmanaged ? ' (made by hand)' : '')))));
  }
  return frag;
}

// renderObject is one object's change; its fields read as the audit
// trail's diff, an unset value (null) as absent.
function renderObject(o) {
  const side = (key) => Object.fromEntries((o.fields || []).filter((f) => f[key] !== null).map((f) => [f.field, f[key]]));
  const before = o.action === 'create' ? null : side('old');
  const after = o.action === 'delete' ? null : side('new');
  return h('section', { class: 'panel plan-object', 'data-object': `${o.kind}/${o.id}`, 'data-action': o.action },
    h('h2', { class: 'plan-object-head' }, badge(o.action, ACTION_BADGE[o.action] || 'neutral'), ' ',
      h('span', { class: 'muted' }, o.kind), ' ', mono(o.id),
      o.adopt ? [' ', badge('adopted', 'accent')] : null),
    o.action === 'delete' ? h('p', { class: 'muted' }, 'Deleted: no longer in the document.')
      : (o.fields || []).length ? renderDiff(before, after) : h('p', { class: 'muted' }, 'Taken over as it is: no field changes.'));
}
