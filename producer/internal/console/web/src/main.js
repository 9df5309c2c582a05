// facefleet web console: sign in with an API key, submit photos, follow the
// jobs live (server-sent events), show the results. Everything it reads comes
// from the producer's own /v1 API (docs/openapi.yaml); the 3D viewer (three.js)
// is loaded on demand, when a result with a mesh is shown.
import { api, ApiError, setKey, getKey, follow } from './api.js';
import { showResult, clearResult } from './result.js';
import { STAGES, inWords, el, fmtBytes, $ } from './ui.js';

const state = {
  options: null, // GET /v1/options
  pending: [], // {file, li, note, done}
  jobs: new Map(), // id -> {rec, card, stream, seen:Set}
  next: '',
  selected: '',
};

const baseName = (key) => (key || '').split('/').pop() || '(image)';

// ---- sign in ----

async function signIn(key) {
  setKey(key);
  try {
    state.options = await (await api('/v1/options')).json();
  } catch (e) {
    setKey('');
    throw e;
  }
  $('tenant').textContent = state.options.tenant;
  $('who').hidden = false;
  $('signin').hidden = true;
  $('app').hidden = false;
  $('maxsize').textContent = fmtBytes(state.options.max_upload_bytes);
  renderOptions();
  await loadJobs(true);
}

function signOut() {
  setKey('');
  for (const j of state.jobs.values()) j.stream?.abort();
  waiting.length = 0;
  state.jobs.clear();
  state.pending = [];
  state.next = '';
  $('jobs').replaceChildren();
  $('pending').replaceChildren();
  clearResult();
  $('result').hidden = true;
  $('app').hidden = true;
  $('who').hidden = true;
  $('signin').hidden = false;
  $('key').value = '';
  $('key').focus();
}

$('signin-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const msg = $('signin-error');
  msg.hidden = true;
  try {
    await signIn($('key').value.trim());
  } catch (e) {
    msg.textContent = e instanceof ApiError && e.status === 401
      ? 'That API key was not accepted. Check it and try again.'
      : `Could not sign in: ${e.message}`;
    msg.hidden = false;
  }
});
$('signout').addEventListener('click', signOut);

// ---- options form (built from GET /v1/options) ----

function renderOptions() {
  const form = $('options');
  form.replaceChildren();
  for (const o of state.options.options) {
    const help = o.help ? el('span', { class: 'help' }, o.help) : null;
    const label = o.name.replaceAll('_', ' ');
    let input;
    if (o.type === 'bool') {
      input = el('input', { type: 'checkbox', name: o.name, checked: !!o.default });
      form.append(el('label', { class: 'bool' }, input, label, help));
      continue;
    }
    if (o.type === 'webhook') {
      const url = el('input', { type: 'url', name: o.name, placeholder: 'https://… (none)', spellcheck: 'false' });
      const events = o.choices.map((c) => el('label', { class: 'bool inline' },
        el('input', { type: 'checkbox', name: `${o.name}.events`, value: c, checked: o.default_choices.includes(c) }), c));
      form.append(el('fieldset', { class: 'webhook' }, el('legend', {}, label), url, el('div', { class: 'events' }, ...events), help));
      continue;
    }
    if (o.type === 'enum') {
      input = el('select', { name: o.name }, ...o.choices.map((c) => el('option', { value: c, selected: c === o.default }, c)));
    } else if (o.type === 'int') {
      input = el('input', { type: 'number', name: o.name, value: o.default, min: o.min, max: o.max, step: 1, required: true });
    } else {
      input = el('input', { type: 'text', name: o.name, value: o.default || '', placeholder: o.default ? '' : 'none' });
    }
    form.append(el('label', {}, label, input, help));
  }
  const prio = el('select', { name: 'priority' },
    ...state.options.priorities.map((p) => el('option', { value: p, selected: p === state.options.default_priority }, p)));
  form.append(el('label', {}, 'priority', prio, el('span', { class: 'help' }, 'queue order')));
}

