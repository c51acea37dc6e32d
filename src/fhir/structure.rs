//! The R4 structure a FHIR resource is checked against, and the walk that checks it.
//!
//! [`Model`] is compiled once from two files:
//! - the vendored **strict** HL7 FHIR R4 JSON schema (`schemas/fhir/fhir.schema.json`, made by
//!   `schemas/fhir/patch.py`): every definition, its properties, what each holds (a complex type, any resource,
//!   a primitive with its JSON type, pattern and range, a code list, a constant), whether it is an array (and
//!   whether it may be empty or hold `null`s), and the schema's `required` lists;
//! - the digest of the R4 StructureDefinitions (`schemas/fhir/r4-structure.json`, made by
//!   `schemas/fhir/digest.py`): what the schema cannot say — every element with `min >= 1` (primitives too),
//!   choice types `[x]` (at most one of `valueString`, `valueQuantity` …), and required bindings whose value set
//!   is in the HL7 package.
//!
//! The walk is a [`serde::de::Visitor`] driven straight by the JSON parser: a document is checked while it is
//! parsed, without building a `serde_json::Value`, allocating only for what it reports. Every finding carries
//! the JSON Pointer of the element at fault. A resource position (a Bundle entry, `contained`, a parameter's
//! `resource`) is typed by its `resourceType`; when that is not the resource's first member, its members are
//! kept as raw JSON slices until it is found, then checked. What the walk implements is exactly the strict
//! schema's keywords (`type`, `properties` with `additionalProperties: false`, `required`, `enum`, `const`,
//! `pattern`, `minimum`/`maximum`, `minItems`, `items`, `$ref`, `anyOf` of `null` and a type) plus the digest's
//! rules and real calendar dates; `tests/fhir_validation.rs` checks its verdicts against the `jsonschema`
//! crate on the same schema.

use std::marker::PhantomData;

use regex::Regex;
use rustc_hash::{FxHashMap, FxHashSet};
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::Finding;

/// Longest message kept; longer ones are cut with `…`.
pub(crate) const MAX_MESSAGE_CHARS: usize = 400;

/// The most properties one definition may have (`ElementDefinition` has 291): the size of the presence bitset.
const MAX_PROPERTIES: usize = 512;

/// The error text a walk stops with once it has found enough (never shown: the walker's flag says so).
const STOP: &str = "scr-assure: the walk stopped (finding limit reached)";

type TypeId = u32;

/// Why the model could not be built from the vendored files.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ModelError {
    #[error("{file} is not valid JSON: {message}")]
    Parse { file: &'static str, message: String },
    #[error("{file} is not what the validator expects: {message}")]
    Shape { file: &'static str, message: String },
}

const SCHEMA_FILE: &str = "schemas/fhir/fhir.schema.json";
const DIGEST_FILE: &str = "schemas/fhir/r4-structure.json";

/// The JSON type a primitive must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum JsonKind {
    String,
    Number,
    Integer,
    Boolean,
    /// No `type` in the schema.
    Any,
}

impl JsonKind {
    fn name(self) -> &'static str {
        match self {
            JsonKind::String => "string",
            JsonKind::Number => "number",
            JsonKind::Integer => "integer",
            JsonKind::Boolean => "boolean",
            JsonKind::Any => "any",
        }
    }
}

/// A primitive type: a schema definition without properties, or a property's inline primitive.
#[derive(Debug)]
struct Prim {
    json: JsonKind,
    pattern: Option<Regex>,
    minimum: Option<f64>,
    maximum: Option<f64>,
    /// `date`, `dateTime` or `instant`: real calendar dates are checked too.
    temporal: Option<&'static str>,
}

/// What an element holds.
#[derive(Debug, Clone)]
enum Kind {
    Complex(TypeId),
    /// Any resource, by its `resourceType` (`ResourceList`).
    Resource,
    Prim(u32),
    Enum(Box<[Box<str>]>),
    Const(Box<str>),
    /// The schema says nothing the walk can check.
    Any,
}

/// One property of a definition.
#[derive(Debug)]
struct Prop {
    name: Box<str>,
    kind: Kind,
    /// `Some` for an array: its `minItems` and whether its items may be `null` (primitive-extension arrays).
    array: Option<ArraySpec>,
    /// A required binding to check (an index into [`Model::bindings`]).
    binding: Option<u32>,
}

#[derive(Debug, Clone, Copy)]
struct ArraySpec {
    min_items: usize,
    null_items: bool,
}

/// A rule that one of several members be present (`status` or `_status`; any variant of `value[x]`).
#[derive(Debug)]
struct Required {
    /// The element's name as the message gives it (`status`, `value[x]`).
    name: Box<str>,
    any_of: Box<[u16]>,
}

/// A choice type: at most one of its variants (each with its `_` twin) may be present.
#[derive(Debug)]
struct Choice {
    /// `value[x]`.
    name: Box<str>,
    /// Per variant: the member and its `_` twin, if the schema has one.
    variants: Box<[(u16, Option<u16>)]>,
}

