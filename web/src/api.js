// The server's API as the page uses it: same-origin fetches with the session cookie, JSON in and
// out, failures as ApiError with the HTTP status (0: the server could not be reached).

export class ApiError extends Error {
  constructor(status, code, detail) {
    super(detail || code || `HTTP ${status}`);
    this.status = status;
    this.code = code;
  }
}

async function request(method, path, body) {
  const init = { method, credentials: 'same-origin', headers: { Accept: 'application/json' }, cache: 'no-store' };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch {
    throw new ApiError(0, 'unreachable', 'The server could not be reached.');
  }
  if (response.status === 204) return null;
  let payload = null;
  try {
    payload = await response.json();
  } catch {
    // A proxy's HTML error page, or an empty body: the status says enough.
  }
  if (!response.ok) throw new ApiError(response.status, payload?.error, payload?.detail);
  return payload;
}

export const query = (params) =>
  Object.entries(params)
    .filter(([, v]) => v !== undefined && v !== null && v !== '')
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)
    .join('&');

export const signIn = (token) => request('POST', '/v1/session', { token });
export const signOut = () => request('DELETE', '/v1/session');
export const me = () => request('GET', '/v1/me');
export const realtime = (deviceId) => request('GET', `/v1/realtime?${query({ device_id: deviceId })}`);
export const siteRealtime = (siteId) => request('GET', `/v1/sites/realtime?${query({ site_id: siteId })}`);

// What the page shows: a device ({ kind: 'device', id }) or a site of several ({ kind: 'site', id }).
// The query parameter that names it:
export const targetParams = (target) => (target.kind === 'site' ? { site_id: target.id } : { device_id: target.id });

// params: device_id or site_id, frame, from, to, tz
export const seriesUrl = (params, format) =>
  `${params.site_id ? '/v1/sites/series' : '/v1/series'}?${query({ ...params, format })}`;
export const series = (params) => request('GET', seriesUrl(params));
export const streamUrl = (deviceId) => `/v1/stream?${query({ device_id: deviceId })}`;
