#!/usr/bin/env node
// The ajv side of the validation benchmark (benches/validation.rs is the Rust side; run.sh runs both).
//
// Validates the same documents against the same schema file as the Rust side (schemas/fhir/fhir.schema.json,
// the vendored, patched HL7 R4 schema) with ajv 6, configured exactly as @asymmetrik/fhir-json-schema-validator
// 0.9.8 configures it (checked against the package's index.js at start-up), and prints one JSON line.
//
//   node ajv_bench.js [--stream] [--invalid-out FILE] CORPUS_DIR
//
// Environment: SCR_BENCH_PASSES (timed passes over the corpus, default 5), SCR_BENCH_COMPILE_RUNS (default 5).
// Corpus files: every *.json directly in CORPUS_DIR except package.json, expected.json and dot-files, sorted by
// name (the same rule as the Rust side). Throughput counts bytes of compact JSON (JSON.stringify), 1 MB = 10^6 B.
'use strict';

const fs = require('fs');
const path = require('path');

const ROOT = path.resolve(__dirname, '..', '..');
const SCHEMA_FILE = path.join(ROOT, 'schemas', 'fhir', 'fhir.schema.json');
const SCR_BUNDLES = [
  'fixtures/nhs/examples/UploadScrBundle.json',
  'fixtures/nhs/examples/GetScrBundle.json',
  'fixtures/nhs/uat/get_scr/success/1-basic.response.json',
];
const SCR_MIN_PASS_S = 0.2;
const SCR_PASSES = 7;
const PKG = '@asymmetrik/fhir-json-schema-validator';

function fail(msg) {
  process.stderr.write(`ajv bench: ${msg}\n`);
  process.exit(2);
}

function count(name, dflt) {
  const s = process.env[name];
  if (s === undefined) return dflt;
  const n = Number(s);
  if (!Number.isInteger(n) || n <= 0) fail(`${name}: not a count: ${s}`);
  return n;
}

const opts = { stream: false, invalidOut: null, corpus: null };
{
  const args = process.argv.slice(2);
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--stream') opts.stream = true;
    else if (a === '--invalid-out') opts.invalidOut = args[++i] || fail('--invalid-out needs a path');
    else if (a.startsWith('-')) fail(`unknown option ${a}`);
    else opts.corpus = a;
  }
  if (!opts.corpus) fail('usage: node ajv_bench.js [--stream] [--invalid-out FILE] CORPUS_DIR');
}
const PASSES = count('SCR_BENCH_PASSES', 5);
const COMPILE_RUNS = count('SCR_BENCH_COMPILE_RUNS', 5);

// The ajv the package resolves (the one its `require('ajv')` loads), and the package's own set-up, checked.
const pkgDir = path.dirname(require.resolve(`${PKG}/package.json`));
const pkgVersion = require(`${PKG}/package.json`).version;
const ajvMain = require.resolve('ajv', { paths: [pkgDir] });
const Ajv = require(ajvMain);
const ajvDir = path.dirname(require.resolve('ajv/package.json', { paths: [pkgDir] }));
const ajvVersion = JSON.parse(fs.readFileSync(path.join(ajvDir, 'package.json'), 'utf8')).version;
const draft06 = require(path.join(ajvDir, 'lib', 'refs', 'json-schema-draft-06.json'));
{
  const src = fs.readFileSync(path.join(pkgDir, 'index.js'), 'utf8');
  const expected = [
    "const defaultAJVSettings = { logger: false };",
    'this.ajv = new Ajv(ajvSettings);',
    "this.ajv.addMetaSchema(require('ajv/lib/refs/json-schema-draft-06.json'));",
    'this.validator = this.ajv.compile(this.schema);',
  ];
  for (const line of expected) {
    if (!src.includes(line)) fail(`${PKG}@${pkgVersion} no longer sets ajv up as this bench does: missing ${line}`);
  }
}
// What the package does in its constructor; AJV_SCHEMA_ID=auto adds `schemaId: 'auto'` (not what it does).
const ajvSettings = { logger: false };
if (process.env.AJV_SCHEMA_ID) ajvSettings.schemaId = process.env.AJV_SCHEMA_ID;

function compileOnce(schemaText) {
  const schema = JSON.parse(schemaText);
  const ajv = new Ajv(ajvSettings);
  ajv.addMetaSchema(draft06);
  return ajv.compile(schema);
}

