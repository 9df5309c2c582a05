// Small shared pieces of the console's UI.

// Pipeline stages in order (worker/internal/pipeline Stage*; "upload" is the
// fleet's storing of the files). The browser test checks that every stage
// the API reports is one of these.
export const STAGES = ['decode', 'detect', 'landmarks', 'texture', 'geometry', 'head', 'encode', 'upload'];

// Failure codes in words (status error_code and API error codes).
const CODES = {
  image_undecodable: 'The file is not a readable image (corrupt or truncated).',
  image_unsupported_format: 'Not a supported image: use JPEG, PNG or WebP.',
  image_too_large: 'The image is too large.',
  image_empty: 'The file is empty.',
  upload_too_large: 'The file is larger than the upload limit.',
  invalid_options: 'The job options are not valid.',
  invalid_job: 'The job message could not be read.',
  invalid_input: 'The upload could not be read.',
  input_not_found: 'The uploaded photo is no longer in storage.',
  timeout: 'The job took too long and was stopped.',
  panic: 'The worker crashed on this job.',
  internal: 'An internal error stopped the job.',
  publish_failed: 'The job could not be queued.',
  canceled: 'The job was canceled.',
  geometry_invalid_input: 'No 3D geometry: the landmarks were unusable.',
  geometry_degenerate: 'No 3D geometry: the landmarks were degenerate.',
  unauthorized: 'The API key was not accepted.',
  unavailable: 'The service is unavailable; try again.',
  bad_request: 'The request was not accepted.',
};
export const inWords = (code, msg) => (CODES[code] || (code ? code.replaceAll('_', ' ') : 'Error')) + (msg ? ` (${msg})` : '');

export const $ = (id) => document.getElementById(id);
export const el = (tag, props = {}, ...kids) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === 'class') e.className = v;
    else if (k === 'dataset') Object.assign(e.dataset, v);
    else if (k === 'style') Object.assign(e.style, v); // CSSOM: allowed by the page's CSP, unlike style=""
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null && v !== false) e.setAttribute(k, v === true ? '' : v);
  }
  e.append(...kids.filter((k) => k !== null && k !== undefined));
  return e;
};

export const fmtBytes = (n) => n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(n >= 10 << 20 ? 0 : 1)} MiB` : `${Math.ceil(n / 1024)} KiB`;
