// DOM helpers. Everything from the API is put in the page as text
// (textContent, text nodes, attribute values): never as HTML.

const BOOL_PROPS = new Set(['disabled', 'checked', 'hidden', 'required', 'open', 'readOnly', 'multiple', 'selected', 'autofocus']);
const PROP_KEYS = new Set(['value', 'htmlFor', 'type', 'name', 'placeholder', 'rows', 'tabIndex']);

// h builds an element: h('a', {href: '#/x', class: 'link'}, 'text', child).
// Keys starting with "on" take functions (added with addEventListener);
// children are nodes or strings (made text nodes), arrays are flattened,
// null, undefined and false are skipped.
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

function setAttrs(el, attrs) {
  if (!attrs) return;
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false && !BOOL_PROPS.has(k)) continue;
    if (k.startsWith('on')) {
      if (typeof v !== 'function') throw new TypeError(`${k} must be a function`);
      el.addEventListener(k.slice(2).toLowerCase(), v);
    } else if (k === 'class') {
      el.className = Array.isArray(v) ? v.filter(Boolean).join(' ') : v;
    } else if (k === 'for') {
      el.htmlFor = v;
    } else if (k === 'dataset') {
      Object.assign(el.dataset, v);
    } else if (BOOL_PROPS.has(k)) {
      el[k] = Boolean(v);
    } else if (PROP_KEYS.has(k)) {
      el[k] = v;
    } else if (k === 'style') {
      throw new TypeError('use classes, or el.style properties');
    } else {
      el.setAttribute(k, String(v));
    }
  }
}

export function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

let uid = 0;
// id returns a fresh element id with the given prefix.
export function id(prefix = 'f') {
  uid += 1;
  return `${prefix}-${uid}`;
}

const SVG_NS = 'http://www.w3.org/2000/svg';
// s builds an SVG element; attributes are set with setAttribute.
export function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null) continue;
      if (k.startsWith('on')) throw new TypeError('no handlers on SVG here');
      el.setAttribute(k, String(v));
    }
  }
  append(el, children);
  return el;
}

// Formatting.

const dateFmt = new Intl.DateTimeFormat(undefined, {
  year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit',
});
const timeFmt = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });

export function fmtDate(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : dateFmt.format(d);
}

export function fmtTime(ms) {
  return timeFmt.format(new Date(ms));
}

// time is a <time> element showing iso in the local zone, the exact value as its tooltip.
export function time(iso) {
  if (!iso) return h('span', { class: 'muted' }, '—');
  return h('time', { datetime: iso, title: iso }, fmtDate(iso));
}

export function relative(iso) {
  const d = new Date(iso).getTime();
  if (Number.isNaN(d)) return '';
  let secs = Math.round((d - Date.now()) / 1000);
  const past = secs < 0;
  secs = Math.abs(secs);
  let text;
  if (secs < 60) text = `${secs} s`;
  else if (secs < 3600) text = `${Math.round(secs / 60)} min`;
  else if (secs < 172800) text = `${Math.round(secs / 3600)} h`;
  else text = `${Math.round(secs / 86400)} days`;
  return past ? `${text} ago` : `in ${text}`;
}

const numFmt = new Intl.NumberFormat(undefined, { maximumFractionDigits: 2 });
export function fmtNum(n) {
  if (n === null || n === undefined || Number.isNaN(n)) return '—';
  return numFmt.format(n);
}

// Building blocks.

export function loading(text = 'Loading…') {
  return h('p', { class: 'loading', role: 'status', 'aria-live': 'polite' }, h('span', { class: 'spinner', 'aria-hidden': 'true' }), text);
}

// errorBox shows an error in the API's words: its error_description, with the code.
export function errorBox(err, prefix) {
  const box = h('div', { class: 'alert alert-error', role: 'alert' });
  if (prefix) append(box, [h('strong', null, prefix), ' ']);
  append(box, [errorText(err)]);
  if (err && err.code) append(box, [' ', h('code', { class: 'err-code' }, err.code)]);
  return box;
}

// loader returns a function that fills box with render(await fetch(), load):
// a loading line meanwhile, the API's error in its words on failure. An
// answer overtaken by a newer call (the user searched again) is dropped, and
// an expired session is left to the sign-in page.
export function loader(box, message, fetch, render) {
  let seq = 0;
  const load = async () => {
    const mine = ++seq;
    clear(box);
    box.append(loading(message));
    try {
      const value = await fetch();
      if (mine !== seq) return;
      clear(box);
      box.append(render(value, load));
    } catch (err) {
      if (mine !== seq || err.expired) return;
      clear(box);
      box.append(errorBox(err));
    }
  };
  return load;
}