const now = () => Number(process.hrtime.bigint()) / 1e9;
const round = (x, p) => Math.round(x * 10 ** p) / 10 ** p;
function median(xs) {
  const v = [...xs].sort((a, b) => a - b);
  const n = v.length;
  return n % 2 ? v[(n - 1) / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}
const best = (xs) => Math.min(...xs);

function corpusFiles(dir) {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => e.name)
    .filter((n) => n.endsWith('.json') && !n.startsWith('.') && n !== 'package.json' && n !== 'expected.json')
    .sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))) // byte order, as Rust sorts paths
    .map((n) => path.join(dir, n));
}

function readJson(p) {
  const buf = fs.readFileSync(p);
  try {
    return [JSON.parse(buf.toString('utf8')), buf.length];
  } catch (e) {
    return fail(`${p}: ${e.message}`);
  }
}

function writeInvalid(invalid) {
  if (opts.invalidOut) fs.writeFileSync(opts.invalidOut, invalid.join('\n') + '\n');
}

const schemaText = fs.readFileSync(SCHEMA_FILE, 'utf8');
const files = corpusFiles(opts.corpus);
if (files.length === 0) fail(`no *.json files in ${opts.corpus}`);
const meta = { ajv: ajvVersion, package: `${PKG}@${pkgVersion}`, node: process.version, settings: ajvSettings };

function throughput() {
  // Compile: JSON.parse of the schema file + new Ajv + draft-06 meta-schema + compile (the Rust side's
  // FhirValidator::new() also parses its embedded copy of the same file).
  process.stderr.write(`ajv: compiling the schema ${COMPILE_RUNS} times\n`);
  const times = [];
  let validate;
  for (let i = 0; i < COMPILE_RUNS; i++) {
    validate = null;
    const t = now();
    validate = compileOnce(schemaText);
    times.push((now() - t) * 1e3);
  }

  process.stderr.write(`ajv: loading ${files.length} files from ${opts.corpus}\n`);
  let t = now();
  const docs = files.map((p) => [path.basename(p), readJson(p)[0]]);
  const loadS = now() - t;
  const fileBytes = files.reduce((s, p) => s + fs.statSync(p).size, 0);

  // Warm-up pass: also the verdicts.
  const verdicts = docs.map(([, d]) => validate(d));
  const invalid = docs.filter((_, i) => !verdicts[i]).map(([n]) => n);
  writeInvalid(invalid);
  const valid = docs.length - invalid.length;

  process.stderr.write(`ajv: ${PASSES} timed passes over ${docs.length} docs (${valid} valid)\n`);
  const compact = docs.map(([, d]) => Buffer.byteLength(JSON.stringify(d)));
  const throughput = timedPasses(docs, compact, verdicts, validate);

  return {
    side: 'ajv',
    mode: 'throughput',
    ...meta,
    compile: {
      runs: COMPILE_RUNS,
      first_ms: round(times[0], 2),
      best_ms: round(best(times), 2),
      median_ms: round(median(times), 2),
    },
    corpus: {
      dir: opts.corpus,
      docs: docs.length,
      file_bytes: fileBytes,
      compact_bytes: compact.reduce((a, b) => a + b, 0),
      valid,
      invalid: invalid.length,
      load_and_parse_s: round(loadS, 3),
    },
    throughput,
    scr_bundles: scrBundles(validate),
  };
}

// PASSES timed passes of validate over docs (each document timed too), as benches/validation.rs does: the whole
// corpus: median pass; the valid documents alone: the median of the per-pass sums of their times; the slowest
// documents: by their best time.
function timedPasses(docs, compact, verdicts, validate) {
  const passS = [];
  const validPassS = [];
  const docBest = docs.map(() => Infinity);
  for (let p = 0; p < PASSES; p++) {
    let validS = 0;
    const t = now();
    for (let i = 0; i < docs.length; i++) {
      const td = now();
      const ok = validate(docs[i][1]);
      const s = now() - td;
      if (ok !== verdicts[i]) fail(`the verdict on ${docs[i][0]} changed between passes`);
      if (s < docBest[i]) docBest[i] = s;
      if (ok) validS += s;
    }
    passS.push(now() - t);
    validPassS.push(validS);
  }
  const med = median(passS);
  const validMed = median(validPassS);
  const compactBytes = compact.reduce((a, b) => a + b, 0);
  const validDocs = verdicts.filter(Boolean).length;
  const validBytes = compact.reduce((a, b, i) => a + (verdicts[i] ? b : 0), 0);
  const slowest = docs
    .map((_, i) => i)
    .sort((a, b) => docBest[b] - docBest[a])
    .slice(0, 5)
    .map((i) => ({ name: docs[i][0], compact_bytes: compact[i], valid: verdicts[i], best_ms: round(docBest[i] * 1e3, 3) }));
  return {
    passes: PASSES,
    median_pass_s: round(med, 4),
    best_pass_s: round(best(passS), 4),
    docs_per_s: round(docs.length / med, 1),
    mb_per_s: round(compactBytes / 1e6 / med, 2),
    valid_only: {
      docs: validDocs,
      compact_bytes: validBytes,
      median_s: round(validMed, 4),
      docs_per_s: round(validDocs / validMed, 1),
      mb_per_s: round(validBytes / 1e6 / validMed, 2),
    },
    slowest,
  };
}

