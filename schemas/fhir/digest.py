#!/usr/bin/env python3
"""Digest what the FHIR R4 StructureDefinitions say beyond the JSON schema: schemas/fhir/r4-structure.json.

    python3 schemas/fhir/digest.py [--tarball PATH] [--check]

Source: npm `hl7.fhir.r4.examples@4.0.1` (HL7, CC0-1.0): its `package/StructureDefinition-*.json`,
`ValueSet-*.json` and `CodeSystem-*.json`. Without --tarball it is fetched with `npm pack` into the same
cache as patch.py; its sha1 is checked either way. The strict schema `schemas/fhir/fhir.schema.json` is read
to check the generated member names and to leave out `code` elements the schema already holds to an enum.

Only the base resources and data types are used: StructureDefinitions with kind `resource` or
`complex-type` and derivation `specialization` (or no baseDefinition: Element, Resource), read from their
`snapshot`. Profiles (derivation `constraint`), primitives and logical models are left out.

For each type or backbone element (keyed by its path: `Observation`, `Observation.component`,
`Bundle.entry.request`, `Timing.repeat`) the digest holds, where there is something to say:
- `required`: JSON names of the direct children with min >= 1 (`value[x]` for a required choice);
- `choices`: for each `[x]` child, its base name -> the JSON member names of its variants;
- `bindings`: for direct children of type Coding, CodeableConcept or code (the latter only where the schema
  property has no enum) with a `required` binding whose value set expands locally and completely: the value
  set, the element type and the codes by system.
Value sets that cannot be expanded are skipped and listed on stdout (not in the file). With --check nothing
is written and the exit code is 1 if `r4-structure.json` differs from what would be written.

Expansion rules (documented in schemas/README.md): an include with `concept`s gives those codes; an include
of a whole code system needs that CodeSystem in the package with `content: complete` (nested concepts
flattened; concepts marked `notSelectable` or `abstract` true are left out: they are groupings, not codes
for data); an include with a `filter` is not expandable; an include of `valueSet`s is expanded recursively
(intersected with the include's system part if it has one); an exclude is applied when it is itself
expandable, otherwise the value set is skipped.
"""
import argparse
import hashlib
import io
import json
import os
import sys
import tarfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import patch  # noqa: E402

PACKAGE = "hl7.fhir.r4.examples@4.0.1"
TARBALL_SHA1 = "537ea7db3f3c7b3575fe2eaa7808bad21261cca3"
OUTPUT = os.path.join(HERE, "r4-structure.json")
SCHEMA = os.path.join(HERE, "fhir.schema.json")
BINDABLE = ("Coding", "CodeableConcept", "code")
NEVER_REQUIRED = ("id", "extension", "modifierExtension")


def read_package(tarball=None):
    """{file name: parsed JSON} of the package's StructureDefinition/ValueSet/CodeSystem resources."""
    if tarball is None:
        tarball = patch.npm_pack(PACKAGE, TARBALL_SHA1, patch.cache_dir())
    got = patch.sha1_of(tarball)
    if got != TARBALL_SHA1:
        sys.exit(f"{tarball}: sha1 {got}, expected {TARBALL_SHA1}")
    out = {}
    with tarfile.open(tarball, "r:gz") as tar:
        for m in tar.getmembers():
            name = m.name.split("/")[-1]
            if m.isfile() and name.startswith(("StructureDefinition-", "ValueSet-", "CodeSystem-")) \
                    and name.endswith(".json"):
                out[name] = json.loads(tar.extractfile(m).read().decode("utf-8"))
    return out


def upper_first(s):
    return s[:1].upper() + s[1:]


def owner_paths(sd):
    """The paths of SD that own members: the type itself and its backbone elements (in snapshot order).

    An element with a contentReference (Questionnaire.item.item -> #Questionnaire.item) owns nothing
    itself: its members are those of the referenced element.
    """
    owners = [sd["type"]]
    for e in sd["snapshot"]["element"]:
        codes = [t.get("code") for t in e.get("type", [])]
        if codes in (["BackboneElement"], ["Element"]) and "contentReference" not in e and e["path"] != sd["type"]:
            owners.append(e["path"])
    return owners


