// Talking to the server: the token endpoint, the one-time link exchange and
// the admin API. Errors carry the API's own words (error_description).

import * as session from './session.js';

export class ApiError extends Error {
  constructor(status, code, description, { expired = false } = {}) {
    super(description || code || `HTTP ${status}`);
    this.status = status;
    this.code = code || '';
    this.description = description || '';
    this.expired = expired;
  }
}

async function readBody(res) {
  if (res.status === 204) return null;
  const text = await res.text();
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return { _text: text };
  }
}

function errorFrom(res, body, opts) {
  if (body && typeof body.error === 'string') {
    const err = new ApiError(res.status, body.error, typeof body.error_description === 'string' ? body.error_description : '', opts);
    // An apply's document problems, each with its line.
    if (Array.isArray(body.problems)) err.problems = body.problems;
    return err;
  }
  const text = body && body._text ? body._text.trim().slice(0, 200) : '';
  return new ApiError(res.status, '', text || `The server answered ${res.status} ${res.statusText}.`.replace(' .', '.'), opts);
}

async function send(url, init) {
  let res;
  try {
    res = await fetch(url, { cache: 'no-store', credentials: 'same-origin', redirect: 'error', ...init });
  } catch (err) {
    throw new ApiError(0, 'network_error', `Could not reach the server (${err.message}).`);
  }
  const body = await readBody(res);
  return { res, body };
}

// serverConfig is what this server wants of an admin token — its admin
// audience (serve's --admin-audience) and scope — read once from the
// console's config.json, which the server writes for its own settings.
let config = null;
async function serverConfig() {
  if (config) return config;
  const { res, body } = await send('/console/config.json', { method: 'GET', headers: { Accept: 'application/json' } });
  if (!res.ok || !body || typeof body.admin_audience !== 'string' || typeof body.admin_scope !== 'string') {
    throw errorFrom(res, body);
  }
  config = body;
  return config;
}

// signIn asks the token endpoint for an admin token (client_secret_post).
export async function signIn(clientId, clientSecret) {
  const { admin_audience: audience, admin_scope: scope } = await serverConfig();
  const form = new URLSearchParams({
    grant_type: 'client_credentials',
    client_id: clientId,
    client_secret: clientSecret,
    scope,
    audience,
  });
  const { res, body } = await send('/v1/auth/token', {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
    body: form.toString(),
  });
  if (!res.ok) throw errorFrom(res, body);
  if (!body || typeof body.access_token !== 'string') throw new ApiError(res.status, '', 'The token endpoint answered without an access token.');
  if (body.token_type && String(body.token_type).toLowerCase() !== 'bearer') {
    throw new ApiError(res.status, '', `The token endpoint issued a ${body.token_type} token; the console needs a Bearer token.`);
  }
  session.start(body.access_token, body.expires_in, clientId);
  return body;
}

// exchangeCode trades a one-time sign-in link's code for a token; returns the page to open.
export async function exchangeCode(code) {
  const { res, body } = await send('/console/session', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
    body: JSON.stringify({ code }),
  });
  if (!res.ok) throw errorFrom(res, body);
  if (!body || typeof body.access_token !== 'string') throw new ApiError(res.status, '', 'The server answered without an access token.');
  // Who is signed in: the link's maker, through the console's client.
  const who = typeof body.created_by === 'string' && body.created_by ? `${body.created_by} (sign-in link)` : '';
  session.start(body.access_token, body.expires_in, who);
  return typeof body.page === 'string' ? body.page : '';
}

// admin calls the admin API: admin('GET', '/clients', {query, body}). body
// is sent as JSON, unless type names another Content-Type: then it is
// sent as is (a YAML document).
export async function admin(method, path, { query, body, type, signal } = {}) {
  const token = session.bearer();
  if (!token) {
    session.end('expired');
    throw new ApiError(401, 'invalid_token', 'Your session has expired — sign in again.', { expired: true });
  }
  let url = `/v1/admin${path}`;
  if (query) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) {
      if (v !== undefined && v !== null && v !== '') q.append(k, String(v));
    }
    const qs = q.toString();
    if (qs) url += `?${qs}`;
  }
  const headers = { Authorization: `Bearer ${token}`, Accept: 'application/json' };
  const init = { method, headers, signal };
  if (body !== undefined) {
    headers['Content-Type'] = type || 'application/json';
    init.body = type ? body : JSON.stringify(body);
  }
  const { res, body: out } = await send(url, init);
  if (res.status === 401) {
    const err = errorFrom(res, out, { expired: true });
    session.end('expired');
    throw err;
  }
  if (!res.ok) throw errorFrom(res, out);
  return out;
}

export const enc = encodeURIComponent;

// page encodes a client ID or issuer name for a page's address
// (#/clients/<id>): as enc, but "new", which is also the create form's
// address, with its first letter escaped, so that an object named so opens
// its own page. The router decodes it back.
export function page(id) {
  const s = enc(id);
  return s === 'new' ? '%6Eew' : s;
}