// The SCR Bundles, as they are and repaired (see repair()).
function scrBundles(validate) {
  const bundles = SCR_BUNDLES.map((p) => readJson(path.join(ROOT, p))[0]);
  let conditionsRepaired = 0;
  const repaired = bundles.map((b) => {
    const [r, n] = repair(structuredClone(b));
    conditionsRepaired += n;
    return r;
  });
  return {
    files: SCR_BUNDLES,
    as_is: measure(validate, bundles),
    repaired: measure(validate, repaired),
    conditions_repaired: conditionsRepaired,
  };
}

// The NHS example Bundles are not valid FHIR R4: their Conditions have no `subject` (1..1 in R4), so both
// validators reject them at the first such entry. The repaired copy gives each Condition without a `subject`
// the Composition's `subject` (the same repair as benches/validation.rs). Returns [bundle, conditions changed].
function repair(bundle) {
  const entries = Array.isArray(bundle.entry) ? bundle.entry : [];
  const composition = entries.find((e) => e && e.resource && e.resource.resourceType === 'Composition');
  const subject = composition && composition.resource.subject;
  let changed = 0;
  if (subject !== undefined) {
    for (const e of entries) {
      const r = e && e.resource;
      if (r && typeof r === 'object' && r.resourceType === 'Condition' && !('subject' in r)) {
        r.subject = structuredClone(subject);
        changed++;
      }
    }
  }
  return [bundle, changed];
}

function measure(validate, bundles) {
  const valid = bundles.filter((b) => validate(b)).length;
  const compactBytes = bundles.reduce((s, b) => s + Buffer.byteLength(JSON.stringify(b)), 0);
  const pass = (iters) => {
    const t = now();
    let n = 0;
    for (let i = 0; i < iters; i++) for (const b of bundles) if (validate(b)) n++;
    if (n !== valid * iters) fail('the SCR verdicts changed between passes');
    return now() - t;
  };
  let iters = 1;
  while (pass(iters) < SCR_MIN_PASS_S) iters *= 2;
  const perBundle = [];
  for (let i = 0; i < SCR_PASSES; i++) perBundle.push(pass(iters) / (iters * bundles.length));
  const med = median(perBundle);
  return {
    bundles: bundles.length,
    valid,
    compact_bytes: compactBytes,
    iterations_per_pass: iters,
    passes: SCR_PASSES,
    median_us_per_bundle: round(med * 1e6, 2),
    best_us_per_bundle: round(best(perBundle) * 1e6, 2),
    bundles_per_s: round(1 / med, 1),
  };
}

function stream() {
  let t = now();
  const validate = compileOnce(schemaText);
  const compileMs = (now() - t) * 1e3;
  process.stderr.write(`ajv: streaming ${files.length} files from ${opts.corpus}\n`);
  const invalid = [];
  let fileBytes = 0;
  let validateS = 0;
  t = now();
  for (const p of files) {
    const [d, len] = readJson(p);
    fileBytes += len;
    const tv = now();
    const ok = validate(d);
    validateS += now() - tv;
    if (!ok) invalid.push(path.basename(p));
  }
  const totalS = now() - t;
  writeInvalid(invalid);
  return {
    side: 'ajv',
    mode: 'stream',
    ...meta,
    compile_ms: round(compileMs, 2),
    docs: files.length,
    file_bytes: fileBytes,
    valid: files.length - invalid.length,
    invalid: invalid.length,
    total_s: round(totalS, 3),
    validate_s: round(validateS, 3),
    docs_per_s_end_to_end: round(files.length / totalS, 1),
  };
}

process.stdout.write(JSON.stringify(opts.stream ? stream() : throughput()) + '\n');