/// A required binding whose value set was expanded locally.
#[derive(Debug)]
struct Binding {
    value_set: Box<str>,
    /// system → codes.
    codes: FxHashMap<Box<str>, FxHashSet<Box<str>>>,
}

impl Binding {
    fn contains(&self, system: Option<&str>, code: &str) -> bool {
        match system {
            Some(system) => self.codes.get(system).is_some_and(|codes| codes.contains(code)),
            None => self.codes.values().any(|codes| codes.contains(code)),
        }
    }
}

/// A complex type, backbone element or resource.
#[derive(Debug)]
struct TypeDef {
    /// The schema's definition name (`Observation_Component`).
    name: Box<str>,
    props: Vec<Prop>,
    index: FxHashMap<Box<str>, u16>,
    required: Vec<Required>,
    choices: Vec<Choice>,
}

/// The compiled R4 structure (see the module documentation).
#[derive(Debug)]
pub(crate) struct Model {
    types: Vec<TypeDef>,
    by_name: FxHashMap<Box<str>, TypeId>,
    /// The resource types (the schema's discriminator mapping).
    resources: FxHashMap<Box<str>, TypeId>,
    prims: Vec<Prim>,
    bindings: Vec<Binding>,
    /// `Coding`, and its `system` and `code` members, for the bindings.
    coding: Option<(TypeId, u16, u16)>,
    /// Whether real calendar dates are checked (off only for the schema-only model the tests compare with
    /// `jsonschema`).
    calendar: bool,
}

impl Model {
    /// Builds the model from the schema and the digest texts.
    pub(crate) fn build(schema_json: &str, digest_json: &str) -> Result<Model, ModelError> {
        let schema: Value = serde_json::from_str(schema_json)
            .map_err(|e| ModelError::Parse { file: SCHEMA_FILE, message: e.to_string() })?;
        let digest: Value = serde_json::from_str(digest_json)
            .map_err(|e| ModelError::Parse { file: DIGEST_FILE, message: e.to_string() })?;
        let shape = |message: String| ModelError::Shape { file: SCHEMA_FILE, message };
        let definitions =
            schema.get("definitions").and_then(Value::as_object).ok_or_else(|| shape("no /definitions".into()))?;
        let mapping = schema
            .pointer("/discriminator/mapping")
            .and_then(Value::as_object)
            .ok_or_else(|| shape("no /discriminator/mapping".into()))?;

        // 1. Primitives (definitions without properties), then complex definitions get their ids.
        let mut prims = Vec::new();
        let mut prim_ids: FxHashMap<&str, u32> = FxHashMap::default();
        for (name, def) in definitions {
            if def.get("properties").is_some() || name == "ResourceList" {
                continue;
            }
            let prim = primitive(name, def).map_err(shape)?;
            prim_ids.insert(name.as_str(), prims.len() as u32);
            prims.push(prim);
        }
        let complex: Vec<(&String, &Map<String, Value>)> =
            definitions.iter().filter_map(|(name, def)| Some((name, def.get("properties")?.as_object()?))).collect();
        let by_name: FxHashMap<Box<str>, TypeId> =
            complex.iter().enumerate().map(|(i, (name, _))| (Box::<str>::from(name.as_str()), i as TypeId)).collect();

        // 2. Properties.
        let mut types = Vec::with_capacity(complex.len());
        for (name, props) in &complex {
            if props.len() > MAX_PROPERTIES {
                return Err(shape(format!(
                    "{name} has {} properties; at most {MAX_PROPERTIES} are supported",
                    props.len()
                )));
            }
            let mut list = Vec::with_capacity(props.len());
            for (prop_name, spec) in props.iter() {
                let (kind, array) = if spec.get("type").and_then(Value::as_str) == Some("array") {
                    let items = spec.get("items").unwrap_or(&Value::Null);
                    let (kind, nullable) =
                        kind_of(items, definitions, &by_name, &prim_ids, &mut prims).map_err(shape)?;
                    let min_items = spec.get("minItems").and_then(Value::as_u64).unwrap_or(0) as usize;
                    (kind, Some(ArraySpec { min_items, null_items: nullable }))
                } else {
                    let (kind, _) = kind_of(spec, definitions, &by_name, &prim_ids, &mut prims).map_err(shape)?;
                    (kind, None)
                };
                list.push(Prop { name: prop_name.as_str().into(), kind, array, binding: None });
            }
            let index = list.iter().enumerate().map(|(i, p)| (p.name.clone(), i as u16)).collect();
            let def = &definitions[name.as_str()];
            let mut td =
                TypeDef { name: name.as_str().into(), props: list, index, required: Vec::new(), choices: Vec::new() };
            if let Some(required) = def.get("required").and_then(Value::as_array) {
                for r in required.iter().filter_map(Value::as_str) {
                    td.require(r, &[r]);
                }
            }
            types.push(td);
        }
        let resources = mapping
            .keys()
            .map(|k| {
                by_name
                    .get(k.as_str())
                    .map(|&t| (Box::<str>::from(k.as_str()), t))
                    .ok_or_else(|| shape(format!("the discriminator names {k}, which has no definition")))
            })
            .collect::<Result<FxHashMap<_, _>, _>>()?;

        let mut model = Model { types, by_name, resources, prims, bindings: Vec::new(), coding: None, calendar: true };
        model.coding = model.by_name.get("Coding").and_then(|&t| {
            let td = &model.types[t as usize];
            Some((t, *td.index.get("system")?, *td.index.get("code")?))
        });
        model.apply_digest(&digest)?;
        Ok(model)
    }

