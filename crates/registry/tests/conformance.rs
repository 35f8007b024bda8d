//! Conformance against the Kubernetes API round-trip fixtures
//! (`staging/src/k8s.io/api/testdata/<release>`): every `.pb` must decode
//! to exactly its `.json`, compared as JSON values.

use registry::value::{decode, decode_as, DecodeOptions};
use serde_json::Value;
use std::path::{Path, PathBuf};

mod common;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The first JSON path where `a` and `b` differ.
fn first_diff(a: &Value, b: &Value, path: &str) -> Option<String> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for (k, v) in x {
                match y.get(k) {
                    Some(w) => {
                        if let Some(d) = first_diff(v, w, &format!("{path}.{k}")) {
                            return Some(d);
                        }
                    }
                    None => return Some(format!("{path}.{k}: only in decoded ({v})")),
                }
            }
            for (k, w) in y {
                if !x.contains_key(k) {
                    return Some(format!("{path}.{k}: missing from decoded (expected {w})"));
                }
            }
            None
        }
        (Value::Array(x), Value::Array(y)) => {
            if x.len() != y.len() {
                return Some(format!(
                    "{path}: array length {} vs expected {}",
                    x.len(),
                    y.len()
                ));
            }
            x.iter()
                .zip(y)
                .enumerate()
                .find_map(|(i, (v, w))| first_diff(v, w, &format!("{path}[{i}]")))
        }
        (Value::Number(x), Value::Number(y)) if x.as_f64() == y.as_f64() => None,
        _ if a == b => None,
        _ => {
            let show = |v: &Value| {
                let s = v.to_string();
                if s.len() > 120 {
                    format!(
                        "{}…",
                        &s[..s.char_indices().nth(120).map_or(s.len(), |(i, _)| i)]
                    )
                } else {
                    s
                }
            };
            Some(format!(
                "{path}: decoded {} vs expected {}",
                show(a),
                show(b)
            ))
        }
    }
}

/// `apps.v1.Deployment.pb` -> ("apps/v1", "Deployment"); `core` is "".
fn type_from_file_name(name: &str) -> (String, String) {
    let stem = name
        .trim_end_matches(".pb")
        .trim_end_matches(".after_roundtrip");
    let mut parts = stem.rsplitn(3, '.');
    let kind = parts.next().unwrap_or_default().to_string();
    let version = parts.next().unwrap_or_default();
    let group = parts.next().unwrap_or_default();
    let api_version = if group == "core" || group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    (api_version, kind)
}

/// Removes `"<unknown field N>"` members everywhere; returns how many.
fn strip_unknown(v: &mut Value) -> usize {
    match v {
        Value::Object(m) => {
            let before = m.len();
            m.retain(|k, _| !k.starts_with("<unknown field "));
            let mut n = before - m.len();
            for (_, x) in m.iter_mut() {
                n += strip_unknown(x);
            }
            n
        }
        Value::Array(a) => a.iter_mut().map(strip_unknown).sum(),
        _ => 0,
    }
}

#[test]
fn fixtures_decode_to_their_json() {
    let Some(root) = common::fixtures_root(&repo_root()) else {
        return;
    };
    let mut releases: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    releases.sort();
    let mut total_failures = 0;
    let mut checked = 0;
    for rel in releases {
        let mut pbs: Vec<PathBuf> = std::fs::read_dir(&rel)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "pb"))
            .collect();
        pbs.sort();
        let mut failures = Vec::new();
        // A .pb without .json (core.v1.ListOptions.after_roundtrip) has
        // nothing to compare with: it must still decode.
        pbs.retain(|pb| {
            if pb.with_extension("json").exists() {
                return true;
            }
            let name = pb.file_name().unwrap().to_string_lossy().into_owned();
            let (api_version, kind) = type_from_file_name(&name);
            let raw = std::fs::read(pb).unwrap();
            match decode_as(&raw, &api_version, &kind, &DecodeOptions::default()) {
                Ok(_) => println!("  (no .json for {name}: decoded only)"),
                Err(e) => failures.push(format!("{name}: {e}")),
            }
            false
        });
        for pb in &pbs {
            let name = pb.file_name().unwrap().to_string_lossy().into_owned();
            let json_path = pb.with_extension("json");
            let Ok(expected) = std::fs::read(&json_path) else {
                failures.push(format!("{name}: no .json"));
                continue;
            };
            let expected: Value = serde_json::from_slice(&expected).unwrap();
            let raw = std::fs::read(pb).unwrap();
            let (api_version, kind) = type_from_file_name(&name);
            let mut decoded = decode(&raw, &DecodeOptions::default());
            if decoded.as_ref().is_ok_and(|d| d.kind.is_empty()) {
                // Some fixtures (WatchEvent) have an empty envelope type
                // meta; the file name says what they are.
                decoded = decode_as(&raw, &api_version, &kind, &DecodeOptions::default());
            }
            match decoded {
                Err(e) => failures.push(format!("{name}: {e}")),
                Ok(d) => {
                    let mut got: Value = match serde_json::from_str(&d.json) {
                        Ok(v) => v,
                        Err(e) => {
                            failures.push(format!("{name}: decoder produced invalid JSON: {e}"));
                            continue;
                        }
                    };
                    if name.contains(".after_roundtrip.") {
                        // These fixtures hold fields that the current release
                        // dropped and Go discards silently; the decoder keeps
                        // them as "<unknown field N>" and must report them.
                        let removed = strip_unknown(&mut got);
                        if removed > 0 && !d.warnings.iter().any(|w| w.contains("unknown field")) {
                            failures.push(format!("{name}: unknown fields kept but not reported"));
                        }
                    }
                    if let Some(diff) = first_diff(&got, &expected, "") {
                        failures.push(format!("{name}: {diff} (warnings: {:?})", d.warnings));
                    }
                }
            }
        }
        let rel_name = rel.file_name().unwrap().to_string_lossy();
        println!(
            "{rel_name}: {}/{} passed",
            pbs.len() - failures.len(),
            pbs.len()
        );
        for f in &failures {
            println!("  FAIL {f}");
        }
        total_failures += failures.len();
        checked += pbs.len();
    }
    // Every release's fixtures with a .json twin were compared (the few
    // without one only decoded): nothing was passed over.
    let with_json: usize = common::RELEASES.iter().map(|(_, n)| n - 1).sum();
    assert!(
        checked >= with_json,
        "only {checked} fixtures compared, expected at least {with_json}"
    );
    assert_eq!(total_failures, 0, "conformance failures (see output above)");
}
