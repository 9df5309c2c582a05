// End-to-end test of the web console in headless Debian Chromium (never a
// downloaded browser), driven by playwright-core, against a running stack
// (the Go test localstack/console_test.go starts `localstack up` and runs
// this). It fails (exit 1) on the first broken expectation.
//
//   node e2e/console.e2e.mjs --url http://127.0.0.1:8080 --key local-dev-key \
//     --photo A.jpg --photo B.jpg --slow BIG.jpg [--screenshot out.png] [--chromium /usr/bin/chromium]
//
// Steps: sign in with a wrong key (clear message), then the right one (tenant
// shown); submit one photo through the file input and one by drag-and-drop;
// see both jobs go through the stages to succeeded; open a result: the photo
// overlay, the UV <img> loaded, the 3D <canvas> drawn (non-blank pixels), a
// presigned download link that works; cancel a queued and a running job;
// submit a non-image and get the API's error next to the file; a cut JPEG
// fails on the worker with its reason in words and a webhook typed in the
// form receives the event; reload: still signed in, the jobs listed newest
// first. No request may leave the page's origin and the
// browser console must stay free of errors (except the two deliberate 4xx
// answers' "Failed to load resource" lines).
import { chromium } from 'playwright-core';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';

const args = { photo: [] };
for (let i = 2; i < process.argv.length; i += 2) {
  const k = process.argv[i].replace(/^--/, '');
  const v = process.argv[i + 1];
  if (Array.isArray(args[k])) args[k].push(v);
  else args[k] = v;
}
const { url, key } = args;
const chromiumPath = args.chromium || '/usr/bin/chromium';
if (!url || !key || args.photo.length !== 2 || !args.slow) {
  console.error('usage: console.e2e.mjs --url URL --key KEY --photo A --photo B --slow BIG [--screenshot PNG]');
  process.exit(2);
}
const origin = new URL(url).origin;
const STAGES = ['decode', 'detect', 'landmarks', 'texture', 'geometry', 'encode', 'upload'];
const t0 = Date.now();
const step = (msg) => console.log(`[${((Date.now() - t0) / 1000).toFixed(1)}s] ${msg}`);
const fail = (msg) => { throw new Error(msg); };
const expect = (cond, msg) => { if (!cond) fail(msg); };

