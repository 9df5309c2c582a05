// Runs MediaPipe's Face Landmarker (tasks-vision) with a local .task bundle on every jpg/png of a folder in
// headless Debian Chromium, offline, and writes <stem>.landmarker.json: 478 landmarks (x, y in image pixels,
// z as MediaPipe returns it) and the 52 blendshape scores by name, faces left to right.
//   node run_oracle.js MODEL.task IN_DIR OUT_DIR
'use strict';
const fs = require('fs');
const path = require('path');
const http = require('http');
const os = require('os');
const { chromium } = require('playwright-core');

async function main() {
  const [task, inDir, outDir] = process.argv.slice(2);
  if (!task || !inDir || !outDir) throw new Error('usage: node run_oracle.js MODEL.task IN_DIR OUT_DIR');
  fs.mkdirSync(outDir, { recursive: true });
  const images = fs.readdirSync(inDir).filter((f) => /\.(jpe?g|png)$/i.test(f)).sort();
  const types = { '.html': 'text/html', '.mjs': 'text/javascript', '.js': 'text/javascript', '.wasm': 'application/wasm',
    '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.png': 'image/png' };
  const server = http.createServer((req, res) => {
    const u = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    let f = null;
    if (u === '/' || u === '/oracle.html') f = path.join(__dirname, 'oracle.html');
    else if (u === '/model.task') f = task;
    else if (u.startsWith('/node_modules/')) f = path.join(__dirname, u);
    else if (u.startsWith('/images/')) f = path.join(inDir, path.basename(u));
    if (!f || !fs.existsSync(f)) { res.writeHead(404); res.end(); return; }
    res.writeHead(200, { 'Content-Type': types[path.extname(f)] || 'application/octet-stream' });
    fs.createReadStream(f).pipe(res);
  }).listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const origin = `http://127.0.0.1:${server.address().port}`;
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'landmarker-oracle-'));
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.FACEFLEET_CHROMIUM || '/usr/bin/chromium', headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const blocked = [];
  await ctx.route('**/*', (route) => {
    const u = route.request().url();
    if (u.startsWith(origin + '/') || u.startsWith('data:') || u.startsWith('blob:')) return route.continue();
    blocked.push(u);
    return route.abort();
  });
  const page = ctx.pages()[0] || await ctx.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(origin + '/oracle.html');
  await page.waitForFunction(() => window.oracleReady === true);
  await page.evaluate(() => window.oracle.init());
  for (const name of images) {
    const r = await page.evaluate((u) => window.oracle.run(u), '/images/' + encodeURIComponent(name));
    const stem = name.replace(/\.[^.]+$/, '');
    fs.writeFileSync(path.join(outDir, stem + '.landmarker.json'), JSON.stringify({ image: name, ...r }));
    console.log(`${name}: ${r.faces.length} face(s)`);
  }
  await ctx.close();
  server.close();
  fs.rmSync(profile, { recursive: true, force: true });
  if (blocked.length) throw new Error('blocked non-local requests: ' + blocked.join(', '));
  if (errors.length) throw new Error('page errors: ' + errors.join('; '));
}
main().catch((e) => { console.error(e && e.stack || e); process.exit(1); });
