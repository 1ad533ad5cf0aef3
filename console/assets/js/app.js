// The console's shell: the one-time link exchange, sign-in, the layout and
// the hash router (#/overview, #/clients, #/clients/<id>, #/clients/new,
// #/keys, #/audit, #/issuers, #/issuers/<name>, #/issuers/<name>/edit,
// #/issuers/new, #/plans, #/policies).

import * as session from './session.js';
import * as api from './api.js';
import { h, clear, append, closeDialogs, loading, errorText } from './ui.js';
import * as signin from './pages/signin.js';
import * as overview from './pages/overview.js';
import * as clients from './pages/clients.js';
import * as client from './pages/client.js';
import * as keys from './pages/keys.js';
import * as audit from './pages/audit.js';
import * as issuers from './pages/issuers.js';
import * as plans from './pages/plans.js';
import * as policies from './pages/policies.js';

// The navigation, in order. An entry without href is shown as coming later:
// adding a page is one line here and one in ROUTES.
const NAV = [
  { id: 'overview', label: 'Overview', href: '#/overview' },
  { id: 'clients', label: 'Clients', href: '#/clients' },
  { id: 'keys', label: 'Signing keys', href: '#/keys' },
  { id: 'audit', label: 'Audit trail', href: '#/audit' },
  { id: 'issuers', label: 'Trusted issuers', href: '#/issuers' },
  { id: 'plans', label: 'Configuration plans', href: '#/plans' },
  { id: 'policies', label: 'Policies', href: '#/policies' },
];

// The routes: a path pattern, the page rendering it, the nav entry it belongs to.
const ROUTES = [
  { re: /^overview$/, nav: 'overview', render: overview.render },
  { re: /^clients$/, nav: 'clients', render: clients.renderList },
  { re: /^clients\/new$/, nav: 'clients', render: client.renderCreate },
  { re: /^clients\/([^/]+)\/edit$/, nav: 'clients', render: client.renderEdit },
  { re: /^clients\/([^/]+)$/, nav: 'clients', render: client.renderShow },
  { re: /^keys$/, nav: 'keys', render: keys.render },
  { re: /^audit$/, nav: 'audit', render: audit.render },
  { re: /^issuers$/, nav: 'issuers', render: issuers.renderList },
  { re: /^issuers\/new$/, nav: 'issuers', render: issuers.renderCreate },
  { re: /^issuers\/([^/]+)\/edit$/, nav: 'issuers', render: issuers.renderEdit },
  { re: /^issuers\/([^/]+)$/, nav: 'issuers', render: issuers.renderShow },
  { re: /^plans$/, nav: 'plans', render: plans.render },
  { re: /^policies$/, nav: 'policies', render: policies.render },
];

const DEFAULT_ROUTE = '#/overview';

const root = document.getElementById('app');
let shell = null; // {main, nav, who, expiry}
let cleanups = [];
let wanted = ''; // the route asked for before sign-in
let state = {}; // pages' memory between visits (filters, cursors); cleared on sign-out
const handoff = {}; // one-shot values passed from one page to the next (a new secret)
let firstRender = true;

