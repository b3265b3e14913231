//! `arbitest_object`: one JSON file `ROOT/NAME.json`.
//!
//! `name` (required, forces replacement), `content` (string), `tags` (map of
//! string); computed `id` (= name) and `revision` (1 on create, +1 on every
//! update). Both computed values are known at plan time, so a plan shows
//! exactly what the apply writes. Refresh reads the file: an edited file is
//! drift, a deleted one a removed object. Import takes the name.

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tf_provider::schema::{
    Attribute, AttributeConstraint, AttributeType, Block, Description, Schema,
};
use tf_provider::value::{Value, ValueEmpty};
use tf_provider::{map, AttributePath, Diagnostics, Resource};

use crate::provider::{Settings, SharedSettings};
use crate::store::{ObjectName, StoredObject};

/// The resource's attributes as Terraform sends them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObjectState {
    pub id: Value<String>,
    pub name: Value<String>,
    pub content: Value<String>,
    pub tags: Value<BTreeMap<String, Value<String>>>,
    pub revision: Value<i64>,
}

impl ObjectState {
    fn from_stored(object: StoredObject) -> Self {
        Self {
            id: Value::Value(object.name.clone()),
            name: Value::Value(object.name),
            content: object.content.into(),
            tags: object
                .tags
                .map(|tags| {
                    tags.into_iter()
                        .map(|(k, v)| (k, Value::Value(v)))
                        .collect()
                })
                .into(),
            revision: Value::Value(object.revision),
        }
    }

    /// The file to write for this (fully known) state.
    fn to_stored(&self, diags: &mut Diagnostics) -> Option<(ObjectName, StoredObject)> {
        let name = object_name(diags, &self.name)?;
        let content = match &self.content {
            Value::Value(c) => Some(c.clone()),
            Value::Null => None,
            Value::Unknown => {
                diags.error_short(
                    "arbitest: content is unknown at apply",
                    AttributePath::new("content"),
                );
                return None;
            }
        };
        let tags = match &self.tags {
            Value::Value(tags) => {
                let mut out = BTreeMap::new();
                for (k, v) in tags {
                    match v {
                        Value::Value(v) => {
                            out.insert(k.clone(), v.clone());
                        }
                        _ => {
                            diags.error_short(
                                format!("arbitest: tag {k:?} has no value (null or unknown)"),
                                AttributePath::new("tags").key(k.clone()),
                            );
                            return None;
                        }
                    }
                }
                Some(out)
            }
            Value::Null => None,
            Value::Unknown => {
                diags.error_short(
                    "arbitest: tags are unknown at apply",
                    AttributePath::new("tags"),
                );
                return None;
            }
        };
        let Value::Value(revision) = self.revision else {
            diags.error_short(
                "arbitest: revision is not planned",
                AttributePath::new("revision"),
            );
            return None;
        };
        let stored = StoredObject {
            name: name.to_string(),
            content,
            tags,
            revision,
        };
        Some((name, stored))
    }
}

fn object_name(diags: &mut Diagnostics, name: &Value<String>) -> Option<ObjectName> {
    match name {
        Value::Value(name) => match name.parse() {
            Ok(name) => Some(name),
            Err(e) => {
                diags.error_short(format!("arbitest: {e}"), AttributePath::new("name"));
                None
            }
        },
        _ => {
            diags.error_short("arbitest: name is not known", AttributePath::new("name"));
            None
        }
    }
}

pub struct ObjectResource {
    settings: SharedSettings,
}

impl ObjectResource {
    pub fn new(settings: SharedSettings) -> Self {
        Self { settings }
    }

    fn settings(&self, diags: &mut Diagnostics) -> Option<Settings> {
        match self.settings.read() {
            Ok(slot) if slot.is_some() => slot.clone(),
            Ok(_) => {
                diags.root_error_short("arbitest: the provider is not configured");
                None
            }
            Err(_) => {
                diags.root_error_short("arbitest: the provider's settings lock is poisoned");
                None
            }
        }
    }

