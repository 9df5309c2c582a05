// The result of a succeeded job: the photo with every face's box and
// landmarks drawn over it, per face the UV texture and the 3D mesh, the
// numbers (pose, texture, blendshapes when present, timings) and a download
// link for every file. Files are read through the API (same origin, with the
// key); the download links are the presigned URLs the API hands out.
import { api, blobURL } from './api.js';
import { el, $, STAGES } from './ui.js';

let urls = []; // object URLs of the shown result
let viewers = []; // 3D views of the shown result
let generation = 0;

export function clearResult(message) {
  generation++;
  for (const v of viewers) v.dispose();
  viewers = [];
  for (const u of urls) URL.revokeObjectURL(u);
  urls = [];
  $('result-body').replaceChildren(message ? el('p', { class: 'muted' }, message) : '');
}

const file = (job, name) => `/v1/jobs/${job.id}/results/${name.split('/').map(encodeURIComponent).join('/')}`;
const num = (v, digits = 1) => (typeof v === 'number' ? v.toFixed(digits) : '–');

export async function showResult(job) {
  clearResult();
  const gen = generation;
  const body = $('result-body');
  const names = new Set((job.results || []).map((r) => r.name));
  const result = names.has('result.json') ? await (await api(file(job, 'result.json'))).json() : { faces: [] };
  if (gen !== generation) return;

  const photoURL = await blobURL(`/v1/jobs/${job.id}/input`);
  urls.push(photoURL);
  const img = el('img', { src: photoURL, alt: 'input photo', class: 'input-photo' });
  const overlay = el('canvas', { class: 'overlay' });
  const photo = el('figure', {}, el('figcaption', {}, `photo · ${result.image ? `${result.image.width}×${result.image.height}` : ''} · ${result.faces.length} face(s)`),
    el('div', { class: 'photo' }, img, overlay));
  img.addEventListener('load', () => drawOverlay(overlay, img, result.faces), { once: true });

  const side = el('div', {},
    el('h3', {}, 'Timings (ms)'), timingsTable(job.timings || result.timings_ms || {}),
    el('h3', {}, 'Files'),
    el('ul', { class: 'downloads' }, ...(job.results || []).map((r) =>
      el('li', {}, el('a', { href: r.url, download: r.name.replaceAll('/', '_'), target: '_blank', rel: 'noopener' }, r.name)))));
  body.append(el('div', { class: 'res' }, photo, side));
  if (!result.faces.length) body.append(el('p', { class: 'muted' }, 'No face was found in this photo.'));

  for (const face of result.faces) {
    const f = face.files || {};
    const uvURL = names.has(f.uv_texture) ? await blobURL(file(job, f.uv_texture)) : '';
    // A JPEG texture's alpha is its own file (uv_alpha.png): a luminance
    // mask shows the texture as transparent where it is empty.
    const alphaURL = names.has(f.uv_alpha) ? await blobURL(file(job, f.uv_alpha)) : '';
    if (gen !== generation) return;
    if (uvURL) urls.push(uvURL);
    if (alphaURL) urls.push(alphaURL);
    const mask = alphaURL ? { maskImage: `url("${alphaURL}")`, maskMode: 'luminance', maskSize: '100% 100%' } : undefined;
    const parts = [el('figure', {}, el('figcaption', {}, `UV texture ${face.texture?.size ?? ''}px ${result.options?.uv_format ?? ''} · coverage ${num(100 * (face.texture?.coverage ?? 0), 0)}%`),
      uvURL ? el('img', { class: 'uv', src: uvURL, alt: `UV texture of face ${face.index}`, style: mask }) : el('p', { class: 'muted' }, 'no texture'))];
    // Every glTF model of the face (mesh.glb; a head model when the
    // result has one) gets a 3D view.
    const models = Object.entries(f).filter(([, p]) => typeof p === 'string' && p.endsWith('.glb') && names.has(p));
    const canvases = models.map(([k, p]) => {
      const canvas = el('canvas', { class: 'viewer', dataset: { face: face.index, file: p } });
      parts.push(el('figure', {}, el('figcaption', {}, `3D ${k.replace(/_glb$/, '')} (drag to orbit, scroll to zoom)`), canvas));
      return [canvas, p];
    });
    parts.push(el('div', {}, numbersTable(face), blendshapes(face)));
    body.append(el('div', { class: 'face', dataset: { face: face.index } }, el('h3', {}, `Face ${face.index}`),
      el('div', { class: 'res' }, ...parts)));
    for (const [canvas, p] of canvases) {
      const [{ Viewer }, glb] = await Promise.all([import('./viewer.js'), api(file(job, p)).then((r) => r.arrayBuffer())]);
      if (gen !== generation) return;
      try {
        const v = new Viewer(canvas);
        viewers.push(v);
        await v.load(glb);
        canvas.dataset.ready = '1';
      } catch (e) {
        canvas.replaceWith(el('p', { class: 'error' }, `3D view unavailable: ${e.message}`));
      }
    }
  }
}

