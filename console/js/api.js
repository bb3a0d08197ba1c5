// The console's only way to the server: the public GraphQL API, over HTTP POST
// /graphql and the graphql-transport-ws protocol on the same path, with the token
// kept in this tab's session storage.

const TOKEN_KEY = 'swarmdesk.token';

export const session = {
  token() { return sessionStorage.getItem(TOKEN_KEY); },
  set(token) { sessionStorage.setItem(TOKEN_KEY, token); },
  clear() { sessionStorage.removeItem(TOKEN_KEY); },
};

// The API's error codes (extensions.code) in words.
const WORDS = {
  BAD_USER_INPUT: 'The request was not accepted as written',
  UNAUTHENTICATED: 'Your token is missing, unknown, revoked or expired',
  FORBIDDEN: 'Your role may not do this',
  NOT_FOUND: 'Not found, or not yours to see',
  VERSION_CONFLICT: 'Someone changed this case first; reload and decide again',
  INVALID_TRANSITION: 'The case is in a state where this makes no sense',
  RATE_LIMITED: 'Too many requests; slow down',
  TIMEOUT: 'The server did not finish in time; try again',
  UNAVAILABLE: 'The server accepts no writes right now; try later',
  DAMAGED: 'This case\u2019s stored history is damaged',
  INTERNAL: 'The server failed; its log says why',
};

export class ApiError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code || 'INTERNAL';
  }
  // "Your role may not do this (FORBIDDEN): only staff may ..."
  get words() {
    const w = WORDS[this.code] || 'The request failed';
    return `${w} (${this.code}): ${this.message}`;
  }
}

function errorOf(errors) {
  const e = errors[0] || {};
  return new ApiError(e.extensions && e.extensions.code, e.message || 'unknown error');
}

// Runs one query or mutation; resolves to `data`, rejects with an ApiError.
export async function gql(query, variables = {}) {
  let res;
  try {
    res = await fetch('/graphql', {
      method: 'POST',
      headers: {
        'Content-Type': 'application/json',
        Accept: 'application/graphql-response+json, application/json',
        Authorization: `Bearer ${session.token() || ''}`,
      },
      body: JSON.stringify({ query, variables }),
    });
  } catch (e) {
    throw new ApiError('UNAVAILABLE', `the server cannot be reached (${e.message})`);
  }
  let body;
  try {
    body = await res.json();
  } catch (e) {
    throw new ApiError('INTERNAL', `HTTP ${res.status} without a GraphQL answer`);
  }
  if (body.errors && body.errors.length) throw errorOf(body.errors);
  return body.data;
}

// One WebSocket per page, shared by its subscriptions (graphql-transport-ws).
class Socket {
  constructor() {
    this.next = 1;
    this.subs = new Map();
    this.ws = null;
    this.ready = null;
  }

  open() {
    if (this.ready) return this.ready;
    const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/graphql`;
    const ws = new WebSocket(url, 'graphql-transport-ws');
    this.ws = ws;
    this.ready = new Promise((resolve, reject) => {
      ws.onopen = () => ws.send(JSON.stringify({
        type: 'connection_init',
        payload: { authorization: `Bearer ${session.token() || ''}` },
      }));
      ws.onmessage = (m) => {
        const msg = JSON.parse(m.data);
        if (msg.type === 'connection_ack') resolve();
        else if (msg.type === 'ping') ws.send(JSON.stringify({ type: 'pong' }));
        else this.dispatch(msg);
      };
      ws.onclose = (ev) => {
        reject(new ApiError('UNAUTHENTICATED', `live connection closed (${ev.code} ${ev.reason})`));
        const subs = [...this.subs.values()];
        this.subs.clear();
        this.ws = null;
        this.ready = null;
        for (const s of subs) s.onError(new ApiError('UNAVAILABLE', `live connection closed (${ev.code} ${ev.reason || 'no reason'})`));
      };
    });
    return this.ready;
  }

  dispatch(msg) {
    const sub = this.subs.get(msg.id);
    if (!sub) return;
    if (msg.type === 'next') {
      if (msg.payload.errors && msg.payload.errors.length) sub.onError(errorOf(msg.payload.errors));
      else sub.onData(msg.payload.data);
    } else if (msg.type === 'error') {
      this.subs.delete(msg.id);
      sub.onError(errorOf(msg.payload));
    } else if (msg.type === 'complete') {
      this.subs.delete(msg.id);
    }
  }

  subscribe(query, variables, onData, onError) {
    const id = String(this.next++);
    this.subs.set(id, { onData, onError });
    this.open().then(
      () => this.ws && this.ws.send(JSON.stringify({ id, type: 'subscribe', payload: { query, variables } })),
      (e) => onError(e),
    );
    return () => {
      if (this.subs.delete(id) && this.ws && this.ws.readyState === WebSocket.OPEN) {
        this.ws.send(JSON.stringify({ id, type: 'complete' }));
      }
    };
  }

  close() {
    if (this.ws) this.ws.close(1000, 'signed out');
  }
}

const socket = new Socket();

// Starts a subscription; returns the function that stops it.
export function subscribe(query, variables, onData, onError = () => {}) {
  return socket.subscribe(query, variables, onData, onError);
}

export function closeLive() {
  socket.close();
}
