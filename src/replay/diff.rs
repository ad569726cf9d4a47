//! A structural diff of JSON values against the previous tick's, so a decision log line holds
//! what changed and not what stayed. Exact: floats are copied, never subtracted, so a patched
//! value is bit-for-bit the recorded one.
//!
//! A diff is read against the value it was made from:
//! - `{"=": v}` replaces the value by `v`;
//! - `{"-": 0}` (inside an object's diff) removes that key;
//! - an integer, against an integer, is added to it (counters grow by small steps);
//! - an object, against an object, patches the keys it names; against an array, it patches the
//!   elements at the indices it names, `"*"` patches every element no index names, and `"n"`
//!   is the new length. An array whose elements mostly changed is replaced. An object holding a key
//!   `=` or `-` itself is always replaced whole, so the markers stay unambiguous.

use serde_json::{Map, Value, json};

fn replace(v: &Value) -> Value {
    json!({ "=": v })
}

fn integer(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) if !n.is_f64() => n.as_i64(),
        _ => None,
    }
}

/// The diff turning `prev` into `cur`, or `None` when they are equal.
pub fn diff(prev: &Value, cur: &Value) -> Option<Value> {
    if prev == cur {
        return None;
    }
    let reserved = |m: &Map<String, Value>| m.contains_key("=") || m.contains_key("-");
    Some(match (prev, cur) {
        // An object with a key the encoding reserves is replaced whole, never patched.
        (Value::Object(p), Value::Object(c)) if reserved(p) || reserved(c) => replace(cur),
        (Value::Object(p), Value::Object(c)) => {
            let mut out = Map::new();
            for (k, v) in c {
                match p.get(k) {
                    Some(pv) => {
                        if let Some(d) = diff(pv, v) {
                            out.insert(k.clone(), d);
                        }
                    }
                    None => {
                        out.insert(k.clone(), replace(v));
                    }
                }
            }
            for k in p.keys().filter(|k| !c.contains_key(*k)) {
                out.insert(k.clone(), json!({ "-": 0 }));
            }
            Value::Object(out)
        }
        (Value::Array(p), Value::Array(c)) => {
            let diffs: Vec<Option<Value>> = c
                .iter()
                .enumerate()
                .map(|(i, v)| match p.get(i) {
                    Some(pv) => diff(pv, v),
                    None => Some(replace(v)),
                })
                .collect();
            // Mostly new (a sample, a list that slid): the value itself is shorter than a patch.
            // Not so for a list of records (probe series, verdicts) that each change a little
            // every tick: each is patched, so what stayed (keys, names, most counters) is not
            // written again.
            let changed = diffs.iter().filter(|d| d.is_some()).count();
            let records = !c.is_empty() && c.iter().chain(p).all(Value::is_object);
            if changed * 2 > c.len().max(p.len()) && !all_alike(&diffs) && !records {
                return Some(replace(cur));
            }
            array_patch(p.len(), c, diffs)
        }
        _ => match (integer(prev), integer(cur)) {
            (Some(p), Some(c)) if c.checked_sub(p).is_some() => Value::from(c - p),
            _ => replace(cur),
        },
    })
}

/// Whether the changed elements all change alike (counters over several windows, each one step
/// further) and the unchanged ones are objects (a `{}` patch leaves those as they are).
fn all_alike(diffs: &[Option<Value>]) -> bool {
    let mut changed = diffs.iter().flatten();
    let Some(first) = changed.next() else {
        return false;
    };
    diffs.len() >= 2 && first.is_object() && changed.all(|d| d == first)
}

/// An array's patch: `"*"` for the diff the changed elements share, indices for the others
/// (`{}` for an unchanged object), `"n"` for a new length.
fn array_patch(prev_len: usize, cur: &[Value], diffs: Vec<Option<Value>>) -> Value {
    let mut out = Map::new();
    if prev_len != cur.len() {
        out.insert("n".into(), cur.len().into());
    }
    let shared = (all_alike(&diffs)
        && cur.len() == prev_len
        && diffs.iter().zip(cur).all(|(d, v)| d.is_some() || v.is_object()))
    .then(|| diffs.iter().flatten().next().cloned())
    .flatten();
    match shared {
        Some(common) => {
            for (i, d) in diffs.iter().enumerate() {
                if d.is_none() {
                    out.insert(i.to_string(), json!({}));
                }
            }
            out.insert("*".into(), common);
        }
        None => {
            for (i, d) in diffs.into_iter().enumerate() {
                if let Some(d) = d {
                    out.insert(i.to_string(), d);
                }
            }
        }
    }
    Value::Object(out)
}

