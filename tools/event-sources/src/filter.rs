//! Lambda's event filtering (the `FilterCriteria` of an event-source mapping), for the patterns
//! this project uses: a pattern is a JSON object whose leaves are arrays of allowed values, each an
//! exact string or `{"prefix": "…"}`; a record matches when every leaf matches (AWS, "Lambda event
//! filtering": equals and begins-with rules).

use serde_json::Value;

/// The fan-out's filter, exactly as `template.yaml` declares it (a test holds them equal).
pub const FAN_OUT_FILTER: &str = r#"{"eventName":["INSERT"],"dynamodb":{"Keys":{"sk":{"S":[{"prefix":"EVENT#"}]}}}}"#;

/// Whether `record` matches `pattern`.
pub fn matches(pattern: &Value, record: &Value) -> bool {
    match pattern {
        Value::Object(fields) => fields.iter().all(|(name, inner)| match record.get(name) {
            Some(value) => matches(inner, value),
            None => false,
        }),
        Value::Array(allowed) => allowed.iter().any(|rule| match (rule, record) {
            (Value::Object(rule), Value::String(text)) => {
                rule.get("prefix").and_then(Value::as_str).is_some_and(|prefix| text.starts_with(prefix))
            }
            (rule, value) => rule == value,
        }),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_fan_out_filter_passes_only_inserts_of_event_items() {
        let pattern: Value = serde_json::from_str(FAN_OUT_FILTER).unwrap();
        let record = |name: &str, sk: &str| json!({"eventName": name, "dynamodb": {"Keys": {"pk": {"S": "APP#a"}, "sk": {"S": sk}}}});
        assert!(matches(&pattern, &record("INSERT", "EVENT#0190")));
        assert!(!matches(&pattern, &record("MODIFY", "EVENT#0190")));
        assert!(!matches(&pattern, &record("REMOVE", "EVENT#0190")));
        assert!(!matches(&pattern, &record("INSERT", "EVENT_BY_TYPE#invoice.paid#0190")));
        assert!(!matches(&pattern, &record("INSERT", "WEBHOOK#0190")));
        assert!(!matches(&pattern, &json!({"eventName": "INSERT"})));
    }
}
