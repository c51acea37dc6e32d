#!/usr/bin/env python3
"""Apply the digest's rules (schemas/fhir/r4-structure.json) to a corpus of FHIR R4 JSON resources.

    python3 schemas/fhir/check_digest.py CORPUS_DIR_OR_TGZ [--package HL7_EXAMPLES_TGZ] [--quiet]

CORPUS: a folder of *.json resources, or an npm tarball such as hl7.fhir.r4.examples@4.0.1 (`package/*.json`
less `package.json` and `.index.json`). The StructureDefinitions that map the schema's definition names to
the digest's paths come from --package (default: CORPUS when it is a tarball, else the cached npm pack of
hl7.fhir.r4.examples@4.0.1). Standard library only.

Walk: a resource by its resourceType's schema definition; every member whose schema property refers to a
complex type or backbone definition is walked with that definition; `ResourceList` members (contained,
Bundle.entry.resource, Parameters.parameter.resource, ...) by their own resourceType.

Rules, for an object whose definition maps to a digest path:
- required: each `required` name is present, as itself or as its `_name` (a primitive given only by its
  extensions); `value[x]` is present when one of its variants (or `_variant`) is;
- choice: at most one variant of a choice group is present;
- binding: a `code` value is one of the codes; a Coding's system+code is in the value set; a CodeableConcept
  has at least one coding whose system+code is in it (`binding-cc-no-system`: no coding uses a system of the
  value set, or it has only text; `binding-cc-not-in`: a coding of the value set's system has a code not in it).
Prints every violation and counts per rule; exit 0 (it reports, it does not judge).
"""
import argparse
import collections
import json
import os
import sys
import tarfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import digest  # noqa: E402

SKIP = {"package.json", ".index.json"}


def read_corpus(path):
    out = []
    if os.path.isdir(path):
        for name in sorted(os.listdir(path)):
            if name.endswith(".json") and name not in SKIP:
                with open(os.path.join(path, name), encoding="utf-8") as f:
                    out.append((name, json.load(f)))
    else:
        with tarfile.open(path, "r:*") as tar:
            for m in tar.getmembers():
                parts = m.name.split("/")
                if (m.isfile() and len(parts) == 2 and parts[0] == "package" and parts[1].endswith(".json")
                        and parts[1] not in SKIP):
                    out.append((parts[1], json.loads(tar.extractfile(m).read().decode("utf-8"))))
        out.sort(key=lambda x: x[0])
    return out


class Checker:
    def __init__(self, schema, def_paths, types):
        self.defs = schema["definitions"]
        self.def_paths = def_paths
        self.types = types
        self.violations = []

    def resource(self, doc, where, file):
        rtype = doc.get("resourceType") if isinstance(doc, dict) else None
        if rtype in self.def_paths:
            self.obj(doc, rtype, where, file)

    def add(self, file, where, rule, text):
        self.violations.append((file, where, rule, text))

    def obj(self, obj, dname, where, file):
        if not isinstance(obj, dict):
            return
        entry = self.types.get(self.def_paths.get(dname), {})

        def present(name):
            return name in obj or "_" + name in obj

        for name in entry.get("required", []):
            if name.endswith("[x]"):
                variants = entry.get("choices", {}).get(name[:-3], [])
                if not any(present(v) for v in variants):
                    self.add(file, where, "required", f"{name} (none of {', '.join(variants)})")
            elif not present(name):
                self.add(file, where, "required", name)
        for base, variants in entry.get("choices", {}).items():
            there = [v for v in variants if present(v)]
            if len(there) > 1:
                self.add(file, where, "choice", f"{base}[x] given {len(there)} times: {', '.join(there)}")
        for name, b in entry.get("bindings", {}).items():
            if name in obj:
                values = obj[name] if isinstance(obj[name], list) else [obj[name]]
                for i, v in enumerate(values):
                    at = f"{where}.{name}" + (f"[{i}]" if isinstance(obj[name], list) else "")
                    self.binding(v, b, at, file)
        props = self.defs.get(dname, {}).get("properties", {})
        for key, value in obj.items():
            prop = props.get(key)
            if not prop:
                continue
            ref = prop.get("$ref") or prop.get("items", {}).get("$ref")
            if not ref:
                continue
            target = ref.rsplit("/", 1)[-1]
            items = value if isinstance(value, list) else [value]
            for i, item in enumerate(items):
                at = f"{where}.{key}" + (f"[{i}]" if isinstance(value, list) else "")
                if target == "ResourceList":
                    self.resource(item, at, file)
                elif target in self.def_paths:
                    self.obj(item, target, at, file)

    def binding(self, value, b, at, file):
        codes = b["codes"]
        vs = b["valueSet"]
        if b["type"] == "code":
            if isinstance(value, str) and not any(value in c for c in codes.values()):
                self.add(file, at, "binding-code", f"{value!r} not in {vs}")
            return
        if b["type"] == "Coding":
            if isinstance(value, dict) and (value.get("system") in codes or "code" in value):
                if value.get("code") not in codes.get(value.get("system"), []):
                    self.add(file, at, "binding-coding", f"{value.get('system')}|{value.get('code')} not in {vs}")
            return
        if not isinstance(value, dict):
            return
        codings = [c for c in value.get("coding", []) if isinstance(c, dict)]
        if any(c.get("code") in codes.get(c.get("system"), []) for c in codings):
            return
        shown = ", ".join(f"{c.get('system')}|{c.get('code')}" for c in codings) or f"text only: {value.get('text')!r}"
        if any(c.get("system") in codes for c in codings):
            self.add(file, at, "binding-cc-not-in", f"{shown} not in {vs}")
        elif not value.get("coding") and not value.get("text") and set(value) <= {"id", "extension"}:
            pass  # only extensions (e.g. data-absent-reason): nothing to check
        else:
            self.add(file, at, "binding-cc-no-system", f"{shown}: no coding from {vs}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("corpus")
    ap.add_argument("--package", help="hl7.fhir.r4.examples@4.0.1 tarball (for the StructureDefinitions)")
    ap.add_argument("--quiet", action="store_true", help="counts only, no list of violations")
    args = ap.parse_args()
    pkg = args.package or (args.corpus if os.path.isfile(args.corpus) else None)
    package = digest.read_package(pkg)
    with open(digest.SCHEMA, encoding="utf-8") as f:
        schema = json.load(f)
    with open(digest.OUTPUT, encoding="utf-8") as f:
        types = json.load(f)["types"]
    checker = Checker(schema, digest.schema_paths(package, schema), types)
    corpus = read_corpus(args.corpus)
    for name, doc in corpus:
        checker.resource(doc, doc.get("resourceType", "?") if isinstance(doc, dict) else "?", name)
    v = checker.violations
    files = {f for f, *_ in v}
    print(f"corpus: {len(corpus)} resources; violations: {len(v)} in {len(files)} files")
    for rule, n in sorted(collections.Counter(r for _, _, r, _ in v).items()):
        nf = len({f for f, _, r, _ in v if r == rule})
        print(f"  {rule}: {n} in {nf} files")
    if not args.quiet:
        for f, where, rule, text in v:
            print(f"{f}\t{where}\t{rule}\t{text}")


if __name__ == "__main__":
    main()
