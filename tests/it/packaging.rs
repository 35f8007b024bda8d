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

/// krew's manifest rules (`internal/index/validation/validate.go` in
/// kubernetes-sigs/krew: apiVersion, kind, a safe name equal to the file's,
/// a one-line shortDescription, a `v` semver, and per platform a selector on
/// `os`/`arch` only, a uri, a lowercase 64-hex sha256, a bin, and `files`
/// absent or each with `from` and `to`), plus what `kubectl krew search`
/// shows whole: a shortDescription of at most 50 characters. Returns the
/// platforms as `os/arch`.
fn check_krew_rules(m: &Value, file_name: &str) -> Vec<String> {
    assert_eq!(
        m["apiVersion"], "krew.googlecontainertools.github.com/v1alpha2",
        "{file_name}"
    );
    assert_eq!(m["kind"], "Plugin");
    let name = m["metadata"]["name"].as_str().expect("metadata.name");
    assert!(
        !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'),
        "krew's name pattern ^[\\w-]+$: {name}"
    );
    assert_eq!(format!("{name}.yaml"), file_name, "named after its file");
    let spec = &m["spec"];
    let short = spec["shortDescription"].as_str().expect("shortDescription");
    assert!(
        !short.is_empty() && !short.contains(['\r', '\n']),
        "{short:?}"
    );
    assert!(
        short.len() <= 50,
        "`kubectl krew search` cuts shortDescription at 50 characters: {short:?} is {}",
        short.len()
    );
    assert!(!spec["description"].as_str().unwrap_or_default().is_empty());
    let version = spec["version"].as_str().expect("spec.version");
    let semver = version.strip_prefix('v').expect("krew wants a leading v");
    let parts: Vec<&str> = semver
        .split(['-', '+'])
        .next()
        .unwrap()
        .split('.')
        .collect();
    assert!(
        parts.len() == 3 && parts.iter().all(|p| p.parse::<u64>().is_ok()),
        "semver: {version}"
    );
    assert!(spec["homepage"].as_str().unwrap().starts_with("https://"));
    let platforms = spec["platforms"].as_array().expect("platforms");
    assert!(!platforms.is_empty(), "at least one platform");
    let mut seen = Vec::new();
    for p in platforms {
        let labels = p["selector"]["matchLabels"]
            .as_object()
            .expect("a matchLabels selector");
        assert!(!labels.is_empty(), "empty selector");
        for key in labels.keys() {
            assert!(key == "os" || key == "arch", "selector key {key}");
        }
        let os = labels["os"].as_str().unwrap();
        let arch = labels["arch"].as_str().unwrap();
        assert!(["linux", "darwin", "windows"].contains(&os), "{os}");
        assert!(["amd64", "arm64", "386", "arm"].contains(&arch), "{arch}");
        let uri = p["uri"].as_str().expect("uri");
        assert!(
            uri.starts_with("https://") && (uri.ends_with(".tar.gz") || uri.ends_with(".zip")),
            "{uri}"
        );
        assert!(uri.contains(version), "{uri} names {version}");
        let sha = p["sha256"].as_str().expect("sha256");
        assert!(
            sha.len() == 64 && sha.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f')),
            "sha256 must match ^[a-f0-9]{{64}}$: {sha}"
        );
        assert_eq!(p["bin"], "kubectl-etcd", "{os}/{arch}");
        if let Some(files) = p.get("files").filter(|f| !f.is_null()) {
            let files = files.as_array().expect("files is a list");
            assert!(!files.is_empty(), "files unspecified or non-empty");
            for f in files {
                assert!(f["from"].as_str().is_some_and(|s| !s.is_empty()));
                assert!(f["to"].as_str().is_some_and(|s| !s.is_empty()));
            }
        }
        let platform = format!("{os}/{arch}");
        assert!(!seen.contains(&platform), "{platform} twice");
        seen.push(platform);
    }
    seen.sort();
    seen
}