    /// The StructureDefinition path of every definition (`Observation_Component` → `Observation.component`),
    /// found by walking from the top-level types (definitions without `_` in their name).
    fn sd_paths(&self) -> FxHashMap<String, TypeId> {
        let mut paths: FxHashMap<String, TypeId> = FxHashMap::default();
        let mut assigned = vec![false; self.types.len()];
        let mut queue: std::collections::VecDeque<(String, TypeId)> = self
            .types
            .iter()
            .enumerate()
            .filter(|(_, t)| !t.name.contains('_'))
            .map(|(i, t)| (t.name.to_string(), i as TypeId))
            .collect();
        for (_, t) in &queue {
            assigned[*t as usize] = true;
        }
        while let Some((path, t)) = queue.pop_front() {
            for prop in &self.types[t as usize].props {
                if let Kind::Complex(child) = prop.kind {
                    if !assigned[child as usize] && self.types[child as usize].name.contains('_') {
                        assigned[child as usize] = true;
                        queue.push_back((format!("{path}.{}", prop.name), child));
                    }
                }
            }
            paths.insert(path, t);
        }
        paths
    }

    fn apply_digest(&mut self, digest: &Value) -> Result<(), ModelError> {
        let shape = |message: String| ModelError::Shape { file: DIGEST_FILE, message };
        let types = digest.get("types").and_then(Value::as_object).ok_or_else(|| shape("no /types".into()))?;
        let paths = self.sd_paths();
        for (path, rules) in types {
            // A path the schema has no definition for (a profile-only type) has nothing to check here.
            let Some(&t) = paths.get(path.as_str()) else { continue };
            if let Some(choices) = rules.get("choices").and_then(Value::as_object) {
                for (base, variants) in choices {
                    let names: Vec<&str> =
                        variants.as_array().map(|v| v.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
                    let td = &mut self.types[t as usize];
                    let variants: Vec<(u16, Option<u16>)> = names
                        .iter()
                        .filter_map(|n| Some((*td.index.get(*n)?, td.index.get(format!("_{n}").as_str()).copied())))
                        .collect();
                    if variants.len() > 1 {
                        td.choices.push(Choice { name: format!("{base}[x]").into(), variants: variants.into() });
                    }
                }
            }
            if let Some(required) = rules.get("required").and_then(Value::as_array) {
                for name in required.iter().filter_map(Value::as_str) {
                    let td = &mut self.types[t as usize];
                    if let Some(base) = name.strip_suffix("[x]") {
                        let members: Vec<String> = td
                            .choices
                            .iter()
                            .find(|c| &*c.name == name)
                            .map(|c| c.variants.iter().map(|(v, _)| td.props[*v as usize].name.to_string()).collect())
                            .unwrap_or_else(|| {
                                td.props
                                    .iter()
                                    .filter(|p| is_variant(&p.name, base))
                                    .map(|p| p.name.to_string())
                                    .collect()
                            });
                        let refs: Vec<&str> = members.iter().map(String::as_str).collect();
                        td.require(name, &refs);
                    } else {
                        td.require(name, &[name]);
                    }
                }
            }
            if let Some(bindings) = rules.get("bindings").and_then(Value::as_object) {
                for (name, b) in bindings {
                    let Some(&i) = self.types[t as usize].index.get(name.as_str()) else { continue };
                    let mut codes: FxHashMap<Box<str>, FxHashSet<Box<str>>> = FxHashMap::default();
                    for (system, list) in b.get("codes").and_then(Value::as_object).into_iter().flatten() {
                        let set = codes.entry(system.as_str().into()).or_default();
                        set.extend(
                            list.as_array().into_iter().flatten().filter_map(Value::as_str).map(Box::<str>::from),
                        );
                    }
                    let value_set = b.get("valueSet").and_then(Value::as_str).unwrap_or("(unnamed value set)");
                    self.bindings.push(Binding { value_set: value_set.into(), codes });
                    self.types[t as usize].props[i as usize].binding = Some(self.bindings.len() as u32 - 1);
                }
            }
        }
        Ok(())
    }

    /// The same model without the calendar checks.
    pub(crate) fn without_calendar(mut self) -> Model {
        self.calendar = false;
        self
    }

    /// The resource types the schema knows.
    pub(crate) fn resource_types(&self) -> impl Iterator<Item = &str> {
        self.resources.keys().map(|k| &**k)
    }

    /// Whether `name` is a definition with properties (a resource, complex type or backbone element).
    pub(crate) fn has_type(&self, name: &str) -> bool {
        self.by_name.contains_key(name)
    }

    /// Checks the JSON text `bytes` as a resource (`as_type`: `None`; the type its `resourceType` names) or as
    /// the named definition. Stops after `limit` findings. `Err` when the text is not JSON.
    pub(crate) fn check(
        &self,
        bytes: &[u8],
        as_type: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Finding>, serde_json::Error> {
        let expect = match as_type {
            None => Expect::Resource,
            Some(name) => match self.by_name.get(name) {
                Some(&t) => Expect::Object(t, None),
                None => {
                    return Ok(vec![Finding {
                        path: String::new(),
                        message: format!("unknown resourceType '{}'", clip(name)),
                    }])
                }
            },
        };
        let mut walker = Walker {
            model: self,
            path: Vec::new(),
            findings: Vec::new(),
            limit: limit.max(1),
            stopped: false,
            codings: Vec::new(),
            capture: None,
        };
        let mut de = serde_json::Deserializer::from_slice(bytes);
        let result = Walk { w: &mut walker, expect, nullable: false }.deserialize(&mut de).and_then(|()| de.end());
        match result {
            Ok(()) => Ok(walker.findings),
            Err(_) if walker.stopped => Ok(walker.findings),
            Err(e) => Err(e),
        }
    }
}

impl TypeDef {
    /// Adds the rule that one of `members` (or its `_` twin) be present, if the schema has any of them.
    fn require(&mut self, name: &str, members: &[&str]) {
        if self.required.iter().any(|r| &*r.name == name) {
            return;
        }
        let mut any_of = Vec::new();
        for m in members {
            any_of.extend(self.index.get(*m).copied());
            any_of.extend(self.index.get(format!("_{m}").as_str()).copied());
        }
        if !any_of.is_empty() {
            self.required.push(Required { name: name.into(), any_of: any_of.into() });
        }
    }
}

/// Whether `name` is a variant of the choice element `base` (`valueString` of `value`).
fn is_variant(name: &str, base: &str) -> bool {
    name.strip_prefix(base).is_some_and(|rest| rest.chars().next().is_some_and(|c| c.is_ascii_uppercase()))
}

/// A primitive definition: its JSON type, pattern and range.
fn primitive(name: &str, def: &Value) -> Result<Prim, String> {
    let json = match def.get("type").and_then(Value::as_str) {
        Some("string") => JsonKind::String,
        Some("number") => JsonKind::Number,
        Some("integer") => JsonKind::Integer,
        Some("boolean") => JsonKind::Boolean,
        None => JsonKind::Any,
        Some(other) => return Err(format!("the primitive {name} has the type {other:?}")),
    };
    // A pattern constrains strings only (JSON Schema): `boolean`'s and the numbers' patterns are inert.
    let pattern = match (json, def.get("pattern").and_then(Value::as_str)) {
        (JsonKind::String | JsonKind::Any, Some(p)) => {
            Some(Regex::new(p).map_err(|e| format!("the pattern of {name} does not compile: {e}"))?)
        }
        _ => None,
    };
    let temporal = match name {
        "date" => Some("date"),
        "dateTime" => Some("dateTime"),
        "instant" => Some("instant"),
        _ => None,
    };
    Ok(Prim {
        json,
        pattern,
        minimum: def.get("minimum").and_then(Value::as_f64),
        maximum: def.get("maximum").and_then(Value::as_f64),
        temporal,
    })
}

/// What a property schema (or an array's `items`) holds, and whether `null` is allowed.
fn kind_of(
    spec: &Value,
    definitions: &Map<String, Value>,
    by_name: &FxHashMap<Box<str>, TypeId>,
    prim_ids: &FxHashMap<&str, u32>,
    prims: &mut Vec<Prim>,
) -> Result<(Kind, bool), String> {
    if let Some(r) = spec.get("$ref").and_then(Value::as_str) {
        let name = r.strip_prefix("#/definitions/").ok_or_else(|| format!("unexpected $ref {r}"))?;
        let kind = if name == "ResourceList" {
            Kind::Resource
        } else if let Some(&t) = by_name.get(name) {
            Kind::Complex(t)
        } else if let Some(&p) = prim_ids.get(name) {
            Kind::Prim(p)
        } else {
            return Err(format!("$ref to an unknown definition {name}"));
        };
        return Ok((kind, false));
    }
    if let Some(list) = spec.get("anyOf").or_else(|| spec.get("oneOf")).and_then(Value::as_array) {
        let nullable = list.iter().any(|s| s.get("type").and_then(Value::as_str) == Some("null"));
        let others: Vec<&Value> =
            list.iter().filter(|s| s.get("type").and_then(Value::as_str) != Some("null")).collect();
        if let [only] = others.as_slice() {
            let (kind, inner) = kind_of(only, definitions, by_name, prim_ids, prims)?;
            return Ok((kind, nullable || inner));
        }
        return Ok((Kind::Any, nullable));
    }
    if let Some(values) = spec.get("enum").and_then(Value::as_array) {
        return Ok((Kind::Enum(values.iter().filter_map(Value::as_str).map(Box::<str>::from).collect()), false));
    }
    if let Some(c) = spec.get("const").and_then(Value::as_str) {
        return Ok((Kind::Const(c.into()), false));
    }
    if spec.get("type").is_some() || spec.get("pattern").is_some() {
        // An inline primitive: the definition with the same type and pattern, else an anonymous one.
        let ty = spec.get("type");
        let pattern = spec.get("pattern");
        let same = prim_ids.iter().find(|(name, _)| {
            let d = &definitions[**name];
            d.get("type") == ty
                && d.get("pattern") == pattern
                && d.get("minimum") == spec.get("minimum")
                && d.get("maximum") == spec.get("maximum")
        });
        if let Some((_, &p)) = same {
            return Ok((Kind::Prim(p), false));
        }
        let prim = primitive("(inline)", spec)?;
        prims.push(prim);
        return Ok((Kind::Prim(prims.len() as u32 - 1), false));
    }
    Ok((Kind::Any, false))
}

// ---- the walk ---------------------------------------------------------------------------------------------

/// One step of the path to the element being checked.
enum Seg {
    Prop(TypeId, u16),
    Index(u32),
}

/// The system and code of a Coding under a required binding.
#[derive(Default)]
struct Coded {
    system: Option<String>,
    code: Option<String>,
}

/// The codings met inside an element with a required binding.
struct CodingCollector {
    /// The path depth of the bound element.
    base: usize,
    codings: Vec<Coded>,
}

#[derive(Clone, Copy)]
enum Capture {
    System,
    Code,
}

struct Walker<'m> {
    model: &'m Model,
    path: Vec<Seg>,
    findings: Vec<Finding>,
    limit: usize,
    stopped: bool,
    codings: Vec<CodingCollector>,
    capture: Option<Capture>,
}

impl Walker<'_> {
    fn path_string(&self) -> String {
        let mut out = String::new();
        for seg in &self.path {
            match *seg {
                Seg::Prop(t, i) => push_segment(&mut out, &self.model.types[t as usize].props[i as usize].name),
                Seg::Index(i) => {
                    out.push('/');
                    out.push_str(&i.to_string());
                }
            }
        }
        out
    }

