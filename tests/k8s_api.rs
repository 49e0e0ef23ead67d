//! The charm's Kubernetes requests against a real HTTP server on loopback speaking the
//! Kubernetes JSON API: what is read, what is patched (method, path, content type, body), the
//! no-op when the spec already has the values, the removal of limits the charm set once their
//! option is emptied, and the 403 an untrusted application gets.

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use kube::Client;
use prometheus_rs_k8s::core::limits::{LimitsPlan, Managed, Resource};
use prometheus_rs_k8s::core::quantity::Quantity;
use prometheus_rs_k8s::effects::k8s::{self, Wanted, Workload};
use serde_json::{json, Value};

const NS: &str = "cos";
const APP: &str = "prom";

/// One request the fake API server received.
#[derive(Debug, Clone)]
struct Seen {
    method: Method,
    path: String,
    content_type: String,
    body: Option<Value>,
}

#[derive(Clone)]
struct Api {
    seen: Arc<Mutex<Vec<Seen>>>,
    /// `resources` of the prometheus container in the StatefulSet.
    resources: Value,
    forbidden: bool,
}

fn statefulset(resources: &Value) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": {"name": APP, "namespace": NS},
        "spec": {
            "selector": {"matchLabels": {"app.kubernetes.io/name": APP}},
            "serviceName": format!("{APP}-endpoints"),
            "template": {"spec": {"containers": [
                {"name": "charm", "resources": {"limits": {"cpu": "9"}}},
                {"name": "prometheus", "resources": resources},
            ]}},
        },
    })
}

fn pod() -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": format!("{APP}-0"), "namespace": NS},
        "spec": {
            "containers": [{"name": "prometheus"}],
            "volumes": [
                {"name": "charm-data", "emptyDir": {}},
                {"name": "other-claim", "persistentVolumeClaim": {"claimName": "scratch-prom-0"}},
                {"name": format!("{APP}-database-8f3c1a2b"), "persistentVolumeClaim":
                    {"claimName": format!("{APP}-database-8f3c1a2b-{APP}-0")}},
            ],
        },
    })
}

fn pvc() -> Value {
    json!({
        "apiVersion": "v1", "kind": "PersistentVolumeClaim",
        "metadata": {"name": format!("{APP}-database-8f3c1a2b-{APP}-0"), "namespace": NS},
        "spec": {"resources": {"requests": {"storage": "1Gi"}}},
        "status": {"phase": "Bound", "capacity": {"storage": "10Gi"}},
    })
}

fn forbidden(path: &str) -> Response {
    let status = json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": format!("{path} is forbidden: User \"system:serviceaccount:{NS}:{APP}\" cannot access it"),
        "reason": "Forbidden", "code": 403,
    });
    (StatusCode::FORBIDDEN, axum::Json(status)).into_response()
}

async fn handle(
    State(api): State<Api>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    api.seen.lock().unwrap().push(Seen {
        method: method.clone(),
        path: path.clone(),
        content_type: headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string(),
        body: serde_json::from_slice(&body).ok(),
    });
    if api.forbidden {
        return forbidden(&path);
    }
    let sts_path = format!("/apis/apps/v1/namespaces/{NS}/statefulsets/{APP}");
    let pod_path = format!("/api/v1/namespaces/{NS}/pods/{APP}-0");
    let pvc_path =
        format!("/api/v1/namespaces/{NS}/persistentvolumeclaims/{APP}-database-8f3c1a2b-{APP}-0");
    let object = match (&method, path.as_str()) {
        (&Method::GET | &Method::PATCH, p) if p == sts_path => statefulset(&api.resources),
        (&Method::GET, p) if p == pod_path => pod(),
        (&Method::GET, p) if p == pvc_path => pvc(),
        _ => return (StatusCode::NOT_FOUND, "not found").into_response(),
    };
    axum::Json(object).into_response()
}

