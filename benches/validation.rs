//! Validation benchmark (plain `main`, `harness = false`): the project's FHIR validator
//! ([`FhirValidator`]: one walk over the vendored strict `schemas/fhir/fhir.schema.json`, the R4
//! StructureDefinition digest `schemas/fhir/r4-structure.json` and the calendar-date checks) on a corpus of FHIR documents and on the SCR Bundles. Prints one JSON line of results
//! to stdout; progress goes to stderr. `benches/validation/run.sh` runs it next to ajv 6 on the same schema and
//! documents (`benches/validation/ajv_bench.js`) and records both in `benches/RESULTS.md`.
//!
//! ```text
//! cargo bench --bench validation                      # offline: the 90 files of fixtures/fhir-examples
//! cargo bench --bench validation -- /path/to/corpus   # a directory of *.json FHIR resources
//! SCR_BENCH_CORPUS=/path/to/corpus cargo bench --bench validation
//! ```
//!
//! Options (after `--`): a corpus directory; `--stream` (read, parse and validate one file at a time: peak
//! memory without the corpus held in memory); `--invalid-out FILE` (write the names of the rejected files,
//! one a line). Environment: `SCR_BENCH_CORPUS`, `SCR_BENCH_PASSES` (timed passes over the corpus, default 5),
//! `SCR_BENCH_COMPILE_RUNS` (default 10).
//!
//! Corpus files: every `*.json` directly in the directory except `package.json`, `expected.json` and
//! dot-files, sorted by name (`ajv_bench.js` uses the same rule). Throughput counts bytes of compact JSON
//! (`serde_json::to_vec`), 1 MB = 10^6 bytes.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use scr_assure::fhir::schema::FhirValidator;
use serde_json::{json, Value};

/// The SCR Bundles, relative to the crate root: an upload (POST /Bundle), a GET /Bundle response, and the
/// recorded UAT GET response.
const SCR_BUNDLES: [&str; 3] = [
    "fixtures/nhs/examples/UploadScrBundle.json",
    "fixtures/nhs/examples/GetScrBundle.json",
    "fixtures/nhs/uat/get_scr/success/1-basic.response.json",
];

/// A timed pass over the SCR Bundles lasts at least this long (iterations are doubled until it does).
const SCR_MIN_PASS: Duration = Duration::from_millis(200);
const SCR_PASSES: usize = 7;

struct Options {
    corpus: PathBuf,
    stream: bool,
    invalid_out: Option<PathBuf>,
    passes: usize,
    compile_runs: usize,
}

fn main() {
    let opts = options();
    let files = corpus_files(&opts.corpus);
    if files.is_empty() {
        fail(&format!("no *.json files in {}", opts.corpus.display()));
    }
    let result = if opts.stream { stream(&opts, &files) } else { throughput(&opts, &files) };
    println!("{result}");
}

fn options() -> Options {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut corpus = std::env::var_os("SCR_BENCH_CORPUS").map(PathBuf::from);
    let mut stream = false;
    let mut invalid_out = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            // `cargo bench` passes `--bench` to every bench binary.
            "--bench" => {}
            "--stream" => stream = true,
            "--invalid-out" => {
                invalid_out = Some(PathBuf::from(args.next().unwrap_or_else(|| fail("--invalid-out needs a path"))))
            }
            flag if flag.starts_with('-') => fail(&format!("unknown option {flag}")),
            dir => corpus = Some(PathBuf::from(dir)),
        }
    }
    let number = |name: &str, default: usize| -> usize {
        match std::env::var(name) {
            Ok(s) => s.parse().ok().filter(|n| *n > 0).unwrap_or_else(|| fail(&format!("{name}: not a count: {s}"))),
            Err(_) => default,
        }
    };
    Options {
        corpus: corpus.unwrap_or_else(|| root.join("fixtures/fhir-examples")),
        stream,
        invalid_out,
        passes: number("SCR_BENCH_PASSES", 5),
        compile_runs: number("SCR_BENCH_COMPILE_RUNS", 10),
    }
}

fn fail(msg: &str) -> ! {
    eprintln!("validation bench: {msg}");
    std::process::exit(2)
}