function collectOptions() {
  const form = $('options');
  const out = {};
  for (const o of state.options.options) {
    const input = form.elements[o.name];
    if (o.type === 'webhook') {
      if (input.value.trim()) {
        out[o.name] = { url: input.value.trim(), events: [...form.querySelectorAll(`[name="${o.name}.events"]:checked`)].map((e) => e.value) };
      }
    } else if (o.type === 'bool') out[o.name] = input.checked;
    else if (o.type === 'int') out[o.name] = Number(input.value);
    else if (input.value !== '') out[o.name] = input.value;
  }
  return { options: out, priority: form.elements.priority.value };
}

// ---- files: picker and drag-and-drop ----

function addFiles(files) {
  state.pending = state.pending.filter((p) => !p.done);
  $('pending').replaceChildren(...state.pending.map((p) => p.li));
  for (const file of files) {
    const note = el('span', { class: 'fnote' }, fmtBytes(file.size));
    const p = { file, note, done: false };
    p.li = el('li', { dataset: { file: file.name } }, el('span', { class: 'fname', title: file.name }, file.name), note,
      el('button', { type: 'button', class: 'link', title: 'remove', onclick: () => {
        state.pending = state.pending.filter((x) => x !== p);
        p.li.remove();
        updateStart();
      } }, '×'));
    state.pending.push(p);
    $('pending').append(p.li);
  }
  updateStart();
}

function updateStart() {
  const n = state.pending.filter((p) => !p.done).length;
  $('start').disabled = n === 0;
  $('start').textContent = n > 1 ? `Start ${n} jobs` : 'Start';
}

$('files').addEventListener('change', (ev) => {
  addFiles([...ev.target.files]);
  ev.target.value = '';
});
let dragDepth = 0;
document.addEventListener('dragenter', (ev) => {
  if (!ev.dataTransfer?.types.includes('Files')) return;
  dragDepth++;
  document.body.classList.add('dragging');
});
document.addEventListener('dragleave', () => {
  if (--dragDepth <= 0) { dragDepth = 0; document.body.classList.remove('dragging'); }
});
document.addEventListener('dragover', (ev) => ev.preventDefault());
document.addEventListener('drop', (ev) => {
  ev.preventDefault();
  dragDepth = 0;
  document.body.classList.remove('dragging');
  if ($('app').hidden) return;
  const files = [...(ev.dataTransfer?.files || [])];
  if (files.length) addFiles(files);
});

// ---- submit ----

$('start').addEventListener('click', async () => {
  const todo = state.pending.filter((p) => !p.done);
  if (!todo.length || !$('options').reportValidity()) return;
  const { options, priority } = collectOptions();
  $('start').disabled = true;
  $('submit-note').textContent = 'uploading…';
  for (const p of todo) {
    p.li.className = '';
    p.note.textContent = 'uploading…';
    const body = new FormData();
    body.append('options', JSON.stringify(options));
    body.append('priority', priority);
    body.append('image', p.file, p.file.name);
    try {
      const rec = await (await api('/v1/jobs', { method: 'POST', body })).json();
      p.done = true;
      p.li.className = 'ok';
      p.note.textContent = `queued as ${rec.id.slice(-8)}`;
      upsertJob(rec, true);
    } catch (e) {
      p.li.className = 'bad';
      p.note.textContent = e instanceof ApiError ? `${e.code}: ${inWords(e.code, e.message)}` : e.message;
      p.li.dataset.error = e.code || 'network';
      // Refused for what it is (4xx): not sent again; network and server
      // errors stay pending for another Start.
      p.done = e instanceof ApiError && e.status >= 400 && e.status < 500;
    }
  }
  $('submit-note').textContent = '';
  updateStart();
});

// ---- jobs ----

async function loadJobs(first) {
  const q = new URLSearchParams({ limit: '20' });
  if (!first && state.next) q.set('before', state.next);
  const page = await (await api(`/v1/jobs?${q}`)).json();
  for (const rec of page.jobs) upsertJob(rec, false);
  state.next = page.next || '';
  $('more').hidden = !state.next;
}
$('more').addEventListener('click', () => loadJobs(false).catch(report));

