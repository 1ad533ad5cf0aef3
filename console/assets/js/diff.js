// A readable diff of two JSON values (an audit event's before and after):
// flattened to paths, each path added, removed, changed or unchanged.

// Arrays of plain values are compared whole ("scopes"); arrays of objects
// with an identifying member (kid, id, client_id, name) are keyed by it, so
// a key list reads by key rather than by position.
const ID_KEYS = ['kid', 'id', 'client_id', 'name'];

function isObj(v) {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function idKey(arr) {
  if (!arr.length || !arr.every(isObj)) return null;
  for (const k of ID_KEYS) {
    const seen = new Set();
    if (arr.every((o) => typeof o[k] === 'string' && !seen.has(o[k]) && seen.add(o[k]))) return k;
  }
  return null;
}

export function flatten(v, prefix = '', out = new Map()) {
  if (isObj(v)) {
    const keys = Object.keys(v);
    if (keys.length === 0 && prefix) out.set(prefix, v);
    for (const k of keys) flatten(v[k], prefix ? `${prefix}.${k}` : k, out);
  } else if (Array.isArray(v) && v.some((x) => isObj(x) || Array.isArray(x))) {
    const key = idKey(v);
    v.forEach((x, i) => flatten(x, key ? `${prefix}[${key}=${x[key]}]` : `${prefix}[${i}]`, out));
  } else {
    out.set(prefix, v);
  }
  return out;
}

const eq = (a, b) => JSON.stringify(a) === JSON.stringify(b);

// diff returns [{path, kind: added|removed|changed|same, before, after}], in path order.
export function diff(before, after) {
  const a = before === null || before === undefined ? new Map() : flatten(before);
  const b = after === null || after === undefined ? new Map() : flatten(after);
  const paths = [...new Set([...a.keys(), ...b.keys()])];
  const order = new Map(paths.map((p, i) => [p, i]));
  paths.sort((x, y) => order.get(x) - order.get(y));
  return paths.map((path) => {
    const hasA = a.has(path);
    const hasB = b.has(path);
    let kind = 'same';
    if (hasA && !hasB) kind = 'removed';
    else if (!hasA && hasB) kind = 'added';
    else if (!eq(a.get(path), b.get(path))) kind = 'changed';
    return { path: path || '(value)', kind, before: a.get(path), after: b.get(path), hasBefore: hasA, hasAfter: hasB };
  });
}

export function show(v) {
  if (v === undefined) return '';
  if (typeof v === 'string') return v;
  return JSON.stringify(v);
}
