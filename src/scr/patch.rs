//! The change language of the scenarios (docs/STEPS.md "The change language"): small edits to a JSON body.
//!
//! A change is one or more edits separated by ` ; `:
//! `remove <pointer>`, `set <pointer> = <json>`, `add <pointer> = <json>`.
//! A pointer is an RFC 6901 JSON Pointer (`~1` = `/`, `~0` = `~`) whose segments may also be the selectors
//! `entry[Type]` (first `entry` element whose `resource.resourceType` is `Type`) and `agent[suffix]` (first
//! `agent` element whose `who.identifier.system` ends with `suffix`).
//! Edits apply in order; the first failure stops and says which edit failed and why (earlier edits stay).

use serde_json::Value;

/// A change that could not be applied: which edit (1-based), its text, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("edit {index} '{edit}': {reason}")]
pub struct PatchError {
    pub index: usize,
    pub edit: String,
    pub reason: String,
}

/// Applies every edit of `change` to `doc`, in order.
pub fn apply_change(doc: &mut Value, change: &str) -> Result<(), PatchError> {
    for (i, edit) in split_edits(change).into_iter().enumerate() {
        apply_edit(doc, &edit).map_err(|reason| PatchError { index: i + 1, edit: edit.clone(), reason })?;
    }
    Ok(())
}

const OPS: [&str; 3] = ["remove ", "set ", "add "];

/// Splits on ` ; `, gluing back a piece that does not start with an operation (a ` ; ` inside a JSON string).
fn split_edits(change: &str) -> Vec<String> {
    let mut edits: Vec<String> = Vec::new();
    for piece in change.split(" ; ") {
        let starts_an_edit = OPS.iter().any(|op| piece.trim_start().starts_with(op));
        match edits.last_mut() {
            Some(last) if !starts_an_edit => {
                last.push_str(" ; ");
                last.push_str(piece);
            }
            _ => edits.push(piece.to_owned()),
        }
    }
    edits.into_iter().map(|e| e.trim().to_owned()).collect()
}

enum Op {
    Remove,
    Set(Value),
    Add(Value),
}

#[derive(Debug)]
enum Segment {
    /// An object member name or an array index (or `-`), unescaped.
    Key(String),
    /// `entry[Type]`
    Entry(String),
    /// `agent[system suffix]`
    Agent(String),
}

impl Segment {
    fn parse(raw: &str) -> Self {
        let selector = |name: &str| {
            raw.strip_prefix(name)
                .and_then(|r| r.strip_prefix('['))
                .and_then(|r| r.strip_suffix(']'))
                .filter(|arg| !arg.is_empty())
                .map(str::to_owned)
        };
        if let Some(resource_type) = selector("entry") {
            Self::Entry(resource_type)
        } else if let Some(suffix) = selector("agent") {
            Self::Agent(suffix)
        } else {
            Self::Key(raw.replace("~1", "/").replace("~0", "~"))
        }
    }
}

fn apply_edit(doc: &mut Value, edit: &str) -> Result<(), String> {
    let (op, pointer) = parse_edit(edit)?;
    let segments = parse_pointer(pointer)?;
    let Some((last, parents)) = segments.split_last() else {
        return Err("the pointer must name a member, not the whole document".into());
    };
    let mut path = String::new();
    let mut parent: &mut Value = doc;
    for segment in parents {
        parent = step(parent, segment, &path)?;
        path.push('/');
        path.push_str(&describe(segment));
    }
    apply_at(parent, last, op, &path)
}

const USAGE: &str = "expected 'remove <pointer>', 'set <pointer> = <json>' or 'add <pointer> = <json>'";

fn parse_edit(edit: &str) -> Result<(Op, &str), String> {
    if let Some(rest) = edit.strip_prefix("remove ") {
        if rest.contains(" = ") {
            return Err("remove takes no value".into());
        }
        Ok((Op::Remove, rest.trim()))
    } else if let Some(rest) = edit.strip_prefix("set ") {
        pointer_and_value(rest).map(|(p, v)| (Op::Set(v), p))
    } else if let Some(rest) = edit.strip_prefix("add ") {
        pointer_and_value(rest).map(|(p, v)| (Op::Add(v), p))
    } else {
        Err(USAGE.into())
    }
}

fn pointer_and_value(rest: &str) -> Result<(&str, Value), String> {
    let (pointer, json) =
        rest.split_once(" = ").ok_or_else(|| format!("missing ' = <json>' after the pointer; {USAGE}"))?;
    let value =
        serde_json::from_str(json.trim()).map_err(|e| format!("invalid JSON literal '{}': {e}", json.trim()))?;
    Ok((pointer.trim(), value))
}

