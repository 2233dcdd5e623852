//! The `webhook-keys` binary itself, against DynamoDB Local (`AWS_ENDPOINT_URL_DYNAMODB`).

use std::process::{Command, Output};

use shared::secrets::api_key_hash;
use shared::store::{dynamodb_client, Store};

fn cli(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_webhook-keys"))
        .args(args)
        .env_remove("TABLE_NAME")
        .output()
        .expect("run webhook-keys")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
fn help_and_usage_errors() {
    let help = cli(&["--help"]);
    assert!(help.status.success());
    for word in ["issue", "list", "revoke", "create-table", "AWS_ENDPOINT_URL_DYNAMODB", "webhooks:manage"] {
        assert!(stdout(&help).contains(word), "help mentions {word}");
    }
    for bad in
        [&["issue", "--app", "acme"][..], &["frobnicate"], &["--table"], &["--nope", "x"], &["list", "extra", "args"]]
    {
        let out = cli(&[&["--table", "t"][..], bad].concat());
        assert_eq!(out.status.code(), Some(2), "{bad:?}");
        assert!(!out.stderr.is_empty());
    }
    let no_table = cli(&["list", "--app", "acme"]);
    assert_eq!(no_table.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&no_table.stderr).contains("TABLE_NAME"));
}

#[test]
fn failures_name_their_real_cause() {
    // Nothing listens on port 1: the tool says so, with the URL, not a generic "unavailable".
    let refused = Command::new(env!("CARGO_BIN_EXE_webhook-keys"))
        .args(["--table", "t", "list", "--app", "acme"])
        .env("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:1")
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2));
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(said.contains("http://127.0.0.1:1") && said.contains("connection refused"), "{said}");
    // A table that does not exist (where DynamoDB Local is): named, with the way to create it.
    if std::env::var("AWS_ENDPOINT_URL_DYNAMODB").is_ok() {
        let missing = cli(&["--table", "no-such-table", "list", "--app", "acme"]);
        let said = String::from_utf8_lossy(&missing.stderr);
        assert!(said.contains("table `no-such-table` not found") && said.contains("create-table"), "{said}");
        assert!(!said.contains("Something went wrong") && !said.contains("briefly unavailable"), "{said}");
    }
}

#[tokio::test]
async fn issues_lists_and_revokes_keys_in_the_table_it_is_pointed_at() {
    assert!(std::env::var("AWS_ENDPOINT_URL_DYNAMODB").is_ok(), "run through scripts/test");
    let table = format!("cli-test-{}-{}", std::process::id(), shared::time::now_millis());
    assert!(cli(&["--table", &table, "create-table"]).status.success());
    assert!(cli(&["--table", &table, "create-table"]).status.success(), "idempotent");

    let bad_scope = cli(&["--table", &table, "issue", "--app", "acme", "--scopes", "webhooks:admin"]);
    assert_eq!(bad_scope.status.code(), Some(2));
    let bad_app = cli(&["--table", &table, "issue", "--app", "-acme", "--scopes", "webhooks:read"]);
    assert_eq!(bad_app.status.code(), Some(2));

    let issued =
        cli(&["--table", &table, "issue", "--app", "acme", "--scopes", "webhooks:read, webhooks:write,webhooks:read"]);
    assert!(issued.status.success(), "{}", String::from_utf8_lossy(&issued.stderr));
    let key = stdout(&issued);
    assert!(key.starts_with("whk_") && key.len() == 47, "the key alone on stdout: {key}");
    assert!(!String::from_utf8_lossy(&issued.stderr).contains(&key), "printed once, on stdout");

    // Stored as the published layout says: only the hash, the app, the scopes.
    let store = Store::new(dynamodb_client().await.expect("DynamoDB client"), &table);
    let hash = api_key_hash(&key);
    let record = store.api_key(&hash).await.unwrap().expect("stored under its hash");
    assert_eq!(
        (record.app_id.as_str(), record.scopes.clone()),
        ("acme", vec!["webhooks:read".to_owned(), "webhooks:write".to_owned()])
    );
    assert!(record.revoked_at.is_none());

    let listed = stdout(&cli(&["--table", &table, "list", "--app", "acme"]));
    assert!(listed.starts_with(&hash) && listed.contains("active") && !listed.contains(&key), "{listed}");

    let wrong_app = cli(&["--table", &table, "revoke", "--app", "globex", "--key", &key]);
    assert_eq!(wrong_app.status.code(), Some(2), "a key of another app is not found");
    let revoked = Command::new(env!("CARGO_BIN_EXE_webhook-keys"))
        .args(["revoke", "--app", "acme", "--key", &hash])
        .env("TABLE_NAME", &table)
        .output()
        .unwrap();
    assert!(revoked.status.success(), "by hash, table from TABLE_NAME");
    assert!(store.api_key(&hash).await.unwrap().unwrap().revoked_at.is_some());
    assert!(stdout(&cli(&["--table", &table, "list", "--app", "acme"])).contains("revoked"));
}
