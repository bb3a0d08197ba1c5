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

// One WebSocket per tab, shared by the page's subscriptions (graphql-transport-ws).
// When the connection drops (a restart, a network blip) it reconnects with backoff
// and subscribes again; every subscription starts with a snapshot or replays from
// where its page asks, so pages catch up. A refused token (4401/4403) is final.
class Socket {
  constructor() {
    this.next = 1;
    this.subs = new Map();
    this.ws = null;
    this.conn = 0; // which connection: a subscription is sent once on each
    this.acked = false;
    this.retry = 0;
    this.timer = null;
    this.closing = false;
  }

  open() {
    if (this.ws) return;
    clearTimeout(this.timer);
    this.timer = null;
    this.closing = false;
    this.conn += 1;
    const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/graphql`;
    const ws = new WebSocket(url, 'graphql-transport-ws');
    this.ws = ws;
    ws.onopen = () => ws.send(JSON.stringify({
      type: 'connection_init',
      payload: { authorization: `Bearer ${session.token() || ''}` },
    }));
    ws.onmessage = (m) => {
      const msg = JSON.parse(m.data);
      if (msg.type === 'connection_ack') {
        this.acked = true;
        this.retry = 0;
        for (const [id, sub] of this.subs) this.send(id, sub);
      } else if (msg.type === 'ping') {
        ws.send(JSON.stringify({ type: 'pong' }));
      } else {
        this.dispatch(msg);
      }
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.acked = false;
      if (this.closing || !this.subs.size) return;
      const why = `live connection closed (${ev.code}${ev.reason ? ` ${ev.reason}` : ''})`;
      if (ev.code === 4401 || ev.code === 4403) {
        const subs = [...this.subs.values()];
        this.subs.clear();
        for (const sub of subs) sub.onError(new ApiError('UNAUTHENTICATED', why));
        return;
      }
      for (const sub of this.subs.values()) sub.onError(new ApiError('UNAVAILABLE', `${why}; reconnecting\u2026`));
      const wait = Math.min(10000, 500 * 2 ** this.retry++);
      this.timer = setTimeout(() => this.open(), wait);
    };
  }

  send(id, sub) {
    if (!this.acked || sub.conn === this.conn) return;
    sub.conn = this.conn;
    this.ws.send(JSON.stringify({ id, type: 'subscribe', payload: { query: sub.query, variables: sub.variables } }));
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
      // The server ended it: a revoked or expired token, or a shutdown. It stays
      // listed, so that a reconnection (after a restart) subscribes again.
      sub.onError(new ApiError('UNAVAILABLE', 'live updates stopped: the server ended them '
        + '(a revoked or expired token, or a restart)'));
    }
  }

  subscribe(query, variables, onData, onError) {
    const id = String(this.next++);
    const sub = { query, variables, onData, onError, conn: 0 };
    this.subs.set(id, sub);
    if (this.acked) this.send(id, sub);
    else this.open();
    return () => {
      if (this.subs.delete(id) && this.acked && sub.conn === this.conn) {
        this.ws.send(JSON.stringify({ id, type: 'complete' }));
      }
    };
  }

  close() {
    this.closing = true;
    clearTimeout(this.timer);
    this.timer = null;
    this.subs.clear();
    if (this.ws) this.ws.close(1000, 'signed out');
    this.ws = null;
    this.acked = false;
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