fn parse_pointer(pointer: &str) -> Result<Vec<Segment>, String> {
    match pointer.strip_prefix('/') {
        Some(rest) => Ok(rest.split('/').map(Segment::parse).collect()),
        None => Err(format!("pointer '{pointer}' must start with '/'")),
    }
}

fn describe(segment: &Segment) -> String {
    match segment {
        Segment::Key(k) => k.replace('~', "~0").replace('/', "~1"),
        Segment::Entry(t) => format!("entry[{t}]"),
        Segment::Agent(s) => format!("agent[{s}]"),
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn at(path: &str) -> &str {
    if path.is_empty() {
        "the document root"
    } else {
        path
    }
}

/// Whether `element` is one a selector segment picks.
fn is_selected(segment: &Segment, element: &Value) -> bool {
    match segment {
        Segment::Entry(t) => element.pointer("/resource/resourceType").and_then(Value::as_str) == Some(t.as_str()),
        Segment::Agent(s) => element
            .pointer("/who/identifier/system")
            .and_then(Value::as_str)
            .is_some_and(|system| system.ends_with(s.as_str())),
        Segment::Key(_) => false,
    }
}

/// The array a selector searches and the index of the element it selects.
fn select<'a>(parent: &'a mut Value, segment: &Segment, path: &str) -> Result<(&'a mut Vec<Value>, usize), String> {
    let (array_name, not_found) = match segment {
        Segment::Entry(t) => ("entry", format!("no entry with resourceType {t}")),
        Segment::Agent(s) => ("agent", format!("no agent whose who.identifier.system ends with '{s}'")),
        Segment::Key(k) => return Err(format!("internal: '{k}' is not a selector")),
    };
    let array = parent
        .get_mut(array_name)
        .and_then(Value::as_array_mut)
        .ok_or_else(|| format!("no array '{array_name}' at {}", at(path)))?;
    let i = array.iter().position(|e| is_selected(segment, e)).ok_or(not_found)?;
    Ok((array, i))
}

fn index(key: &str, len: usize, path: &str) -> Result<usize, String> {
    key.parse::<usize>().map_err(|_| format!("'{key}' is not an array index at {} (an array of {len})", at(path)))
}

/// One step down for an intermediate segment.
fn step<'a>(current: &'a mut Value, segment: &Segment, path: &str) -> Result<&'a mut Value, String> {
    let Segment::Key(key) = segment else {
        let (array, i) = select(current, segment, path)?;
        return Ok(&mut array[i]);
    };
    match current {
        Value::Object(members) => members.get_mut(key).ok_or_else(|| format!("no member '{key}' at {}", at(path))),
        Value::Array(items) => {
            let len = items.len();
            let i = index(key, len, path)?;
            items.get_mut(i).ok_or_else(|| format!("index {i} is out of range at {} (an array of {len})", at(path)))
        }
        other => Err(format!("{} is {}, not an object or array", at(path), kind(other))),
    }
}

/// The operation on the last segment, `parent` being the value it lives in.
fn apply_at(parent: &mut Value, last: &Segment, op: Op, path: &str) -> Result<(), String> {
    let Segment::Key(key) = last else {
        let (array, i) = select(parent, last, path)?;
        return match op {
            Op::Remove => {
                array.remove(i);
                Ok(())
            }
            Op::Set(value) => {
                array[i] = value;
                Ok(())
            }
            Op::Add(_) => Err(format!("add cannot target the selector {}; use an index or '-'", describe(last))),
        };
    };
    match parent {
        Value::Object(members) => match op {
            Op::Remove => members.remove(key).map(|_| ()).ok_or_else(|| format!("no member '{key}' at {}", at(path))),
            Op::Set(value) | Op::Add(value) => {
                members.insert(key.clone(), value);
                Ok(())
            }
        },
        Value::Array(items) => apply_in_array(items, key, op, path),
        other => Err(format!("{} is {}, not an object or array", at(path), kind(other))),
    }
}