function upsertJob(rec, top) {
  let j = state.jobs.get(rec.id);
  if (!j) {
    j = { rec, seen: new Set() };
    j.card = jobCard(rec);
    state.jobs.set(rec.id, j);
    if (top) $('jobs').prepend(j.card);
    else $('jobs').append(j.card);
    $('jobs-empty').hidden = true;
  }
  update(j, rec);
  if (!rec.state || !isTerminal(rec.state)) watch(j);
}

const isTerminal = (s) => s === 'succeeded' || s === 'failed' || s === 'canceled';

function jobCard(rec) {
  const segs = STAGES.map((s) => el('span', { class: 'seg', dataset: { stage: s }, title: s }));
  const card = el('article', { class: 'job', dataset: { jobId: rec.id }, tabindex: 0, 'aria-label': `job ${baseName(rec.input)}` },
    el('header', {}, el('span', { class: 'name' }, baseName(rec.input)), el('span', { class: 'id' }, rec.id.slice(-8)),
      el('span', { class: 'state' }),
      el('button', { type: 'button', class: 'small cancel', hidden: true, onclick: (ev) => { ev.stopPropagation(); cancel(rec.id); } }, 'Cancel')),
    el('div', { class: 'bar' }, ...segs),
    el('div', { class: 'stages' }, ...STAGES.map((s) => el('span', {}, s))),
    el('div', { class: 'meta' }, el('span', { class: 'label' }), el('span', { class: 'pct' }), el('span', { class: 'attempts' }),
      el('span', { class: 'where' }), el('span', { class: 'err', hidden: true })));
  card.addEventListener('click', () => select(rec.id));
  card.addEventListener('keydown', (ev) => { if (ev.key === 'Enter' && ev.target === card) select(rec.id); });
  return card;
}

// update renders a record onto its card. The record's stage is the last
// stage finished (the pipeline reports after each stage), so the one under
// way is the next.
function update(j, rec) {
  if (rec.revision < j.rec.revision) return;
  j.rec = rec;
  const c = j.card;
  c.dataset.state = rec.state;
  c.querySelector('.state').textContent = rec.state + (rec.cancel_requested && rec.state === 'running' ? ' (canceling)' : '');
  c.querySelector('.cancel').hidden = isTerminal(rec.state) || rec.cancel_requested;
  if (rec.stage) {
    j.seen.add(rec.stage);
    c.dataset.seen = [...j.seen].join(' ');
  }
  const done = rec.state === 'succeeded' ? STAGES.length : rec.stage ? STAGES.indexOf(rec.stage) + 1 : 0;
  const head = !!(rec.options && rec.options.head);
  const geometry = head || !!(rec.options && rec.options.geometry); // head implies geometry
  // Stages a job without geometry (or without head) skips.
  const skipped = (s) => (s === 'geometry' && !geometry) || (s === 'head' && !head);
  let label = rec.state;
  c.querySelectorAll('.seg').forEach((seg, i) => {
    let cls = 'seg';
    if (skipped(STAGES[i])) cls += ' skipped';
    else if (i < done) cls += ' done';
    else if (i === done && rec.state === 'running') { cls += ' current'; label = STAGES[i]; }
    else if (i === done && (rec.state === 'failed' || rec.state === 'canceled') && rec.attempts > 0) cls += ' ' + rec.state;
    seg.className = cls;
  });
  // Skipped stages: the stage under way is the next one that runs.
  if (rec.state === 'running' && done < STAGES.length && skipped(STAGES[done])) {
    let next = done;
    while (next < STAGES.length - 1 && skipped(STAGES[next])) next++;
    c.querySelectorAll('.seg')[next].classList.add('current');
    label = STAGES[next];
  }
  c.dataset.stage = rec.state === 'running' ? label : '';
  const ended = rec.state === 'failed' || rec.state === 'canceled';
  c.querySelector('.label').textContent = rec.state === 'running' ? label
    : rec.state === 'queued' ? 'waiting for a worker'
      : ended ? `${rec.state} ${rec.attempts > 0 ? `during ${STAGES[Math.min(done, STAGES.length - 1)]}` : 'before it started'}` : '';
  c.querySelector('.pct').textContent = rec.state === 'running' || rec.state === 'succeeded' ? `${rec.percent}%` : '';
  const tries = rec.attempts > 1 ? `attempt ${rec.attempts} (${rec.attempts - 1} ${rec.attempts === 2 ? 'retry' : 'retries'})` : rec.attempts === 1 ? 'attempt 1' : '';
  c.querySelector('.attempts').textContent = tries;
  c.querySelector('.where').textContent = rec.worker ? `${rec.worker} · ${rec.device}` : '';
  const err = c.querySelector('.err');
  err.hidden = rec.state !== 'failed';
  if (rec.state === 'failed') {
    err.textContent = inWords(rec.error_code, rec.error_message);
    c.dataset.errorCode = rec.error_code;
  }
  if (rec.id === state.selected && rec.state === 'succeeded' && !j.shown) {
    select(rec.id);
  }
}

