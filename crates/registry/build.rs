//! Generates the protobuf schema tables used by `src/value` from the
//! sources of dependencies, so no Kubernetes `.proto` file or generated code
//! is ever copied into this repository:
//!
//! * `k8s-pb` (prost-generated from the Kubernetes protos) gives every
//!   message, its fields in declaration order, their tags and wire kinds,
//!   and `impl crate::Resource` blocks with group/version/kind. Every
//!   `k8s-pb` this crate depends on is read (the current one and, as a
//!   build-dependency, the one for an older Kubernetes release); the
//!   tables are their union, newest first, so
//!   objects written by older apiservers (removed versions, removed fields)
//!   still decode with their real names;
//! * `k8s-openapi` gives the exact JSON field names (`hostIP`, `$ref`,
//!   `x-kubernetes-...`), which prost's snake_case names have lost, and
//!   which embedded Go structs are inlined (k8s-openapi flattens them).
//!
//! The sources are found where cargo keeps them, by asking cargo:
//! `cargo metadata` (run with the `CARGO` that runs this build, for the
//! platforms being built, so it needs only what the build already has)
//! gives the manifest of
//! each `k8s-pb` and `k8s-openapi` this crate depends on, so the build works
//! from a `cargo vendor`ed tree, with `CARGO_HOME` anywhere, with `[patch]`
//! or path overrides (`scripts/check-vendored-build.sh` proves it). Moving to
//! a newer Kubernetes is a version bump of `k8s-pb` in Cargo.toml. Override
//! with `K8S_PB_SRC` (one or more crate directories, `:`-separated, newest
//! first) and `K8S_OPENAPI_SRC`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::{env, fs};

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=K8S_PB_SRC");
    println!("cargo:rerun-if-env-changed=K8S_OPENAPI_SRC");

    let explicit_pb = env::var_os("K8S_PB_SRC").map(|v| env::split_paths(&v).collect::<Vec<_>>());
    let explicit_openapi = env::var_os("K8S_OPENAPI_SRC").map(PathBuf::from);
    let (pb_dirs, openapi_root) = match (explicit_pb, explicit_openapi) {
        (Some(pb), Some(openapi)) => (pb, openapi),
        (pb, openapi) => {
            let found = Sources::from_cargo_metadata();
            (
                pb.unwrap_or(found.k8s_pb),
                openapi.unwrap_or(found.k8s_openapi),
            )
        }
    };
    for dir in pb_dirs.iter().chain([&openapi_root]) {
        assert!(
            dir.join("src").is_dir(),
            "registry build: `{}` is not a crate directory (no src/)",
            dir.display()
        );
    }

    let names = JsonNames::load(&openapi_root.join("src"));
    let mut schema = Schema::default();
    for dir in &pb_dirs {
        let mut one = Schema::default();
        let src = dir.join("src");
        let mut files = Vec::new();
        collect_files(&src, &mut files, &|p| {
            p.file_name().is_some_and(|n| n == "mod.rs")
        });
        files.sort();
        for file in &files {
            let rel = file.parent().unwrap().strip_prefix(&src).unwrap();
            let module: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if module.is_empty() {
                continue;
            }
            let text = fs::read_to_string(file).unwrap();
            one.parse_module(&module, &text);
        }
        schema.merge(one);
    }
    let out = schema.generate(&names);
    let dest = PathBuf::from(env::var("OUT_DIR").unwrap()).join("schema.rs");
    fs::write(dest, out).unwrap();
}

/// Where the dependencies whose sources the tables are generated from live.
struct Sources {
    /// Every `k8s-pb` this crate depends on (normal or build), newest first.
    k8s_pb: Vec<PathBuf>,
    /// The `k8s-openapi` this crate depends on.
    k8s_openapi: PathBuf,
}

