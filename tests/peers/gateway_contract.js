// gateway_contract.js — the api-gateway's OpenAPI document against itself
// and against what the gateway really answered.
//
//   node gateway_contract.js OPENAPI.json RESPONSES.jsonl
//
// 1. validates the document with @apidevtools/swagger-parser (OpenAPI 3.1);
// 2. for each recorded exchange {method, path, status, body} finds the
//    operation (path template match), checks the status is documented and,
//    for a JSON response, validates the body with the documented schema
//    (JSON Schema 2020-12, as OpenAPI 3.1 uses, via ajv).
// Prints TAP-like "ok - ..." / "not ok - ..." lines; exit 1 on any failure.
'use strict';
const fs = require('fs');
const SwaggerParser = require('@apidevtools/swagger-parser');
const Ajv2020 = require('ajv/dist/2020').default;

const [docPath, recPath] = process.argv.slice(2);
let failed = 0;
const ok = (m) => console.log(`ok - ${m}`);
const notOk = (m) => { failed++; console.log(`not ok - ${m}`); };

function templateRegex(tpl) {
  const esc = tpl.split('/').map((seg) => (/^\{.+\}$/.test(seg) ? '[^/]+' : seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
  return new RegExp('^' + esc.join('/') + '$');
}

(async () => {
  const raw = JSON.parse(fs.readFileSync(docPath, 'utf8'));
  try {
    await SwaggerParser.validate(JSON.parse(JSON.stringify(raw)));
    ok(`the OpenAPI document is valid OpenAPI ${raw.openapi} (swagger-parser)`);
  } catch (e) {
    notOk(`the OpenAPI document is valid (swagger-parser): ${e.message}`);
    process.exit(1);
  }
  const doc = await SwaggerParser.dereference(JSON.parse(JSON.stringify(raw)));
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  ajv.addFormat('date-time', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/);
  ajv.addFormat('date', /^\d{4}-\d\d-\d\d$/);
  const routes = Object.keys(doc.paths).map((p) => ({ tpl: p, re: templateRegex(p), item: doc.paths[p] }));
  // literal templates first, so /api/v1/openapi.json never matches a {param}
  routes.sort((a, b) => (a.tpl.includes('{') ? 1 : 0) - (b.tpl.includes('{') ? 1 : 0));

  const lines = fs.readFileSync(recPath, 'utf8').split('\n').filter(Boolean);
  const cache = new Map();
  let checked = 0;
  const problems = [];
  const seenOps = new Set();
  for (const line of lines) {
    const r = JSON.parse(line);
    const path = r.path.split('?')[0];
    const route = routes.find((x) => x.re.test(decodeURIComponent(path)) || x.re.test(path));
    if (!route) {
      // an unknown path must answer the documented error shape
      if (r.status === 404 || r.status === 405) continue;
      problems.push(`${r.method} ${r.path}: no such path in the document (status ${r.status})`);
      continue;
    }
    const op = route.item[r.method.toLowerCase()];
    if (!op) {
      if (r.status === 405 || r.status === 404) continue;
      problems.push(`${r.method} ${route.tpl}: method not in the document (status ${r.status})`);
      continue;
    }
    if (r.status === 0) {
      problems.push(`${r.method} ${r.path}: no answer`);
      continue;
    }
    seenOps.add(`${r.method} ${route.tpl}`);
    const resp = op.responses[String(r.status)] || op.responses.default;
    if (!resp) {
      problems.push(`${r.method} ${route.tpl}: status ${r.status} is not documented (${r.body.slice(0, 120)})`);
      continue;
    }
    const media = resp.content && resp.content['application/json'];
    if (!media || !media.schema) continue;
    let body;
    try {
      body = JSON.parse(r.body);
    } catch (e) {
      problems.push(`${r.method} ${r.path} ${r.status}: body is not JSON: ${r.body.slice(0, 120)}`);
      continue;
    }
    const key = `${r.method} ${route.tpl} ${r.status}`;
    let validate = cache.get(key);
    if (!validate) {
      validate = ajv.compile(media.schema);
      cache.set(key, validate);
    }
    checked++;
    if (!validate(body)) {
      problems.push(`${r.method} ${r.path} ${r.status}: ${ajv.errorsText(validate.errors, { separator: '; ' }).slice(0, 400)}`);
    }
  }
  if (problems.length === 0) {
    ok(`all ${checked} JSON responses (of ${lines.length} recorded) match their OpenAPI schemas`);
  } else {
    notOk(`${problems.length} of ${lines.length} recorded responses do not match the OpenAPI document`);
    for (const p of problems.slice(0, 15)) console.log(`#   ${p}`);
  }
  const ops = [];
  for (const r of routes) for (const m of Object.keys(r.item)) ops.push(`${m.toUpperCase()} ${r.tpl}`);
  const missing = ops.filter((o) => !seenOps.has(o) && !/\/(ws|stream)$/.test(o));
  console.log(`# operations exercised: ${seenOps.size}; not exercised here: ${missing.join(', ') || 'none'}`);
  process.exit(failed ? 1 : 0);
})().catch((e) => {
  notOk(`contract checker crashed: ${e.stack}`);
  process.exit(1);
});
