//! Scaling the StatefulSet that runs etcd in step with a membership change:
//! which StatefulSet owns every etcd pod, what its replicas become, and why
//! it is left alone when scaling would take the wrong pod.
//!
//! Pure: a function of the pods' owners, the replicas read from the
//! StatefulSet and the change. Nothing here talks to Kubernetes or prints.

use serde::Serialize;

use crate::connect::PodInfo;
use crate::ops::resize::{PlannedStep, Step};

/// The StatefulSet owning every etcd pod, as `(namespace, name)`; `None`
/// when any pod has another (or no) controller, or they differ.
pub fn owner<'a>(pods: impl IntoIterator<Item = &'a PodInfo>) -> Option<(String, String)> {
    let mut found: Option<(String, String)> = None;
    for p in pods {
        match &p.owner {
            Some((kind, name)) if kind == "StatefulSet" => {
                let this = (p.namespace.clone(), name.clone());
                if found.as_ref().is_some_and(|f| *f != this) {
                    return None;
                }
                found = Some(this);
            }
            _ => return None,
        }
    }
    found
}

/// The membership change, as the StatefulSet sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change<'a> {
    /// A member named `name` joins.
    Add { name: &'a str },
    /// The member on pod `pod` (`None`: on no pod of the set) leaves.
    Remove { pod: Option<&'a str> },
}

/// Scale `namespace/name` from `from` to `to` replicas.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Scale {
    pub namespace: String,
    pub name: String,
    pub from: i32,
    pub to: i32,
}

impl Scale {
    pub fn describe(&self) -> String {
        format!(
            "scale StatefulSet `{}/{}` from {} to {} replicas",
            self.namespace, self.name, self.from, self.to
        )
    }
}

/// What to do with the StatefulSet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Decision {
    /// The scale step, if any.
    pub scale: Option<Scale>,
    /// Why it is not scaled, and what to do instead.
    pub skipped: Option<String>,
    /// Something the operator should know (a member name that is not the
    /// next pod's).
    pub warning: Option<String>,
    /// For an add: the pod the new member runs in, to reach it through.
    pub pod: Option<String>,
}

/// The ordinal of pod `pod` of StatefulSet `sts` (`etcd-2` -> 2).
pub fn ordinal(sts: &str, pod: &str) -> Option<i32> {
    pod.strip_prefix(sts)?
        .strip_prefix('-')?
        .parse()
        .ok()
        .filter(|n: &i32| *n >= 0)
}

/// Decide the scale step for `change` on StatefulSet `namespace/sts` at
/// `replicas` replicas.
pub fn decide(namespace: &str, sts: &str, replicas: i32, change: Change<'_>) -> Decision {
    let scale = |to: i32| Scale {
        namespace: namespace.to_string(),
        name: sts.to_string(),
        from: replicas,
        to,
    };
    match change {
        Change::Add { name } => {
            // A re-run after the scale: the pod is there already.
            if ordinal(sts, name).is_some_and(|k| k < replicas) {
                return Decision {
                    scale: None,
                    skipped: Some(format!(
                        "`{sts}` already runs `{name}` ({replicas} replicas)"
                    )),
                    warning: None,
                    pod: Some(name.to_string()),
                };
            }
            let next = format!("{sts}-{replicas}");
            Decision {
                scale: Some(scale(replicas + 1)),
                skipped: None,
                warning: (name != next).then(|| {
                    format!(
                        "the StatefulSet's next pod is `{next}`, not `{name}`: its etcd \
                         will not match the member added unless it is configured so"
                    )
                }),
                pod: Some(next),
            }
        }
        Change::Remove { pod: None } => Decision {
            scale: None,
            skipped: Some(format!(
                "the member runs on no pod of StatefulSet `{sts}`: it stays at {replicas} replicas"
            )),
            warning: None,
            pod: None,
        },
        Change::Remove { pod: Some(pod) } => {
            let highest = format!("{sts}-{}", replicas - 1);
            if replicas > 0 && ordinal(sts, pod) == Some(replicas - 1) {
                Decision {
                    scale: Some(scale(replicas - 1)),
                    skipped: None,
                    warning: None,
                    pod: None,
                }
            } else {
                Decision {
                    scale: None,
                    skipped: Some(format!(
                        "`{pod}` is not the highest ordinal pod `{highest}`: a StatefulSet only \
                         removes its highest ordinal, so `{sts}` stays at {replicas} replicas \
                         and `{pod}` must not restart with its old data; to shrink the \
                         StatefulSet, remove the member on `{highest}` instead, or to replace \
                         this one, delete its data (its PersistentVolumeClaim) and \
                         `resize add {pod}` again"
                    )),
                    warning: None,
                    pod: None,
                }
            }
        }
    }
}