/// `prev` with the diff `d` applied.
pub fn patch(prev: &Value, d: &Value) -> Result<Value, String> {
    if let Value::Object(m) = d
        && m.len() == 1
        && let Some(v) = m.get("=")
    {
        return Ok(v.clone());
    }
    match (prev, d) {
        (_, Value::Number(_)) => match (integer(prev), integer(d)) {
            (Some(p), Some(step)) => p
                .checked_add(step)
                .map(Value::from)
                .ok_or_else(|| "an integer step overflows".to_string()),
            _ => Err(format!("a step of {d} applies to an integer, not to {prev}")),
        },
        (Value::Object(p), Value::Object(m)) => {
            let mut out = p.clone();
            for (k, v) in m {
                if v.as_object().is_some_and(|o| o.len() == 1 && o.contains_key("-")) {
                    out.remove(k);
                    continue;
                }
                let base = out.get(k).cloned().unwrap_or(Value::Null);
                out.insert(k.clone(), patch(&base, v)?);
            }
            Ok(Value::Object(out))
        }
        (Value::Array(p), Value::Object(m)) => {
            let len = match m.get("n") {
                Some(n) => n.as_u64().ok_or("an array's `n` is not a length")? as usize,
                None => p.len(),
            };
            let mut out = p.clone();
            out.resize(len, Value::Null);
            if let Some(common) = m.get("*") {
                for (i, slot) in out.iter_mut().enumerate() {
                    if !m.contains_key(&i.to_string()) {
                        *slot = patch(slot, common)?;
                    }
                }
            }
            for (k, v) in m.iter().filter(|(k, _)| *k != "n" && *k != "*") {
                let i: usize = k.parse().map_err(|_| format!("`{k}` is not an array index"))?;
                let slot = out
                    .get_mut(i)
                    .ok_or_else(|| format!("index {i} is beyond the array's {len} elements"))?;
                *slot = patch(slot, v)?;
            }
            Ok(Value::Array(out))
        }
        _ => Err(format!("a diff does not fit the previous value ({prev} vs {d})")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_change_round_trips_exactly() {
        let cases = [
            (json!(null), json!({"a": 1})),
            (
                json!({"a": 1, "b": [1, 2, 3], "c": 0.1}),
                json!({"a": 4, "b": [1, 5], "d": true}),
            ),
            (
                json!([1.5, {"x": 2}]),
                json!([1.5, {"x": 3}, "new", 0.30000000000000004]),
            ),
            (json!({"k": {"=": 1}}), json!({"k": {"=": 2}})),
            (json!({"k": {"-": 0, "a": 1}}), json!({"k": {"-": 0}})),
            (json!(-5), json!(9_007_199_254_740_993_i64)),
            (json!(1), json!(1.5)),
            (json!({"a": [1, 2]}), json!({"a": "text"})),
        ];
        for (prev, cur) in cases {
            let d = diff(&prev, &cur).expect("they differ");
            let back = patch(&prev, &d).unwrap_or_else(|e| panic!("{prev} -> {cur} via {d}: {e}"));
            assert_eq!(back, cur, "{prev} -> {cur} via {d}");
            assert_eq!(back.to_string(), cur.to_string());
        }
        assert_eq!(diff(&json!({"a": 1}), &json!({"a": 1})), None);
    }

    #[test]
    fn counters_and_unchanged_parts_cost_little() {
        // Windows that all grew alike share one step; an unchanged one is named.
        let w = |g: i64| json!({"good": g, "total": g, "window": 300.0});
        let prev = json!({"counts": [w(30), w(100), w(200)], "key": "fra"});
        let cur = json!({"counts": [w(30), w(101), w(201)], "key": "fra"});
        let d = diff(&prev, &cur).unwrap();
        assert_eq!(d.to_string(), r#"{"counts":{"*":{"good":1,"total":1},"0":{}}}"#);
        assert_eq!(patch(&prev, &d).unwrap(), cur);
        // A sample that is all new is written as itself.
        let d = diff(&json!([[1.5, 0.1, true]]), &json!([[2.5, 0.2, true]])).unwrap();
        assert_eq!(d.to_string(), r#"{"=":[[2.5,0.2,true]]}"#);
    }

    #[test]
    fn records_that_all_change_a_little_are_patched_not_rewritten() {
        let series = |loc: &str, good: i64, at: f64| {
            json!({"key": {"location": loc, "probe": "site", "family": "v6"},
                   "counts": [{"good": good, "total": good, "window": 300.0}],
                   "recent": {"keep": 1, "add": [[at, 0.05, true]]}})
        };
        let prev = json!([series("fra", 10, 1.0), series("nyc", 20, 1.5)]);
        let cur = json!([series("fra", 11, 2.0), series("nyc", 21, 2.5)]);
        let d = diff(&prev, &cur).unwrap();
        assert_eq!(patch(&prev, &d).unwrap(), cur);
        assert!(
            !d.to_string().contains("location"),
            "the keys are not written again: {d}"
        );
        assert!(d.to_string().len() * 3 < cur.to_string().len() * 2, "{d}");
    }

    #[test]
    fn a_diff_that_does_not_fit_is_an_error() {
        assert!(patch(&json!("text"), &json!({"0": {"=": 1}})).is_err());
        assert!(patch(&json!([1]), &json!({"3": 2})).is_err());
        assert!(patch(&json!(0.5), &json!(1)).is_err());
    }
}
