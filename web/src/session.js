// Signing in: a link's #token=… fragment or the form's pasted token, exchanged for a session cookie.
// The token is never put in a URL query, in storage or in a log; the fragment leaves the address
// bar before the page does anything else.
import * as api from './api.js';

// The token of a `#token=…` link, or null. Removes the fragment from the address bar and history.
export function takeTokenFromAddress() {
  const fragment = window.location.hash;
  if (!fragment.startsWith('#')) return null;
  const token = new URLSearchParams(fragment.slice(1)).get('token');
  if (token === null) return null;
  window.history.replaceState(window.history.state, '', window.location.pathname + window.location.search);
  return token.trim();
}

// Resolves to null when signed in, or to a message for the person.
export async function signIn(token) {
  try {
    await api.signIn(token);
    return null;
  } catch (error) {
    if (error.status === 401 || error.status === 403) return 'That token was not accepted. Check that you pasted all of it.';
    if (error.status === 429) return 'Too many attempts from this address. Wait a few minutes, then try again.';
    if (error.status === 0) return 'The server could not be reached. Try again in a moment.';
    return `Signing in failed (${error.message}).`;
  }
}

export async function signOut() {
  try {
    await api.signOut();
  } catch {
    // The cookie may already be gone; the page shows the sign-in form either way.
  }
}