def schema_paths(package, schema):
    """{schema definition name: SD path} for the resources, complex types and their backbones.

    The schema names a backbone after its type and last path segment (Bundle.entry.request is
    Bundle_Request), so each backbone's definition is found from its parent's definition and property.
    Content references are not followed (the schema's property already points at the referenced
    element's definition).
    """
    defs = schema["definitions"]
    paths = {}
    for sd in base_sds(package):
        by_path = {sd["type"]: sd["type"]} if sd["type"] in defs else {}
        for path in owner_paths(sd)[1:]:
            parent, name = path.rsplit(".", 1)
            pdef = by_path.get(parent)
            prop = defs.get(pdef, {}).get("properties", {}).get(name, {})
            ref = prop.get("$ref") or prop.get("items", {}).get("$ref")
            if ref:
                by_path[path] = ref.rsplit("/", 1)[-1]
        for path, d in by_path.items():
            paths.setdefault(d, path)
    return paths


class Expander:
    def __init__(self, package):
        self.vs = {}
        self.cs = {}
        for doc in package.values():
            if doc.get("resourceType") == "ValueSet":
                self.vs[doc["url"]] = doc
            elif doc.get("resourceType") == "CodeSystem":
                self.cs[doc["url"]] = doc
        self.cache = {}

    def codesystem(self, url):
        """(codes, None) of a complete code system in the package, or (None, why)."""
        cs = self.cs.get(url)
        if cs is None:
            return None, f"code system {url} not in the package"
        if cs.get("content") != "complete":
            return None, f"code system {url} content is {cs.get('content')!r}"
        codes = []

        def walk(concepts):
            for c in concepts:
                props = {p.get("code"): p.get("valueBoolean") for p in c.get("property", [])}
                if not (props.get("notSelectable") is True or props.get("abstract") is True):
                    codes.append(c["code"])
                walk(c.get("concept", []))

        walk(cs.get("concept", []))
        return codes, None

    def part(self, inc):
        """{system: set(codes)} of one include/exclude entry, or (None, why)."""
        if inc.get("filter"):
            return None, f"filter on {inc.get('system')}"
        result = None
        system = inc.get("system")
        if system:
            if inc.get("concept"):
                result = {system: {c["code"] for c in inc["concept"]}}
            else:
                codes, why = self.codesystem(system)
                if codes is None:
                    return None, why
                result = {system: set(codes)}
        for vs_url in inc.get("valueSet", []):
            sub, why = self.expand(vs_url)
            if sub is None:
                return None, f"imported {vs_url}: {why}"
            if result is None:
                result = {k: set(v) for k, v in sub.items()}
            else:  # FHIR: the include is the intersection of its parts
                result = {k: v & sub.get(k, set()) for k, v in result.items()}
        if result is None:
            return None, "empty include"
        return result, None

    def expand(self, canonical):
        """({system: set(codes)}, None) or (None, why)."""
        url = canonical.split("|")[0]
        if url in self.cache:
            return self.cache[url]
        self.cache[url] = (None, "circular import")
        vs = self.vs.get(url)
        if vs is None:
            res = (None, "value set not in the package")
        elif "compose" not in vs:
            res = (None, "no compose")
        else:
            res = self._compose(vs["compose"])
        self.cache[url] = res
        return res

    def _compose(self, compose):
        codes = {}
        for inc in compose.get("include", []):
            part, why = self.part(inc)
            if part is None:
                return None, why
            for system, cs in part.items():
                codes.setdefault(system, set()).update(cs)
        for exc in compose.get("exclude", []):
            part, why = self.part(exc)
            if part is None:
                return None, f"exclude: {why}"
            for system, cs in part.items():
                if system in codes:
                    codes[system] -= cs
        codes = {k: v for k, v in codes.items() if v}
        if not codes:
            return None, "expands to nothing"
        return codes, None


def base_sds(package):
    out = []
    for doc in package.values():
        if doc.get("resourceType") != "StructureDefinition":
            continue
        if doc.get("kind") not in ("resource", "complex-type"):
            continue
        if doc.get("derivation") == "specialization" or not doc.get("baseDefinition"):
            out.append(doc)
    return sorted(out, key=lambda d: d["type"])


