// The sign-in dialog (#signin in index.html): paste a token, optionally
// "remember on this device", Sign in. It opens by itself when the server
// refuses the dashboard (with the server's reason: "token expired", "bad
// signature", "a token is required" ...) and from the top bar's Sign in
// button. "Continue without signing in" tries anonymous access; it is hidden
// once the server has refused that.
//
// For tests: #signin[open] while shown, #signin-reason[data-reason] holds the
// server's words, and the form's fields have stable ids (#signin-token,
// #signin-remember, #signin-submit, #signin-anonymous).

// The server's reasons, said for people (signaling/handle_hello.c, server.c).
const FRIENDLY = {
  'a token is required': 'This server needs an access token.',
  'token expired': 'Your access token has expired.',
  'bad signature': 'This access token is not valid for this server.',
  'malformed token': 'This is not a vigil access token.',
  unauthorized: 'The server refused this access token.',
};

export class SignInDialog {
  // `onSignIn(token, remember)`, `onAnonymous()`: what the buttons do.
  constructor(dialog, auth, { onSignIn, onAnonymous }) {
    this.dialog = dialog;
    this.auth = auth;
    this.form = dialog.querySelector('form');
    this.reason = dialog.querySelector('#signin-reason');
    this.token = dialog.querySelector('#signin-token');
    this.remember = dialog.querySelector('#signin-remember');
    this.anonymous = dialog.querySelector('#signin-anonymous');

    this.form.addEventListener('submit', (ev) => {
      ev.preventDefault();
      const token = this.token.value.trim();
      if (!token) {
        this.token.focus();
        return;
      }
      this.token.value = ''; // not left in the page
      this.close();
      onSignIn(token, this.remember.checked);
    });
    this.anonymous.addEventListener('click', () => {
      this.close();
      onAnonymous();
    });
    dialog.querySelector('#signin-cancel').addEventListener('click', () => this.close());
  }

  get isOpen() {
    return this.dialog.open;
  }

  // Shows the dialog; `refused` is the Auth's {reason, hadToken}, or null
  // when the user asked to sign in.
  show(refused = null) {
    const why = refused ? refused.reason : '';
    this.reason.dataset.reason = why;
    this.reason.hidden = !why;
    this.reason.textContent = why ? `${FRIENDLY[why] || 'The server refused the token.'} (${why})` : '';
    // Without a token the server either lets us in anonymously or not; once
    // it said no, offering it again would only fail again.
    const access = this.auth.access;
    this.anonymous.hidden = this.auth.anonymousRefused || !!(access && access.anonymous);
    this.remember.checked = this.auth.remembered;
    if (!this.dialog.open) {
      if (typeof this.dialog.showModal === 'function') this.dialog.showModal();
      else this.dialog.setAttribute('open', '');
    }
    this.token.focus();
  }

  close() {
    if (!this.dialog.open) return;
    if (typeof this.dialog.close === 'function') this.dialog.close();
    else this.dialog.removeAttribute('open');
  }
}