    /// The plan delay, in every read and plan.
    async fn before_plan(&self) {
        let delay = match self.settings.read() {
            Ok(slot) => slot.as_ref().map(|s| s.plan_delay),
            Err(_) => None,
        };
        if let Some(d) = delay.filter(|d| !d.is_zero()) {
            tokio::time::sleep(d).await;
        }
    }

    /// The failure injection and the delay, before any write.
    async fn before_write(
        settings: &Settings,
        diags: &mut Diagnostics,
        operation: &str,
        name: &ObjectName,
    ) -> Option<()> {
        if !settings.delay.is_zero() {
            tokio::time::sleep(settings.delay).await;
        }
        if operation != "delete" && settings.fails_on(name.as_str()) {
            diags.error(
                format!("arbitest: injected failure: {operation} of object \"{name}\" refused"),
                format!(
                    "The object's name is listed in the provider's fail_on or in ${}; nothing was written to {}.",
                    crate::provider::ENV_FAIL_ON,
                    settings.store.path(name).display()
                ),
                AttributePath::new("name"),
            );
            return None;
        }
        Some(())
    }
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
impl Resource for ObjectResource {
    type State<'a> = ObjectState;
    type PrivateState<'a> = ValueEmpty;
    type ProviderMetaState<'a> = ValueEmpty;

    fn schema(&self, _diags: &mut Diagnostics) -> Option<Schema> {
        Some(Schema {
            version: 1,
            block: Block {
                version: 1,
                description: Description::plain("An object: the JSON file ROOT/NAME.json"),
                attributes: map! {
                    "id" => attribute(AttributeType::String, AttributeConstraint::Computed, "The object's name"),
                    "name" => attribute(AttributeType::String, AttributeConstraint::Required, "The object's name (its file name); changing it replaces the object"),
                    "content" => attribute(AttributeType::String, AttributeConstraint::Optional, "Free text"),
                    "tags" => attribute(AttributeType::Map(AttributeType::String.into()), AttributeConstraint::Optional, "Free labels"),
                    "revision" => attribute(AttributeType::Number, AttributeConstraint::Computed, "1 on create, incremented by every update"),
                },
                ..Default::default()
            },
        })
    }

    async fn validate<'a>(&self, diags: &mut Diagnostics, config: ObjectState) -> Option<()> {
        if let Value::Value(_) = config.name {
            object_name(diags, &config.name)?;
        }
        Some(())
    }

