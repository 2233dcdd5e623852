//! Reading `template.yaml` and `openapi.yaml` for the tests that hold them to the code.

use std::collections::BTreeSet;

use serde_yaml::Value;

use crate::repo_root;

pub fn load_yaml(name: &str) -> Value {
    let path = repo_root().join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{name} is not YAML: {e}"))
}

/// A function of the template: its logical id, binary, HTTP API routes and IAM actions.
#[derive(Debug, Clone)]
pub struct TemplateFunction {
    pub logical_id: String,
    pub binary: String,
    pub routes: BTreeSet<(String, String)>,
    pub actions: BTreeSet<String>,
    pub properties: Value,
}

pub fn template_functions(template: &Value) -> Vec<TemplateFunction> {
    let resources = template["Resources"].as_mapping().expect("Resources");
    let mut functions = Vec::new();
    for (id, resource) in resources {
        if resource["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        let properties = resource["Properties"].clone();
        let routes = properties["Events"]
            .as_mapping()
            .map(|events| {
                events
                    .values()
                    .filter(|e| e["Type"].as_str() == Some("HttpApi"))
                    .map(|e| {
                        let p = &e["Properties"];
                        (
                            p["Method"].as_str().unwrap_or_default().to_owned(),
                            p["Path"].as_str().unwrap_or_default().to_owned(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        let mut actions = BTreeSet::new();
        for policy in properties["Policies"].as_sequence().cloned().unwrap_or_default() {
            for statement in policy["Statement"].as_sequence().cloned().unwrap_or_default() {
                for action in statement["Action"].as_sequence().cloned().unwrap_or_default() {
                    actions.insert(action.as_str().unwrap_or_default().to_owned());
                }
            }
        }
        functions.push(TemplateFunction {
            logical_id: id.as_str().unwrap_or_default().to_owned(),
            binary: resource["Metadata"]["BuildProperties"]["Binary"].as_str().unwrap_or_default().to_owned(),
            routes,
            actions,
            properties,
        });
    }
    functions
}

/// The `name` of a function crate's package, from `functions/{dir}/Cargo.toml`.
pub fn package_name(dir: &str) -> String {
    let path = repo_root().join("functions").join(dir).join("Cargo.toml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    text.lines()
        .find_map(|l| l.strip_prefix("name = \"").and_then(|rest| rest.strip_suffix('"')))
        .unwrap_or_else(|| panic!("no package name in {}", path.display()))
        .to_owned()
}