#[test]
fn krew_manifest_follows_krews_rules() {
    let m = manifest();
    assert_eq!(
        m["metadata"]["name"], "etcd",
        "`kubectl etcd` needs the name etcd"
    );
    assert_eq!(
        m["spec"]["version"].as_str().unwrap(),
        format!("v{}", env!("CARGO_PKG_VERSION")),
        "manifest version follows Cargo.toml"
    );
    assert_eq!(
        check_krew_rules(&m, "etcd.yaml"),
        ["darwin/amd64", "darwin/arm64", "linux/amd64", "linux/arm64"]
    );
}

/// `scripts/release.sh` with a debug binary (PROFILE=dev, BIN=): the archive
/// holds the binary, the kubectl completion script, man pages and the
/// completion scripts; its sha256 file and the manifest agree with it; the
/// manifest passes krew's rules.
#[test]
fn release_script_builds_an_archive_and_a_manifest_krew_accepts() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("dist");
    let version = env!("CARGO_PKG_VERSION");
    let mut script = std::process::Command::new(root().join("scripts/release.sh"));
    // Only the environment a person has, not the variables cargo sets for
    // a test.
    script.env_clear();
    for keep in [
        "PATH",
        "HOME",
        "CARGO_HOME",
        "RUSTUP_HOME",
        "RUSTUP_TOOLCHAIN",
        "TMPDIR",
    ] {
        if let Some(v) = std::env::var_os(keep) {
            script.env(keep, v);
        }
    }
    let o = script
        .arg(version)
        .arg(&out)
        .env("PROFILE", "dev")
        .env("BIN", env!("CARGO_BIN_EXE_kubectl-etcd"))
        .env("BASE_URL", "https://example.com/dl")
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "release.sh: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let text = std::fs::read_to_string(out.join("etcd.yaml")).unwrap();
    let m: Value = serde_saphyr::from_str(&text).unwrap();
    // One platform: this machine's.
    assert_eq!(check_krew_rules(&m, "etcd.yaml").len(), 1);
    assert_eq!(m["spec"]["version"], format!("v{version}"));
    assert_eq!(
        m["spec"]["description"],
        manifest()["spec"]["description"],
        "descriptions come from krew/etcd.yaml"
    );
    let p = &m["spec"]["platforms"][0];
    let uri = p["uri"].as_str().unwrap();
    let name = uri
        .strip_prefix("https://example.com/dl/")
        .expect("uri under BASE_URL")
        .to_string();
    assert!(
        name.starts_with(&format!("kubectl-etcd-v{version}-")),
        "{name}"
    );
    let archive = out.join(&name);
    let bytes = std::fs::read(&archive).unwrap();
    let sha: String = ring::digest::digest(&ring::digest::SHA256, &bytes)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(p["sha256"], sha.as_str(), "manifest hash is the archive's");
    let sha_file = std::fs::read_to_string(out.join(format!("{name}.sha256"))).unwrap();
    assert_eq!(sha_file, format!("{sha}  {name}\n"), "sha256sum -c format");

    let unpacked = dir.path().join("unpacked");
    std::fs::create_dir(&unpacked).unwrap();
    let t = std::process::Command::new("tar")
        .arg("-xzf")
        .arg(&archive)
        .arg("-C")
        .arg(&unpacked)
        .status()
        .unwrap();
    assert!(t.success());
    for file in [
        "kubectl-etcd",
        "kubectl_complete-etcd",
        "README.md",
        "man/kubectl-etcd.1",
        "man/kubectl-etcd-status.1",
        "man/kubectl-etcd-snapshot-save.1",
        "completions/kubectl-etcd.bash",
        "completions/_kubectl-etcd",
        "completions/kubectl-etcd.fish",
    ] {
        assert!(unpacked.join(file).is_file(), "{file} in the archive");
    }
    let man = std::fs::read_to_string(unpacked.join("man/kubectl-etcd-status.1")).unwrap();
    assert!(
        man.starts_with(".ie") || man.contains(".TH"),
        "roff: {man:.80}"
    );
    assert!(man.contains("quota"), "the status page documents its flags");
    let v = std::process::Command::new(unpacked.join("kubectl-etcd"))
        .arg("version")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&v.stdout).contains(version));

    // A version other than Cargo.toml's is refused before building anything.
    let o = std::process::Command::new(root().join("scripts/release.sh"))
        .args(["99.0.0", dir.path().join("bad").to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(!dir.path().join("bad").exists());
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
