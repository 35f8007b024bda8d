//! Packaging: the krew manifest is valid and agrees with Cargo.toml, and the
//! release profile is the one we ship.

use std::path::Path;

use serde_json::Value;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn manifest() -> Value {
    let text = std::fs::read_to_string(root().join("krew/etcd.yaml")).unwrap();
    serde_saphyr::from_str(&text).expect("krew/etcd.yaml is YAML")
}

#[test]
fn krew_manifest_has_the_fields_krew_validates() {
    let m = manifest();
    assert_eq!(
        m["apiVersion"],
        "krew.googlecontainertools.github.com/v1alpha2"
    );
    assert_eq!(m["kind"], "Plugin");
    assert_eq!(
        m["metadata"]["name"], "etcd",
        "`kubectl etcd` needs the name etcd"
    );
    let spec = &m["spec"];
    assert_eq!(
        spec["version"].as_str().unwrap(),
        format!("v{}", env!("CARGO_PKG_VERSION")),
        "manifest version follows Cargo.toml"
    );
    assert!(spec["shortDescription"].as_str().unwrap().len() <= 60);
    assert!(spec["homepage"].as_str().unwrap().starts_with("https://"));

    let mut seen = Vec::new();
    for p in spec["platforms"].as_array().unwrap() {
        let labels = &p["selector"]["matchLabels"];
        let os = labels["os"].as_str().unwrap().to_string();
        let arch = labels["arch"].as_str().unwrap().to_string();
        assert_eq!(p["bin"], "kubectl-etcd", "{os}/{arch}");
        let sha = p["sha256"].as_str().unwrap();
        assert_eq!(sha.len(), 64, "{os}/{arch} sha256 is 64 hex digits");
        assert!(sha.chars().all(|c| c.is_ascii_hexdigit()));
        let uri = p["uri"].as_str().unwrap();
        assert!(
            uri.starts_with("https://") && uri.ends_with(".tar.gz"),
            "{uri}"
        );
        assert!(uri.contains(spec["version"].as_str().unwrap()), "{uri}");
        let files: Vec<&str> = p["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["from"].as_str().unwrap())
            .collect();
        assert!(files.contains(&"kubectl-etcd") && files.contains(&"kubectl_complete-etcd"));
        seen.push(format!("{os}/{arch}"));
    }
    seen.sort();
    assert_eq!(
        seen,
        ["darwin/amd64", "darwin/arm64", "linux/amd64", "linux/arm64"]
    );
}

#[test]
fn release_profile_uses_lto_and_strip() {
    let cargo = std::fs::read_to_string(root().join("Cargo.toml")).unwrap();
    let release = cargo
        .split("[profile.release]")
        .nth(1)
        .expect("release profile");
    let release = release.split("\n[").next().unwrap();
    assert!(release.contains("lto = true"), "{release}");
    assert!(release.contains("strip = true"), "{release}");
}

#[test]
fn kubectl_complete_script_is_executable_and_calls_the_plugin() {
    use std::os::unix::fs::PermissionsExt;
    let path = root().join("completions/kubectl_complete-etcd");
    let meta = std::fs::metadata(&path).unwrap();
    assert!(meta.permissions().mode() & 0o111 != 0, "executable");
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.contains("kubectl-etcd __complete \"$@\""));
}
