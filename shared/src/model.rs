//! The endpoint as the API shows it, and the validated inputs that create or change one.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::config::Config;
use crate::error::ApiError;
use crate::validate::{self, check_resolved_addresses, parse_webhook_url, reject_unknown_fields, WebhookUrl};

/// The endpoint object of the contract. It has no secret field, so no response built from it can
/// leak one.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Endpoint {
    pub id: String,
    pub url: String,
    pub events: Vec<String>,
    pub description: Option<String>,
    pub active: bool,
    pub metadata: Map<String, Value>,
    pub created_at: String,
    pub updated_at: String,
}

/// The create response: the endpoint plus its signing secret, shown this once.
#[derive(Debug, Serialize)]
pub struct CreatedEndpoint {
    #[serde(flatten)]
    pub endpoint: Endpoint,
    pub secret: String,
}

/// A validated create request.
#[derive(Debug, Clone)]
pub struct NewEndpoint {
    pub url: WebhookUrl,
    pub events: Vec<String>,
    pub description: Option<String>,
    pub active: bool,
    pub metadata: Map<String, Value>,
}

/// A validated update: `None` leaves a field as it is; `description: Some(None)` clears it.
#[derive(Debug, Clone, Default)]
pub struct EndpointPatch {
    pub url: Option<WebhookUrl>,
    pub events: Option<Vec<String>>,
    pub description: Option<Option<String>>,
    pub active: Option<bool>,
    pub metadata: Option<Map<String, Value>>,
}

const ENDPOINT_FIELDS: [&str; 5] = ["url", "events", "description", "active", "metadata"];

impl NewEndpoint {
    pub async fn from_body(body: &Map<String, Value>, config: &Config) -> Result<Self, ApiError> {
        reject_unknown_fields(body, &ENDPOINT_FIELDS)?;
        let url = body.get("url").ok_or_else(|| ApiError::missing_field("url"))?;
        let events = body.get("events").ok_or_else(|| ApiError::missing_field("events"))?;
        let url = webhook_url(url, config)?;
        let endpoint = NewEndpoint {
            events: config.events.validate(events)?,
            description: body.get("description").map(validate::description).transpose()?.flatten(),
            active: body.get("active").map(validate::active).transpose()?.unwrap_or(true),
            metadata: body.get("metadata").map(validate::metadata).transpose()?.unwrap_or_default(),
            url,
        };
        // The network check runs last, once everything that costs nothing has passed.
        check_resolved_addresses(&endpoint.url, &config.address_policy).await?;
        Ok(endpoint)
    }
}

impl EndpointPatch {
    pub async fn from_body(body: &Map<String, Value>, config: &Config) -> Result<Self, ApiError> {
        reject_unknown_fields(body, &ENDPOINT_FIELDS)?;
        if body.is_empty() {
            return Err(ApiError::new(
                400,
                "missing_required_field",
                "Send at least one of `url`, `events`, `description`, `active`, `metadata`.",
            ));
        }
        let patch = EndpointPatch {
            url: body.get("url").map(|u| webhook_url(u, config)).transpose()?,
            events: body.get("events").map(|e| config.events.validate(e)).transpose()?,
            description: body.get("description").map(validate::description).transpose()?,
            active: body.get("active").map(validate::active).transpose()?,
            metadata: body.get("metadata").map(validate::metadata).transpose()?,
        };
        if let Some(url) = &patch.url {
            check_resolved_addresses(url, &config.address_policy).await?;
        }
        Ok(patch)
    }
}

fn webhook_url(value: &Value, config: &Config) -> Result<WebhookUrl, ApiError> {
    match value {
        Value::String(raw) => parse_webhook_url(raw, &config.address_policy),
        _ => Err(ApiError::invalid_field("url", "`url` must be a string.")),
    }
}
