//! What the charm asks of Kubernetes itself: CPU and memory limits of the `prometheus`
//! container on the application's StatefulSet, and the database volume's capacity for a
//! percentage `maximum_retention_size`.
//!
//! The API is used only when `cpu`, `memory` or a percentage retention is set, or a limit the
//! charm set must be removed; otherwise no client is even built. The client is configured
//! in-cluster only (service account token and `KUBERNETES_SERVICE_HOST`/`PORT`, which Juju
//! passes to hooks), never from a kubeconfig.
//! Without `juju trust <app> --scope=cluster` the service account may not patch StatefulSets
//! or read PersistentVolumeClaims: the API answers 403, the unit is Blocked with the fix, and
//! everything else keeps working. Limits are patched only when they differ from the spec
//! (which restarts the pod). Emptying an option removes the limit and request the charm set
//! for that resource, and only those: which resources the charm manages is remembered in the
//! unit's Juju state ([`crate::core::limits`]), so limits someone else set are never touched.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity as ApiQuantity;
use kube::api::{Patch, PatchParams};
use kube::{Api, Client};
use serde_json::json;

use crate::core::limits::{LimitsPlan, Managed, Resource};
use crate::core::quantity::Quantity;

use crate::core::config::CharmConfig;
use crate::core::workload::CONTAINER;

/// The storage whose volume holds the TSDB (metadata.yaml).
pub const DATABASE_STORAGE: &str = "database";
/// The unit-state key remembering the database volume's capacity between hooks.
pub const CAPACITY_STATE_KEY: &str = "database-capacity";
/// Longest a hook waits for the Kubernetes API.
pub const API_TIMEOUT: Duration = Duration::from_secs(20);

/// Where this unit lives in Kubernetes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workload {
    /// Namespace = the Juju model name.
    pub namespace: String,
    /// StatefulSet = the application name.
    pub app: String,
    /// This unit's number (the pod is `<app>-<n>`).
    pub unit_number: u32,
}

impl Workload {
    /// This unit's pod name.
    pub fn pod(&self) -> String {
        format!("{}-{}", self.app, self.unit_number)
    }
}

/// What the config (and what the charm set earlier) asks of Kubernetes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Wanted {
    /// Limits and requests of the container to set and to remove.
    pub limits: LimitsPlan,
    /// Read the database volume's capacity (percentage retention).
    pub pvc_capacity: bool,
}

impl Wanted {
    /// From the config and the resources the charm manages; `None` when nothing needs the API.
    pub fn from_config(config: &CharmConfig, managed: &Managed) -> Option<Wanted> {
        let wanted = Wanted {
            limits: LimitsPlan::decide(config.cpu.as_ref(), config.memory.as_ref(), managed),
            pvc_capacity: config.maximum_retention_percent.is_some(),
        };
        (wanted != Wanted::default()).then_some(wanted)
    }
}

/// What talking to Kubernetes gave.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Outcome {
    /// The StatefulSet was patched (the pod will be restarted by Kubernetes).
    pub patched: bool,
    /// The limits to set are set and those to remove are gone (patched now or already so).
    pub limits_in_place: bool,
    /// Capacity of the database volume, when asked for and found (e.g. `10Gi`).
    pub pvc_capacity: Option<String>,
    /// Why the capacity could not be read: not a Blocked status, the TSDB then runs with no
    /// size limit and the unit says so while Active.
    pub capacity_problem: Option<String>,
    /// What went wrong with the limits, for a Blocked status.
    pub problem: Option<String>,
}

/// Why one API step failed.
#[derive(Debug, thiserror::Error)]
pub enum K8sError {
    /// No in-cluster configuration (not in a pod, or no service account token).
    #[error("no in-cluster Kubernetes configuration: {0}")]
    Config(String),
    /// The API refused or failed a request.
    #[error(transparent)]
    Api(#[from] kube::Error),
    /// The API did not answer within [`API_TIMEOUT`].
    #[error("the Kubernetes API did not answer within {API_TIMEOUT:?}")]
    Timeout,
    /// The object is not shaped as expected.
    #[error("{0}")]
    Missing(String),
}

impl K8sError {
    /// Whether the API answered 403 (the application is not trusted).
    pub fn is_forbidden(&self) -> bool {
        matches!(self, K8sError::Api(kube::Error::Api(status)) if status.code == 403)
    }

