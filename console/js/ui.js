// Small DOM helpers shared by the pages: element building, labelled fields,
// times and SLA countdowns, and the error banner that shows refusals in words.

// h('div', {class: 'x', onclick: f}, child, 'text', [more]) builds an element.
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'value') el.value = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false || c === '') continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

let ids = 0;
// A labelled control: label text, then the control (given an id if it has none).
export function field(label, control, hint) {
  if (!control.id) control.id = `f${++ids}`;
  return h('div', { class: 'field' },
    h('label', { for: control.id }, label),
    control,
    hint ? h('small', {}, hint) : null);
}

export function select(name, options, value) {
  return h('select', { name },
    options.map((o) => {
      const [v, text] = Array.isArray(o) ? o : [o, o];
      return h('option', { value: v, selected: v === value }, text);
    }));
}

// A page-level message area: errors are announced to screen readers.
export function banner() {
  const el = h('div', { class: 'banner', role: 'alert', 'aria-live': 'assertive', hidden: true });
  el.show = (text, kind = 'error') => {
    el.className = `banner ${kind}`;
    el.textContent = text;
    el.hidden = false;
  };
  el.error = (e) => el.show(e && e.words ? e.words : String(e && e.message ? e.message : e));
  el.clear = () => { el.hidden = true; el.textContent = ''; };
  // After a reconnection: the "connection closed" notice is no longer true.
  el.live = () => { if (!el.hidden && el.textContent.includes('reconnecting')) el.clear(); };
  return el;
}

export function time(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  return h('time', { datetime: iso, title: iso }, d.toLocaleString([], { dateStyle: 'short', timeStyle: 'short' }));
}

// "in 1h 05m", "12m overdue"
export function countdown(iso, now = Date.now()) {
  if (!iso) return '';
  const ms = new Date(iso).getTime() - now;
  const m = Math.round(Math.abs(ms) / 60000);
  const text = m >= 60 * 24 ? `${Math.floor(m / 1440)}d ${Math.floor((m % 1440) / 60)}h`
    : m >= 60 ? `${Math.floor(m / 60)}h ${String(m % 60).padStart(2, '0')}m` : `${m}m`;
  return ms >= 0 ? `in ${text}` : `${text} overdue`;
}

// How close a deadline is: 'breached', 'soon' (under an hour), 'ok' or ''.
export function risk(sla, now = Date.now()) {
  if (!sla) return '';
  if (sla.breached && sla.breached.length) return 'breached';
  if (!sla.nextDeadline) return 'ok';
  const ms = new Date(sla.nextDeadline).getTime() - now;
  if (ms < 0) return 'breached';
  return ms < 3600000 ? 'soon' : 'ok';
}

// "8h", "3d 2h", "45m" for a number of seconds.
export function duration(secs) {
  const m = Math.round(secs / 60);
  if (m >= 1440) return `${Math.floor(m / 1440)}d${m % 1440 >= 60 ? ` ${Math.floor((m % 1440) / 60)}h` : ''}`;
  if (m >= 60) return `${Math.floor(m / 60)}h${m % 60 ? ` ${m % 60}m` : ''}`;
  return `${m}m`;
}

export function chip(text, kind = '') {
  return h('span', { class: `chip ${kind}`.trim() }, text);
}

export function words(enumValue) {
  return String(enumValue || '').toLowerCase().replace(/_/g, ' ');
}

// Replaces a container's content.
export function mount(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}