    /// Records a finding at the current path; stops the walk (an error the caller recognises by `stopped`) once
    /// the limit is reached.
    fn report<E: de::Error>(&mut self, message: String) -> Result<(), E> {
        let path = self.path_string();
        self.findings.push(Finding { path, message: clip(&message) });
        if self.findings.len() >= self.limit {
            self.stopped = true;
            return Err(E::custom(STOP));
        }
        Ok(())
    }
}

/// What the walk expects at a position.
#[derive(Clone, Copy)]
enum Expect<'m> {
    Resource,
    Object(TypeId, Option<u32>),
    Prim(u32, Option<u32>),
    Enum(&'m [Box<str>]),
    Const(&'m str),
    Array(&'m Prop),
    Any,
}

impl<'m> Expect<'m> {
    fn of(prop: &'m Prop) -> Expect<'m> {
        match prop.array {
            Some(_) => Expect::Array(prop),
            None => Expect::item(prop),
        }
    }

    fn item(prop: &'m Prop) -> Expect<'m> {
        match &prop.kind {
            Kind::Complex(t) => Expect::Object(*t, prop.binding),
            Kind::Resource => Expect::Resource,
            Kind::Prim(p) => Expect::Prim(*p, prop.binding),
            Kind::Enum(list) => Expect::Enum(list),
            Kind::Const(c) => Expect::Const(c),
            Kind::Any => Expect::Any,
        }
    }
}

/// The visitor: checks one JSON value against what is expected there.
struct Walk<'w, 'm> {
    w: &'w mut Walker<'m>,
    expect: Expect<'m>,
    nullable: bool,
}

/// A member name, borrowed from the input when it has no escapes.
enum Key<'de> {
    Borrowed(&'de str),
    Owned(String),
}

impl std::ops::Deref for Key<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        match self {
            Key::Borrowed(s) => s,
            Key::Owned(s) => s,
        }
    }
}

struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Key<'de>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Key<'de>, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed {
    type Value = Key<'de>;
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a member name")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
        Ok(Key::Borrowed(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Key<'de>, E> {
        Ok(Key::Owned(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Key<'de>, E> {
        Ok(Key::Owned(v))
    }
}

/// The members of an object, streamed from the parser or held as raw slices.
trait Members<'de> {
    type Error: de::Error;
    fn next_key(&mut self) -> Result<Option<Key<'de>>, Self::Error>;
    fn walk_value(&mut self, seed: Walk<'_, '_>) -> Result<(), Self::Error>;
    fn skip_value(&mut self) -> Result<(), Self::Error>;
}

struct Streamed<A>(A);

impl<'de, A: MapAccess<'de>> Members<'de> for Streamed<A> {
    type Error = A::Error;
    fn next_key(&mut self) -> Result<Option<Key<'de>>, A::Error> {
        self.0.next_key_seed(KeySeed)
    }
    fn walk_value(&mut self, seed: Walk<'_, '_>) -> Result<(), A::Error> {
        self.0.next_value_seed(seed)
    }
    fn skip_value(&mut self) -> Result<(), A::Error> {
        self.0.next_value::<IgnoredAny>().map(|_| ())
    }
}

struct Buffered<'de, E> {
    entries: std::vec::IntoIter<(Key<'de>, &'de RawValue)>,
    current: Option<&'de RawValue>,
    _error: PhantomData<E>,
}

impl<'de, E: de::Error> Members<'de> for Buffered<'de, E> {
    type Error = E;
    fn next_key(&mut self) -> Result<Option<Key<'de>>, E> {
        Ok(self.entries.next().map(|(k, raw)| {
            self.current = Some(raw);
            k
        }))
    }
    fn walk_value(&mut self, seed: Walk<'_, '_>) -> Result<(), E> {
        let Some(raw) = self.current.take() else { return Ok(()) };
        let mut de = serde_json::Deserializer::from_str(raw.get());
        seed.deserialize(&mut de).map_err(E::custom)
    }
    fn skip_value(&mut self) -> Result<(), E> {
        self.current = None;
        Ok(())
    }
}

