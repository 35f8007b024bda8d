//! Decoder tests that need no fixtures: typed objects are built with
//! k8s-pb, encoded with prost, wrapped in the storage envelope and decoded.

use k8s_pb::api::core::v1 as core;
use k8s_pb::apimachinery::pkg::api::resource::Quantity;
use k8s_pb::apimachinery::pkg::apis::meta::v1 as meta;
use k8s_pb::apimachinery::pkg::runtime::{RawExtension, TypeMeta, Unknown};
use k8s_pb::apimachinery::pkg::util::intstr::IntOrString;
use prost::Message;
use registry::value::{
    decode, decode_as, detect, redact_secrets, type_meta, DecodeError, DecodeOptions, Encoding,
};
use serde_json::{json, Value};
use std::collections::BTreeMap;

fn envelope(api_version: &str, kind: &str, raw: Vec<u8>) -> Vec<u8> {
    let u = Unknown {
        type_meta: Some(TypeMeta {
            api_version: Some(api_version.into()),
            kind: Some(kind.into()),
        }),
        raw: Some(raw),
        content_encoding: Some(String::new()),
        content_type: Some(String::new()),
    };
    let mut v = b"k8s\0".to_vec();
    v.extend(u.encode_to_vec());
    v
}

fn lenient() -> DecodeOptions {
    DecodeOptions::default()
}

fn s(v: &str) -> Option<String> {
    Some(v.to_string())
}

