// The admin session: the access token and its expiry, in this module's
// memory only — never in localStorage, sessionStorage, a cookie or the URL.
// Reloading the page forgets it.

let token = null;
let expiresAt = 0; // ms since the epoch
let who = '';
let timer = 0;
const listeners = new Set();

// onChange(fn) calls fn(reason) when the session starts or ends; reason is
// 'signed-in', 'signed-out' or 'expired'.
export function onChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

function emit(reason) {
  for (const fn of listeners) fn(reason);
}

export function isSignedIn() {
  return token !== null && Date.now() < expiresAt;
}

export function bearer() {
  return isSignedIn() ? token : null;
}

export function identity() {
  return who;
}

export function expiry() {
  return expiresAt;
}

// start keeps a token from the token endpoint or the one-time link exchange.
export function start(accessToken, expiresIn, subject = '') {
  if (typeof accessToken !== 'string' || accessToken === '') throw new Error('The server answered without an access token.');
  const secs = Number(expiresIn);
  token = accessToken;
  expiresAt = Date.now() + (Number.isFinite(secs) && secs > 0 ? secs : 300) * 1000;
  who = subject;
  clearTimeout(timer);
  // A few seconds early, so no request goes out with a token about to lapse.
  timer = setTimeout(() => end('expired'), Math.max(0, expiresAt - Date.now() - 5000));
  emit('signed-in');
}

// end forgets the token.
export function end(reason = 'signed-out') {
  const had = token !== null;
  token = null;
  expiresAt = 0;
  who = '';
  clearTimeout(timer);
  if (had || reason === 'expired') emit(reason);
}
