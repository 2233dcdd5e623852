//! The environment every function reads once, at cold start.

use crate::url::AddressPolicy;
use crate::validate::EventCatalogue;

pub const DEFAULT_MAX_ENDPOINTS_PER_APP: u32 = 100;
/// Sends a caller starts by hand (test-ping, resend) per app and minute (contract, "Limits").
pub const DEFAULT_MANUAL_SENDS_PER_MINUTE: u32 = 60;
/// How long an endpoint may fail without a success before it is disabled: 5 days (contract,
/// "Auto-disable").
pub const DEFAULT_DISABLE_AFTER_SECONDS: u32 = 432_000;

/// A positive whole number from `name`, or `default` when unset or blank; anything else is an error
/// that names the variable.
fn positive(var: &impl Fn(&str) -> Option<String>, name: &str, default: u32) -> Result<u32, String> {
    match var(name).filter(|v| !v.trim().is_empty()) {
        None => Ok(default),
        Some(v) => v
            .trim()
            .parse::<u32>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| format!("{name} must be a positive integer, not `{v}`")),
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub table_name: String,
    pub events: EventCatalogue,
    pub max_endpoints_per_app: u32,
    /// `MANUAL_SENDS_PER_MINUTE`: test-pings (and resends) per app and minute.
    pub manual_sends_per_minute: u32,
    /// `DISABLE_AFTER_SECONDS`: how long the failing clock may run before a spent schedule disables
    /// the endpoint.
    pub disable_after_seconds: u32,
    pub address_policy: AddressPolicy,
    /// `RECOVER_QUEUE_URL`: where the recover route sends its work (that function only).
    pub recover_queue_url: Option<String>,
    /// Development only: extra root certificates deliveries trust.
    pub extra_ca_file: Option<String>,
}

impl Config {
    pub fn from_env() -> Result<Config, String> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// The same rules over any source of variables, so tests need not mutate the process environment.
    pub fn from_lookup(var: impl Fn(&str) -> Option<String>) -> Result<Config, String> {
        let table_name =
            var("TABLE_NAME").filter(|t| !t.trim().is_empty()).ok_or("TABLE_NAME must name the DynamoDB table")?;
        let max_endpoints_per_app = positive(&var, "MAX_ENDPOINTS_PER_APP", DEFAULT_MAX_ENDPOINTS_PER_APP)?;
        let manual_sends_per_minute = positive(&var, "MANUAL_SENDS_PER_MINUTE", DEFAULT_MANUAL_SENDS_PER_MINUTE)?;
        let disable_after_seconds = positive(&var, "DISABLE_AFTER_SECONDS", DEFAULT_DISABLE_AFTER_SECONDS)?;
        Ok(Config {
            table_name,
            disable_after_seconds,
            events: EventCatalogue::parse(&var("EVENT_TYPES").unwrap_or_default()),
            max_endpoints_per_app,
            manual_sends_per_minute,
            address_policy: AddressPolicy::from_allow_list(&var("WEBHOOK_ALLOW_PRIVATE_CIDRS").unwrap_or_default())?,
            extra_ca_file: var("WEBHOOK_EXTRA_CA_FILE").filter(|v| !v.trim().is_empty()),
            recover_queue_url: var("RECOVER_QUEUE_URL").filter(|v| !v.trim().is_empty()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<Config, String> {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn requires_a_table_and_defaults_the_rest() {
        assert!(config(&[]).is_err());
        let c = config(&[("TABLE_NAME", "t")]).unwrap();
        assert_eq!(c.max_endpoints_per_app, 100);
        assert_eq!(c.manual_sends_per_minute, 60);
        assert_eq!(c.disable_after_seconds, 432_000);
        assert!(c.extra_ca_file.is_none());
    }

    #[test]
    fn rejects_malformed_values_instead_of_guessing() {
        assert!(config(&[("TABLE_NAME", "t"), ("MAX_ENDPOINTS_PER_APP", "ten")]).is_err());
        assert!(config(&[("TABLE_NAME", "t"), ("MAX_ENDPOINTS_PER_APP", "0")]).is_err());
        assert!(config(&[("TABLE_NAME", "t"), ("MANUAL_SENDS_PER_MINUTE", "-1")]).is_err());
        assert!(config(&[("TABLE_NAME", "t"), ("DISABLE_AFTER_SECONDS", "5d")]).is_err());
        assert!(config(&[("TABLE_NAME", "t"), ("WEBHOOK_ALLOW_PRIVATE_CIDRS", "10.0.0.0/40")]).is_err());
        assert_eq!(config(&[("TABLE_NAME", "t"), ("MAX_ENDPOINTS_PER_APP", " 7 ")]).unwrap().max_endpoints_per_app, 7);
    }
}