// At most MAX_STREAMS event streams at once (a browser allows six HTTP/1.1
// connections per host); the other unfinished jobs wait for a free one.
const MAX_STREAMS = 4;
const waiting = [];
function watch(j) {
  if (j.stream || waiting.includes(j)) return;
  if ([...state.jobs.values()].filter((x) => x.stream).length >= MAX_STREAMS) {
    waiting.push(j);
    return;
  }
  const ctl = new AbortController();
  j.stream = ctl;
  follow(`/v1/jobs/${j.rec.id}/events`, ctl.signal, (rec) => update(j, rec))
    .catch((e) => { if (!ctl.signal.aborted) console.warn('event stream', j.rec.id, e.message); })
    .finally(async () => {
      j.stream = null;
      if (!ctl.signal.aborted && !isTerminal(j.rec.state)) {
        // The stream broke before the end: read the job, then follow again.
        await new Promise((r) => setTimeout(r, 1000));
        try { update(j, await (await api(`/v1/jobs/${j.rec.id}`)).json()); } catch { /* shown on the next try */ }
        if (state.jobs.get(j.rec.id) === j && !isTerminal(j.rec.state)) watch(j);
      }
      const next = waiting.shift();
      if (next && state.jobs.get(next.rec.id) === next) watch(next);
    });
}

async function cancel(id) {
  try {
    const rec = await (await api(`/v1/jobs/${id}`, { method: 'DELETE' })).json();
    const j = state.jobs.get(id);
    if (j) update(j, rec);
  } catch (e) {
    report(e);
  }
}

async function select(id) {
  state.selected = id;
  for (const [k, j] of state.jobs) j.card.classList.toggle('selected', k === id);
  const j = state.jobs.get(id);
  if (!j) return;
  $('result').hidden = false;
  $('result-name').textContent = `${baseName(j.rec.input)} · ${id}`;
  if (j.rec.state !== 'succeeded') {
    clearResult(j.rec.state === 'failed' ? inWords(j.rec.error_code, j.rec.error_message) : `The job is ${j.rec.state}; results appear when it succeeds.`);
    return;
  }
  j.shown = true;
  try {
    const full = await (await api(`/v1/jobs/${id}`)).json();
    if (state.selected === id) await showResult(full);
  } catch (e) {
    report(e);
  }
}

function report(e) {
  if (e instanceof ApiError && e.status === 401) {
    // The key was revoked while signed in.
    signOut();
    $('signin-error').textContent = 'The API key is no longer accepted; sign in again.';
    $('signin-error').hidden = false;
    return;
  }
  $('submit-note').textContent = e instanceof ApiError ? inWords(e.code, e.message) : e.message;
}

// ---- start ----

const saved = getKey();
if (saved) {
  signIn(saved).catch((e) => {
    $('signin').hidden = false;
    if (e instanceof ApiError && e.status === 401) {
      $('signin-error').textContent = 'The saved API key is no longer accepted; sign in again.';
      $('signin-error').hidden = false;
    }
  });
} else {
  $('signin').hidden = false;
  $('key').focus();
}