impl<'de> DeserializeSeed<'de> for Walk<'_, '_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'m> Walk<'_, 'm> {
    /// The type error for `found` (how the value is shown) at a position that expects `self.expect`.
    fn mismatch<E: de::Error>(&mut self, found: &str) -> Result<(), E> {
        let model = self.w.model;
        let message = match self.expect {
            Expect::Resource if self.w.path.is_empty() => {
                format!("expected a JSON object (a FHIR resource); found {}", describe(found))
            }
            Expect::Resource | Expect::Object(..) => format!("{found} is not of type \"object\""),
            Expect::Array(_) => format!("{found} is not of type \"array\""),
            Expect::Prim(p, _) => format!("{found} is not of type \"{}\"", model.prims[p as usize].json.name()),
            Expect::Enum(list) => format!("{found} is not one of {}", enum_list(list)),
            Expect::Const(c) => format!("{} was expected", quote(c)),
            Expect::Any => return Ok(()),
        };
        self.w.report(message)
    }

    fn string<E: de::Error>(mut self, s: &str) -> Result<(), E> {
        if let Some(capture) = self.w.capture.take() {
            if let Some(collector) = self.w.codings.last_mut() {
                if let Some(coded) = collector.codings.last_mut() {
                    match capture {
                        Capture::System => coded.system = Some(s.to_owned()),
                        Capture::Code => coded.code = Some(s.to_owned()),
                    }
                }
            }
        }
        let model = self.w.model;
        match self.expect {
            Expect::Prim(p, binding) => {
                let prim = &model.prims[p as usize];
                if !matches!(prim.json, JsonKind::String | JsonKind::Any) {
                    return self.mismatch(&quote(s));
                }
                if let Some(re) = &prim.pattern {
                    if !re.is_match(s) {
                        return self.w.report(format!("{} does not match \"{}\"", quote(s), re.as_str()));
                    }
                }
                if let Some(kind) = prim.temporal.filter(|_| model.calendar) {
                    if let Some(why) = impossible_date(s) {
                        return self.w.report(format!("{} is not a valid {kind}: {why}", quote(s)));
                    }
                }
                if let Some(b) = binding {
                    let binding = &model.bindings[b as usize];
                    if !binding.contains(None, s) {
                        return self.w.report(format!(
                            "{} is not in the required value set {}",
                            quote(s),
                            binding.value_set
                        ));
                    }
                }
                Ok(())
            }
            Expect::Enum(list) => {
                if list.iter().any(|c| &**c == s) {
                    Ok(())
                } else {
                    self.mismatch(&quote(s))
                }
            }
            Expect::Const(c) => {
                if c == s {
                    Ok(())
                } else {
                    self.mismatch(&quote(s))
                }
            }
            Expect::Any => Ok(()),
            _ => self.mismatch(&quote(s)),
        }
    }

    fn number<E: de::Error>(mut self, shown: String, value: f64, integral: bool) -> Result<(), E> {
        let model = self.w.model;
        match self.expect {
            Expect::Prim(p, _) => {
                let prim = &model.prims[p as usize];
                match prim.json {
                    JsonKind::Number | JsonKind::Any => {}
                    JsonKind::Integer if integral => {}
                    _ => return self.mismatch(&shown),
                }
                if let Some(min) = prim.minimum {
                    if value < min {
                        return self.w.report(format!("{shown} is less than the minimum of {}", show_f64(min)));
                    }
                }
                if let Some(max) = prim.maximum {
                    if value > max {
                        return self.w.report(format!("{shown} is greater than the maximum of {}", show_f64(max)));
                    }
                }
                Ok(())
            }
            Expect::Any => Ok(()),
            _ => self.mismatch(&shown),
        }
    }

    /// Checks an object's members against the definition `t`; `seen` holds members already read.
    fn object<'de, M: Members<'de>>(
        self,
        t: TypeId,
        binding: Option<u32>,
        mut members: M,
        mut seen: [u64; 8],
    ) -> Result<(), M::Error> {
        let w = self.w;
        let model = w.model;
        let td = &model.types[t as usize];
        if binding.is_some() {
            w.codings.push(CodingCollector { base: w.path.len(), codings: Vec::new() });
        }
        // A Coding directly under a bound element (the element itself, or CodeableConcept.coding[i]).
        let coding = match (model.coding, w.codings.last()) {
            (Some((ct, sys, code)), Some(c)) if ct == t && (c.base == w.path.len() || c.base + 2 == w.path.len()) => {
                Some((sys, code))
            }
            _ => None,
        };
        if coding.is_some() {
            if let Some(c) = w.codings.last_mut() {
                c.codings.push(Coded::default());
            }
        }
        while let Some(key) = members.next_key()? {
            match td.index.get(&*key) {
                Some(&i) => {
                    seen[i as usize / 64] |= 1 << (i % 64);
                    let prop = &td.props[i as usize];
                    w.capture = match coding {
                        Some((sys, _)) if sys == i => Some(Capture::System),
                        Some((_, code)) if code == i => Some(Capture::Code),
                        _ => None,
                    };
                    w.path.push(Seg::Prop(t, i));
                    let result = members.walk_value(Walk { w: &mut *w, expect: Expect::of(prop), nullable: false });
                    w.path.pop();
                    w.capture = None;
                    result?;
                }
                None => {
                    w.report(format!("Additional properties are not allowed ({} was unexpected)", single_quote(&key)))?;
                    members.skip_value()?;
                }
            }
        }
        let has = |i: u16| seen[i as usize / 64] & (1 << (i % 64)) != 0;
        for rule in &td.required {
            if !rule.any_of.iter().any(|&i| has(i)) {
                w.report(format!("{} is a required property", quote(&rule.name)))?;
            }
        }
        for choice in &td.choices {
            let present: Vec<&str> = choice
                .variants
                .iter()
                .filter(|(v, twin)| has(*v) || twin.is_some_and(has))
                .map(|(v, _)| &*td.props[*v as usize].name)
                .collect();
            if present.len() > 1 {
                let names: Vec<String> = present.iter().map(|n| quote(n)).collect();
                w.report(format!(
                    "only one of {} may be present: {} is a choice of one type",
                    names.join(", "),
                    choice.name
                ))?;
            }
        }
        if let Some(b) = binding {
            let collector = w.codings.pop();
            let binding = &model.bindings[b as usize];
            let codings = collector.map(|c| c.codings).unwrap_or_default();
            let ok = codings
                .iter()
                .any(|c| c.code.as_deref().is_some_and(|code| binding.contains(c.system.as_deref(), code)));
            if !ok {
                let found: Vec<String> = codings
                    .iter()
                    .map(|c| format!("{}|{}", c.system.as_deref().unwrap_or(""), c.code.as_deref().unwrap_or("")))
                    .collect();
                let found = if found.is_empty() { "no coding".to_owned() } else { found.join(", ") };
                w.report(format!("no coding is in the required value set {} (found {found})", binding.value_set))?;
            }
        }
        Ok(())
    }

    /// A resource position: typed by `resourceType`.
    fn resource<'de, A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let model = self.w.model;
        let Some(first) = map.next_key_seed(KeySeed)? else {
            return self.w.report("\"resourceType\" is a required property".into());
        };
        if &*first == "resourceType" {
            let rt: Value = map.next_value()?;
            let Some(t) = self.resource_type(&rt) else {
                self.w.report::<A::Error>(unknown_type(&rt))?;
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                return Ok(());
            };
            let mut seen = [0u64; 8];
            if let Some(&i) = model.types[t as usize].index.get("resourceType") {
                seen[i as usize / 64] |= 1 << (i % 64);
            }
            return self.object(t, None, Streamed(map), seen);
        }
        // `resourceType` is not first: keep the members as raw JSON until it is found.
        let mut entries: Vec<(Key<'de>, &'de RawValue)> = vec![(first, map.next_value()?)];
        while let Some(key) = map.next_key_seed(KeySeed)? {
            entries.push((key, map.next_value()?));
        }
        let Some((_, raw)) = entries.iter().find(|(k, _)| &**k == "resourceType") else {
            return self.w.report("\"resourceType\" is a required property".into());
        };
        let rt: Value = serde_json::from_str(raw.get()).map_err(de::Error::custom)?;
        let Some(t) = self.resource_type(&rt) else {
            return self.w.report(unknown_type(&rt));
        };
        self.object(
            t,
            None,
            Buffered { entries: entries.into_iter(), current: None, _error: PhantomData::<A::Error> },
            [0; 8],
        )
    }

    fn resource_type(&self, rt: &Value) -> Option<TypeId> {
        rt.as_str().and_then(|s| self.w.model.resources.get(s)).copied()
    }
}