def make_digest(package, schema, report=print):
    defs = schema["definitions"]
    def_paths = schema_paths(package, schema)
    path_to_def = {p: d for d, p in def_paths.items()}
    expander = Expander(package)
    types = {}
    skipped = {}
    mismatches = []
    stats = {"sds": 0, "required": 0, "choices": 0, "bindings": 0}

    for sd in base_sds(package):
        stats["sds"] += 1
        elements = sd["snapshot"]["element"]
        owners = set(owner_paths(sd))  # paths that are a type or a backbone (their children are members)
        for e in elements:
            path = e["path"]
            if "." not in path:
                continue
            parent, name = path.rsplit(".", 1)
            if parent not in owners:
                continue
            entry = types.setdefault(parent, {})
            if name in NEVER_REQUIRED:
                continue
            if e.get("min", 0) >= 1:
                entry.setdefault("required", []).append(name)
                stats["required"] += 1
            type_codes = [t.get("code") for t in e.get("type", [])]
            if name.endswith("[x]"):
                base = name[:-3]
                names = [base + upper_first(c) for c in type_codes]
                entry.setdefault("choices", {})[base] = sorted(names)
                stats["choices"] += 1
                d = path_to_def.get(parent)
                props = defs.get(d, {}).get("properties", {}) if d else {}
                for n in names:
                    if n not in props:
                        mismatches.append(f"{path}: {n} not in schema definition {d}")
                continue
            b = e.get("binding")
            if len(type_codes) != 1 or type_codes[0] not in BINDABLE or not b or b.get("strength") != "required":
                continue
            if type_codes[0] == "code":
                d = path_to_def.get(parent)
                prop = defs.get(d, {}).get("properties", {}).get(name, {}) if d else {}
                if "enum" in prop or "enum" in prop.get("items", {}):
                    continue
            vs_url = b.get("valueSet")
            if not vs_url:
                continue
            codes, why = expander.expand(vs_url)
            if codes is None:
                skipped.setdefault(vs_url, (why, []))[1].append(path)
                continue
            entry.setdefault("bindings", {})[name] = {
                "valueSet": vs_url, "type": type_codes[0],
                "codes": {s: sorted(c) for s, c in sorted(codes.items())}}
            stats["bindings"] += 1

    for entry in types.values():
        if "required" in entry:
            entry["required"] = sorted(entry["required"])
    types = {k: v for k, v in types.items() if v}
    report(f"StructureDefinitions used: {stats['sds']}; types/backbones with entries: {len(types)}; "
           f"required members: {stats['required']}; choice groups: {stats['choices']}; "
           f"bindings expanded: {stats['bindings']} ({len({b['valueSet'] for t in types.values() for b in t.get('bindings', {}).values()})} value sets)")
    report(f"bindings skipped: {sum(len(p) for _, p in skipped.values())} elements, {len(skipped)} value sets:")
    for vs_url, (why, paths) in sorted(skipped.items()):
        report(f"  {vs_url}: {why}  [{', '.join(paths)}]")
    report(f"choice names not in the schema: {len(mismatches)}")
    for m in mismatches:
        report("  " + m)
    nodef = sorted(d for d, v in defs.items() if "properties" in v and d not in def_paths)
    report(f"schema definitions with properties and no SD path: {len(nodef)}" + "".join(f"\n  {d}" for d in nodef))
    unmapped = sorted(p for p in types if p not in path_to_def)
    report(f"digest paths with no schema definition: {len(unmapped)}" + "".join(f"\n  {p}" for p in unmapped))
    return {"source": {"package": PACKAGE, "sha1": TARBALL_SHA1, "script": "schemas/fhir/digest.py"},
            "types": types}


def dumps(digest):
    return json.dumps(digest, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tarball", help=f"the npm tarball of {PACKAGE} (default: npm pack into a cache)")
    ap.add_argument("--check", action="store_true", help="exit 1 if r4-structure.json differs from what is made")
    args = ap.parse_args()
    package = read_package(args.tarball)
    with open(SCHEMA, encoding="utf-8") as f:
        schema = json.load(f)
    data = dumps(make_digest(package, schema)).encode("utf-8")
    digest = hashlib.sha256(data).hexdigest()
    if args.check:
        with open(OUTPUT, "rb") as f:
            current = f.read()
        if current != data:
            print(f"DIFFERS: {OUTPUT} is not what digest.py makes")
            sys.exit(1)
        print(f"OK: {OUTPUT} is what digest.py makes ({len(data)} bytes, sha256 {digest})")
        return
    with open(OUTPUT, "wb") as f:
        f.write(data)
    print(f"wrote {OUTPUT}: {len(data)} bytes, sha256 {digest}")


if __name__ == "__main__":
    main()