// drawOverlay draws the boxes and the 468 landmarks (image pixels) of every
// face on a canvas of the photo's own size laid over the photo.
function drawOverlay(canvas, img, faces) {
  canvas.width = img.naturalWidth;
  canvas.height = img.naturalHeight;
  const g = canvas.getContext('2d');
  const s = Math.max(1, Math.max(canvas.width, canvas.height) / 800);
  const colors = ['#37e08a', '#ffcc33', '#5ab0ff', '#ff6f91', '#c792ea'];
  faces.forEach((face, i) => {
    const c = colors[i % colors.length];
    const [x, y, w, h] = face.bbox;
    g.lineWidth = 2 * s;
    g.strokeStyle = c;
    g.strokeRect(x, y, w, h);
    g.fillStyle = c;
    g.font = `${Math.round(14 * s)}px system-ui, sans-serif`;
    g.fillText(`face ${face.index} · ${num(face.score, 2)}`, x, Math.max(12 * s, y - 4 * s));
    for (const [lx, ly] of face.landmarks || []) {
      g.fillRect(lx - 0.8 * s, ly - 0.8 * s, 1.6 * s, 1.6 * s);
    }
  });
  canvas.dataset.faces = String(faces.length);
}

function timingsTable(t) {
  const keys = [...STAGES.filter((s) => s in t), ...Object.keys(t).filter((k) => !STAGES.includes(k) && k !== 'total')];
  if ('total' in t) keys.push('total');
  return el('table', { class: 'nums timings' }, ...keys.map((k) => el('tr', {}, el('th', {}, k), el('td', { class: 'n' }, num(t[k], 1)))));
}

function numbersTable(face) {
  const rows = [['detector score', num(face.score, 3)], ['landmark presence', num(face.presence, 3)]];
  if (face.pose) {
    rows.push(['yaw °', num(face.pose.yaw)], ['pitch °', num(face.pose.pitch)], ['roll °', num(face.pose.roll)],
      ['scale px/cm', num(face.pose.scale, 2)], ['translation cm', (face.pose.translation || []).map((v) => num(v, 1)).join(', ')]);
  }
  // Texture shares (coverage, mirrored, … whatever the result reports).
  for (const [k, v] of Object.entries(face.texture || {})) {
    if (k !== 'size' && typeof v === 'number') rows.push([`texture ${k}`, `${num(100 * v, 1)}%`]);
  }
  return el('table', { class: 'nums pose' }, ...rows.map(([k, v]) => el('tr', {}, el('th', {}, k), el('td', { class: 'n' }, v))));
}

// blendshapes shows the strongest expression weights when the result has
// them (an object name → weight, or a list of {name|category, score|weight}).
function blendshapes(face) {
  let bs = face.blendshapes;
  if (!bs) return null;
  if (!Array.isArray(bs)) bs = Object.entries(bs).map(([name, score]) => ({ name, score }));
  bs = bs.map((b) => ({ name: b.name ?? b.category ?? b.categoryName, score: b.score ?? b.weight ?? 0 }))
    .sort((a, b) => b.score - a.score).slice(0, 12);
  return el('div', {}, el('h4', {}, 'Blendshapes (strongest)'),
    el('div', { class: 'bs' }, ...bs.flatMap((b) => [el('span', {}, b.name), el('i', { style: { width: `${Math.round(100 * b.score)}%` } }), el('span', { class: 'n' }, num(b.score, 2))])));
}