fn unknown_type(rt: &Value) -> String {
    match rt {
        Value::String(s) => format!("unknown resourceType '{}'", clip(s)),
        other => format!("unknown resourceType {}", clip(&other.to_string())),
    }
}

impl<'de> Visitor<'de> for Walk<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a FHIR JSON value")
    }

    fn visit_bool<E: de::Error>(mut self, v: bool) -> Result<(), E> {
        match self.expect {
            Expect::Prim(p, _) if matches!(self.w.model.prims[p as usize].json, JsonKind::Boolean | JsonKind::Any) => {
                Ok(())
            }
            Expect::Any => Ok(()),
            _ => self.mismatch(if v { "true" } else { "false" }),
        }
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<(), E> {
        self.number(v.to_string(), v as f64, true)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<(), E> {
        self.number(v.to_string(), v as f64, true)
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<(), E> {
        let integral = v.is_finite() && v.fract() == 0.0;
        self.number(show_f64(v), v, integral)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        self.string(v)
    }

    fn visit_unit<E: de::Error>(mut self) -> Result<(), E> {
        if self.nullable {
            return Ok(());
        }
        self.mismatch("null")
    }

    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        self.visit_unit()
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<(), A::Error> {
        match self.expect {
            Expect::Object(t, binding) => self.object(t, binding, Streamed(map), [0; 8]),
            Expect::Resource => self.resource(map),
            Expect::Any => {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(())
            }
            _ => {
                self.mismatch::<A::Error>("{…}")?;
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(())
            }
        }
    }

    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<(), A::Error> {
        let Expect::Array(prop) = self.expect else {
            if !matches!(self.expect, Expect::Any) {
                self.mismatch::<A::Error>("[…]")?;
            }
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            return Ok(());
        };
        let spec = prop.array.unwrap_or(ArraySpec { min_items: 0, null_items: false });
        let item = Expect::item(prop);
        let w = self.w;
        let mut i = 0u32;
        loop {
            w.path.push(Seg::Index(i));
            let next = seq.next_element_seed(Walk { w: &mut *w, expect: item, nullable: spec.null_items });
            w.path.pop();
            if next?.is_none() {
                break;
            }
            i += 1;
        }
        if (i as usize) < spec.min_items {
            let shown = if i == 0 { "[]" } else { "[…]" };
            let noun = if spec.min_items == 1 { "item" } else { "items" };
            w.report::<A::Error>(format!("{shown} has less than {} {noun}", spec.min_items))?;
        }
        Ok(())
    }
}

// ---- texts ------------------------------------------------------------------------------------------------

/// A string as JSON shows it, clipped.
fn quote(s: &str) -> String {
    clip(&Value::String(s.to_owned()).to_string())
}

fn single_quote(s: &str) -> String {
    format!("'{}'", clip(s))
}

fn describe(found: &str) -> &'static str {
    match found.chars().next() {
        Some('[') => "an array",
        Some('{') => "an object",
        Some('"') => "a string",
        Some('t' | 'f') => "a boolean",
        Some('n') => "null",
        _ => "a number",
    }
}

fn enum_list(list: &[Box<str>]) -> String {
    let items: Vec<String> = list.iter().map(|c| quote(c)).collect();
    format!("[{}]", items.join(", "))
}

fn show_f64(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        v.to_string()
    }
}