    /// The API's own message for a refused request, else the whole error.
    fn reason(&self) -> String {
        match self {
            K8sError::Api(kube::Error::Api(status)) => status.message.clone(),
            other => other.to_string(),
        }
    }
}

/// The status message for a failed step: the trust hint when refused. `what` names the
/// settings in the plural ("cpu/memory limits need ...").
fn problem(what: &str, app: &str, error: &K8sError) -> String {
    if error.is_forbidden() {
        format!(
            "{what} need \"juju trust {app} --scope=cluster\": {}",
            error.reason()
        )
    } else {
        format!("{what}: {}", error.reason())
    }
}

/// Applies `wanted` through `client` and reads what is asked; never fails: problems end up in
/// [`Outcome::problem`] (the first one).
pub async fn sync(client: &Client, workload: &Workload, wanted: &Wanted) -> Outcome {
    let mut outcome = Outcome::default();
    let mut problems = Vec::new();
    if !wanted.limits.is_empty() {
        match apply_limits(client, workload, &wanted.limits).await {
            Ok(patched) => {
                outcome.patched = patched;
                outcome.limits_in_place = true;
            }
            Err(e) => problems.push(problem("cpu/memory limits", &workload.app, &e)),
        }
    }
    if wanted.pvc_capacity {
        match pvc_capacity(client, workload).await {
            Ok(capacity) => outcome.pvc_capacity = Some(capacity),
            Err(e) => {
                outcome.capacity_problem =
                    Some(problem("percentage retention sizes", &workload.app, &e));
            }
        }
    }
    outcome.problem = problems.into_iter().next();
    outcome
}

/// Builds the in-cluster client and runs [`sync`] on a runtime of its own, bounded by
/// [`API_TIMEOUT`].
pub fn sync_in_cluster(workload: &Workload, wanted: &Wanted) -> Outcome {
    let failed = |e: K8sError| Outcome {
        problem: (!wanted.limits.is_empty())
            .then(|| problem("Kubernetes resources", &workload.app, &e)),
        capacity_problem: wanted
            .pvc_capacity
            .then(|| problem("percentage retention sizes", &workload.app, &e)),
        ..Outcome::default()
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return failed(K8sError::Config(e.to_string())),
    };
    runtime.block_on(async {
        let config = match kube::Config::incluster() {
            Ok(config) => config,
            Err(e) => return failed(K8sError::Config(e.to_string())),
        };
        let client = match Client::try_from(config) {
            Ok(client) => client,
            Err(e) => return failed(e.into()),
        };
        tokio::time::timeout(API_TIMEOUT, sync(&client, workload, wanted))
            .await
            .unwrap_or_else(|_| failed(K8sError::Timeout))
    })
}

/// Reads the StatefulSet and patches the container's limits and requests if they differ from
/// `plan`: values to set, keys to remove (`null` in a strategic merge patch deletes a map
/// key). Returns whether it patched.
pub async fn apply_limits(
    client: &Client,
    workload: &Workload,
    plan: &LimitsPlan,
) -> Result<bool, K8sError> {
    let api: Api<StatefulSet> = Api::namespaced(client.clone(), &workload.namespace);
    let sts = api.get(&workload.app).await?;
    let container = sts
        .spec
        .and_then(|s| s.template.spec)
        .and_then(|p| p.containers.into_iter().find(|c| c.name == CONTAINER))
        .ok_or_else(|| {
            K8sError::Missing(format!(
                "StatefulSet {} has no container {CONTAINER}",
                workload.app
            ))
        })?;
    let resources = container.resources.unwrap_or_default();
    let limits = resources.limits.unwrap_or_default();
    let requests = resources.requests.unwrap_or_default();

    let in_place = |map: &BTreeMap<String, ApiQuantity>, resource: &Resource, q: &Quantity| {
        map.get(resource.name()).is_some_and(|v| q.same_as(&v.0))
    };
    let absent = |map: &BTreeMap<String, ApiQuantity>, resource: &Resource| {
        !map.contains_key(resource.name())
    };
    let up_to_date = plan
        .set
        .iter()
        .all(|(r, q)| in_place(&limits, r, q) && in_place(&requests, r, q))
        && plan
            .remove
            .iter()
            .all(|r| absent(&limits, r) && absent(&requests, r));
    if up_to_date {
        return Ok(false);
    }
    let mut values: BTreeMap<&str, Option<&str>> = BTreeMap::new();
    for (resource, q) in &plan.set {
        values.insert(resource.name(), Some(q.as_str()));
    }
    for resource in &plan.remove {
        values.insert(resource.name(), None);
    }
    let patch = json!({"spec": {"template": {"spec": {"containers": [{
        "name": CONTAINER,
        "resources": {"limits": values, "requests": values},
    }]}}}});
    api.patch(
        &workload.app,
        &PatchParams::default(),
        &Patch::Strategic(&patch),
    )
    .await?;
    Ok(true)
}

/// The capacity of this unit's database volume: the pod's claim named
/// `<app>-database-<suffix>-<pod>` (Juju's volume claim template), then the claim's
/// `status.capacity.storage` (or its request while unbound).
pub async fn pvc_capacity(client: &Client, workload: &Workload) -> Result<String, K8sError> {
    let pod_name = workload.pod();
    let pods: Api<Pod> = Api::namespaced(client.clone(), &workload.namespace);
    let pod = pods.get(&pod_name).await?;
    let prefix = format!("{}-{DATABASE_STORAGE}-", workload.app);
    let suffix = format!("-{pod_name}");
    let claim = pod
        .spec
        .and_then(|s| s.volumes)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|v| v.persistent_volume_claim.map(|c| c.claim_name))
        .find(|c| c.starts_with(&prefix) && c.ends_with(&suffix))
        .ok_or_else(|| {
            K8sError::Missing(format!(
                "pod {pod_name} has no {DATABASE_STORAGE} volume claim"
            ))
        })?;
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), &workload.namespace);
    let pvc = claims.get(&claim).await?;
    let from_status = pvc
        .status
        .and_then(|s| s.capacity)
        .and_then(|c| c.get("storage").cloned());
    let from_request = || {
        pvc.spec
            .and_then(|s| s.resources)
            .and_then(|r| r.requests)
            .and_then(|r| r.get("storage").cloned())
    };
    from_status
        .or_else(from_request)
        .map(|q| q.0)
        .ok_or_else(|| K8sError::Missing(format!("claim {claim} has no storage size")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forbidden_names_the_trust_command() {
        let status =
            kube::core::Status::failure("statefulsets is forbidden", "Forbidden").with_code(403);
        let e = K8sError::Api(kube::Error::Api(Box::new(status)));
        assert!(e.is_forbidden());
        assert_eq!(
            problem("cpu/memory limits", "prom", &e),
            "cpu/memory limits need \"juju trust prom --scope=cluster\": statefulsets is forbidden"
        );
    }
}