const profile = mkdtempSync(join(tmpdir(), 'facefleet-console-e2e-'));
const ctx = await chromium.launchPersistentContext(profile, {
  executablePath: chromiumPath,
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync',
    // WebGL on the CPU (SwiftShader) without relying on Chromium's deprecated automatic fallback.
    '--use-angle=swiftshader', '--enable-unsafe-swiftshader'],
  viewport: { width: 1280, height: 900 },
  acceptDownloads: false,
});
const problems = [];
const expected4xx = []; // [status, path] answers the test provokes on purpose
let result = {};
try {
  // Nothing may be fetched from elsewhere.
  await ctx.route('**/*', (route) => {
    const u = route.request().url();
    if (u.startsWith(origin + '/') || u.startsWith('blob:') || u.startsWith('data:')) return route.continue();
    problems.push(`request outside the origin: ${u}`);
    return route.abort();
  });
  const page = ctx.pages()[0] || (await ctx.newPage());
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    const text = m.text();
    const where = m.location()?.url || '';
    // Each provoked answer excuses one "Failed to load resource" line.
    const i = expected4xx.findIndex(([st, p]) => text.includes(`status of ${st}`) && where.startsWith(origin + p));
    if (i >= 0) expected4xx.splice(i, 1);
    else problems.push(`console error: ${text} (${where})`);
  });

  // First load.
  const navStart = Date.now();
  await page.goto(url + '/', { waitUntil: 'load' });
  await page.locator('#signin').waitFor({ state: 'visible' });
  const firstLoad = await page.evaluate(() => {
    const n = performance.getEntriesByType('navigation')[0];
    const res = performance.getEntriesByType('resource');
    return { load_ms: n.loadEventEnd - n.startTime, dcl_ms: n.domContentLoadedEventEnd - n.startTime,
      transfer_bytes: n.transferSize + res.reduce((a, r) => a + r.transferSize, 0),
      body_bytes: n.decodedBodySize + res.reduce((a, r) => a + r.decodedBodySize, 0) };
  });
  step(`first load: ${JSON.stringify(firstLoad)} (${Date.now() - navStart} ms to the sign-in form)`);

  // Wrong key, then the right one.
  expected4xx.push([401, '/v1/options']);
  await page.fill('#key', 'not-a-key');
  await page.click('#signin-form button');
  await page.locator('#signin-error').waitFor({ state: 'visible' });
  const msg = await page.textContent('#signin-error');
  expect(/not accepted/i.test(msg), `wrong key message: ${msg}`);
  expect(await page.isHidden('#app'), 'the app stays hidden with a wrong key');
  await page.fill('#key', key);
  await page.click('#signin-form button');
  await page.locator('#app').waitFor({ state: 'visible' });
  const tenant = await page.textContent('#tenant');
  expect(tenant === 'local', `tenant shown: ${tenant}`);
  expect(await page.evaluate(() => sessionStorage.getItem('facefleet.apiKey')) === key, 'key kept in sessionStorage');
  expect(await page.evaluate(() => localStorage.length) === 0, 'nothing in localStorage');
  step(`signed in as ${tenant}`);

  // The form carries the API's defaults.
  const opts = await (await fetch(url + '/v1/options', { headers: { Authorization: `Bearer ${key}` } })).json();
  for (const o of opts.options) {
    const v = await page.evaluate((n) => {
      const e = document.querySelector(`#options [name="${n}"]`);
      return e.type === 'checkbox' ? e.checked : e.value;
    }, o.name);
    expect(String(v) === String(o.default ?? ''), `option ${o.name}: form ${v}, API default ${o.default}`);
    if (o.type === 'webhook') {
      const events = await page.$$eval(`#options [name="${o.name}.events"]:checked`, (es) => es.map((e) => e.value));
      expect(JSON.stringify(events) === JSON.stringify(o.default_choices), `webhook events ${events}, API default ${o.default_choices}`);
    }
  }
  step(`form defaults match GET /v1/options: ${opts.options.map((o) => o.name).join(', ')}`);
  await page.check('#options [name="geometry"]');
  // The page's photos ask for a JPEG texture (the form's choices are
  // GET /v1/options'): the UV image shown is uv_texture.jpg, beside
  // uv_alpha.png in the downloads.
  await page.selectOption('#options [name="uv_format"]', 'jpeg');

  // Two slow jobs straight through the API first, so that the worker's two
  // slots are busy and the page's jobs wait in the queue while their event
  // streams open: then every stage they pass is seen live.
  const auth = { Authorization: `Bearer ${key}` };
  const blockers = [];
  for (let i = 0; i < 2; i++) {
    const fd = new FormData();
    fd.append('options', JSON.stringify({ geometry: true, uv_size: 4096, max_faces: 16 }));
    fd.append('image', new Blob([readFileSync(args.slow)], { type: 'image/jpeg' }), basename(args.slow));
    const r = await fetch(url + '/v1/jobs', { method: 'POST', headers: auth, body: fd });
    expect(r.status === 202, `blocker job: ${r.status}`);
    blockers.unshift((await r.json()).id);
  }
  for (const deadline = Date.now() + 60_000; ;) {
    const states = await Promise.all(blockers.map(async (id) => (await (await fetch(`${url}/v1/jobs/${id}`, { headers: auth })).json()).state));
    if (states.every((s) => s === 'running')) break;
    expect(Date.now() < deadline && states.every((s) => s === 'queued' || s === 'running'), `blocker jobs: ${states}`);
    await new Promise((r) => setTimeout(r, 20));
  }

  // One photo through the file input, one dropped on the page.
  const [a, b] = args.photo;
  await page.setInputFiles('#files', a);
  const dropped = readFileSync(b).toString('base64');
  const dt = await page.evaluateHandle(([data, name]) => {
    const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
    const t = new DataTransfer();
    t.items.add(new File([bytes], name, { type: 'image/jpeg' }));
    return t;
  }, [dropped, basename(b)]);
  await page.dispatchEvent('#drop', 'dragenter', { dataTransfer: dt });
  await page.dispatchEvent('#drop', 'drop', { dataTransfer: dt });
  expect(await page.locator('#pending li').count() === 2, 'two files pending');
  await page.click('#start');
  await page.locator('#pending li.ok').nth(1).waitFor();
  const ids = await page.$$eval('#jobs .job', (cs) => cs.map((c) => c.dataset.jobId));
  expect(ids.length === 2, `two job cards, got ${ids.length}`);
  step(`submitted ${ids.join(', ')}`);

  // Watch the stages go by; wait for both to succeed.
  const seenLabels = new Set();
  const deadline = Date.now() + 4 * 60_000;
  for (;;) {
    const cards = await page.$$eval('#jobs .job', (cs) => cs.map((c) => ({ id: c.dataset.jobId, state: c.dataset.state,
      stage: c.dataset.stage, seen: c.dataset.seen || '', label: c.querySelector('.label').textContent,
      pct: c.querySelector('.pct').textContent, attempts: c.querySelector('.attempts').textContent })));
    for (const c of cards) if (c.state === 'running') seenLabels.add(`${c.label} ${c.pct} ${c.attempts}`);
    if (cards.every((c) => c.state === 'succeeded')) {
      for (const c of cards) {
        const seen = c.seen.split(' ').filter(Boolean);
        expect(seen.every((s) => STAGES.includes(s)), `unknown stage reported for ${c.id}: ${c.seen}`);
        expect(JSON.stringify(seen) === JSON.stringify(STAGES.slice(0, 6)), `job ${c.id}: stages [${c.seen}] seen live, want every pipeline stage`);
        expect(c.pct === '100%', `job ${c.id} ends at ${c.pct}`);
        expect(/attempt 1/.test(c.attempts), `attempts shown for ${c.id}: ${c.attempts}`);
      }
      step(`both succeeded; stages seen live: ${cards.map((c) => `[${c.seen}]`).join(' ')}; running labels seen: ${seenLabels.size}`);
      break;
    }
    const bad = cards.find((c) => c.state === 'failed' || c.state === 'canceled');
    expect(!bad, `job ${bad?.id} ended ${bad?.state}`);
    expect(Date.now() < deadline, `jobs not done in time: ${JSON.stringify(cards)}`);
    await page.waitForTimeout(50);
  }
  expect([...seenLabels].some((l) => / \d+% attempt 1$/.test(l)), `a running job shows stage, percent and attempt: ${[...seenLabels].join(' | ')}`);
  // Every stage done, but head: these jobs did not ask for it, so it shows skipped.
  const segs = await page.$$eval(`#jobs .job .seg`, (ss) => ss.map((s) => `${s.dataset.stage}:${s.className}`));
  expect(segs.every((c) => (c.startsWith('head:') ? c.includes('skipped') : c.includes('done'))), `every stage segment done (head skipped): ${segs.join(',')}`);

  // The result of the dropped photo (the group photo).
  const resultStart = Date.now();
  await page.click(`#jobs .job[data-job-id="${ids[0]}"]`);
  await page.waitForFunction(() => {
    const uv = document.querySelector('#result img.uv');
    const v = document.querySelector('#result canvas.viewer');
    const n = Number(document.querySelector('#result canvas.overlay')?.dataset.faces || -1);
    const views = [...document.querySelectorAll('#result canvas.viewer')];
    return uv && uv.complete && uv.naturalWidth > 0 && v && n === document.querySelectorAll('#result .face').length &&
      views.length === n && views.every((c) => c.dataset.ready === '1');
  }, null, { timeout: 60_000 });
  const view = await page.evaluate(() => {
    const uv = document.querySelector('#result img.uv');
    const v = document.querySelector('#result canvas.viewer');
    const c = document.createElement('canvas');
    c.width = v.width;
    c.height = v.height;
    const g = c.getContext('2d');
    g.drawImage(v, 0, 0);
    const px = g.getImageData(0, 0, c.width, c.height).data;
    const [r0, g0, b0] = [px[0], px[1], px[2]]; // the corner is background
    let drawn = 0;
    for (let i = 0; i < px.length; i += 4) {
      if (Math.abs(px[i] - r0) + Math.abs(px[i + 1] - g0) + Math.abs(px[i + 2] - b0) > 30) drawn++;
    }
    const ov = document.querySelector('#result canvas.overlay');
    const og = ov.getContext('2d').getImageData(0, 0, ov.width, ov.height).data;
    let marks = 0;
    for (let i = 3; i < og.length; i += 4) if (og[i] > 0) marks++;
    const gl = v.getContext('webgl2') || v.getContext('webgl');
    return { faces: document.querySelectorAll('#result .face').length, uv: [uv.naturalWidth, uv.naturalHeight],
      uvCaption: uv.closest('figure')?.querySelector('figcaption')?.textContent || '', uvMask: uv.style.maskImage, canvas: [v.width, v.height], drawn, total: px.length / 4,
      background: [r0, g0, b0], overlayFaces: Number(ov.dataset.faces), overlayMarks: marks,
      renderer: !gl ? 'none' : gl.getExtension('WEBGL_debug_renderer_info')
        ? gl.getParameter(gl.getExtension('WEBGL_debug_renderer_info').UNMASKED_RENDERER_WEBGL) : gl.getParameter(gl.RENDERER),
      numbers: document.querySelector('#result table.pose')?.textContent || '',
      timings: document.querySelector('#result table.timings')?.textContent || '',
      links: [...document.querySelectorAll('#result .downloads a')].map((l) => [l.textContent, l.href]) };
  });
  step(`result shown in ${Date.now() - resultStart} ms: uv ${view.uv}, 3D canvas ${view.canvas} with ${view.drawn}/${view.total} drawn px (${view.renderer}), overlay ${view.overlayFaces} face(s) ${view.overlayMarks} px, ${view.links.length} links`);
  expect(view.uv[0] >= 256, 'UV texture loaded');
  expect(view.drawn > view.total * 0.02, `3D canvas is blank: ${view.drawn} of ${view.total} pixels differ from the background`);
  expect(view.overlayFaces >= 1 && view.overlayFaces === view.faces && view.overlayMarks > 400 * view.faces, `overlay drawn: ${view.overlayFaces} faces, ${view.overlayMarks} px`);
  expect(/yaw/.test(view.numbers) && /pitch/.test(view.numbers), `pose numbers: ${view.numbers}`);
  expect(/decode/.test(view.timings) && /total/.test(view.timings), `timings: ${view.timings}`);
  const names = view.links.map(([n]) => n);
  for (const n of ['result.json', 'face-0/uv_texture.jpg', 'face-0/uv_alpha.png', 'face-0/mesh.glb']) expect(names.includes(n), `download link for ${n}: ${names}`);
  expect(/jpeg/.test(view.uvCaption), `UV caption names the format: ${view.uvCaption}`);
  expect(/^url\("blob:/.test(view.uvMask), `the JPEG texture is masked by uv_alpha.png: ${view.uvMask}`);
  const glbLink = view.links.find(([n]) => n === 'face-0/mesh.glb')[1];
  const dl = await fetch(glbLink); // presigned: no key needed
  const glb = new Uint8Array(await dl.arrayBuffer());
  expect(dl.ok && String.fromCharCode(...glb.slice(0, 4)) === 'glTF', `presigned mesh.glb download: ${dl.status}`);
  // Orbit: a drag changes the picture.
  const viewer = page.locator('#result canvas.viewer').first();
  await viewer.scrollIntoViewIfNeeded();
  const box = await viewer.boundingBox();
  const drag = async (dx, dy) => {
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width / 2 + dx, box.y + box.height / 2 + dy, { steps: 5 });
    await page.mouse.up();
  };
  const before = await page.evaluate(() => document.querySelector('#result canvas.viewer').toDataURL());
  await drag(-40, 8);
  const after = await page.evaluate(() => document.querySelector('#result canvas.viewer').toDataURL());
  expect(before !== after, 'dragging orbits the 3D view');
  if (args.screenshot) {
    await page.evaluate(() => window.scrollTo(0, 0));
    // Down to the end of the first face's row.
    const height = await page.evaluate(() => Math.ceil(document.querySelector('#result .face').getBoundingClientRect().bottom + window.scrollY + 16));
    await page.screenshot({ path: args.screenshot, fullPage: true, clip: { x: 0, y: 0, width: 1280, height } });
    step(`screenshot ${args.screenshot}`);
  }

  // Cancel: three slow jobs (large texture, every face). The worker runs
  // two at a time: cancel the newest while it waits (canceled at once) and
  // the oldest while it runs (the worker stops at its next stage).
  await page.fill('#options [name="uv_size"]', '4096');
  await page.fill('#options [name="max_faces"]', '16');
  await page.setInputFiles('#files', [args.slow, args.slow, args.slow]);
  await page.click('#start');
  await page.locator('#pending li.ok').nth(2).waitFor();
  const slowIDs = await page.$$eval('#jobs .job', (cs) => cs.slice(0, 3).map((c) => c.dataset.jobId));
  const card = (id) => page.locator(`#jobs .job[data-job-id="${id}"]`);
  const waitState = (id, want, timeout = 120_000) =>
    page.waitForFunction(([id, want]) => document.querySelector(`#jobs .job[data-job-id="${id}"]`)?.dataset.state === want, [id, want], { timeout });
  const queuedAt = await card(slowIDs[0]).getAttribute('data-state');
  await card(slowIDs[0]).locator('.cancel').click();
  await waitState(slowIDs[0], 'canceled');
  await waitState(slowIDs[2], 'running');
  await card(slowIDs[2]).locator('.cancel').click();
  await waitState(slowIDs[2], 'canceled');
  await waitState(slowIDs[1], 'succeeded', 240_000);
  for (const id of [slowIDs[0], slowIDs[2]]) expect(await card(id).locator('.cancel').isHidden(), `no cancel button on canceled ${id}`);
  step(`canceled ${slowIDs[0]} (it was ${queuedAt}) and ${slowIDs[2]} (running); ${slowIDs[1]} succeeded`);

  // A file that is not an image gets the API's error next to it.
  expected4xx.push([415, '/v1/jobs']);
  await page.setInputFiles('#files', { name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('not a photo\n') });
  await page.click('#start');
  const badLi = page.locator('#pending li.bad');
  await badLi.waitFor();
  const badText = await badLi.textContent();
  const badCode = await badLi.getAttribute('data-error');
  expect(badCode === 'image_unsupported_format' && /notes\.txt/.test(badText) && /JPEG, PNG or WebP/.test(badText), `bad file: ${badCode} ${badText}`);
  step(`non-image refused: ${badText}`);

  // A JPEG cut short passes the upload check and fails on the worker: the
  // card says why, in words; the webhook named in the form hears of it.
  const hooks = [];
  const receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      hooks.push({ path: req.url, signature: req.headers['webhook-signature'] || '', body });
      res.writeHead(204).end();
    });
  });
  await new Promise((r) => receiver.listen(0, '127.0.0.1', r));
  await page.fill('#options [name="webhook"]', `http://127.0.0.1:${receiver.address().port}/hook`);
  await page.setInputFiles('#files', { name: 'broken.jpg', mimeType: 'image/jpeg', buffer: readFileSync(a).subarray(0, 700) });
  await page.click('#start');
  await page.locator('#pending li.ok').first().waitFor();
  const brokenID = await page.$eval('#jobs .job', (c) => c.dataset.jobId);
  await waitState(brokenID, 'failed');
  const brokenCode = await card(brokenID).getAttribute('data-error-code');
  const brokenText = await card(brokenID).locator('.err').textContent();
  expect(brokenCode === 'image_undecodable' && /not a readable image/.test(brokenText), `broken JPEG: ${brokenCode}: ${brokenText}`);
  step(`broken JPEG failed: ${brokenCode}: ${brokenText}`);
  for (const deadline = Date.now() + 60_000; !hooks.some((h) => h.body.includes(brokenID));) {
    expect(Date.now() < deadline, `no webhook for ${brokenID}: ${JSON.stringify(hooks)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  receiver.close();
  const hook = hooks.find((h) => h.body.includes(brokenID));
  const event = JSON.parse(hook.body);
  expect(hook.path === '/hook' && event.type === 'job.failed' && event.data.id === brokenID && event.data.error_code === 'image_undecodable' &&
    hook.signature.startsWith('v1,'), `webhook: ${JSON.stringify(hook)}`);
  step(`webhook from the form: ${event.type} for ${event.data.id}, signed`);

  // Reload: still signed in (this tab), the jobs listed newest first.
  await page.reload({ waitUntil: 'load' });
  await page.locator('#app').waitFor({ state: 'visible' });
  await page.locator('#jobs .job').nth(7).waitFor();
  const listed = await page.$$eval('#jobs .job', (cs) => cs.map((c) => [c.dataset.jobId, c.dataset.state]));
  expect(listed.length === 8, `eight jobs listed after reload: ${JSON.stringify(listed)}`);
  expect(JSON.stringify(listed.map(([id]) => id)) === JSON.stringify([brokenID, ...slowIDs, ...ids, ...blockers]), `newest first: ${JSON.stringify(listed)}`);
  expect(JSON.stringify(listed.map(([, s]) => s)) === JSON.stringify(['failed', 'canceled', 'succeeded', 'canceled', 'succeeded', 'succeeded', 'succeeded', 'succeeded']), `states: ${JSON.stringify(listed)}`);
  expect(/not a readable image/.test(await card(brokenID).locator('.err').textContent()), 'the failure reads the same after a reload');
  // Sign out forgets the key.
  await page.click('#signout');
  expect(await page.evaluate(() => sessionStorage.getItem('facefleet.apiKey')) === null, 'sign out forgets the key');
  expect(await page.locator('#jobs .job').count() === 0, 'sign out clears the jobs');
  await page.waitForTimeout(200); // late console messages
  expect(problems.length === 0, `browser problems:\n  ${problems.join('\n  ')}`);
  result = { ok: true, first_load: firstLoad, seconds: (Date.now() - t0) / 1000, view: { ...view, links: view.links.length } };
  step('PASS');
} catch (e) {
  console.error(`FAIL: ${e.message}`);
  if (problems.length) console.error(`browser problems:\n  ${problems.join('\n  ')}`);
  result = { ok: false, error: e.message };
} finally {
  await ctx.close();
  rmSync(profile, { recursive: true, force: true });
}
console.log('RESULT ' + JSON.stringify(result));
process.exit(result.ok ? 0 : 1);
