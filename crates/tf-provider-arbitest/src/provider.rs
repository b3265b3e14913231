//! The provider: its configuration (`root`, `fail_on`, `delay_ms`,
//! `plan_delay_ms`, each with an environment fallback) and its resources.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tf_provider::schema::{
    Attribute, AttributeConstraint, AttributeType, Block, Description, Schema,
};
use tf_provider::value::{Value, ValueEmpty};
use tf_provider::{map, AttributePath, Diagnostics, DynamicResource, Provider};

use crate::object::ObjectResource;
use crate::store::Store;

/// Environment fallback of the `root` attribute.
pub const ENV_ROOT: &str = "ARBITEST_ROOT";
/// Names (comma-separated) whose create and update fail, added to `fail_on`.
pub const ENV_FAIL_ON: &str = "ARBITEST_FAIL_ON";
/// Environment fallback of the `delay_ms` attribute.
pub const ENV_DELAY_MS: &str = "ARBITEST_DELAY_MS";
/// Environment fallback of the `plan_delay_ms` attribute.
pub const ENV_PLAN_DELAY_MS: &str = "ARBITEST_PLAN_DELAY_MS";

/// The provider block as Terraform sends it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProviderConfig {
    pub root: Value<String>,
    pub fail_on: Value<String>,
    pub delay_ms: Value<i64>,
    pub plan_delay_ms: Value<i64>,
}

/// The configured provider, shared with its resources.
#[derive(Debug, Clone)]
pub struct Settings {
    pub store: Store,
    /// Objects whose create and update fail (exact names).
    pub fail_on: Vec<String>,
    /// Waited before every create, update and delete.
    pub delay: Duration,
    /// Waited in every read (refresh) and plan of an object, so that a
    /// plan takes long enough to be cancelled or to overrun a time limit.
    pub plan_delay: Duration,
}

impl Settings {
    pub fn fails_on(&self, name: &str) -> bool {
        self.fail_on.iter().any(|n| n == name)
    }
}

/// Set by `configure`, which Terraform calls before any resource operation.
pub type SharedSettings = Arc<RwLock<Option<Settings>>>;

#[derive(Debug, Default, Clone)]
pub struct ArbitestProvider {
    settings: SharedSettings,
}

fn split_names(list: &str) -> impl Iterator<Item = String> + '_ {
    list.split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_owned)
}

/// Reads the configuration, falling back to the environment.
fn settings_from(
    diags: &mut Diagnostics,
    config: &ProviderConfig,
    env: impl Fn(&str) -> Option<String>,
) -> Option<Settings> {
    let root = match &config.root {
        Value::Value(root) => root.clone(),
        Value::Unknown => {
            diags.error_short(
                "arbitest: `root` must be known when the provider is configured",
                AttributePath::new("root"),
            );
            return None;
        }
        Value::Null => match env(ENV_ROOT) {
            Some(root) if !root.is_empty() => root,
            _ => {
                diags.error(
                    "arbitest: no object directory",
                    format!("Set the provider's `root` attribute or the {ENV_ROOT} environment variable."),
                    AttributePath::new("root"),
                );
                return None;
            }
        },
    };
    let store = match Store::open(&root) {
        Ok(store) => store,
        Err(e) => {
            diags.error(
                "arbitest: cannot open the object directory",
                e.to_string(),
                AttributePath::new("root"),
            );
            return None;
        }
    };
    let mut fail_on: Vec<String> = match &config.fail_on {
        Value::Value(list) => split_names(list).collect(),
        _ => Vec::new(),
    };
    if let Some(list) = env(ENV_FAIL_ON) {
        fail_on.extend(split_names(&list));
    }
    let delay = delay_setting(diags, config.delay_ms, "delay_ms", ENV_DELAY_MS, &env)?;
    let plan_delay = delay_setting(
        diags,
        config.plan_delay_ms,
        "plan_delay_ms",
        ENV_PLAN_DELAY_MS,
        &env,
    )?;
    Some(Settings {
        store,
        fail_on,
        delay,
        plan_delay,
    })
}

