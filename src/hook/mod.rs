//! The hook flow: from the event Juju dispatched ([`dispatch`]) through the one reconcile
//! ([`reconcile`]): read the model through the hook tools, compute the desired state with
//! [`crate::core`], apply it through [`crate::effects`], write relation data, set the status.

pub mod actions;
pub mod databag_cache;
pub mod dispatch;
pub mod event_policy;
pub mod model_reader;
pub mod reconcile;
pub mod targets_shortcut;
pub mod unchanged_inputs;