export function errorText(err) {
  if (!err) return 'Something went wrong.';
  if (err.description) return err.description;
  return err.message || String(err);
}

export function notice(text, kind = 'info') {
  return h('div', { class: `alert alert-${kind}`, role: kind === 'error' ? 'alert' : 'status' }, text);
}

// managedNotice warns, on a client or trusted issuer a configuration file
// manages (managed_by "apply"), that a change made here does not last:
// the file's next apply puts back what the file says. Null for an object
// made by hand.
export function managedNotice(what, managedBy) {
  if (!managedBy) return null;
  return h('div', { class: 'alert alert-warning', role: 'status', 'data-testid': 'managed-notice' },
    `This ${what} is managed by a configuration file (gooclaim-auth apply): a change made here is undone by the file’s next apply. Change the file instead.`);
}

// managedBy is how an object's managed_by is shown.
export function managedBy(value) {
  return value === 'apply' ? 'a configuration file (apply)' : value;
}

export function empty(title, ...extra) {
  return h('div', { class: 'empty' }, h('p', { class: 'empty-title' }, title), extra);
}

export function badge(text, kind = 'neutral') {
  return h('span', { class: `badge badge-${kind}` }, text);
}

// table builds a horizontally scrollable table: columns are
// {label, cell(row) -> node|string, class?}.
export function table(columns, rows, { caption, rowAttrs } = {}) {
  const thead = h('thead', null, h('tr', null, columns.map((c) => h('th', { scope: 'col', class: c.class }, c.label))));
  const tbody = h('tbody', null, rows.map((r) => h('tr', rowAttrs ? rowAttrs(r) : null,
    columns.map((c) => h('td', { class: c.class, 'data-label': c.label }, c.cell(r))))));
  return h('div', { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': caption || 'Table' },
    h('table', null, caption ? h('caption', { class: 'sr-only' }, caption) : null, thead, tbody));
}

// dl builds a description list from [term, value] pairs; null values are skipped.
export function dl(pairs, cls = 'props') {
  return h('dl', { class: cls }, pairs.filter((p) => p && p[1] !== null && p[1] !== undefined)
    .map(([k, v]) => h('div', { class: 'prop' }, h('dt', null, k), h('dd', null, v))));
}

export function list(items, emptyText = 'None') {
  if (!items || items.length === 0) return h('span', { class: 'muted' }, emptyText);
  return h('ul', { class: 'chips' }, items.map((i) => h('li', { class: 'chip' }, i)));
}

export function mono(text) {
  return h('code', { class: 'mono' }, text);
}

// field is a labelled form control; input is the control element.
export function field(label, input, hint) {
  if (!input.id) input.id = id('f');
  const hintEl = hint ? h('p', { class: 'hint', id: id('hint') }, hint) : null;
  if (hintEl) input.setAttribute('aria-describedby', hintEl.id);
  return h('div', { class: 'field' }, h('label', { for: input.id }, label), input, hintEl);
}

export function checkbox(label, attrs, hint) {
  const input = h('input', { type: 'checkbox', id: id('c'), ...attrs });
  const hintEl = hint ? h('span', { class: 'hint', id: id('hint') }, hint) : null;
  if (hintEl) input.setAttribute('aria-describedby', hintEl.id);
  return { input, el: h('div', { class: 'check' }, input, h('label', { for: input.id }, label), hintEl) };
}

export function button(label, onClick, cls = 'btn', attrs = {}) {
  return h('button', { type: 'button', class: cls, onClick, ...attrs }, label);
}

// busy disables a button while fn runs, showing text.
export async function busy(btn, text, fn) {
  const old = btn.textContent;
  btn.disabled = true;
  btn.textContent = text;
  btn.setAttribute('aria-busy', 'true');
  try {
    return await fn();
  } finally {
    btn.disabled = false;
    btn.textContent = old;
    btn.removeAttribute('aria-busy');
  }
}

// Dialogs.

// openDialog shows a modal <dialog>. onConfirm may be async; an error it
// throws is shown in the dialog, which stays open; otherwise it closes.
// Escape and Cancel close it. Returns the dialog element.
export function openDialog({ title, body = [], confirmLabel = 'Confirm', danger = false, onConfirm, canConfirm, initialFocus }) {
  const titleId = id('dlg-title');
  const errSlot = h('div', { class: 'dialog-error' });
  const confirmBtn = h('button', { type: 'submit', class: danger ? 'btn btn-danger' : 'btn btn-primary' }, confirmLabel);
  const cancelBtn = h('button', { type: 'button', class: 'btn', value: 'cancel' }, 'Cancel');
  const form = h('form', { method: 'dialog', class: 'dialog-form' },
    h('h2', { id: titleId, class: 'dialog-title' }, title),
    h('div', { class: 'dialog-body' }, body),
    errSlot,
    h('div', { class: 'dialog-actions' }, cancelBtn, confirmBtn));
  const dlg = h('dialog', { class: 'dialog', 'aria-labelledby': titleId }, form);
  const update = () => { if (canConfirm) confirmBtn.disabled = !canConfirm(); };
  form.addEventListener('input', update);
  update();
  cancelBtn.addEventListener('click', () => dlg.close());
  dlg.addEventListener('close', () => dlg.remove());
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    if (canConfirm && !canConfirm()) return;
    clear(errSlot);
    try {
      if (onConfirm) await busy(confirmBtn, 'Working…', onConfirm);
      dlg.close();
    } catch (err) {
      if (err && err.expired) { dlg.close(); return; }
      errSlot.append(errorBox(err));
      update();
    }
  });
  document.body.append(dlg);
  dlg.showModal();
  const focus = initialFocus || form.querySelector('input, textarea, select') || cancelBtn;
  focus.focus();
  return dlg;
}