/// The plan's steps with the scale step where it runs, described, each
/// with whether it is done: a new member's pod comes right after its
/// learner is added; a removed member's pod goes after the removal.
pub fn ordered_steps(steps: &[PlannedStep], scale: Option<&Scale>) -> Vec<(String, bool)> {
    let mut out: Vec<(String, bool)> = steps.iter().map(|s| (s.step.describe(), s.done)).collect();
    if let Some(scale) = scale {
        let at = steps
            .iter()
            .position(|s| matches!(s.step, Step::AddLearner { .. }))
            .map_or(out.len(), |i| i + 1);
        out.insert(at, (scale.describe(), false));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(name: &str, owner: Option<(&str, &str)>) -> PodInfo {
        PodInfo {
            namespace: "db".into(),
            name: name.into(),
            owner: owner.map(|(k, n)| (k.into(), n.into())),
            ..Default::default()
        }
    }

    #[test]
    fn the_owner_is_the_one_statefulset_of_every_pod() {
        let sts = Some(("StatefulSet", "etcd"));
        let pods = [pod("etcd-0", sts), pod("etcd-1", sts)];
        assert_eq!(owner(&pods), Some(("db".into(), "etcd".into())));
        let mixed = [
            pod("etcd-0", sts),
            pod("etcd-b", Some(("StatefulSet", "b"))),
        ];
        assert_eq!(owner(&mixed), None);
        let static_pod = [pod("etcd-0", sts), pod("etcd-cp", Some(("Node", "cp")))];
        assert_eq!(owner(&static_pod), None);
        assert_eq!(owner(&[pod("etcd-0", None)]), None);
        assert_eq!(owner(&[]), None);
    }

    #[test]
    fn ordinals_are_the_number_after_the_set_name() {
        assert_eq!(ordinal("etcd", "etcd-2"), Some(2));
        assert_eq!(ordinal("etcd", "etcd-10"), Some(10));
        assert_eq!(ordinal("etcd", "etcd-x"), None);
        assert_eq!(ordinal("etcd", "etcdx-1"), None);
        assert_eq!(ordinal("etcd", "other-1"), None);
    }

    #[test]
    fn removing_the_highest_ordinal_scales_down_and_any_other_does_not() {
        let d = decide(
            "db",
            "etcd",
            3,
            Change::Remove {
                pod: Some("etcd-2"),
            },
        );
        assert_eq!(
            d.scale,
            Some(Scale {
                namespace: "db".into(),
                name: "etcd".into(),
                from: 3,
                to: 2
            })
        );
        assert_eq!(
            d.scale.unwrap().describe(),
            "scale StatefulSet `db/etcd` from 3 to 2 replicas"
        );
        let d = decide(
            "db",
            "etcd",
            3,
            Change::Remove {
                pod: Some("etcd-0"),
            },
        );
        assert_eq!(d.scale, None);
        let why = d.skipped.unwrap();
        assert!(
            why.contains("not the highest ordinal pod `etcd-2`"),
            "{why}"
        );
        assert!(
            why.contains("remove the member on `etcd-2` instead"),
            "{why}"
        );
        let d = decide("db", "etcd", 3, Change::Remove { pod: None });
        assert_eq!(d.scale, None);
        assert!(d.skipped.unwrap().contains("stays at 3 replicas"));
    }

    #[test]
    fn the_scale_step_follows_the_added_learner_or_ends_a_removal() {
        let step = |step: Step| PlannedStep { step, done: false };
        let scale = Scale {
            namespace: "db".into(),
            name: "etcd".into(),
            from: 2,
            to: 3,
        };
        let add = [
            step(Step::AddLearner {
                name: "etcd-2".into(),
                peer_urls: vec!["http://p:2380".into()],
            }),
            step(Step::StartMember {
                name: "etcd-2".into(),
            }),
        ];
        let order = ordered_steps(&add, Some(&scale));
        assert_eq!(order.len(), 3);
        assert!(order[0].0.starts_with("add `etcd-2`"));
        assert_eq!(order[1].0, scale.describe());
        let remove = [step(Step::Remove {
            name: "etcd-2".into(),
            id: "2".into(),
            raw_id: 2,
        })];
        let order = ordered_steps(&remove, Some(&scale));
        assert_eq!(order[1].0, scale.describe());
        assert_eq!(ordered_steps(&remove, None).len(), 1);
    }

    #[test]
    fn adding_scales_up_and_warns_when_the_name_is_not_the_next_pod() {
        let d = decide("db", "etcd", 2, Change::Add { name: "etcd-2" });
        assert_eq!(d.scale.as_ref().map(|s| (s.from, s.to)), Some((2, 3)));
        assert_eq!(d.warning, None);
        assert_eq!(d.pod.as_deref(), Some("etcd-2"));
        let d = decide("db", "etcd", 2, Change::Add { name: "etcd-7" });
        assert_eq!(d.scale.as_ref().map(|s| s.to), Some(3));
        assert!(d.warning.unwrap().contains("next pod is `etcd-2`"));
        // A re-run after the scale: nothing more.
        let d = decide("db", "etcd", 3, Change::Add { name: "etcd-2" });
        assert_eq!(d.scale, None);
        assert!(d.skipped.is_some());
        assert_eq!(d.pod.as_deref(), Some("etcd-2"));
    }
}