/// A delay attribute in milliseconds (`attr`), else its environment
/// fallback (`env_name`), else none.
fn delay_setting(
    diags: &mut Diagnostics,
    value: Value<i64>,
    attr: &'static str,
    env_name: &str,
    env: impl Fn(&str) -> Option<String>,
) -> Option<Duration> {
    let ms = match value {
        Value::Value(ms) => ms,
        Value::Unknown => {
            diags.error_short(
                format!("arbitest: `{attr}` must be known when the provider is configured"),
                AttributePath::new(attr),
            );
            return None;
        }
        Value::Null => match env(env_name) {
            None => 0,
            Some(text) => match text.trim().parse::<i64>() {
                Ok(ms) => ms,
                Err(e) => {
                    diags.root_error(
                        format!("arbitest: {env_name}={text:?} is not a number of milliseconds"),
                        e.to_string(),
                    );
                    return None;
                }
            },
        },
    };
    let Ok(ms) = u64::try_from(ms) else {
        diags.error_short(
            format!("arbitest: {attr} must not be negative (got {ms})"),
            AttributePath::new(attr),
        );
        return None;
    };
    Some(Duration::from_millis(ms))
}

fn attribute(
    attr_type: AttributeType,
    constraint: AttributeConstraint,
    description: &str,
) -> Attribute {
    Attribute {
        attr_type,
        description: Description::plain(description),
        constraint,
        ..Default::default()
    }
}

