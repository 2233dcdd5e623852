//! `webhook-keys`: issue, list and revoke API keys, and create the table for local development.
//! Talks to the table named by `--table` or `TABLE_NAME`; `AWS_ENDPOINT_URL_DYNAMODB` points it at
//! DynamoDB Local, as it does the functions.

use std::process::ExitCode;

use shared::store::{dynamodb_client, Store, ALL_APPS};
use webhook_keys::{create_table, issue_key, parse_scopes, revoke_key};

const HELP: &str = "\
webhook-keys: manage the API keys of the webhook endpoint service

USAGE:
    webhook-keys [--table NAME] <COMMAND> [OPTIONS]

COMMANDS:
    issue  --app APP_ID --scopes SCOPES   Issue a key; prints it once (only its SHA-256 is stored)
    issue  --all-apps --scopes SCOPES     Issue a platform key that serves every app (the platform's
                                          own servers publishing events; never hand it to a customer)
    list   --app APP_ID                   List the app's keys (hash, scopes, created, revoked)
    revoke --app APP_ID --key KEY_OR_HASH Revoke a key by the key itself or its hash
    create-table                          Create the table (pk/sk, on-demand, TTL); local use

OPTIONS:
    --table NAME   The table (default: $TABLE_NAME)
    -h, --help     Print this help

SCOPES: comma-separated webhooks:read, webhooks:write, webhooks:manage (both), events:publish

ENVIRONMENT:
    TABLE_NAME                 The table, when --table is not given
    AWS_ENDPOINT_URL_DYNAMODB  DynamoDB endpoint override (DynamoDB Local)
    AWS_REGION, AWS_PROFILE, AWS_ACCESS_KEY_ID, ...  The usual AWS SDK settings
";

struct Args {
    command: Option<String>,
    options: Vec<(String, String)>,
    help: bool,
}

fn parse_args(raw: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut args = Args { command: None, options: Vec::new(), help: false };
    let mut raw = raw.peekable();
    while let Some(arg) = raw.next() {
        if arg == "-h" || arg == "--help" || arg == "help" {
            args.help = true;
        } else if arg == "--all-apps" {
            args.options.push(("app".into(), ALL_APPS.into()));
        } else if let Some(name) = arg.strip_prefix("--") {
            let (name, value) = match name.split_once('=') {
                Some((n, v)) => (n.to_owned(), v.to_owned()),
                None => (name.to_owned(), raw.next().ok_or_else(|| format!("--{name} needs a value"))?),
            };
            if !["table", "app", "scopes", "key"].contains(&name.as_str()) {
                return Err(format!("unknown option --{name}"));
            }
            args.options.push((name, value));
        } else if args.command.is_none() {
            args.command = Some(arg);
        } else {
            return Err(format!("unexpected argument `{arg}`"));
        }
    }
    Ok(args)
}

impl Args {
    fn get(&self, name: &str) -> Option<&str> {
        self.options.iter().rev().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    fn require(&self, name: &str) -> Result<&str, String> {
        self.get(name).ok_or_else(|| format!("--{name} is required"))
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(e) => return fail(&e),
    };
    if args.help || args.command.is_none() {
        print!("{HELP}");
        return if args.help { ExitCode::SUCCESS } else { ExitCode::from(2) };
    }
    match run(&args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // A failure at run time is the tool's own: its cause in one line, no usage hint.
            eprintln!("webhook-keys: {}", explain(&e, args.get("table")));
            ExitCode::from(2)
        }
    }
}

/// The cause of a failed call in words a person can act on, for the failures met in practice
/// (the SDK's own text follows, for anything else); never the API's caller texts.
fn explain(error: &str, table: Option<&str>) -> String {
    let endpoint = std::env::var("AWS_ENDPOINT_URL_DYNAMODB")
        .ok()
        .filter(|e| !e.is_empty())
        .unwrap_or_else(|| "DynamoDB in AWS".to_owned());
    let table = table.map(str::to_owned).or_else(|| std::env::var("TABLE_NAME").ok()).unwrap_or_default();
    if error.contains("ResourceNotFoundException") {
        format!(
            "table `{table}` not found at {endpoint}. DynamoDB Local keeps one database per access key and region: \
             use the same AWS_ACCESS_KEY_ID and AWS_REGION as the process that created it (scripts/dev prints its \
             `export` line), or create the table with `webhook-keys --table {table} create-table`."
        )
    } else if error.contains("ConnectionRefused") || error.contains("Connection refused") {
        format!("cannot connect to {endpoint}: connection refused. Is it running? scripts/dev picks a new port every run and prints it.")
    } else if error.contains("MissingSigningRegion") || error.contains("NoRegion") {
        "no AWS region: set AWS_REGION (scripts/dev uses us-east-1).".to_owned()
    } else if error.contains("CredentialsNotLoaded") {
        "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (for DynamoDB Local, the dummy values scripts/dev prints).".to_owned()
    } else if error.contains("dispatch failure") || error.contains("timeout") {
        format!("cannot reach {endpoint}: {error}")
    } else {
        error.to_owned()
    }
}

fn fail(message: &str) -> ExitCode {
    eprintln!("webhook-keys: {message}\nRun `webhook-keys --help` for usage.");
    ExitCode::from(2)
}

async fn run(args: &Args) -> Result<(), String> {
    let table = match args.get("table") {
        Some(t) => t.to_owned(),
        None => std::env::var("TABLE_NAME").ok().filter(|t| !t.is_empty()).ok_or("give --table or set TABLE_NAME")?,
    };
    let client = dynamodb_client().await?;
    let store = Store::new(client.clone(), &table);
    match args.command.as_deref().unwrap_or_default() {
        "issue" => {
            let scopes = parse_scopes(args.require("scopes")?)?;
            let issued = issue_key(&store, args.require("app")?, scopes).await?;
            // The key on stdout alone, so that scripts can capture it; the rest on stderr.
            eprintln!(
                "issued key {} for app {} with scopes {}",
                issued.record.hash,
                issued.record.app_id,
                issued.record.scopes.join(",")
            );
            println!("{}", issued.key);
        }
        "list" => {
            let app = args.require("app")?;
            for key in store.list_api_keys(app).await.map_err(|e| e.to_string())? {
                let state = key.revoked_at.map(|at| format!("revoked {at}")).unwrap_or_else(|| "active".into());
                println!("{}\t{}\t{}\t{}", key.hash, key.scopes.join(","), key.created_at, state);
            }
        }
        "revoke" => {
            let app = args.require("app")?;
            if !revoke_key(&store, app, args.require("key")?).await? {
                return Err(format!("no such key for app {app}"));
            }
            eprintln!("revoked");
        }
        "create-table" => {
            let created = create_table(&client, &table).await?;
            eprintln!("table {table} {}", if created { "created" } else { "already exists" });
        }
        other => return Err(format!("unknown command `{other}`")),
    }
    Ok(())
}
