// Validates a glTF/GLB file with the Khronos glTF-Validator and prints the
// report as JSON on stdout. Usage: node gltf_validate.cjs VALIDATOR_DIR FILE
// (VALIDATOR_DIR is the installed npm package gltf-validator).
'use strict';
const fs = require('fs');
const [validatorDir, file] = process.argv.slice(2);
const validator = require(validatorDir);
const data = new Uint8Array(fs.readFileSync(file));
validator
  .validateBytes(data, { uri: file, maxIssues: 1000, format: 'glb' })
  .then((report) => {
    process.stdout.write(JSON.stringify(report));
  })
  .catch((err) => {
    process.stderr.write(String(err && err.stack ? err.stack : err) + '\n');
    process.exit(2);
  });