fn apply_in_array(items: &mut Vec<Value>, key: &str, op: Op, path: &str) -> Result<(), String> {
    let len = items.len();
    let out_of_range = |i: usize| format!("index {i} is out of range at {} (an array of {len})", at(path));
    match op {
        Op::Add(value) if key == "-" => {
            items.push(value);
            Ok(())
        }
        Op::Add(value) => {
            let i = index(key, len, path)?;
            if i > len {
                return Err(format!("index {i} is out of range for add at {} (an array of {len})", at(path)));
            }
            items.insert(i, value);
            Ok(())
        }
        Op::Remove | Op::Set(_) if key == "-" => {
            Err(format!("'-' names no element at {}; only add can append", at(path)))
        }
        Op::Remove => {
            let i = index(key, len, path)?;
            if i >= len {
                return Err(out_of_range(i));
            }
            items.remove(i);
            Ok(())
        }
        Op::Set(value) => {
            let i = index(key, len, path)?;
            let slot = items.get_mut(i).ok_or_else(|| out_of_range(i))?;
            *slot = value;
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn bundle() -> Value {
        json!({
            "resourceType": "Bundle",
            "entry": [
                {"resource": {"resourceType": "Composition", "status": "final", "category": [1]}},
                {"resource": {"resourceType": "Patient", "id": "P"}},
                {"resource": {"resourceType": "Patient", "id": "Q"}}
            ]
        })
    }

    fn event() -> Value {
        json!({
            "agent": [
                {"who": {"identifier": {"system": "https://fhir.nhs.uk/Id/nhs-number", "value": "1"}}},
                {"who": {"identifier": {"system": "https://fhir.nhs.uk/Id/ods-organization-code", "value": "2"}}},
                {"who": {"identifier": {"system": "https://fhir.nhs.uk/Id/sds-user-id", "value": "3"}}}
            ],
            "a/b": {"m~n": 1},
            "list": [1, 2, 3]
        })
    }

    fn applied(mut doc: Value, change: &str) -> Value {
        if let Err(e) = apply_change(&mut doc, change) {
            panic!("{e}");
        }
        doc
    }

    fn failure(mut doc: Value, change: &str) -> String {
        match apply_change(&mut doc, change) {
            Ok(()) => panic!("expected '{change}' to fail"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn examples_of_the_steps_document() {
        let doc = applied(bundle(), "remove /entry[Composition]/resource/category");
        assert!(doc.pointer("/entry/0/resource/category").is_none());
        let doc = applied(bundle(), "set /entry[Composition]/resource/status = \"preliminary\"");
        assert_eq!(doc["entry"][0]["resource"]["status"], "preliminary");
        let doc = applied(bundle(), "add /entry/- = {\"resource\":{\"resourceType\":\"Composition\"}}");
        assert_eq!(doc["entry"][3], json!({"resource":{"resourceType":"Composition"}}));
        let doc = applied(event(), "remove /agent[nhs-number]");
        assert_eq!(doc["agent"].as_array().map(Vec::len), Some(2));
        assert_eq!(doc["agent"][0]["who"]["identifier"]["value"], "2");
        let mut params = json!({"parameter":[{"part":[{}, {"valueCoding":{"code":"Ask"}}]}]});
        assert_eq!(apply_change(&mut params, "set /parameter/0/part/1/valueCoding/code = \"Maybe\""), Ok(()));
        assert_eq!(params["parameter"][0]["part"][1]["valueCoding"]["code"], "Maybe");
    }

    #[test]
    fn selectors_pick_the_first_match() {
        let doc = applied(bundle(), "set /entry[Patient]/resource/id = \"X\"");
        assert_eq!(
            (doc["entry"][1]["resource"]["id"].as_str(), doc["entry"][2]["resource"]["id"].as_str()),
            (Some("X"), Some("Q"))
        );
        let doc = applied(bundle(), "remove /entry[Patient]");
        assert_eq!(doc["entry"][1]["resource"]["id"], "Q");
        let doc = applied(event(), "set /agent[sds-user-id] = {}");
        assert_eq!(doc["agent"][2], json!({}));
        let doc = applied(event(), "set /agent[ods-organization-code]/requestor = true");
        assert_eq!(doc["agent"][1]["requestor"], true);
    }

    #[test]
    fn several_edits_apply_in_order() {
        let doc = applied(bundle(), "remove /entry[Patient] ; remove /entry[Patient] ; set /type = \"document\"");
        assert_eq!(doc["entry"].as_array().map(Vec::len), Some(1));
        assert_eq!(doc["type"], "document");
    }

    #[test]
    fn a_semicolon_inside_a_json_string_is_not_a_separator() {
        let doc = applied(bundle(), "set /note = \"a ; b\" ; set /n = 1");
        assert_eq!((doc["note"].as_str(), doc["n"].as_i64()), (Some("a ; b"), Some(1)));
    }

    #[test]
    fn json_literals_of_every_kind() {
        let doc = applied(
            json!({}),
            "set /s = \"text\" ; set /n = 5 ; set /z = null ; set /a = [] ; set /o = {} ; set /b = false ; set /f = 1.5",
        );
        assert_eq!(doc, json!({"s":"text","n":5,"z":null,"a":[],"o":{},"b":false,"f":1.5}));
    }

    #[test]
    fn rfc6901_escapes() {
        let doc = applied(event(), "set /a~1b/m~0n = 2");
        assert_eq!(doc["a/b"]["m~n"], 2);
        let doc = applied(event(), "remove /a~1b/m~0n");
        assert_eq!(doc["a/b"], json!({}));
        // ~01 is '~1' literally, not '/'
        let doc = applied(json!({}), "set /~01 = 1");
        assert_eq!(doc["~1"], 1);
    }

    #[test]
    fn arrays_add_insert_set_remove() {
        assert_eq!(applied(event(), "add /list/0 = 0")["list"], json!([0, 1, 2, 3]));
        assert_eq!(applied(event(), "add /list/3 = 4")["list"], json!([1, 2, 3, 4]));
        assert_eq!(applied(event(), "add /list/- = 4")["list"], json!([1, 2, 3, 4]));
        assert_eq!(applied(event(), "set /list/1 = 9")["list"], json!([1, 9, 3]));
        assert_eq!(applied(event(), "remove /list/2")["list"], json!([1, 2]));
        assert_eq!(applied(event(), "add /new = [1]")["new"], json!([1]));
    }

    #[test]
    fn failures_say_which_edit_and_why() {
        let rows: &[(Value, &str, &str)] = &[
            (bundle(), "set /x = 1 ; remove /entry[Foo]/x", "edit 2 'remove /entry[Foo]/x': no entry with resourceType Foo"),
            (event(), "remove /agent[nope]", "edit 1 'remove /agent[nope]': no agent whose who.identifier.system ends with 'nope'"),
            (json!({}), "remove /entry[Composition]", "edit 1 'remove /entry[Composition]': no array 'entry' at the document root"),
            (bundle(), "remove /missing", "edit 1 'remove /missing': no member 'missing' at the document root"),
            (bundle(), "set /entry[Composition]/resource/nope/x = 1", "edit 1 'set /entry[Composition]/resource/nope/x = 1': no member 'nope' at /entry[Composition]/resource"),
            (event(), "set /list/7 = 1", "edit 1 'set /list/7 = 1': index 7 is out of range at /list (an array of 3)"),
            (event(), "remove /list/x", "edit 1 'remove /list/x': 'x' is not an array index at /list (an array of 3)"),
            (event(), "add /list/5 = 1", "edit 1 'add /list/5 = 1': index 5 is out of range for add at /list (an array of 3)"),
            (event(), "set /list/- = 1", "edit 1 'set /list/- = 1': '-' names no element at /list; only add can append"),
            (event(), "set /list/0/x = 1", "edit 1 'set /list/0/x = 1': /list/0 is a number, not an object or array"),
            (bundle(), "set /resourceType = nope", "edit 1 'set /resourceType = nope': invalid JSON literal 'nope': expected ident at line 1 column 2"),
            (bundle(), "set /resourceType", "edit 1 'set /resourceType': missing ' = <json>' after the pointer; expected 'remove <pointer>', 'set <pointer> = <json>' or 'add <pointer> = <json>'"),
            (bundle(), "delete /x", "edit 1 'delete /x': expected 'remove <pointer>', 'set <pointer> = <json>' or 'add <pointer> = <json>'"),
            (bundle(), "remove x", "edit 1 'remove x': pointer 'x' must start with '/'"),
            (bundle(), "remove /x = 1", "edit 1 'remove /x = 1': remove takes no value"),
            (bundle(), "add /entry[Patient] = {}", "edit 1 'add /entry[Patient] = {}': add cannot target the selector entry[Patient]; use an index or '-'"),
            (bundle(), "", "edit 1 '': expected 'remove <pointer>', 'set <pointer> = <json>' or 'add <pointer> = <json>'"),
        ];
        for (doc, change, message) in rows {
            assert_eq!(failure(doc.clone(), change), *message);
        }
    }

    #[test]
    fn the_error_carries_its_parts() {
        let mut doc = bundle();
        let err = apply_change(&mut doc, "set /a = 1 ; remove /zzz");
        assert_eq!(
            err,
            Err(PatchError {
                index: 2,
                edit: "remove /zzz".into(),
                reason: "no member 'zzz' at the document root".into()
            })
        );
        assert_eq!(doc["a"], 1, "edits before the failing one stay applied");
    }
}