impl Sources {
    /// Ask cargo which packages this crate's dependencies resolved to and
    /// where their manifests are. Wherever cargo put them (registry cache,
    /// vendor directory, git checkout, path), this is where they are.
    fn from_cargo_metadata() -> Sources {
        let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap());
        let manifest = manifest_dir.join("Cargo.toml");
        let mut cmd = std::process::Command::new(&cargo);
        cmd.args(["metadata", "--format-version", "1", "--locked"])
            .arg("--manifest-path")
            .arg(&manifest)
            .current_dir(&manifest_dir);
        // Only the platforms being built: cargo then needs no package the
        // build itself did not.
        let mut platforms = vec![env::var("TARGET").unwrap()];
        if let Ok(host) = env::var("HOST") {
            if !platforms.contains(&host) {
                platforms.push(host);
            }
        }
        for p in &platforms {
            cmd.args(["--filter-platform", p]);
        }
        let out = cmd.output().unwrap_or_else(|e| {
            panic!(
                "registry build: cannot run `{} metadata`: {e}; \
                 set K8S_PB_SRC and K8S_OPENAPI_SRC to the crate directories",
                Path::new(&cargo).display()
            )
        });
        if !out.status.success() {
            panic!(
                "registry build: `cargo metadata` failed: {}\n\
                 set K8S_PB_SRC and K8S_OPENAPI_SRC to the crate directories",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        let meta: serde_json::Value =
            serde_json::from_slice(&out.stdout).expect("cargo metadata prints JSON");
        if let Some(root) = meta["workspace_root"].as_str() {
            // A version bump changes the lockfile; the sources move with it.
            println!("cargo:rerun-if-changed={root}/Cargo.lock");
        }
        Sources::from_metadata(&meta, &manifest)
            .unwrap_or_else(|e| panic!("registry build: from `cargo metadata`: {e}"))
    }

    /// The dependency directories, from `cargo metadata` output, for the
    /// package whose manifest is `manifest`.
    fn from_metadata(meta: &serde_json::Value, manifest: &Path) -> Result<Sources, String> {
        let packages = meta["packages"].as_array().ok_or("no packages")?;
        let by_id: HashMap<&str, &serde_json::Value> = packages
            .iter()
            .filter_map(|p| Some((p["id"].as_str()?, p)))
            .collect();
        let same_file = |a: &Path, b: &Path| {
            a == b
                || fs::canonicalize(a)
                    .ok()
                    .is_some_and(|a| Some(a) == fs::canonicalize(b).ok())
        };
        let me = packages
            .iter()
            .find(|p| {
                p["manifest_path"]
                    .as_str()
                    .is_some_and(|m| same_file(Path::new(m), manifest))
            })
            .and_then(|p| p["id"].as_str())
            .ok_or_else(|| format!("`{}` is not among the packages", manifest.display()))?;
        let node = meta["resolve"]["nodes"]
            .as_array()
            .and_then(|nodes| nodes.iter().find(|n| n["id"].as_str() == Some(me)))
            .ok_or("no resolve graph")?;
        let mut pb: Vec<((u64, u64, u64), PathBuf)> = Vec::new();
        let mut openapi = None;
        for dep in node["deps"].as_array().into_iter().flatten() {
            let kinds: Vec<Option<&str>> = dep["dep_kinds"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|k| k["kind"].as_str())
                .collect();
            if kinds.iter().all(|k| *k == Some("dev")) {
                continue;
            }
            let Some(pkg) = dep["pkg"].as_str().and_then(|id| by_id.get(id)) else {
                continue;
            };
            let dir = pkg["manifest_path"]
                .as_str()
                .and_then(|m| Path::new(m).parent())
                .map(Path::to_path_buf)
                .ok_or("a package without a manifest path")?;
            let version = semver(pkg["version"].as_str().unwrap_or(""));
            match pkg["name"].as_str() {
                Some("k8s-pb") => pb.push((version, dir)),
                Some("k8s-openapi") => openapi = Some(dir),
                _ => {}
            }
        }
        if pb.is_empty() {
            return Err("this crate depends on no k8s-pb".into());
        }
        pb.sort_by_key(|p| std::cmp::Reverse(p.0));
        Ok(Sources {
            k8s_pb: pb.into_iter().map(|(_, d)| d).collect(),
            k8s_openapi: openapi.ok_or("this crate depends on no k8s-openapi")?,
        })
    }
}

fn semver(v: &str) -> (u64, u64, u64) {
    let mut it = v.split(['.', '-']).map(|p| p.parse::<u64>().unwrap_or(0));
    (
        it.next().unwrap_or(0),
        it.next().unwrap_or(0),
        it.next().unwrap_or(0),
    )
}

fn collect_files(dir: &Path, out: &mut Vec<PathBuf>, keep: &dyn Fn(&Path) -> bool) {
    let Ok(rd) = fs::read_dir(dir) else { return };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            collect_files(&p, out, keep);
        } else if keep(&p) {
            out.push(p);
        }
    }
}