// confirmByName opens a dialog for an action that cannot be undone, which
// is confirmed only once name is typed exactly (what says what it is).
export function confirmByName({ title, text, what, name, confirmLabel, testid, onConfirm }) {
  const input = h('input', { type: 'text', id: id('confirm'), autocomplete: 'off', spellcheck: 'false', 'data-testid': testid });
  return openDialog({
    title,
    body: [
      h('p', null, text),
      h('div', { class: 'field' }, h('label', { for: input.id }, `Type the ${what}, `, h('strong', { class: 'mono' }, name), ', to confirm'), input),
    ],
    confirmLabel,
    danger: true,
    canConfirm: () => input.value === name,
    onConfirm,
  });
}

// closeDialogs closes every open dialog (on navigation or sign-out).
export function closeDialogs() {
  for (const d of document.querySelectorAll('dialog')) {
    if (d.open) d.close();
    d.remove();
  }
}

// secretPanel shows a secret once, with a copy button and a warning. Its
// dispose() clears the value and removes the panel; so does Dismiss.
export function secretPanel({ title = 'New client secret', secret, clientId, onDismiss }) {
  const value = h('code', { class: 'secret-value', 'data-testid': 'secret-value' }, secret);
  const status = h('span', { class: 'copy-status', role: 'status', 'aria-live': 'polite' });
  const copy = h('button', { type: 'button', class: 'btn btn-primary' }, 'Copy');
  const dismiss = h('button', { type: 'button', class: 'btn' }, 'I have stored it — dismiss');
  const panel = h('section', { class: 'secret-panel', 'aria-label': title, 'data-testid': 'secret-panel', tabindex: '-1' },
    h('h2', null, title),
    h('p', { class: 'warn' }, h('strong', null, 'Copy it now. '),
      'It is shown this once: the server keeps only a hash and cannot show it again. Leaving this page clears it.'),
    clientId ? dl([['Client ID', mono(clientId)]]) : null,
    h('div', { class: 'secret-row' }, value, copy, status),
    h('div', { class: 'secret-actions' }, dismiss));
  let disposed = false;
  const dispose = () => {
    if (disposed) return;
    disposed = true;
    value.textContent = '';
    panel.remove();
  };
  copy.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(value.textContent);
      status.textContent = 'Copied.';
    } catch {
      const range = document.createRange();
      range.selectNodeContents(value);
      const sel = window.getSelection();
      sel.removeAllRanges();
      sel.addRange(range);
      status.textContent = 'Selected: press Ctrl+C (⌘C) to copy.';
    }
  });
  dismiss.addEventListener('click', () => {
    dispose();
    if (onDismiss) onDismiss();
  });
  return { panel, dispose };
}

// splitList splits on commas, spaces and newlines, dropping empties.
export function splitList(text) {
  return text.split(/[\s,]+/).map((x) => x.trim()).filter(Boolean);
}

// splitLines splits on newlines, trimming and dropping empty lines.
export function splitLines(text) {
  return text.split(/\r?\n/).map((x) => x.trim()).filter(Boolean);
}