fn corpus_files(dir: &Path) -> Vec<PathBuf> {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| fail(&format!("{}: {e}", dir.display())));
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
            name.ends_with(".json") && !name.starts_with('.') && name != "package.json" && name != "expected.json"
        })
        .collect();
    files.sort();
    files
}

fn name_of(p: &Path) -> String {
    p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

fn read_json(p: &Path) -> (Value, usize) {
    let text = std::fs::read(p).unwrap_or_else(|e| fail(&format!("{}: {e}", p.display())));
    let v: Value = serde_json::from_slice(&text).unwrap_or_else(|e| fail(&format!("{}: {e}", p.display())));
    (v, text.len())
}

fn compact_len(v: &Value) -> usize {
    serde_json::to_vec(v).map(|b| b.len()).unwrap_or(0)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn median(xs: &[f64]) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn best(xs: &[f64]) -> f64 {
    xs.iter().copied().fold(f64::INFINITY, f64::min)
}

fn round(x: f64, places: i32) -> f64 {
    let f = 10f64.powi(places);
    (x * f).round() / f
}

/// `FhirValidator::new()` timed `runs` times (parse of the embedded schema and digest, the model built);
/// returns the last validator.
fn compile(runs: usize) -> (FhirValidator, Value) {
    let mut times = Vec::with_capacity(runs);
    let mut last = None;
    for _ in 0..runs {
        drop(last.take());
        let t = Instant::now();
        let v = FhirValidator::new().unwrap_or_else(|e| fail(&e.to_string()));
        times.push(ms(t.elapsed()));
        last = Some(v);
    }
    let stats = json!({
        "runs": runs,
        "first_ms": round(times[0], 2),
        "best_ms": round(best(&times), 2),
        "median_ms": round(median(&times), 2),
    });
    (last.unwrap_or_else(|| fail("no compile run")), stats)
}

fn write_invalid(opts: &Options, invalid: &[String]) {
    if let Some(path) = &opts.invalid_out {
        let mut text = invalid.join("\n");
        text.push('\n');
        std::fs::write(path, text).unwrap_or_else(|e| fail(&format!("{}: {e}", path.display())));
    }
}

struct Doc {
    name: String,
    value: Value,
    compact_bytes: usize,
}

/// The corpus held in memory (parsed once), then `is_valid` over all of it, `passes` times after a warm-up;
/// then the same with the bare jsonschema validator (schema only, no calendar checks), the like of what ajv does.
fn throughput(opts: &Options, files: &[PathBuf]) -> Value {
    eprintln!("rust: compiling the schema {} times", opts.compile_runs);
    let (validator, compile_stats) = compile(opts.compile_runs);

    eprintln!("rust: loading {} files from {}", files.len(), opts.corpus.display());
    let t = Instant::now();
    let docs: Vec<Doc> = files
        .iter()
        .map(|p| {
            let value = read_json(p).0;
            Doc { name: name_of(p), compact_bytes: compact_len(&value), value }
        })
        .collect();
    let load_s = t.elapsed().as_secs_f64();
    let file_bytes: u64 = files.iter().map(|p| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)).sum();
    let compact_bytes: usize = docs.iter().map(|d| d.compact_bytes).sum();

    // Warm-up pass: also the verdicts.
    let verdicts: Vec<bool> = docs.iter().map(|d| validator.is_valid(&d.value)).collect();
    let invalid: Vec<String> =
        docs.iter().zip(&verdicts).filter(|(_, ok)| !**ok).map(|(d, _)| d.name.clone()).collect();
    write_invalid(opts, &invalid);
    let valid = docs.len() - invalid.len();

    eprintln!("rust: {} timed passes over {} docs ({valid} valid)", opts.passes, docs.len());
    let fhir = timed_passes(&docs, &verdicts, opts.passes, |v| validator.is_valid(v));

    let schema_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas/fhir/fhir.schema.json");
    let schema = read_json(&schema_path).0;
    let bare = jsonschema::draft6::new(&schema).unwrap_or_else(|e| fail(&e.to_string()));
    let bare_verdicts: Vec<bool> = docs.iter().map(|d| bare.is_valid(&d.value)).collect();
    let bare_valid = bare_verdicts.iter().filter(|ok| **ok).count();
    eprintln!("rust: {} timed passes, schema only ({bare_valid} valid)", opts.passes);
    let schema_only = timed_passes(&docs, &bare_verdicts, opts.passes, |v| bare.is_valid(v));

    json!({
        "side": "rust",
        "mode": "throughput",
        "validator": "scr_assure::fhir::schema::FhirValidator::is_valid (the walk: strict schema, StructureDefinition rules, calendar dates)",
        "compile": compile_stats,
        "corpus": {
            "dir": opts.corpus.display().to_string(),
            "docs": docs.len(),
            "file_bytes": file_bytes,
            "compact_bytes": compact_bytes,
            "valid": valid,
            "invalid": invalid.len(),
            "load_and_parse_s": round(load_s, 3),
        },
        "throughput": fhir,
        "schema_only": {
            "validator": "jsonschema::draft6::new on schemas/fhir/fhir.schema.json, is_valid",
            "valid": bare_valid,
            "throughput": schema_only,
        },
        "scr_bundles": scr_bundles(&validator),
    })
}

/// `passes` timed passes of `is_valid` over `docs` (each document timed too). The whole corpus: median pass;
/// the valid documents alone: the median of the per-pass sums of their times; the slowest documents: by their
/// best time.
fn timed_passes(docs: &[Doc], verdicts: &[bool], passes: usize, is_valid: impl Fn(&Value) -> bool) -> Value {
    let mut pass_s = Vec::with_capacity(passes);
    let mut valid_pass_s = Vec::with_capacity(passes);
    let mut doc_best = vec![f64::INFINITY; docs.len()];
    for _ in 0..passes {
        let mut valid_s = 0.0;
        let t = Instant::now();
        for (i, d) in docs.iter().enumerate() {
            let td = Instant::now();
            let ok = is_valid(std::hint::black_box(&d.value));
            let s = td.elapsed().as_secs_f64();
            assert_eq!(ok, verdicts[i], "the verdict on {} changed between passes", d.name);
            doc_best[i] = doc_best[i].min(s);
            if ok {
                valid_s += s;
            }
        }
        pass_s.push(t.elapsed().as_secs_f64());
        valid_pass_s.push(valid_s);
    }
    let med = median(&pass_s);
    let valid_med = median(&valid_pass_s);
    let compact_bytes: usize = docs.iter().map(|d| d.compact_bytes).sum();
    let valid_docs = verdicts.iter().filter(|ok| **ok).count();
    let valid_bytes: usize = docs.iter().zip(verdicts).filter(|(_, ok)| **ok).map(|(d, _)| d.compact_bytes).sum();
    let mut order: Vec<usize> = (0..docs.len()).collect();
    order.sort_by(|a, b| doc_best[*b].total_cmp(&doc_best[*a]));
    let slowest: Vec<Value> = order
        .iter()
        .take(5)
        .map(|&i| {
            json!({"name": docs[i].name, "compact_bytes": docs[i].compact_bytes, "valid": verdicts[i],
                   "best_ms": round(doc_best[i] * 1e3, 3)})
        })
        .collect();
    json!({
        "passes": passes,
        "median_pass_s": round(med, 4),
        "best_pass_s": round(best(&pass_s), 4),
        "docs_per_s": round(docs.len() as f64 / med, 1),
        "mb_per_s": round(compact_bytes as f64 / 1e6 / med, 2),
        "valid_only": {
            "docs": valid_docs,
            "compact_bytes": valid_bytes,
            "median_s": round(valid_med, 4),
            "docs_per_s": round(valid_docs as f64 / valid_med, 1),
            "mb_per_s": round(valid_bytes as f64 / 1e6 / valid_med, 2),
        },
        "slowest": slowest,
    })
}

/// The SCR Bundles, as they are and repaired (see [`repair`]).
fn scr_bundles(validator: &FhirValidator) -> Value {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let bundles: Vec<Value> = SCR_BUNDLES.iter().map(|p| read_json(&root.join(p)).0).collect();
    let mut conditions_repaired = 0;
    let repaired: Vec<Value> = bundles
        .iter()
        .map(|b| {
            let (b, n) = repair(b.clone());
            conditions_repaired += n;
            b
        })
        .collect();
    json!({
        "files": SCR_BUNDLES,
        "as_is": measure(validator, &bundles),
        "repaired": measure(validator, &repaired),
        "conditions_repaired": conditions_repaired,
    })
}

/// The NHS example Bundles are not valid FHIR R4: their Conditions have no `subject` (1..1 in R4), so both
/// validators reject them at the first such entry and never look at the rest. The repaired copy gives each
/// Condition without a `subject` the Composition's `subject`, which makes the whole Bundle valid (a full
/// traversal). `ajv_bench.js` applies the same repair. Returns the Bundle and how many Conditions changed.
fn repair(mut bundle: Value) -> (Value, usize) {
    let subject = bundle
        .get("entry")
        .and_then(Value::as_array)
        .and_then(|entries| entries.iter().find(|e| e.pointer("/resource/resourceType") == Some(&json!("Composition"))))
        .and_then(|e| e.pointer("/resource/subject"))
        .cloned();
    let mut changed = 0;
    if let (Some(subject), Some(entries)) = (subject, bundle.get_mut("entry").and_then(Value::as_array_mut)) {
        for resource in entries.iter_mut().filter_map(|e| e.get_mut("resource").and_then(Value::as_object_mut)) {
            if resource.get("resourceType") == Some(&json!("Condition")) && !resource.contains_key("subject") {
                resource.insert("subject".into(), subject.clone());
                changed += 1;
            }
        }
    }
    (bundle, changed)
}

/// `is_valid` over `bundles`: iterations doubled until a pass lasts [`SCR_MIN_PASS`], then [`SCR_PASSES`]
/// passes.
fn measure(validator: &FhirValidator, bundles: &[Value]) -> Value {
    let valid = bundles.iter().filter(|v| validator.is_valid(v)).count();
    let compact_bytes: usize = bundles.iter().map(compact_len).sum();
    let pass = |iters: usize| {
        let t = Instant::now();
        let mut n = 0usize;
        for _ in 0..iters {
            n += bundles.iter().filter(|v| validator.is_valid(std::hint::black_box(v))).count();
        }
        assert_eq!(n, valid * iters, "the verdicts changed between passes");
        t.elapsed()
    };
    let mut iters = 1;
    while pass(iters) < SCR_MIN_PASS {
        iters *= 2;
    }
    let per_bundle_s: Vec<f64> =
        (0..SCR_PASSES).map(|_| pass(iters).as_secs_f64() / (iters * bundles.len()) as f64).collect();
    let med = median(&per_bundle_s);
    json!({
        "bundles": bundles.len(),
        "valid": valid,
        "compact_bytes": compact_bytes,
        "iterations_per_pass": iters,
        "passes": SCR_PASSES,
        "median_us_per_bundle": round(med * 1e6, 2),
        "best_us_per_bundle": round(best(&per_bundle_s) * 1e6, 2),
        "bundles_per_s": round(1.0 / med, 1),
    })
}

/// One pass, one file at a time: read, then parse and validate in one walk (`validate_bytes`: no `Value` built),
/// drop. Peak memory without the corpus held.
fn stream(opts: &Options, files: &[PathBuf]) -> Value {
    let t = Instant::now();
    let validator = FhirValidator::new().unwrap_or_else(|e| fail(&e.to_string()));
    let compile_ms = ms(t.elapsed());
    eprintln!("rust: streaming {} files from {}", files.len(), opts.corpus.display());
    let mut invalid = Vec::new();
    let (mut file_bytes, mut validate) = (0usize, Duration::ZERO);
    let t = Instant::now();
    for p in files {
        let bytes = std::fs::read(p).unwrap_or_else(|e| fail(&format!("read {}: {e}", p.display())));
        file_bytes += bytes.len();
        let tv = Instant::now();
        let ok = validator.validate_bytes(&bytes).map(|f| f.is_empty()).unwrap_or(false);
        validate += tv.elapsed();
        if !ok {
            invalid.push(name_of(p));
        }
    }
    let total_s = t.elapsed().as_secs_f64();
    write_invalid(opts, &invalid);
    json!({
        "side": "rust",
        "mode": "stream",
        "compile_ms": round(compile_ms, 2),
        "docs": files.len(),
        "file_bytes": file_bytes,
        "valid": files.len() - invalid.len(),
        "invalid": invalid.len(),
        "total_s": round(total_s, 3),
        "validate_s": round(validate.as_secs_f64(), 3),
        "docs_per_s_end_to_end": round(files.len() as f64 / total_s, 1),
    })
}