#[async_trait]
impl Provider for ArbitestProvider {
    type Config<'a> = ProviderConfig;
    type MetaState<'a> = ValueEmpty;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        Some(Schema {
            version: 1,
            block: Block {
                version: 1,
                description: Description::plain(
                    "Arbiter's test provider: objects are JSON files in a directory",
                ),
                attributes: map! {
                    "root" => attribute(
                        AttributeType::String,
                        AttributeConstraint::Optional,
                        "Directory of the objects (one NAME.json each); default: $ARBITEST_ROOT",
                    ),
                    "fail_on" => attribute(
                        AttributeType::String,
                        AttributeConstraint::Optional,
                        "Comma-separated object names whose create and update fail (plus $ARBITEST_FAIL_ON)",
                    ),
                    "delay_ms" => attribute(
                        AttributeType::Number,
                        AttributeConstraint::Optional,
                        "Milliseconds waited before every create, update and delete; default: $ARBITEST_DELAY_MS or 0",
                    ),
                    "plan_delay_ms" => attribute(
                        AttributeType::Number,
                        AttributeConstraint::Optional,
                        "Milliseconds waited in every read and plan of an object (refresh, plan; Terraform plans again while applying); default: $ARBITEST_PLAN_DELAY_MS or 0",
                    ),
                },
                ..Default::default()
            },
        })
    }

    async fn validate<'a>(&self, diags: &mut Diagnostics, config: ProviderConfig) -> Option<()> {
        for (attr, value) in [
            ("delay_ms", config.delay_ms),
            ("plan_delay_ms", config.plan_delay_ms),
        ] {
            if let Value::Value(ms) = value {
                if ms < 0 {
                    diags.error_short(
                        format!("arbitest: {attr} must not be negative (got {ms})"),
                        AttributePath::new(attr),
                    );
                }
            }
        }
        Some(())
    }

    async fn configure<'a>(
        &self,
        diags: &mut Diagnostics,
        _terraform_version: String,
        config: ProviderConfig,
    ) -> Option<()> {
        let settings = settings_from(diags, &config, |k| std::env::var(k).ok())?;
        match self.settings.write() {
            Ok(mut slot) => {
                *slot = Some(settings);
                Some(())
            }
            Err(_) => {
                diags.root_error_short("arbitest: the provider's settings lock is poisoned");
                None
            }
        }
    }

    fn get_resources(
        &self,
        _diags: &mut Diagnostics,
    ) -> Option<HashMap<String, Box<dyn DynamicResource>>> {
        Some(map! {
            "object" => ObjectResource::new(self.settings.clone()),
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use super::*;

    fn config(root: Value<String>, fail_on: Value<String>, delay_ms: Value<i64>) -> ProviderConfig {
        ProviderConfig {
            root,
            fail_on,
            delay_ms,
            plan_delay_ms: Value::Null,
        }
    }

    #[test]
    fn attributes_win_and_the_environment_fills_in() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("objs").display().to_string();
        let env_root = dir.path().join("env").display().to_string();
        let env = |k: &str| match k {
            ENV_ROOT => Some(env_root.clone()),
            ENV_FAIL_ON => Some("c, d".to_owned()),
            ENV_DELAY_MS => Some("25".to_owned()),
            ENV_PLAN_DELAY_MS => Some("40".to_owned()),
            _ => None,
        };
        let mut diags = Diagnostics::default();
        let s = settings_from(
            &mut diags,
            &config(
                Value::Value(root.clone()),
                Value::Value("a,b".into()),
                Value::Value(5),
            ),
            env,
        )
        .unwrap();
        assert!(diags.errors.is_empty());
        assert_eq!(s.store.root(), std::path::Path::new(&root));
        assert!(
            std::path::Path::new(&root).is_dir(),
            "the directory is created"
        );
        assert_eq!(s.fail_on, ["a", "b", "c", "d"]);
        assert!(s.fails_on("c") && !s.fails_on("e"));
        assert_eq!(s.delay, Duration::from_millis(5));
        assert_eq!(s.plan_delay, Duration::from_millis(40));

        let s = settings_from(
            &mut diags,
            &config(Value::Null, Value::Null, Value::Null),
            env,
        )
        .unwrap();
        assert_eq!(s.store.root(), std::path::Path::new(&env_root));
        assert_eq!(s.fail_on, ["c", "d"]);
        assert_eq!(s.delay, Duration::from_millis(25));

        let mut c = config(Value::Value(root), Value::Null, Value::Null);
        c.plan_delay_ms = Value::Value(7);
        let s = settings_from(&mut diags, &c, env).unwrap();
        assert_eq!(s.plan_delay, Duration::from_millis(7));
        assert_eq!(s.delay, Duration::from_millis(25));
    }

    #[test]
    fn missing_or_bad_settings_are_clear_errors() {
        let none = |_: &str| None;
        let mut diags = Diagnostics::default();
        assert!(settings_from(
            &mut diags,
            &config(Value::Null, Value::Null, Value::Null),
            none
        )
        .is_none());
        assert!(
            diags.errors[0].detail.contains(ENV_ROOT),
            "{:?}",
            diags.errors
        );

        let dir = tempfile::tempdir().unwrap();
        let root = Value::Value(dir.path().display().to_string());
        let mut diags = Diagnostics::default();
        assert!(settings_from(
            &mut diags,
            &config(root.clone(), Value::Null, Value::Value(-1)),
            none
        )
        .is_none());
        assert!(diags.errors[0].summary.contains("must not be negative"));

        let mut diags = Diagnostics::default();
        let mut c = config(root.clone(), Value::Null, Value::Null);
        c.plan_delay_ms = Value::Value(-3);
        assert!(settings_from(&mut diags, &c, none).is_none());
        assert!(
            diags.errors[0]
                .summary
                .contains("plan_delay_ms must not be negative"),
            "{:?}",
            diags.errors
        );

        let mut diags = Diagnostics::default();
        let env = |k: &str| (k == ENV_DELAY_MS).then(|| "soon".to_owned());
        assert!(settings_from(&mut diags, &config(root, Value::Null, Value::Null), env).is_none());
        assert!(diags.errors[0]
            .summary
            .contains("ARBITEST_DELAY_MS=\"soon\""));

        let mut diags = Diagnostics::default();
        assert!(settings_from(
            &mut diags,
            &config(Value::Unknown, Value::Null, Value::Null),
            none
        )
        .is_none());
        assert!(diags.errors[0].summary.contains("must be known"));
    }
}