/// Cuts a long message to [`MAX_MESSAGE_CHARS`] characters.
pub(crate) fn clip(s: &str) -> String {
    match s.char_indices().nth(MAX_MESSAGE_CHARS) {
        Some((at, _)) => format!("{}…", &s[..at]),
        None => s.to_owned(),
    }
}

/// Appends a JSON Pointer segment (RFC 6901 escaping).
pub(crate) fn push_segment(path: &mut String, key: &str) {
    path.push('/');
    for c in key.chars() {
        match c {
            '~' => path.push_str("~0"),
            '/' => path.push_str("~1"),
            c => path.push(c),
        }
    }
}

/// Why a string that matches a FHIR date pattern is not a real date (`None` when it is, or has no day).
pub(crate) fn impossible_date(s: &str) -> Option<String> {
    let b = s.as_bytes();
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let year: i32 = s.get(0..4)?.parse().ok()?;
    let month: u32 = s.get(5..7)?.parse().ok()?;
    let day: u32 = s.get(8..10)?.parse().ok()?;
    if chrono::NaiveDate::from_ymd_opt(year, month, day).is_some() {
        return None;
    }
    let days = (28..=31).rev().find(|d| chrono::NaiveDate::from_ymd_opt(year, month, *d).is_some())?;
    let name = chrono::Month::try_from(u8::try_from(month).ok()?).ok()?.name();
    Some(format!("{name} {year} has {days} days"))
}
