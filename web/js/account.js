// The top bar's account area: who the dashboard is signed in as (sub and
// role), when the token expires, with a warning shortly before, and the
// Sign in / Sign out button.
//
// For tests and scripts, #account carries data-state="signed-in|anonymous|
// signed-out|pending", data-sub, data-role and data-expires-in-s (empty
// without an expiry), and data-warn="true" in the last minutes.

import { EXPIRY_WARNING_S, formatExpiry } from './auth.js';

const TICK_MS = 15000;

export class AccountArea {
  // `auth`: the Auth; `onSignIn()`, `onSignOut()`: what the buttons do.
  constructor(el, auth, { onSignIn, onSignOut }) {
    this.el = el;
    this.auth = auth;
    this.who = document.createElement('span');
    this.who.className = 'account-who';
    this.expiry = document.createElement('span');
    this.expiry.className = 'account-expiry';
    this.button = document.createElement('button');
    this.button.type = 'button';
    this.button.className = 'btn account-button';
    this.button.addEventListener('click', () => (this.el.dataset.state === 'signed-in' ? onSignOut() : onSignIn()));
    el.append(this.who, this.expiry, this.button);
    auth.addEventListener('change', () => this.render());
    setInterval(() => this.tick(), TICK_MS);
    this.render();
  }

  render() {
    const { access, token } = this.auth;
    const d = this.el.dataset;
    let state;
    if (access && !access.anonymous) state = 'signed-in';
    else if (access) state = 'anonymous';
    else if (token && !this.auth.refused) state = 'pending'; // hello not answered yet
    else state = 'signed-out';
    d.state = state;
    d.sub = access ? String(access.sub || '') : '';
    d.role = access ? String(access.role || '') : '';

    this.who.replaceChildren();
    if (state === 'signed-in') {
      const name = document.createElement('b');
      name.textContent = d.sub || '(no name)';
      const role = document.createElement('span');
      role.className = 'account-role';
      role.dataset.role = d.role;
      role.textContent = d.role;
      this.who.append(name, ' · ', role);
      this.who.title = `signed in as ${d.sub} (${d.role})`;
    } else if (state === 'anonymous') {
      this.who.textContent = 'anonymous viewer';
      this.who.title = 'watching without signing in: only what this server shows to everyone';
    } else if (state === 'pending') {
      this.who.textContent = 'signing in…';
      this.who.title = '';
    } else {
      this.who.title = '';
    }
    this.button.textContent = state === 'signed-in' ? 'Sign out' : 'Sign in';
    this.button.hidden = state === 'pending';
    this.tick();
  }

  // The expiry countdown (and its warning); called on a timer.
  tick() {
    const access = this.auth.access;
    const exp = access && Number.isFinite(access.exp) ? access.exp : null;
    const d = this.el.dataset;
    if (exp === null) {
      d.expiresInS = '';
      d.warn = 'false';
      this.expiry.textContent = '';
      this.expiry.hidden = true;
      return;
    }
    const left = Math.floor(exp - Date.now() / 1000);
    d.expiresInS = String(left);
    const warn = left <= EXPIRY_WARNING_S;
    d.warn = String(warn);
    this.expiry.hidden = false;
    this.expiry.textContent = formatExpiry(exp);
    this.expiry.title = warn
      ? `the token ${left > 0 ? 'runs out soon' : 'has run out'}: sign in again with a new one (${new Date(exp * 1000).toLocaleString()})`
      : `the token is valid until ${new Date(exp * 1000).toLocaleString()}`;
  }
}