    async fn read<'a>(
        &self,
        diags: &mut Diagnostics,
        state: ObjectState,
        private_state: ValueEmpty,
        _meta: ValueEmpty,
    ) -> Option<(ObjectState, ValueEmpty)> {
        self.before_plan().await;
        let Some(settings) = self.settings(diags) else {
            return Some((state, private_state));
        };
        let Some(name) = object_name(diags, &state.name) else {
            return Some((state, private_state));
        };
        match settings.store.get(&name) {
            Ok(Some(object)) => Some((ObjectState::from_stored(object), private_state)),
            // Deleted behind Terraform's back: the object is gone.
            Ok(None) => None,
            Err(e) => {
                diags.error(
                    "arbitest: cannot read the object",
                    e.to_string(),
                    AttributePath::new("name"),
                );
                Some((state, private_state))
            }
        }
    }

    async fn plan_create<'a>(
        &self,
        diags: &mut Diagnostics,
        proposed: ObjectState,
        _config: ObjectState,
        _meta: ValueEmpty,
    ) -> Option<(ObjectState, ValueEmpty)> {
        self.before_plan().await;
        let mut planned = proposed;
        planned.id = match &planned.name {
            Value::Value(name) => {
                object_name(diags, &planned.name)?;
                Value::Value(name.clone())
            }
            _ => Value::Unknown,
        };
        planned.revision = Value::Value(1);
        Some((planned, ValueEmpty::default()))
    }

    async fn plan_update<'a>(
        &self,
        _diags: &mut Diagnostics,
        prior: ObjectState,
        proposed: ObjectState,
        _config: ObjectState,
        prior_private: ValueEmpty,
        _meta: ValueEmpty,
    ) -> Option<(ObjectState, ValueEmpty, Vec<AttributePath>)> {
        self.before_plan().await;
        let mut planned = proposed;
        if planned.name != prior.name {
            // Terraform plans the replacement again as a create.
            planned.id = Value::Unknown;
            planned.revision = Value::Unknown;
            return Some((planned, prior_private, vec![AttributePath::new("name")]));
        }
        if planned.content != prior.content || planned.tags != prior.tags {
            planned.revision = match prior.revision {
                Value::Value(r) => Value::Value(r.saturating_add(1)),
                _ => Value::Unknown,
            };
        }
        Some((planned, prior_private, Vec::new()))
    }

    async fn plan_destroy<'a>(
        &self,
        _diags: &mut Diagnostics,
        _prior: ObjectState,
        prior_private: ValueEmpty,
        _meta: ValueEmpty,
    ) -> Option<ValueEmpty> {
        self.before_plan().await;
        Some(prior_private)
    }

    async fn create<'a>(
        &self,
        diags: &mut Diagnostics,
        planned: ObjectState,
        _config: ObjectState,
        private: ValueEmpty,
        _meta: ValueEmpty,
    ) -> Option<(ObjectState, ValueEmpty)> {
        let settings = self.settings(diags)?;
        let (name, stored) = planned.to_stored(diags)?;
        Self::before_write(&settings, diags, "create", &name).await?;
        if let Err(e) = settings.store.create(&name, &stored) {
            diags.error(
                "arbitest: cannot create the object",
                e.to_string(),
                AttributePath::new("name"),
            );
            return None;
        }
        Some((ObjectState::from_stored(stored), private))
    }

    async fn update<'a>(
        &self,
        diags: &mut Diagnostics,
        prior: ObjectState,
        planned: ObjectState,
        _config: ObjectState,
        private: ValueEmpty,
        _meta: ValueEmpty,
    ) -> Option<(ObjectState, ValueEmpty)> {
        // On failure the object is as it was: Terraform keeps the prior state.
        let Some(settings) = self.settings(diags) else {
            return Some((prior, private));
        };
        let Some((name, stored)) = planned.to_stored(diags) else {
            return Some((prior, private));
        };
        if Self::before_write(&settings, diags, "update", &name)
            .await
            .is_none()
        {
            return Some((prior, private));
        }
        if let Err(e) = settings.store.update(&name, &stored) {
            diags.error(
                "arbitest: cannot update the object",
                e.to_string(),
                AttributePath::new("name"),
            );
            return Some((prior, private));
        }
        Some((ObjectState::from_stored(stored), private))
    }

    async fn destroy<'a>(
        &self,
        diags: &mut Diagnostics,
        prior: ObjectState,
        _private: ValueEmpty,
        _meta: ValueEmpty,
    ) -> Option<()> {
        let settings = self.settings(diags)?;
        let name = object_name(diags, &prior.name)?;
        Self::before_write(&settings, diags, "delete", &name).await?;
        if let Err(e) = settings.store.delete(&name) {
            diags.error(
                "arbitest: cannot delete the object",
                e.to_string(),
                AttributePath::new("name"),
            );
            return None;
        }
        Some(())
    }

    async fn import<'a>(
        &self,
        diags: &mut Diagnostics,
        id: String,
    ) -> Option<(ObjectState, ValueEmpty)> {
        let settings = self.settings(diags)?;
        let name = match id.parse::<ObjectName>() {
            Ok(name) => name,
            Err(e) => {
                diags.root_error_short(format!("arbitest: cannot import {id:?}: {e}"));
                return None;
            }
        };
        match settings.store.get(&name) {
            Ok(Some(object)) => Some((ObjectState::from_stored(object), ValueEmpty::default())),
            Ok(None) => {
                diags.root_error_short(format!(
                    "arbitest: cannot import {id:?}: no object file {}",
                    settings.store.path(&name).display()
                ));
                None
            }
            Err(e) => {
                diags.root_error("arbitest: cannot import the object", e.to_string());
                None
            }
        }
    }
}