fn norm(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

fn camel(s: &str) -> String {
    let mut out = String::new();
    let mut up = false;
    for c in s.chars() {
        if c == '_' {
            up = true;
        } else if up {
            out.push(c.to_ascii_uppercase());
            up = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// JSON field names from k8s-openapi's Deserialize impls (all Kubernetes
/// versions it carries, newest first), per struct and globally.
struct JsonNames {
    /// "dir/normalised struct name" -> normalised field -> JSON name.
    per_struct: HashMap<String, HashMap<String, String>>,
    /// "dir/struct/field" (normalised) of fields that are not `Option`s,
    /// i.e. Go fields without `omitempty`.
    required: HashSet<String>,
    /// normalised struct name -> dirs that have it.
    struct_dirs: HashMap<String, Vec<String>>,
    /// normalised field -> JSON spellings with counts.
    global: HashMap<String, BTreeMap<String, usize>>,
}

impl JsonNames {
    fn load(src: &Path) -> Self {
        let mut version_dirs: Vec<(u32, PathBuf)> = fs::read_dir(src)
            .unwrap()
            .flatten()
            .filter_map(|e| {
                let n = e.file_name().to_string_lossy().into_owned();
                let minor = n.strip_prefix("v1_")?.parse().ok()?;
                e.path().is_dir().then(|| (minor, e.path()))
            })
            .collect();
        assert!(
            !version_dirs.is_empty(),
            "k8s-openapi: no v1_* directory in {}",
            src.display()
        );
        version_dirs.sort_by_key(|(m, _)| std::cmp::Reverse(*m));
        let mut names = JsonNames {
            per_struct: HashMap::new(),
            required: HashSet::new(),
            struct_dirs: HashMap::new(),
            global: HashMap::new(),
        };
        for (_, root) in version_dirs {
            let mut files = Vec::new();
            collect_files(&root, &mut files, &|p| {
                p.extension().is_some_and(|e| e == "rs")
                    && p.file_name().is_some_and(|n| n != "mod.rs")
            });
            for f in files {
                let text = fs::read_to_string(&f).unwrap();
                let rel = f.parent().unwrap().strip_prefix(&root).unwrap();
                let dir = rel.to_string_lossy().replace('\\', "/");
                let mut struct_name = None;
                let mut fields = Vec::new();
                let mut in_struct = false;
                let mut optional: HashMap<String, bool> = HashMap::new();
                for line in text.lines() {
                    let t = line.trim();
                    if in_struct {
                        if line.starts_with('}') {
                            in_struct = false;
                        } else if let Some((ident, ty)) =
                            t.strip_prefix("pub ").and_then(|r| r.split_once(": "))
                        {
                            optional.insert(ident.to_string(), ty.starts_with("Option<"));
                        }
                    }
                    if struct_name.is_none() {
                        in_struct = t.starts_with("pub struct ");
                        if let Some(rest) = t.strip_prefix("pub struct ") {
                            let n: String = rest
                                .chars()
                                .take_while(|c| c.is_alphanumeric() || *c == '_')
                                .collect();
                            struct_name = Some(n);
                        }
                    }
                    if let Some(rest) = t.strip_prefix('"') {
                        if let Some((json, tail)) = rest.split_once('"') {
                            if let Some(k) = tail.trim_start().strip_prefix("=> Field::Key_") {
                                let ident = k.trim_end_matches(',');
                                fields
                                    .push((json.to_string(), optional.get(ident) == Some(&false)));
                            }
                        }
                    }
                }
                let Some(n) = struct_name else { continue };
                let key = format!("{dir}/{}", norm(&n));
                let dirs = names.struct_dirs.entry(norm(&n)).or_default();
                if !dirs.contains(&dir) {
                    dirs.push(dir.clone());
                }
                let map = names.per_struct.entry(key.clone()).or_default();
                for (json, required) in fields {
                    if required {
                        names.required.insert(format!("{key}/{}", norm(&json)));
                    }
                    *names
                        .global
                        .entry(norm(&json))
                        .or_default()
                        .entry(json.clone())
                        .or_default() += 1;
                    map.entry(norm(&json)).or_insert(json);
                }
            }
        }
        names
    }

    /// The k8s-openapi struct for a k8s-pb message: same directory
    /// (`exact`), else the same Go package at another version, else the
    /// same struct name anywhere.
    fn struct_fields(&self, dir: &str, strukt: &str) -> Option<(bool, &HashMap<String, String>)> {
        let n = norm(strukt);
        if let Some(m) = self.per_struct.get(&format!("{dir}/{n}")) {
            return Some((true, m));
        }
        let dirs = self.struct_dirs.get(&n)?;
        let package = dir.rsplit_once('/').map_or("", |(p, _)| p);
        let pick = dirs
            .iter()
            .find(|d| d.rsplit_once('/').map_or("", |(p, _)| p) == package)
            .or_else(|| dirs.first())?;
        self.per_struct
            .get(&format!("{pick}/{n}"))
            .map(|m| (false, m))
    }

    /// Go embeds some structs with `json:",inline"` (`VolumeSource` in
    /// `Volume`, `ProbeHandler` as `handler` in `Probe`, ...), and
    /// k8s-openapi flattens them away. The protobuf field of an embedded
    /// struct is named after (the end of) its type, so such a field that
    /// k8s-openapi does not list is inlined; with only another version's
    /// struct to compare, the field must be named exactly like its type.
    fn is_inline(&self, dir: &str, strukt: &str, field: &str, type_name: &str) -> bool {
        let (f, t) = (norm(field), norm(type_name));
        match self.struct_fields(dir, strukt) {
            Some((true, m)) => !m.contains_key(&f) && t.ends_with(&f),
            Some((false, m)) => !m.contains_key(&f) && t == f,
            None => false,
        }
    }

    /// Go `omitempty`: the field is an `Option` in k8s-openapi (or the
    /// struct is unknown there, where optional is the common case).
    fn omit_empty(&self, dir: &str, strukt: &str, field: &str) -> bool {
        let key = format!("{dir}/{}/{}", norm(strukt), norm(field));
        if self.required.contains(&key) {
            return false;
        }
        match self.struct_fields(dir, strukt) {
            Some((true, _)) | None => true,
            Some((false, m)) => {
                // Another version's struct: look its requiredness up there.
                let n = norm(strukt);
                !self.struct_dirs.get(&n).is_some_and(|dirs| {
                    dirs.iter().any(|d| {
                        self.per_struct
                            .get(&format!("{d}/{n}"))
                            .is_some_and(|x| std::ptr::eq(x, m))
                            && self.required.contains(&format!("{d}/{n}/{}", norm(field)))
                    })
                })
            }
        }
    }

    fn has_field(&self, dir: &str, strukt: &str, json: &str) -> bool {
        self.struct_fields(dir, strukt)
            .is_some_and(|(_, m)| m.contains_key(&norm(json)))
    }

    fn lookup(&self, dir: &str, strukt: &str, field: &str, doc_word: Option<&str>) -> String {
        let n = norm(field);
        if let Some(j) = self.struct_fields(dir, strukt).and_then(|(_, m)| m.get(&n)) {
            return j.clone();
        }
        // The proto field name is the JSON name; prost's snake_case keeps
        // its word boundaries but loses acronyms (`hostIP` -> `host_ip`).
        // A known spelling fits if every word starts upper-case in it.
        let c = camel(field);
        let fits = |cand: &str| -> bool {
            if norm(cand) != n {
                return false;
            }
            let chars: Vec<char> = cand.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
            let mut pos = 0;
            for (wi, word) in field.split('_').enumerate() {
                if wi > 0
                    && !chars
                        .get(pos)
                        .is_some_and(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
                {
                    return false;
                }
                pos += word.len();
            }
            chars.first().is_some_and(|c| !c.is_ascii_uppercase())
        };
        if let Some(cands) = self.global.get(&n) {
            if cands.contains_key(&c) {
                return c;
            }
            if let Some((best, _)) = cands
                .iter()
                .filter(|(k, _)| fits(k))
                .max_by_key(|(_, n)| **n)
            {
                return best.clone();
            }
        }
        // Kubernetes doc comments usually start with the JSON name.
        if let Some(w) = doc_word.filter(|w| fits(w)) {
            return w.to_string();
        }
        c
    }
}

#[derive(Debug, Clone)]
enum RawKind {
    Scalar(&'static str),
    Message(String),
    Map(&'static str, Option<String>),
}

#[derive(Debug, Clone)]
struct RawField {
    name: String,
    tag: u32,
    repeated: bool,
    kind: RawKind,
    doc_word: Option<String>,
}

#[derive(Debug)]
struct RawMessage {
    module: Vec<String>,
    name: String,
    fields: Vec<RawField>,
}

#[derive(Debug)]
struct Resource {
    module: Vec<String>,
    name: String,
    api_version: String,
    group: String,
    kind: String,
}

#[derive(Default)]
struct Schema {
    messages: Vec<RawMessage>,
    resources: Vec<Resource>,
}

fn scalar_name(k: &str) -> &'static str {
    match k {
        "string" => "String",
        "bytes" => "Bytes",
        "bool" => "Bool",
        "int32" => "Int32",
        "int64" => "Int64",
        "double" => "Double",
        "float" => "Float",
        "uint32" => "Uint32",
        "uint64" => "Uint64",
        "sint32" => "Sint32",
        "sint64" => "Sint64",
        other => panic!("registry build: unsupported prost kind {other}"),
    }
}

fn ident(rest: &str) -> String {
    rest.chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect()
}

impl Schema {
    /// Scans one prost-generated module. The generated code is regular
    /// (rustfmt'ed `#[prost(...)]` fields), so line scanning suffices.
    fn parse_module(&mut self, module: &[String], text: &str) {
        let lines: Vec<&str> = text.lines().collect();
        let mut i = 0;
        let mut current: Option<RawMessage> = None;
        let mut doc_first: Option<String> = None;
        while i < lines.len() {
            let t = lines[i].trim();
            if let Some(d) = t.strip_prefix("///") {
                if doc_first.is_none() {
                    let word = d.split_whitespace().next().unwrap_or("");
                    // Some docs quote the name: `assuredConcurrencyShares`.
                    doc_first = Some(
                        word.trim_matches(|c: char| !c.is_ascii_alphanumeric())
                            .to_string(),
                    );
                }
                i += 1;
                continue;
            }
            if let Some(rest) = t.strip_prefix("pub struct ") {
                if let Some(m) = current.take() {
                    self.messages.push(m);
                }
                let name = ident(rest);
                let msg = RawMessage {
                    module: module.to_vec(),
                    name,
                    fields: Vec::new(),
                };
                if rest.trim_end().ends_with('{') {
                    current = Some(msg);
                } else {
                    self.messages.push(msg);
                }
            } else if let (true, Some(cur)) = (t.starts_with("#[prost("), current.as_mut()) {
                let attr = t
                    .trim_start_matches("#[prost(")
                    .trim_end_matches(")]")
                    .to_string();
                // rustfmt may wrap the declaration over several lines.
                i += 1;
                let mut decl = String::new();
                while i < lines.len() {
                    let l = lines[i].trim();
                    if l.starts_with("///") || l.starts_with("#[") {
                        i += 1;
                        continue;
                    }
                    decl.push_str(l);
                    if decl.ends_with(',') && decl.matches('<').count() == decl.matches('>').count()
                    {
                        break;
                    }
                    i += 1;
                }
                cur.fields.push(parse_field(&attr, &decl, doc_first.take()));
            } else if t == "}" && lines[i].starts_with('}') {
                if let Some(m) = current.take() {
                    self.messages.push(m);
                }
            } else if let Some(rest) = t.strip_prefix("impl crate::Resource for ") {
                let name = ident(rest);
                let mut consts = HashMap::new();
                let mut j = i + 1;
                while j < lines.len() && lines[j].trim() != "}" {
                    if let Some(r) = lines[j].trim().strip_prefix("const ") {
                        if let Some(v) = r.split('"').nth(1) {
                            consts.insert(ident(r), v.to_string());
                        }
                    }
                    j += 1;
                }
                let get = |k: &str| consts.get(k).cloned().unwrap_or_default();
                self.resources.push(Resource {
                    module: module.to_vec(),
                    name,
                    api_version: get("API_VERSION"),
                    group: get("GROUP"),
                    kind: get("KIND"),
                });
                i = j;
            }
            doc_first = None;
            i += 1;
        }
        if let Some(m) = current.take() {
            self.messages.push(m);
        }
    }

    /// Adds an older release's schema: messages and resources it alone has,
    /// and fields (by tag) that newer releases removed.
    fn merge(&mut self, older: Schema) {
        let mut index: HashMap<(Vec<String>, String), usize> = HashMap::new();
        for (i, m) in self.messages.iter().enumerate() {
            index.insert((m.module.clone(), m.name.clone()), i);
        }
        for m in older.messages {
            match index.get(&(m.module.clone(), m.name.clone())) {
                Some(&i) => {
                    let have: HashSet<u32> =
                        self.messages[i].fields.iter().map(|f| f.tag).collect();
                    let names: HashSet<String> = self.messages[i]
                        .fields
                        .iter()
                        .map(|f| f.name.clone())
                        .collect();
                    for f in m.fields {
                        if !have.contains(&f.tag) && !names.contains(&f.name) {
                            self.messages[i].fields.push(f);
                        }
                    }
                }
                None => {
                    index.insert((m.module.clone(), m.name.clone()), self.messages.len());
                    self.messages.push(m);
                }
            }
        }
        let known: HashSet<(String, String)> = self
            .resources
            .iter()
            .map(|r| (r.api_version.clone(), r.kind.clone()))
            .collect();
        for r in older.resources {
            if !known.contains(&(r.api_version.clone(), r.kind.clone())) {
                self.resources.push(r);
            }
        }
    }

    /// Kubernetes objects are `metadata` = 1, `spec` = 2, `status` = 3. A
    /// newer release may add a `status` that no k8s-pb knows yet (CSINode);
    /// when k8s-openapi lists it, field 3 is kept as a schema-less message
    /// named `status` rather than as an unknown field.
    fn add_conventional_status(&mut self, names: &JsonNames) {
        for m in &mut self.messages {
            let has =
                |tag: u32, name: &str| m.fields.iter().any(|f| f.tag == tag && f.name == name);
            if has(1, "metadata")
                && has(2, "spec")
                && !m.fields.iter().any(|f| f.tag == 3 || f.name == "status")
                && names.has_field(&m.module.join("/"), &m.name, "status")
            {
                m.fields.push(RawField {
                    name: "status".into(),
                    tag: 3,
                    repeated: false,
                    kind: RawKind::Scalar("Generic"),
                    doc_word: None,
                });
            }
        }
    }

    fn generate(&mut self, names: &JsonNames) -> String {
        self.add_conventional_status(names);
        let mut index: HashMap<String, usize> = HashMap::new();
        for (i, m) in self.messages.iter().enumerate() {
            index.insert(format!("{}::{}", m.module.join("::"), m.name), i);
        }
        let resolve = |module: &[String], path: &str| -> usize {
            let mut segs: Vec<String> = module.to_vec();
            let parts: Vec<&str> = path.split("::").filter(|s| !s.is_empty()).collect();
            let mut k = 0;
            if parts.first() == Some(&"crate") {
                segs.clear();
                k = 1;
            }
            while k < parts.len() && parts[k] == "super" {
                segs.pop();
                k += 1;
            }
            for p in &parts[k..] {
                segs.push(p.to_string());
            }
            let name = segs.pop().unwrap();
            let key = format!("{}::{}", segs.join("::"), name);
            *index.get(&key).unwrap_or_else(|| {
                panic!(
                    "registry build: unresolved message type {path} in {}",
                    module.join("::")
                )
            })
        };

        let mut out = String::new();
        out.push_str("// @generated by build.rs from k8s-pb and k8s-openapi sources\n");
        out.push_str("pub(crate) static MESSAGES: &[MessageDef] = &[\n");
        for m in &self.messages {
            let dir = m.module.join("/");
            let full = format!("{}.{}", proto_package(&m.module), m.name);
            let has_openapi = names.struct_fields(&dir, &m.name).is_some();
            let special = special_of(&m.module, &m.name, &m.fields, has_openapi);
            let mut max_tag = 0;
            let mut fields = String::new();
            for f in &m.fields {
                max_tag = max_tag.max(f.tag);
                let bare = f.name.trim_start_matches("r#");
                let json = names.lookup(&dir, &m.name, bare, f.doc_word.as_deref());
                let kind = match &f.kind {
                    RawKind::Scalar(s) => format!("Kind::{s}"),
                    RawKind::Message(p) => format!("Kind::Message({})", resolve(&m.module, p)),
                    RawKind::Map(v, None) => format!("Kind::Map(MapValue::{v})"),
                    RawKind::Map(_, Some(p)) => {
                        format!("Kind::Map(MapValue::Message({}))", resolve(&m.module, p))
                    }
                };
                let key = format!("\"{json}\":");
                let omit_empty = matches!(f.kind, RawKind::Scalar("String"))
                    && !f.repeated
                    && names.omit_empty(&dir, &m.name, bare);
                let inline = match &f.kind {
                    RawKind::Message(p) if !f.repeated => {
                        names.is_inline(&dir, &m.name, bare, p.rsplit("::").next().unwrap_or(p))
                    }
                    _ => false,
                };
                let _ = writeln!(
                    fields,
                    "        FieldDef {{ tag: {}, key: {:?}, kind: {kind}, repeated: {}, inline: {inline}, omit_empty: {omit_empty} }},",
                    f.tag, key, f.repeated
                );
            }
            let mut by_tag = vec![0u16; max_tag as usize + 1];
            for (i, f) in m.fields.iter().enumerate() {
                by_tag[f.tag as usize] = i as u16 + 1;
            }
            let _ = writeln!(
                out,
                "    MessageDef {{ name: {full:?}, special: Special::{special}, by_tag: &{by_tag:?}, fields: &[\n{fields}    ] }},"
            );
        }
        out.push_str("];\n\n");

        // (apiVersion, kind) -> message, sorted for binary search. Every
        // message of a versioned package gets an entry (so reviews, Scale,
        // options decode too); Resource impls take precedence.
        let mut package_group: HashMap<Vec<String>, String> = HashMap::new();
        for r in &self.resources {
            let pkg = r.module[..r.module.len() - 1].to_vec();
            package_group.insert(pkg, r.group.clone());
        }
        let mut kinds: BTreeMap<(String, String), usize> = BTreeMap::new();
        for (i, m) in self.messages.iter().enumerate() {
            if let Some(gv) = group_version(&m.module, &package_group) {
                kinds.insert((gv, m.name.clone()), i);
            }
        }
        for r in &self.resources {
            if let Some(&i) = index.get(&format!("{}::{}", r.module.join("::"), r.name)) {
                kinds.insert((r.api_version.clone(), r.kind.clone()), i);
            }
        }
        out.push_str("pub(crate) static KINDS: &[(&str, &str, u16)] = &[\n");
        for ((av, k), i) in &kinds {
            let _ = writeln!(out, "    ({av:?}, {k:?}, {i}),");
        }
        out.push_str("];\n");
        out
    }
}

/// The Go protobuf package, used in warnings (`k8s.io.api.core.v1.Pod`).
fn proto_package(module: &[String]) -> String {
    let m: Vec<&str> = module.iter().map(String::as_str).collect();
    match m.as_slice() {
        ["api", rest @ ..] => format!("k8s.io.api.{}", rest.join(".")),
        ["apimachinery", rest @ ..] => format!("k8s.io.apimachinery.{}", rest.join(".")),
        ["apiextensions_apiserver", rest @ ..] => {
            format!("k8s.io.apiextensions_apiserver.{}", rest.join("."))
        }
        ["kube_aggregator", rest @ ..] => format!("k8s.io.kube_aggregator.{}", rest.join(".")),
        _ => m.join("."),
    }
}

/// apiVersion for the messages of a module: the group of the package's
/// Resource impls (any version), else the Go package's registered group.
fn group_version(
    module: &[String],
    package_group: &HashMap<Vec<String>, String>,
) -> Option<String> {
    let version = module.last()?.clone();
    if !version.starts_with('v') {
        return None;
    }
    let pkg = &module[..module.len() - 1];
    let group = if let Some(g) = package_group.get(pkg) {
        g.clone()
    } else {
        match pkg
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .as_slice()
        {
            ["api", "core"] => String::new(),
            ["api", p @ ("apps" | "batch" | "autoscaling" | "policy" | "extensions")] => {
                p.to_string()
            }
            ["api", "flowcontrol"] => "flowcontrol.apiserver.k8s.io".into(),
            ["api", "apiserverinternal"] => "internal.apiserver.k8s.io".into(),
            ["api", "rbac"] => "rbac.authorization.k8s.io".into(),
            ["api", p] => format!("{p}.k8s.io"),
            ["apimachinery", "pkg", "apis", "meta"] => "meta.k8s.io".into(),
            ["metrics", "pkg", "apis", p] => format!("{}.k8s.io", p.replace('_', ".")),
            _ => return None,
        }
    };
    Some(if group.is_empty() {
        version
    } else {
        format!("{group}/{version}")
    })
}

fn special_of(
    module: &[String],
    name: &str,
    fields: &[RawField],
    has_openapi: bool,
) -> &'static str {
    let m = module.join("/");
    match (m.as_str(), name) {
        ("apimachinery/pkg/apis/meta/v1", "Time") => "Time",
        ("apimachinery/pkg/apis/meta/v1", "MicroTime") => "MicroTime",
        ("apimachinery/pkg/apis/meta/v1", "Duration") => "Duration",
        ("apimachinery/pkg/apis/meta/v1", "FieldsV1") => "RawJson",
        ("apimachinery/pkg/runtime", "RawExtension") => "RawJson",
        ("apimachinery/pkg/api/resource", "Quantity" | "QuantityValue") => "Quantity",
        ("apimachinery/pkg/util/intstr", "IntOrString") => "IntOrString",
        (_, "Json") if m.starts_with("apiextensions_apiserver") => "RawJson",
        (_, "JsonSchemaPropsOrArray") => "OrArray",
        (_, "JsonSchemaPropsOrBool") => "OrBool",
        (_, "JsonSchemaPropsOrStringArray") => "OrStringArray",
        // Go slice types (`type ExtraValue []string`) become a message with
        // one repeated `items` field; real structs with only `items` (like
        // DownwardAPIProjection) exist in k8s-openapi, slice types do not.
        _ if !has_openapi
            && fields.len() == 1
            && fields[0].name == "items"
            && fields[0].repeated =>
        {
            "SliceAlias"
        }
        _ => "None",
    }
}

fn parse_field(attr: &str, decl: &str, doc_word: Option<String>) -> RawField {
    let decl = decl.trim_start_matches("pub ");
    let (name, ty) = decl.split_once(':').expect("field declaration");
    // rustfmt leaves a trailing comma inside wrapped generics.
    let ty: String = ty
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .replace(",>", ">");
    let ty = ty.trim_end_matches(',');
    let tag: u32 = attr
        .split("tag = \"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .and_then(|t| t.parse().ok())
        .expect("prost tag");
    let repeated = attr.contains("repeated");
    let kind = if let Some(r) = attr
        .strip_prefix("btree_map = \"")
        .or_else(|| attr.strip_prefix("map = \""))
    {
        let spec = r.split('"').next().unwrap();
        let (k, v) = spec.split_once(", ").unwrap();
        assert_eq!(
            k, "string",
            "registry build: only string map keys are supported"
        );
        if v == "message" {
            RawKind::Map("Message", Some(generic_arg(ty, 1)))
        } else {
            RawKind::Map(scalar_name(v), None)
        }
    } else {
        let first = attr.split(',').next().unwrap().trim();
        let first = first.split(' ').next().unwrap();
        if first == "message" {
            RawKind::Message(innermost(ty))
        } else {
            RawKind::Scalar(scalar_name(first))
        }
    };
    RawField {
        name: name.trim().to_string(),
        tag,
        repeated,
        kind,
        doc_word,
    }
}

fn innermost(ty: &str) -> String {
    let mut t = ty;
    loop {
        let before = t;
        for w in [
            "::core::option::Option<",
            "::prost::alloc::vec::Vec<",
            "::prost::alloc::boxed::Box<",
            "Option<",
            "Vec<",
            "Box<",
        ] {
            if let Some(r) = t.strip_prefix(w) {
                t = r.strip_suffix('>').unwrap();
            }
        }
        if before == t {
            return t.to_string();
        }
    }
}

/// The n-th top-level generic argument of `Map<A, B>`.
fn generic_arg(ty: &str, n: usize) -> String {
    let open = ty.find('<').unwrap();
    let inner = &ty[open + 1..ty.len() - 1];
    let mut depth = 0;
    let mut parts = Vec::new();
    let mut start = 0;
    for (i, c) in inner.char_indices() {
        match c {
            '<' => depth += 1,
            '>' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&inner[start..]);
    innermost(parts[n])
}
