// The producer's /v1 API from the browser. The API key travels in the
// Authorization header of every request (so it never appears in a URL or a
// log) and is kept in sessionStorage: it lives as long as the tab.
const KEY = 'facefleet.apiKey';

export const getKey = () => sessionStorage.getItem(KEY) || '';
export const setKey = (k) => (k ? sessionStorage.setItem(KEY, k) : sessionStorage.removeItem(KEY));

// ApiError is a non-2xx answer: its status and the API's {"error":{code,message}}.
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message || `HTTP ${status}`);
    this.status = status;
    this.code = code || '';
  }
}

export async function api(path, opts = {}) {
  const headers = new Headers(opts.headers || {});
  headers.set('Authorization', `Bearer ${getKey()}`);
  const res = await fetch(path, { ...opts, headers });
  if (!res.ok) {
    let body = null;
    try {
      body = await res.json();
    } catch {
      /* not JSON */
    }
    throw new ApiError(res.status, body?.error?.code, body?.error?.message);
  }
  return res;
}

// blobURL fetches an API file and returns an object URL for it.
export async function blobURL(path) {
  const res = await api(path);
  return URL.createObjectURL(await res.blob());
}

// follow reads a server-sent event stream (EventSource cannot send the
// Authorization header, so this parses text/event-stream from fetch) and
// calls onStatus with each "status" event's job. It resolves when the
// stream ends.
export async function follow(path, signal, onStatus) {
  const res = await api(path, { signal, headers: { Accept: 'text/event-stream' } });
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = '';
  let event = '';
  let data = [];
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf += value;
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      let line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (line.endsWith('\r')) line = line.slice(0, -1);
      if (line === '') {
        if (data.length && (event === '' || event === 'status')) onStatus(JSON.parse(data.join('\n')));
        event = '';
        data = [];
      } else if (line.startsWith('data:')) {
        data.push(line.slice(5).replace(/^ /, ''));
      } else if (line.startsWith('event:')) {
        event = line.slice(6).trim();
      } // "id:" and ": comments" need nothing here
    }
  }
}