function parseHash(hash) {
  const raw = hash.replace(/^#\/?/, '');
  const [path, qs = ''] = raw.split('?');
  return { path: path.replace(/\/+$/, ''), query: new URLSearchParams(qs) };
}

function match(path) {
  for (const r of ROUTES) {
    const m = r.re.exec(path);
    if (m) {
      let params;
      try {
        params = m.slice(1).map(decodeURIComponent);
      } catch {
        return null;
      }
      return { route: r, params };
    }
  }
  return null;
}

// pageHash turns the page a one-time link names (clients, clients/<id>, …) into a route.
function pageHash(page) {
  const p = String(page || '').replace(/^[#/]+/, '');
  return p && match(parseHash(`#/${p}`).path) ? `#/${p}` : DEFAULT_ROUTE;
}

function runCleanups() {
  const list = cleanups;
  cleanups = [];
  for (const fn of list) {
    try { fn(); } catch (err) { console.error(err); }
  }
  closeDialogs();
}

export function navigate(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

function buildShell() {
  const who = h('span', { class: 'who', 'data-testid': 'signed-in-as' });
  const expiry = h('span', { class: 'session-expiry', 'data-testid': 'session-expiry' });
  const signOut = h('button', { type: 'button', class: 'btn btn-small', 'data-testid': 'sign-out' }, 'Sign out');
  signOut.addEventListener('click', () => {
    wanted = '';
    state = {};
    session.end('signed-out');
  });
  const navList = h('ul', { class: 'nav-list' }, NAV.map((n) => h('li', null, n.href
    ? h('a', { href: n.href, class: 'nav-link', 'data-nav': n.id }, n.label)
    : h('span', { class: 'nav-link nav-soon', 'aria-disabled': 'true', title: 'Coming in a later release' },
      n.label, h('span', { class: 'soon' }, 'soon')))));
  const nav = h('nav', { class: 'nav', 'aria-label': 'Main' }, navList);
  const main = h('main', { id: 'main', class: 'main', tabindex: '-1' });
  const header = h('header', { class: 'topbar' },
    h('a', { class: 'brand', href: DEFAULT_ROUTE }, h('span', { class: 'brand-mark', 'aria-hidden': 'true' }, 'G'), 'Gooclaim Auth'),
    h('div', { class: 'session' }, who, expiry, signOut));
  clear(root);
  root.className = 'app app-shell';
  append(root, [header, nav, main]);
  shell = { main, nav, who, expiry, timer: setInterval(updateExpiry, 15000) };
  updateExpiry();
}

function updateExpiry() {
  if (!shell) return;
  const id = session.identity();
  shell.who.textContent = id ? `Signed in as ${id}` : 'Signed in';
  const mins = Math.max(0, Math.round((session.expiry() - Date.now()) / 60000));
  shell.expiry.textContent = mins >= 1 ? `session ends in ${mins} min` : 'session ends in under a minute';
}

function dropShell() {
  if (shell) clearInterval(shell.timer);
  shell = null;
}

function showSignIn(message, kind) {
  runCleanups();
  dropShell();
  clear(root);
  root.className = 'app app-signin';
  signin.render(root, {
    message,
    kind,
    onSignedIn: () => {
      const target = wanted || DEFAULT_ROUTE;
      wanted = '';
      if (location.hash !== target) history.replaceState(null, '', target);
      route();
    },
  });
}

function route() {
  const hash = location.hash;
  if (hash && !hash.startsWith('#/')) {
    if (/(^#|&)code=/.test(hash)) { takeCode(); return; }
    history.replaceState(null, '', DEFAULT_ROUTE);
  }
  if (!session.isSignedIn()) {
    if (location.hash && location.hash !== DEFAULT_ROUTE) wanted = location.hash;
    showSignIn();
    return;
  }
  const { path, query } = parseHash(location.hash || DEFAULT_ROUTE);
  const found = match(path || 'overview');
  if (!shell) buildShell();
  runCleanups();
  const main = shell.main;
  clear(main);
  for (const a of shell.nav.querySelectorAll('a[data-nav]')) {
    if (found && a.dataset.nav === found.route.nav) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  if (!found) {
    document.title = 'Not found — Gooclaim Auth';
    append(main, [h('h1', null, 'Page not found'), h('p', null, 'There is no page here. ', h('a', { href: DEFAULT_ROUTE }, 'Go to the overview'), '.')]);
    return;
  }
  const ctx = {
    main,
    params: found.params,
    query,
    state,
    handoff,
    navigate,
    onCleanup: (fn) => cleanups.push(fn),
    setTitle: (t) => { document.title = `${t} — Gooclaim Auth`; },
  };
  try {
    found.route.render(ctx);
  } catch (err) {
    console.error(err);
    append(main, [h('div', { class: 'alert alert-error', role: 'alert' }, errorText(err))]);
  }
  if (!firstRender) {
    const heading = main.querySelector('h1');
    if (heading) {
      heading.tabIndex = -1;
      heading.focus({ preventScroll: false });
    } else {
      main.focus();
    }
  }
  firstRender = false;
}

// takeCode handles a one-time sign-in link (#code=…&page=…): the code leaves
// the address bar at once, then is exchanged for a token.
async function takeCode() {
  const frag = new URLSearchParams(location.hash.slice(1));
  const code = frag.get('code') || '';
  const page = frag.get('page') || '';
  history.replaceState(null, '', location.pathname + location.search);
  runCleanups();
  dropShell();
  clear(root);
  root.className = 'app app-signin';
  append(root, [h('div', { class: 'signin-card' }, loading('Signing you in…'))]);
  session.end('replaced');
  try {
    const answered = await api.exchangeCode(code);
    history.replaceState(null, '', pageHash(answered || page));
    route();
  } catch (err) {
    showSignIn(errorText(err), 'error');
  }
}

session.onChange((reason) => {
  if (reason === 'expired') {
    if (location.hash && location.hash.startsWith('#/')) wanted = location.hash;
    showSignIn('Your session has expired — sign in again.', 'warning');
  } else if (reason === 'signed-out') {
    showSignIn('You have signed out. The console forgot its token.', 'info');
  }
});

window.addEventListener('hashchange', () => route());

// The skip link moves focus to the content without touching the hash.
document.addEventListener('click', (ev) => {
  const a = ev.target.closest && ev.target.closest('a.skip-link');
  if (!a) return;
  ev.preventDefault();
  const main = document.getElementById('main') || document.querySelector('form, input');
  if (main) main.focus();
});

if (/(^#|&)code=/.test(location.hash)) takeCode();
else route();
