// Who the dashboard is to the server: the access token, where it is kept,
// and the hello that presents it (PROTOCOL.md "hello").
//
// The token comes from the address (#token=..., read once at start and then
// removed from the address bar so it does not linger in screenshots,
// bookmarks or the history) or from the sign-in dialog. It is kept in
// sessionStorage (gone when the tab closes), or in localStorage when the user
// ticks "remember on this device". Without a token the hello goes out
// without one: the server then lets us in as an anonymous viewer where its
// config allows it, or refuses with "unauthorized".
//
// Events (it is an EventTarget):
//   'change'  the token or the access changed (sign-in, sign-out, hello reply,
//             refusal); read .token, .access, .refused, .anonymousRefused

const KEY = 'vigil.token';
// Roles that may send device commands (PROTOCOL.md; server/access.h).
const COMMAND_ROLES = new Set(['operator', 'admin']);

// The token in a URL fragment like "#token=v1.abc.def&x=1", or null.
export function tokenFromHash(hash) {
  if (typeof hash !== 'string' || hash.length < 2) return null;
  const params = new URLSearchParams(hash.replace(/^#/, ''));
  const t = params.get('token');
  return t && t.trim() ? t.trim() : null;
}

// The fragment without its token ("" when nothing else was in it).
export function hashWithoutToken(hash) {
  const params = new URLSearchParams((hash || '').replace(/^#/, ''));
  params.delete('token');
  const rest = params.toString();
  return rest ? `#${rest}` : '';
}

// What may this access do? `access` is the hello reply's `access` object.
export function canCommand(access) {
  return !!access && COMMAND_ROLES.has(access.role);
}

// "23 h", "5 min", "40 s" until `expSeconds` (seconds since the epoch),
// "expired" once past, "" without an expiry.
export function formatExpiry(expSeconds, nowMs = Date.now()) {
  if (!Number.isFinite(expSeconds)) return '';
  const s = Math.floor(expSeconds - nowMs / 1000);
  if (s <= 0) return 'expired';
  if (s < 60) return `expires in ${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `expires in ${m} min`;
  const h = Math.floor(m / 60);
  if (h < 48) return `expires in ${h} h`;
  return `expires in ${Math.floor(h / 24)} days`;
}

// The claims of a v1.<base64url claims>.<signature> token, unverified (only
// the server can check the signature), or null when it does not parse.
export function tokenClaims(token) {
  const parts = typeof token === 'string' ? token.split('.') : [];
  if (parts.length !== 3 || parts[0] !== 'v1') return null;
  try {
    const b64 = parts[1].replace(/-/g, '+').replace(/_/g, '/');
    const json = decodeURIComponent(Array.from(atob(b64), (c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`).join(''));
    const claims = JSON.parse(json);
    return claims && typeof claims === 'object' && !Array.isArray(claims) ? claims : null;
  } catch {
    return null;
  }
}

// Why the server most likely refused `token` when all it said was the close
// code (4003 "unauthorized"), in the server's own words where we can tell:
// no token, a malformed one, or one past its expiry by our clock.
export function refusalReason(token, nowMs = Date.now()) {
  if (!token) return 'a token is required';
  const claims = tokenClaims(token);
  if (!claims) return 'malformed token';
  if (Number.isFinite(claims.exp) && claims.exp <= nowMs / 1000) return 'token expired';
  return 'unauthorized';
}

// Seconds before expiry from which the dashboard warns.
export const EXPIRY_WARNING_S = 10 * 60;

export class Auth extends EventTarget {
  // `storage`: {session, local} Storage-like objects (tests pass fakes).
  constructor({ session = safeStorage('sessionStorage'), local = safeStorage('localStorage') } = {}) {
    super();
    this.session = session;
    this.local = local;
    this.token = null;
    this.remembered = false; // kept in localStorage
    this.access = null; // the last hello reply's access, null when not in
    this.refused = null; // {reason} while the server refuses us
    this.anonymousRefused = false; // a hello without token was refused
    this.load();
  }

  load() {
    const local = read(this.local);
    const session = read(this.session);
    this.token = session || local || null;
    this.remembered = !session && !!local;
  }

  // Takes a token from the address bar (once), then removes it from there.
  adoptFromLocation(loc = location, hist = history) {
    const t = tokenFromHash(loc.hash);
    if (!t) return false;
    try {
      hist.replaceState(hist.state, '', `${loc.pathname}${loc.search}${hashWithoutToken(loc.hash)}`);
    } catch { /* an odd document: the token stays visible, but works */ }
    this.signIn(t, { remember: false });
    return true;
  }

  // Keeps `token` (remember: in localStorage, else sessionStorage).
  signIn(token, { remember = false } = {}) {
    this.clearStored();
    this.token = String(token).trim();
    this.remembered = remember;
    write(remember ? this.local : this.session, this.token);
    this.refused = null;
    this.access = null;
    this.changed();
  }

  signOut() {
    this.clearStored();
    this.token = null;
    this.remembered = false;
    this.access = null;
    this.refused = null;
    this.anonymousRefused = false;
    this.changed();
  }

  // The hello fields for the current token.
  helloFields() {
    return this.token ? { token: this.token } : {};
  }

  // Does the hello; `request(type, fields)` sends on the new socket. Resolves
  // with the hello reply; rejects like Connection.request.
  async handshake(request) {
    const token = this.token;
    let reply;
    try {
      reply = await request('hello', this.helloFields());
    } catch (err) {
      if (err.code === 'unauthorized') this.refuse(err.message, token);
      throw err;
    }
    if (token !== this.token) return reply; // signed in/out meanwhile: a restart follows
    this.access = reply.access && typeof reply.access === 'object' ? reply.access : null;
    this.refused = null;
    this.changed();
    return reply;
  }

  // The server refused us (a hello error, or close 4003 mid-session).
  // `token` is the one it refused: a newer one is not blamed. A bare
  // "unauthorized" (the close reason, without the hello's error reply) is
  // made more precise where the token itself tells why.
  refuse(reason, token = this.token) {
    if (token !== this.token) return;
    if (!reason || reason === 'unauthorized') reason = refusalReason(token);
    if (token) {
      // A refused token is no use later either (expired, forged, revoked).
      this.clearStored();
      this.token = null;
    } else {
      this.anonymousRefused = true;
    }
    this.access = null;
    this.refused = { reason: reason || 'unauthorized', hadToken: !!token };
    this.changed();
  }

  get canCommand() {
    return canCommand(this.access);
  }

  // Authorization header for REST calls.
  headers() {
    return this.token ? { authorization: `Bearer ${this.token}` } : {};
  }

  clearStored() {
    remove(this.session);
    remove(this.local);
  }

  changed() {
    this.dispatchEvent(new Event('change'));
  }
}

// Storage can throw (disabled cookies, sandboxed frames): treat it as empty.
function safeStorage(name) {
  try {
    return globalThis[name] || null;
  } catch {
    return null;
  }
}

function read(storage) {
  try {
    return storage ? storage.getItem(KEY) : null;
  } catch {
    return null;
  }
}

function write(storage, value) {
  try {
    if (storage) storage.setItem(KEY, value);
  } catch { /* kept in memory only */ }
}

function remove(storage) {
  try {
    if (storage) storage.removeItem(KEY);
  } catch { /* nothing to remove */ }
}