fn sample_pod() -> core::Pod {
    core::Pod {
        metadata: Some(meta::ObjectMeta {
            name: s("web-0"),
            namespace: s("default"),
            // gogo protobuf writes empty non-pointer strings; Go's JSON
            // omits them (omitempty).
            generate_name: s(""),
            generation: Some(3),
            creation_timestamp: Some(meta::Time {
                seconds: Some(1_199_149_261),
                nanos: Some(0),
            }),
            // A zero metav1.Time marshals as an empty message.
            deletion_timestamp: Some(meta::Time {
                seconds: None,
                nanos: None,
            }),
            labels: BTreeMap::from([("app".into(), "web".into()), ("tier".into(), "fe".into())]),
            ..Default::default()
        }),
        spec: Some(core::PodSpec {
            containers: vec![core::Container {
                name: s("app"),
                image: s("nginx:1.27"),
                ports: vec![core::ContainerPort {
                    container_port: Some(8080),
                    host_ip: s("10.0.0.1"),
                    ..Default::default()
                }],
                resources: Some(core::ResourceRequirements {
                    limits: BTreeMap::from([
                        ("cpu".into(), Quantity { string: s("100m") }),
                        ("memory".into(), Quantity { string: s("64Mi") }),
                    ]),
                    ..Default::default()
                }),
                liveness_probe: Some(core::Probe {
                    handler: Some(core::ProbeHandler {
                        http_get: Some(core::HttpGetAction {
                            path: s("/healthz"),
                            port: Some(IntOrString {
                                r#type: Some(0),
                                int_val: Some(8080),
                                str_val: None,
                            }),
                            ..Default::default()
                        }),
                        ..Default::default()
                    }),
                    period_seconds: Some(10),
                    ..Default::default()
                }),
                readiness_probe: Some(core::Probe {
                    handler: Some(core::ProbeHandler {
                        tcp_socket: Some(core::TcpSocketAction {
                            port: Some(IntOrString {
                                r#type: Some(1),
                                int_val: None,
                                str_val: s("http"),
                            }),
                            ..Default::default()
                        }),
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            }],
            volumes: vec![core::Volume {
                name: s("certs"),
                volume_source: Some(core::VolumeSource {
                    secret: Some(core::SecretVolumeSource {
                        secret_name: s("tls"),
                        default_mode: Some(0o644),
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
            }],
            termination_grace_period_seconds: Some(30),
            ..Default::default()
        }),
        status: Some(core::PodStatus {
            phase: s("Running"),
            host_ip: s("192.168.1.10"),
            pod_ips: vec![core::PodIp { ip: s("10.1.2.3") }],
            start_time: Some(meta::Time {
                seconds: Some(1_700_000_000),
                nanos: Some(999),
            }),
            ..Default::default()
        }),
    }
}

fn decode_pod() -> (registry::value::Decoded, Value) {
    let raw = envelope("v1", "Pod", sample_pod().encode_to_vec());
    let d = decode(&raw, &lenient()).unwrap();
    let v = d.to_value();
    (d, v)
}

#[test]
fn pod_decodes_with_kubernetes_json_names_and_formats() {
    let (d, v) = decode_pod();
    assert_eq!((d.api_version.as_str(), d.kind.as_str()), ("v1", "Pod"));
    assert_eq!(d.encoding, Encoding::Protobuf);
    assert!(d.warnings.is_empty(), "{:?}", d.warnings);
    let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["apiVersion", "kind", "metadata", "spec", "status"]);

    let m = &v["metadata"];
    assert_eq!(m["creationTimestamp"], "2008-01-01T01:01:01Z");
    assert_eq!(m["deletionTimestamp"], Value::Null);
    assert!(m.as_object().unwrap().contains_key("deletionTimestamp"));
    assert!(
        !m.as_object().unwrap().contains_key("generateName"),
        "empty optional string is omitted"
    );
    assert_eq!(m["generation"], 3);
    assert_eq!(m["labels"], json!({"app": "web", "tier": "fe"}));
    // Go struct order, not alphabetical.
    let meta_keys: Vec<&String> = m.as_object().unwrap().keys().collect();
    assert_eq!(
        meta_keys,
        [
            "name",
            "namespace",
            "generation",
            "creationTimestamp",
            "deletionTimestamp",
            "labels"
        ]
    );

    let c = &v["spec"]["containers"][0];
    assert_eq!(
        c["ports"][0],
        json!({"containerPort": 8080, "hostIP": "10.0.0.1"})
    );
    assert_eq!(
        c["resources"]["limits"],
        json!({"cpu": "100m", "memory": "64Mi"})
    );
    // ProbeHandler is embedded (json:",inline") in Probe.
    assert_eq!(
        c["livenessProbe"],
        json!({"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 10})
    );
    assert_eq!(c["readinessProbe"]["tcpSocket"]["port"], "http");
    // VolumeSource is embedded in Volume.
    assert_eq!(
        v["spec"]["volumes"][0],
        json!({"name": "certs", "secret": {"secretName": "tls", "defaultMode": 420}})
    );
    assert_eq!(v["spec"]["terminationGracePeriodSeconds"], 30);

    assert_eq!(v["status"]["hostIP"], "192.168.1.10");
    assert_eq!(v["status"]["podIPs"], json!([{"ip": "10.1.2.3"}]));
    assert_eq!(v["status"]["startTime"], "2023-11-14T22:13:20Z");
}

#[test]
fn json_text_is_compact() {
    let (d, _) = decode_pod();
    assert!(d
        .json
        .starts_with(r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web-0""#));
    assert!(!d.json.contains(": ") && !d.json.contains('\n'));
}

#[test]
fn decode_agrees_with_typed_prost_decode() {
    // Re-decoding our JSON through k8s-openapi (the Kubernetes JSON schema)
    // must give back the same data the typed protobuf holds.
    let (_, v) = decode_pod();
    let pod: k8s_openapi::api::core::v1::Pod = serde_json::from_value(v).unwrap();
    let spec = pod.spec.unwrap();
    assert_eq!(spec.containers[0].image.as_deref(), Some("nginx:1.27"));
    assert_eq!(
        spec.containers[0].ports.as_ref().unwrap()[0]
            .host_ip
            .as_deref(),
        Some("10.0.0.1")
    );
    assert_eq!(pod.status.unwrap().host_ip.as_deref(), Some("192.168.1.10"));
}

#[test]
fn micro_time_has_six_fraction_digits() {
    let ev = k8s_pb::api::events::v1::Event {
        metadata: Some(meta::ObjectMeta {
            name: s("e"),
            ..Default::default()
        }),
        event_time: Some(meta::MicroTime {
            seconds: Some(1_199_149_261),
            nanos: Some(123_456_789),
        }),
        ..Default::default()
    };
    let d = decode(
        &envelope("events.k8s.io/v1", "Event", ev.encode_to_vec()),
        &lenient(),
    )
    .unwrap();
    assert_eq!(d.to_value()["eventTime"], "2008-01-01T01:01:01.123456Z");
    let ev = k8s_pb::api::events::v1::Event {
        event_time: Some(meta::MicroTime {
            seconds: Some(1_199_149_261),
            nanos: None,
        }),
        ..Default::default()
    };
    let d = decode(
        &envelope("events.k8s.io/v1", "Event", ev.encode_to_vec()),
        &lenient(),
    )
    .unwrap();
    assert_eq!(d.to_value()["eventTime"], "2008-01-01T01:01:01.000000Z");
}

#[test]
fn duration_is_a_go_duration_string() {
    let pm = k8s_pb::metrics::pkg::apis::metrics::v1beta1::PodMetrics {
        window: Some(meta::Duration {
            duration: Some(3_723_500_000_000),
        }),
        ..Default::default()
    };
    let d = decode(
        &envelope("metrics.k8s.io/v1beta1", "PodMetrics", pm.encode_to_vec()),
        &lenient(),
    )
    .unwrap();
    assert_eq!(d.to_value()["window"], "1h2m3.5s");
}

#[test]
fn bytes_are_base64_and_maps_are_objects() {
    let secret = core::Secret {
        metadata: Some(meta::ObjectMeta {
            name: s("db"),
            ..Default::default()
        }),
        data: BTreeMap::from([
            ("password".into(), b"hunter2".to_vec()),
            ("empty".into(), Vec::new()),
        ]),
        string_data: BTreeMap::new(),
        r#type: s("Opaque"),
        immutable: Some(true),
    };
    let d = decode(
        &envelope("v1", "Secret", secret.encode_to_vec()),
        &lenient(),
    )
    .unwrap();
    let v = d.to_value();
    assert_eq!(v["data"], json!({"empty": "", "password": "aHVudGVyMg=="}));
    assert_eq!(v["type"], "Opaque");
    assert_eq!(v["immutable"], true);
}

#[test]
fn raw_extension_is_inlined_json_or_nested_object() {
    let rev = k8s_pb::api::apps::v1::ControllerRevision {
        metadata: Some(meta::ObjectMeta {
            name: s("r1"),
            ..Default::default()
        }),
        data: Some(RawExtension {
            raw: Some(br#"{"spec": {"replicas": 2}}"#.to_vec()),
        }),
        revision: Some(1),
    };
    let d = decode(
        &envelope("apps/v1", "ControllerRevision", rev.encode_to_vec()),
        &lenient(),
    )
    .unwrap();
    assert_eq!(d.to_value()["data"], json!({"spec": {"replicas": 2}}));
    assert!(
        d.json.contains(r#""data":{"spec":{"replicas":2}}"#),
        "minified: {}",
        d.json
    );

    // A RawExtension holding a protobuf storage object decodes it too.
    let cm = core::ConfigMap {
        data: BTreeMap::from([("k".into(), "v".into())]),
        ..Default::default()
    };
    let inner = envelope("v1", "ConfigMap", cm.encode_to_vec());
    let rev = k8s_pb::api::apps::v1::ControllerRevision {
        data: Some(RawExtension { raw: Some(inner) }),
        ..Default::default()
    };
    let d = decode(
        &envelope("apps/v1", "ControllerRevision", rev.encode_to_vec()),
        &lenient(),
    )
    .unwrap();
    assert_eq!(
        d.to_value()["data"],
        json!({"apiVersion": "v1", "kind": "ConfigMap", "data": {"k": "v"}})
    );

    // Neither JSON nor protobuf: kept as base64, with a warning.
    let rev = k8s_pb::api::apps::v1::ControllerRevision {
        data: Some(RawExtension {
            raw: Some(b"a: yaml".to_vec()),
        }),
        ..Default::default()
    };
    let d = decode(
        &envelope("apps/v1", "ControllerRevision", rev.encode_to_vec()),
        &lenient(),
    )
    .unwrap();
    assert_eq!(d.to_value()["data"], "YTogeWFtbA==");
    assert_eq!(d.warnings.len(), 1);
}

#[test]
fn crd_schema_unions_and_json_names() {
    use k8s_pb::apiextensions_apiserver::pkg::apis::apiextensions::v1 as ext;
    let string_schema = ext::JsonSchemaProps {
        r#type: s("string"),
        ..Default::default()
    };
    let props = ext::JsonSchemaProps {
        r#type: s("object"),
        r#ref: s("#/definitions/x"),
        x_kubernetes_preserve_unknown_fields: Some(true),
        default: Some(ext::Json {
            raw: Some(br#"{"a":1}"#.to_vec()),
        }),
        items: Some(Box::new(ext::JsonSchemaPropsOrArray {
            schema: Some(Box::new(string_schema.clone())),
            j_son_schemas: vec![],
        })),
        additional_properties: Some(Box::new(ext::JsonSchemaPropsOrBool {
            allows: Some(false),
            schema: None,
        })),
        dependencies: BTreeMap::from([(
            "a".into(),
            ext::JsonSchemaPropsOrStringArray {
                schema: None,
                property: vec!["b".into(), "c".into()],
            },
        )]),
        properties: BTreeMap::from([("name".into(), string_schema)]),
        ..Default::default()
    };
    let crd = ext::CustomResourceDefinition {
        spec: Some(ext::CustomResourceDefinitionSpec {
            group: s("example.com"),
            versions: vec![ext::CustomResourceDefinitionVersion {
                name: s("v1"),
                schema: Some(ext::CustomResourceValidation {
                    open_apiv3_schema: Some(props),
                }),
                ..Default::default()
            }],
            ..Default::default()
        }),
        ..Default::default()
    };
    let d = decode(
        &envelope(
            "apiextensions.k8s.io/v1",
            "CustomResourceDefinition",
            crd.encode_to_vec(),
        ),
        &lenient(),
    )
    .unwrap();
    let v = d.to_value();
    let schema = &v["spec"]["versions"][0]["schema"]["openAPIV3Schema"];
    assert_eq!(schema["$ref"], "#/definitions/x");
    assert_eq!(schema["x-kubernetes-preserve-unknown-fields"], true);
    assert_eq!(schema["default"], json!({"a": 1}));
    assert_eq!(schema["items"], json!({"type": "string"}));
    assert_eq!(schema["additionalProperties"], false);
    assert_eq!(schema["dependencies"], json!({"a": ["b", "c"]}));
    assert_eq!(schema["properties"]["name"], json!({"type": "string"}));
}

#[test]
fn slice_alias_messages_are_arrays() {
    use k8s_pb::api::authentication::v1 as authn;
    let tr = authn::TokenReview {
        status: Some(authn::TokenReviewStatus {
            authenticated: Some(true),
            user: Some(authn::UserInfo {
                username: s("alice"),
                extra: BTreeMap::from([(
                    "scopes".into(),
                    authn::ExtraValue {
                        items: vec!["a".into(), "b".into()],
                    },
                )]),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    };
    let d = decode(
        &envelope(
            "authentication.k8s.io/v1",
            "TokenReview",
            tr.encode_to_vec(),
        ),
        &lenient(),
    )
    .unwrap();
    assert_eq!(
        d.to_value()["status"]["user"]["extra"],
        json!({"scopes": ["a", "b"]})
    );
}

/// Appends a field the schema does not know (tag 99, varint 7, and tag 98
/// bytes) to an encoded ConfigMap.
fn configmap_with_unknown_fields() -> Vec<u8> {
    let cm = core::ConfigMap {
        metadata: Some(meta::ObjectMeta {
            name: s("c"),
            ..Default::default()
        }),
        data: BTreeMap::from([("k".into(), "v".into())]),
        ..Default::default()
    };
    let mut raw = cm.encode_to_vec();
    raw.extend_from_slice(&[0x98, 0x06, 0x07]); // (99 << 3) | 0 = 792
    raw.extend_from_slice(&[0x92, 0x06, 0x02, 0xff, 0x00]); // (98 << 3) | 2 = 786
    envelope("v1", "ConfigMap", raw)
}

#[test]
fn unknown_fields_are_kept_and_reported() {
    let d = decode(&configmap_with_unknown_fields(), &lenient()).unwrap();
    let v = d.to_value();
    assert_eq!(v["<unknown field 99>"], 7);
    assert_eq!(v["<unknown field 98>"], "/wA=");
    assert_eq!(v["data"], json!({"k": "v"}));
    assert_eq!(d.warnings.len(), 1, "{:?}", d.warnings);
    assert!(
        d.warnings[0].contains("k8s.io.api.core.v1.ConfigMap"),
        "{}",
        d.warnings[0]
    );
    assert!(
        d.warnings[0].contains("98") && d.warnings[0].contains("99"),
        "{}",
        d.warnings[0]
    );
}

#[test]
fn strict_mode_rejects_unknown_fields_and_kinds() {
    let strict = DecodeOptions { strict: true };
    match decode(&configmap_with_unknown_fields(), &strict) {
        Err(DecodeError::UnknownField { message, field }) => {
            assert_eq!(message, "k8s.io.api.core.v1.ConfigMap");
            assert!(field == 98 || field == 99);
        }
        other => panic!("expected UnknownField, got {other:?}"),
    }
    let raw = envelope("example.com/v1", "Widget", vec![0x08, 0x01]);
    assert!(matches!(
        decode(&raw, &strict),
        Err(DecodeError::UnknownKind { .. })
    ));
}

#[test]
fn unknown_kind_gets_a_generic_dump() {
    // {1: "hello", 2: 150, 3: {1: "nested"}}
    let mut raw = vec![0x0a, 0x05];
    raw.extend_from_slice(b"hello");
    raw.extend_from_slice(&[0x10, 0x96, 0x01, 0x1a, 0x08, 0x0a, 0x06]);
    raw.extend_from_slice(b"nested");
    let d = decode(
        &envelope("example.com/v1", "Widget", raw.clone()),
        &lenient(),
    )
    .unwrap();
    let v = d.to_value();
    assert_eq!(v["apiVersion"], "example.com/v1");
    assert_eq!(v["kind"], "Widget");
    assert_eq!(v["rawSize"], raw.len());
    assert_eq!(
        v["fields"],
        json!({"1": "hello", "2": 150, "3": {"1": "nested"}})
    );
    assert!(d.warnings[0].contains("Widget"), "{:?}", d.warnings);
}

#[test]
fn empty_type_meta_uses_the_callers_type() {
    let cm = core::ConfigMap {
        data: BTreeMap::from([("k".into(), "v".into())]),
        ..Default::default()
    };
    let raw = envelope("", "", cm.encode_to_vec());
    let d = decode_as(&raw, "v1", "ConfigMap", &lenient()).unwrap();
    assert_eq!(d.to_value(), json!({"data": {"k": "v"}}));
}

/// A decode of damaged bytes either refuses them or yields a document that
/// reads back as JSON: never a silent `null` (the failure mode of issue 13).
fn answers_or_refuses(result: Result<registry::value::Decoded, DecodeError>) {
    if let Ok(d) = result {
        assert!(!d.to_value().is_null(), "decoded to null: {}", d.json);
    }
}

#[test]
fn malformed_protobuf_is_an_error_not_a_panic() {
    let full = envelope("v1", "Pod", sample_pod().encode_to_vec());
    // Every truncation: an error or (for cuts on a field boundary of the
    // outer envelope) a shorter object, but never a panic.
    for n in 0..full.len() {
        answers_or_refuses(decode(&full[..n], &lenient()));
        if let Some((api_version, kind)) = type_meta(&full[..n]) {
            // a cut envelope never invents type meta
            assert!(
                (api_version.is_empty() || api_version == "v1")
                    && (kind.is_empty() || kind == "Pod"),
                "{api_version}/{kind} from a cut at {n}"
            );
        }
    }
    assert!(matches!(
        decode(&full[..full.len() - 3], &lenient()),
        Err(DecodeError::Malformed(_))
    ));
    // Garbled bytes (deterministic xorshift) must not panic either;
    // REGISTRY_FUZZ_ITERS runs longer.
    let iters = std::env::var("REGISTRY_FUZZ_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3000);
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    for _ in 0..iters {
        let mut v = full.clone();
        for _ in 0..4 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let i = 4 + (seed as usize) % (v.len() - 4);
            v[i] = (seed >> 32) as u8;
        }
        answers_or_refuses(decode(&v, &lenient()));
        answers_or_refuses(decode(&v, &DecodeOptions { strict: true }));
    }
    // Random bodies under an unknown kind (generic dump) and random CBOR.
    for n in 0..2000usize {
        let mut body = Vec::with_capacity(n % 64);
        for _ in 0..n % 64 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            body.push(seed as u8);
        }
        answers_or_refuses(decode(
            &envelope("example.com/v1", "Widget", body.clone()),
            &lenient(),
        ));
        let mut cbor = vec![0xd9, 0xd9, 0xf7];
        cbor.extend_from_slice(&body);
        answers_or_refuses(decode(&cbor, &lenient()));
    }
    // Hostile nesting depth is refused rather than overflowing the stack.
    let mut deep = Vec::new();
    for _ in 0..10_000 {
        let mut outer = vec![0x1a];
        let mut len = deep.len();
        loop {
            let b = (len & 0x7f) as u8;
            len >>= 7;
            if len == 0 {
                outer.push(b);
                break;
            }
            outer.push(b | 0x80);
        }
        outer.extend_from_slice(&deep);
        deep = outer;
    }
    let _ = decode(&envelope("example.com/v1", "Deep", deep), &lenient());
}

#[test]
fn json_values_pass_through_in_order() {
    let raw = b"{\n  \"apiVersion\": \"example.com/v1\",\n  \"kind\": \"Widget\",\n  \"spec\": {\"z\": 1, \"a\": \"x y\"}\n}\n";
    assert_eq!(detect(raw), Encoding::Json);
    let d = decode(raw, &lenient()).unwrap();
    assert_eq!(d.encoding, Encoding::Json);
    assert_eq!(
        (d.api_version.as_str(), d.kind.as_str()),
        ("example.com/v1", "Widget")
    );
    assert_eq!(
        d.json,
        r#"{"apiVersion":"example.com/v1","kind":"Widget","spec":{"z":1,"a":"x y"}}"#
    );
    assert!(matches!(
        decode(b"{not json", &lenient()),
        Err(DecodeError::InvalidJson(_))
    ));
}

#[test]
fn cbor_values_decode_to_json() {
    // 55799({"apiVersion": "example.com/v1", "kind": "W", "n": 1})
    let mut raw = vec![0xd9, 0xd9, 0xf7, 0xa3, 0x6a];
    raw.extend_from_slice(b"apiVersion");
    raw.push(0x6e);
    raw.extend_from_slice(b"example.com/v1");
    raw.push(0x64);
    raw.extend_from_slice(b"kind");
    raw.push(0x61);
    raw.extend_from_slice(b"W");
    raw.extend_from_slice(&[0x61, b'n', 0x01]);
    let d = decode(&raw, &lenient()).unwrap();
    assert_eq!(d.encoding, Encoding::Cbor);
    assert_eq!(
        d.json,
        r#"{"apiVersion":"example.com/v1","kind":"W","n":1}"#
    );
    assert_eq!(type_meta(&raw), Some(("example.com/v1".into(), "W".into())));
}

#[test]
fn encrypted_values_are_detected_not_decoded() {
    let raw = b"k8s:enc:aesgcm:v1:key2:\x8a\x01\x02";
    assert_eq!(
        detect(raw),
        Encoding::Encrypted {
            provider: "aesgcm".into(),
            key_name: "key2".into()
        }
    );
    assert_eq!(
        decode(raw, &lenient()).unwrap_err(),
        DecodeError::Encrypted {
            provider: "aesgcm".into(),
            key_name: "key2".into()
        }
    );
    assert_eq!(type_meta(raw), None);
    assert!(matches!(decode(b"", &lenient()), Err(DecodeError::Empty)));
    assert!(matches!(
        decode(b"\x01\x02", &lenient()),
        Err(DecodeError::UnknownEncoding(_))
    ));
}

#[test]
fn type_meta_peeks_without_decoding() {
    let raw = envelope("apps/v1", "Deployment", vec![0xff]); // body is garbage
    assert_eq!(
        type_meta(&raw),
        Some(("apps/v1".into(), "Deployment".into()))
    );
    assert_eq!(
        type_meta(br#"{"kind":"X","apiVersion":"a/v1","spec":{}}"#),
        Some(("a/v1".into(), "X".into()))
    );
}

#[test]
fn secrets_are_redacted() {
    let mut v = json!({
        "apiVersion": "v1", "kind": "Secret",
        "data": {"password": "aHVudGVyMg==", "empty": ""},
        "stringData": {"token": "abc"}
    });
    redact_secrets(&mut v);
    assert_eq!(
        v["data"],
        json!({"password": "<redacted 7 bytes>", "empty": "<redacted 0 bytes>"})
    );
    assert_eq!(v["stringData"], json!({"token": "<redacted 3 bytes>"}));
    let mut cm = json!({"kind": "ConfigMap", "data": {"a": "b"}});
    redact_secrets(&mut cm);
    assert_eq!(cm["data"]["a"], "b");
}

#[test]
fn kinds_at_versions_not_in_the_schema_use_a_sibling_version() {
    // No release has networking.k8s.io/v9: the v1 schema of the same kind
    // fits, and the output says so.
    let ip = k8s_pb::api::networking::v1::IPAddress {
        metadata: Some(meta::ObjectMeta {
            name: s("10.0.0.1"),
            ..Default::default()
        }),
        spec: Some(k8s_pb::api::networking::v1::IPAddressSpec {
            parent_ref: Some(k8s_pb::api::networking::v1::ParentReference {
                resource: s("services"),
                name: s("kubernetes"),
                ..Default::default()
            }),
        }),
    };
    let d = decode(
        &envelope("networking.k8s.io/v9", "IPAddress", ip.encode_to_vec()),
        &lenient(),
    )
    .unwrap();
    assert_eq!(
        d.to_value()["spec"]["parentRef"],
        json!({"resource": "services", "name": "kubernetes"})
    );
    assert!(
        d.warnings[0].contains("another version"),
        "{:?}",
        d.warnings
    );
}

/// A WatchEvent whose object is a `k8s\0` WatchEvent, nested far deeper
/// than any real object: the nesting limit holds across the nested
/// objects, so the decoder answers with an error instead of overflowing
/// the stack.
#[test]
fn objects_nested_in_raw_extensions_cannot_exhaust_the_stack() {
    let mut value = envelope("v1", "WatchEvent", Vec::new());
    for _ in 0..5_000 {
        let event = meta::WatchEvent {
            r#type: Some("ADDED".into()),
            object: Some(RawExtension { raw: Some(value) }),
        };
        value = envelope("v1", "WatchEvent", event.encode_to_vec());
    }
    match decode(&value, &lenient()) {
        Err(DecodeError::TooDeep { limit }) => assert_eq!(limit, registry::value::MAX_DEPTH),
        other => panic!("expected a nesting error, got {other:?}"),
    }
    // Shallow nesting still decodes.
    let inner = envelope("v1", "WatchEvent", Vec::new());
    let event = meta::WatchEvent {
        r#type: Some("ADDED".into()),
        object: Some(RawExtension { raw: Some(inner) }),
    };
    let shallow = envelope("v1", "WatchEvent", event.encode_to_vec());
    let d = decode(&shallow, &lenient()).expect("one level decodes");
    assert!(d.json.contains("\"ADDED\""), "{}", d.json);
}

#[test]
fn a_bare_k8s_magic_warns_without_blank_names() {
    let d = decode(b"k8s\0", &DecodeOptions::default()).expect("a generic dump");
    assert!(
        d.warnings
            .iter()
            .any(|w| w
                == "the envelope names no apiVersion or kind; showing a generic protobuf dump"),
        "{:?}",
        d.warnings
    );
    assert!(
        d.warnings.iter().all(|w| !w.starts_with(' ')),
        "{:?}",
        d.warnings
    );
}