/// A fake API server and a client for it.
async fn server(resources: Value, forbidden: bool) -> (Client, Arc<Mutex<Vec<Seen>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let api = Api {
        seen: seen.clone(),
        resources,
        forbidden,
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = Router::new().fallback(handle).with_state(api);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let config = kube::Config::new(format!("http://{addr}").parse().unwrap());
    (Client::try_from(config).unwrap(), seen)
}

fn workload() -> Workload {
    Workload {
        namespace: NS.into(),
        app: APP.into(),
        unit_number: 0,
    }
}

/// What options `cpu`/`memory` ask when the charm manages `managed`.
fn wanted_with(cpu: Option<&str>, memory: Option<&str>, managed: &[Resource]) -> Wanted {
    let cpu = cpu.map(|q| Quantity::parse(q).unwrap());
    let memory = memory.map(|q| Quantity::parse(q).unwrap());
    let managed: Managed = managed.iter().copied().collect();
    Wanted {
        limits: LimitsPlan::decide(cpu.as_ref(), memory.as_ref(), &managed),
        pvc_capacity: false,
    }
}

fn wanted(cpu: Option<&str>, memory: Option<&str>) -> Wanted {
    wanted_with(cpu, memory, &[])
}

fn calls(seen: &Arc<Mutex<Vec<Seen>>>) -> Vec<(String, String)> {
    let seen = seen.lock().unwrap();
    seen.iter()
        .map(|s| (s.method.to_string(), s.path.clone()))
        .collect()
}

const STS_PATH: &str = "/apis/apps/v1/namespaces/cos/statefulsets/prom";

#[tokio::test]
async fn differing_limits_are_patched_with_a_strategic_merge_of_the_container() {
    let current =
        json!({"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "1", "memory": "1Gi"}});
    let (client, seen) = server(current, false).await;
    let outcome = k8s::sync(&client, &workload(), &wanted(Some("500m"), Some("2Gi"))).await;
    assert_eq!(outcome.problem, None);
    assert!(outcome.patched);
    assert!(outcome.limits_in_place);
    assert_eq!(
        calls(&seen),
        [
            ("GET".to_string(), STS_PATH.to_string()),
            ("PATCH".to_string(), STS_PATH.to_string())
        ]
    );
    let patch = seen.lock().unwrap()[1].clone();
    assert_eq!(patch.content_type, "application/strategic-merge-patch+json");
    let values = json!({"cpu": "500m", "memory": "2Gi"});
    assert_eq!(
        patch.body.unwrap(),
        json!({"spec": {"template": {"spec": {"containers": [{
            "name": "prometheus",
            "resources": {"limits": values, "requests": values},
        }]}}}})
    );
}

/// The limits were already as wanted: one read of the StatefulSet, no patch.
#[track_caller]
fn assert_in_place_after_reading_only(outcome: &k8s::Outcome, seen: &Arc<Mutex<Vec<Seen>>>) {
    assert_eq!(
        *outcome,
        k8s::Outcome {
            limits_in_place: true,
            ..k8s::Outcome::default()
        }
    );
    assert_eq!(calls(seen), [("GET".to_string(), STS_PATH.to_string())]);
}

#[tokio::test]
async fn equal_values_in_another_notation_are_not_patched() {
    // The API server normalises: 1000m is shown as 1, 1024Mi may be shown as 1Gi.
    let current =
        json!({"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "1", "memory": "1Gi"}});
    let (client, seen) = server(current, false).await;
    let outcome = k8s::sync(&client, &workload(), &wanted(Some("1000m"), Some("1024Mi"))).await;
    assert_in_place_after_reading_only(&outcome, &seen);
}

#[tokio::test]
async fn only_the_options_set_are_patched_and_a_missing_request_counts_as_different() {
    let current = json!({"limits": {"cpu": "2", "memory": "1Gi"}});
    let (client, seen) = server(current, false).await;
    let outcome = k8s::sync(&client, &workload(), &wanted(Some("2"), None)).await;
    assert!(outcome.patched, "the cpu request is missing");
    let body = seen.lock().unwrap()[1].body.clone().unwrap();
    let resources = &body["spec"]["template"]["spec"]["containers"][0]["resources"];
    assert_eq!(
        *resources,
        json!({"limits": {"cpu": "2"}, "requests": {"cpu": "2"}})
    );
}

#[tokio::test]
async fn forbidden_names_juju_trust_and_patches_nothing() {
    let (client, seen) = server(json!({}), true).await;
    let mut want = wanted(Some("500m"), None);
    want.pvc_capacity = true;
    let outcome = k8s::sync(&client, &workload(), &want).await;
    assert!(!outcome.patched);
    assert_eq!(outcome.pvc_capacity, None);
    let problem = outcome.problem.unwrap();
    assert!(
        problem.starts_with(&format!(
            "cpu/memory limits need \"juju trust {APP} --scope=cluster\": {STS_PATH} is forbidden"
        )),
        "{problem}"
    );
    // Both steps were tried, each with one GET; nothing was written.
    assert_eq!(
        calls(&seen),
        [
            ("GET".to_string(), STS_PATH.to_string()),
            (
                "GET".to_string(),
                "/api/v1/namespaces/cos/pods/prom-0".to_string()
            ),
        ]
    );
}

#[tokio::test]
async fn database_capacity_comes_from_the_pods_database_claim() {
    let (client, seen) = server(json!({}), false).await;
    let want = Wanted {
        pvc_capacity: true,
        ..Wanted::default()
    };
    let outcome = k8s::sync(&client, &workload(), &want).await;
    assert_eq!(outcome.problem, None);
    assert_eq!(outcome.pvc_capacity.as_deref(), Some("10Gi"));
    assert_eq!(
        calls(&seen),
        [
            (
                "GET".to_string(),
                "/api/v1/namespaces/cos/pods/prom-0".to_string()
            ),
            (
                "GET".to_string(),
                "/api/v1/namespaces/cos/persistentvolumeclaims/prom-database-8f3c1a2b-prom-0"
                    .to_string()
            ),
        ]
    );
    let size = prometheus_rs_k8s::core::config::RetentionSize::percent_of("10Gi", 80).unwrap();
    assert_eq!(size.as_str(), "8192MB");
}

/// The `resources` of the container in the one PATCH received.
fn patched_resources(seen: &Arc<Mutex<Vec<Seen>>>) -> Value {
    let seen = seen.lock().unwrap();
    let patches: Vec<&Seen> = seen.iter().filter(|s| s.method == Method::PATCH).collect();
    assert_eq!(patches.len(), 1, "{seen:#?}");
    assert_eq!(
        patches[0].content_type,
        "application/strategic-merge-patch+json"
    );
    let body = patches[0].body.clone().expect("a JSON body");
    let containers = &body["spec"]["template"]["spec"]["containers"];
    assert_eq!(containers.as_array().map(Vec::len), Some(1), "{body}");
    assert_eq!(containers[0]["name"], "prometheus", "{body}");
    containers[0]["resources"].clone()
}

#[tokio::test]
async fn an_emptied_option_the_charm_managed_is_removed_with_null_in_limits_and_requests() {
    let current =
        json!({"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "1", "memory": "1Gi"}});
    let (client, seen) = server(current, false).await;
    // cpu emptied, memory changed: one patch does both.
    let want = wanted_with(None, Some("2Gi"), &[Resource::Cpu, Resource::Memory]);
    let outcome = k8s::sync(&client, &workload(), &want).await;
    assert_eq!(outcome.problem, None);
    assert!(outcome.patched && outcome.limits_in_place);
    assert_eq!(
        calls(&seen),
        [
            ("GET".to_string(), STS_PATH.to_string()),
            ("PATCH".to_string(), STS_PATH.to_string())
        ]
    );
    // A strategic merge patch deletes a map key given as null; the raw body must say null.
    let values = json!({"cpu": null, "memory": "2Gi"});
    assert_eq!(
        patched_resources(&seen),
        json!({"limits": values, "requests": values})
    );
}

#[tokio::test]
async fn removing_every_managed_limit_patches_only_nulls() {
    let current = json!({"limits": {"memory": "1Gi"}, "requests": {"memory": "512Mi"}});
    let (client, seen) = server(current, false).await;
    let want = wanted_with(None, None, &[Resource::Memory]);
    let outcome = k8s::sync(&client, &workload(), &want).await;
    assert!(outcome.patched && outcome.limits_in_place, "{outcome:?}");
    let values = json!({"memory": null});
    assert_eq!(
        patched_resources(&seen),
        json!({"limits": values, "requests": values})
    );
}

#[tokio::test]
async fn a_removal_already_done_is_not_patched_again() {
    // The pod restart the removal caused killed the hook before Juju committed the state.
    let current = json!({"limits": {"memory": "3Gi"}, "requests": {"memory": "3Gi"}});
    let (client, seen) = server(current, false).await;
    let outcome = k8s::sync(
        &client,
        &workload(),
        &wanted_with(None, None, &[Resource::Cpu]),
    )
    .await;
    assert_in_place_after_reading_only(&outcome, &seen);
}

#[tokio::test]
async fn a_limit_the_charm_never_set_is_left_alone() {
    let current = json!({"limits": {"cpu": "1", "memory": "3Gi"}, "requests": {"memory": "3Gi"}});
    let (client, seen) = server(current, false).await;
    // memory was set by someone else: only cpu is the charm's.
    let want = wanted_with(Some("2"), None, &[Resource::Cpu]);
    let outcome = k8s::sync(&client, &workload(), &want).await;
    assert!(outcome.patched);
    assert_eq!(
        patched_resources(&seen),
        json!({"limits": {"cpu": "2"}, "requests": {"cpu": "2"}})
    );
}

#[tokio::test]
async fn nothing_managed_and_nothing_set_makes_no_call() {
    let (client, seen) = server(json!({"limits": {"cpu": "1"}}), false).await;
    let want = wanted_with(None, None, &[]);
    assert_eq!(want, Wanted::default(), "nothing asks for the API");
    let outcome = k8s::sync(&client, &workload(), &want).await;
    assert_eq!(outcome, k8s::Outcome::default());
    assert!(calls(&seen).is_empty());
}

#[tokio::test]
async fn a_forbidden_removal_names_juju_trust_and_is_not_in_place() {
    let (client, seen) = server(json!({"limits": {"cpu": "1"}}), true).await;
    let want = wanted_with(None, None, &[Resource::Cpu]);
    let outcome = k8s::sync(&client, &workload(), &want).await;
    assert!(!outcome.patched && !outcome.limits_in_place);
    let problem = outcome.problem.unwrap();
    assert!(
        problem.starts_with(&format!(
            "cpu/memory limits need \"juju trust {APP} --scope=cluster\": {STS_PATH} is forbidden"
        )),
        "{problem}"
    );
    assert_eq!(calls(&seen), [("GET".to_string(), STS_PATH.to_string())]);
}
