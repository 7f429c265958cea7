//! The deployment template (`infra/template.yaml`) checked against the code it deploys:
//! cfn-lint passes; the HTTP API has exactly the ten routes of `cavra_api::Route::ALL`, one
//! function each, built from the binary whose `main` serves that route; every function's IAM
//! policy is the least privilege its store calls need (a reader cannot write); the environment
//! is what `cavra-api`'s config reads, and every function that changes a stored request gets the
//! deliver function's provider config (it notifies, issue G §2) while readers do not; and the
//! table's keys and indexes equal `localstack/table.json`, the table the emulator and the
//! DynamoDB adapter use.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use cavra_api::Route;
use serde_yaml::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

fn template() -> Value {
    let path = root().join("infra/template.yaml");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{} is not YAML: {e}", path.display()))
}

/// A scalar or a CloudFormation short-form intrinsic as text: `!GetAtt T.Arn` → `GetAtt T.Arn`.
fn render(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Tagged(tagged) => format!(
            "{} {}",
            tagged.tag.to_string().trim_start_matches('!'),
            render(&tagged.value)
        ),
        Value::Sequence(items) => items.iter().map(render).collect::<Vec<_>>().join(","),
        other => panic!("not a scalar or intrinsic: {other:?}"),
    }
}

/// A string or a list of strings.
fn strings(value: &Value) -> Vec<String> {
    match value {
        Value::Sequence(items) => items.iter().map(render).collect(),
        other => vec![render(other)],
    }
}

fn resources(template: &Value) -> BTreeMap<String, Value> {
    template["Resources"]
        .as_mapping()
        .expect("Resources is a mapping")
        .iter()
        .map(|(k, v)| (render(k), v.clone()))
        .collect()
}

fn functions(template: &Value) -> BTreeMap<String, Value> {
    resources(template)
        .into_iter()
        .filter(|(_, r)| r["Type"].as_str() == Some("AWS::Serverless::Function"))
        .collect()
}

/// The function crates in `functions/`: binary name → the `Route::…` its `main` serves
/// (`None` for the sweeper).
fn function_crates() -> BTreeMap<String, Option<Route>> {
    let dir = root().join("functions");
    let mut crates = BTreeMap::new();
    for entry in std::fs::read_dir(&dir).expect("functions/ exists") {
        let path = entry.expect("a directory entry").path();
        let Ok(main) = std::fs::read_to_string(path.join("src/main.rs")) else {
            continue; // the shared runtime library
        };
        let manifest: toml_like::Manifest =
            toml_like::Manifest::read(&path.join("Cargo.toml")).expect("Cargo.toml");
        let route = Route::ALL
            .into_iter()
            .find(|route| main.contains(&format!("Route::{route:?})")));
        if route.is_none() {
            assert!(
                main.contains("serve_sweeper"),
                "{} serves neither a route nor the sweeper",
                path.display()
            );
        }
        crates.insert(manifest.name, route);
    }
    crates
}

/// Just enough of a Cargo manifest: the package name.
mod toml_like {
    pub struct Manifest {
        pub name: String,
    }

    impl Manifest {
        pub fn read(path: &std::path::Path) -> Option<Self> {
            let text = std::fs::read_to_string(path).ok()?;
            let package = text.split("[package]").nth(1)?;
            let line = package
                .lines()
                .find(|l| l.trim_start().starts_with("name"))?;
            let name = line.split('=').nth(1)?.trim().trim_matches('"').to_owned();
            Some(Self { name })
        }
    }
}

#[test]
fn cfn_lint_passes_on_the_template() {
    let script = root().join("infra/lint.sh");
    let output = Command::new("bash")
        .arg(&script)
        .current_dir(root())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e} (bash is needed)", script.display()));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}{stderr}");
    assert!(
        output.status.success(),
        "infra/lint.sh failed ({}): cfn-lint or openapi-spec-validator reported problems, or \
         they could not be installed into .venv-tools (needs python3 with venv and PyPI).\n\
         stdout:\n{stdout}\nstderr:\n{stderr}",
        output.status
    );
    assert!(
        stdout.contains("cfn-lint") && stdout.contains("infra/template.yaml"),
        "lint.sh did not run cfn-lint on the template:\n{stdout}"
    );
}

#[test]
fn the_http_api_has_exactly_the_ten_routes_one_function_each() {
    let template = template();
    let mut declared = Vec::new();
    for (name, function) in functions(&template) {
        let events = function["Properties"]["Events"]
            .as_mapping()
            .unwrap_or_else(|| panic!("{name} has no Events"));
        assert_eq!(events.len(), 1, "{name} must have exactly one event");
        let event = events.values().next().expect("one event");
        match event["Type"].as_str() {
            Some("HttpApi") => {
                let props = &event["Properties"];
                assert_eq!(
                    render(&props["ApiId"]),
                    "Ref HttpApi",
                    "{name} must attach to the one HttpApi"
                );
                assert_eq!(
                    render(&props["PayloadFormatVersion"]),
                    "2.0",
                    "{name}: lambda_http reads payload format 2.0"
                );
                declared.push((
                    render(&props["Method"]).to_uppercase(),
                    render(&props["Path"]),
                    name,
                ));
            }
            Some("Schedule" | "ScheduleV2") => {}
            other => panic!("{name} has an unexpected event type {other:?}"),
        }
    }
    let mut routes: Vec<(String, String)> = declared
        .iter()
        .map(|(m, p, _)| (m.clone(), p.clone()))
        .collect();
    routes.sort();
    let mut expected: Vec<(String, String)> = Route::ALL
        .iter()
        .map(|r| {
            let (method, path) = r.method_and_path();
            (method.to_string(), path.to_owned())
        })
        .collect();
    expected.sort();
    assert_eq!(routes, expected, "template routes vs cavra_api::Route::ALL");
    let functions_per_route: BTreeSet<&str> = declared.iter().map(|(_, _, n)| n.as_str()).collect();
    assert_eq!(
        functions_per_route.len(),
        Route::ALL.len(),
        "one function per route"
    );

    let api = &resources(&template)["HttpApi"];
    assert_eq!(api["Type"].as_str(), Some("AWS::Serverless::HttpApi"));
    for key in ["DefinitionBody", "DefinitionUri"] {
        assert!(
            api["Properties"].get(key).is_none(),
            "the HttpApi's routes come only from the function events, not from {key}"
        );
    }
    let methods = strings(&api["Properties"]["CorsConfiguration"]["AllowMethods"]);
    assert!(methods.contains(&"GET".to_owned()) && methods.contains(&"POST".to_owned()));
}

#[test]
fn every_function_is_built_from_the_binary_that_serves_its_route() {
    let template = template();
    let crates = function_crates();
    let globals = &template["Globals"]["Function"];
    assert_eq!(render(&globals["Runtime"]), "provided.al2023");
    assert_eq!(render(&globals["Handler"]), "bootstrap");
    assert_eq!(strings(&globals["Architectures"]), ["arm64"]);

    let mut built = BTreeSet::new();
    for (name, function) in functions(&template) {
        let code_uri = render(&function["Properties"]["CodeUri"]);
        let binary = code_uri
            .strip_prefix("../target/lambda/")
            .and_then(|rest| rest.strip_suffix('/'))
            .unwrap_or_else(|| {
                panic!("{name}: CodeUri {code_uri} is not ../target/lambda/<binary>/")
            });
        let route = crates
            .get(binary)
            .unwrap_or_else(|| panic!("{name}: no crate in functions/ builds the binary {binary}"));
        let event = function["Properties"]["Events"]
            .as_mapping()
            .and_then(|e| e.values().next())
            .expect("one event");
        match route {
            Some(route) => {
                let (method, path) = route.method_and_path();
                assert_eq!(
                    (
                        render(&event["Properties"]["Method"]).to_uppercase(),
                        render(&event["Properties"]["Path"])
                    ),
                    (method.to_string(), path.to_owned()),
                    "{name} runs {binary}, whose main serves {route:?}"
                );
            }
            None => assert_eq!(
                event["Type"].as_str(),
                Some("Schedule"),
                "{name} runs the sweeper {binary} on an EventBridge schedule"
            ),
        }
        built.insert(binary.to_owned());
    }
    let all: BTreeSet<String> = crates.keys().cloned().collect();
    assert_eq!(built, all, "every function crate is deployed, once");
}

const TABLE: &str = "GetAtt ApprovalsTable.Arn";
const INDEXES: &str = "Sub ${ApprovalsTable.Arn}/index/*";
const EXPIRY_INDEX: &str = "Sub ${ApprovalsTable.Arn}/index/gsi_expiry";
const STATE_INDEX: &str = "Sub ${ApprovalsTable.Arn}/index/gsi_state";
const SECRET: &str = "Ref ProviderSecret";
const CHAIN_KEY: &str = "Ref ChainKeySecret";

/// The functions that change nothing stored: no writes, no chain key, no provider config or
/// secret.
const READERS: [&str; 3] = ["list-approvals", "get-approval", "attach-decision"];
/// The functions that change a stored request and then notify its approvers (issue G §2), as
/// `deliver-approval` delivers: the provider config and the provider secret.
const NOTIFIERS: [&str; 7] = [
    "create-approval",
    "approve-approval",
    "deny-approval",
    "expire-approval",
    "break-glass",
    "consume-approval",
    "sweep-approvals",
];

/// The (action, resource) grants each function's store calls need (cavra-store-dynamodb:
/// `get`/`find_open_by_decision` are GetItem, lists and the overdue sweep are Query on a GSI,
/// `insert`/`replace` are conditional PutItem, inside a TransactWriteItems with the
/// open-decision guard's Put or Delete when a record enters or leaves `pending`; IAM authorises
/// a transaction per contained action). A notification after a stored change (issue G §2)
/// reads the request and appends `delivered` with a conditional PutItem, as deliver does.
fn expected_grants(binary: &str) -> BTreeSet<(String, String)> {
    let grant = |actions: &[&str], resources: &[&str]| -> Vec<(String, String)> {
        actions
            .iter()
            .flat_map(|a| {
                resources
                    .iter()
                    .map(move |r| (format!("dynamodb:{a}"), (*r).to_owned()))
            })
            .collect()
    };
    // UpdateItem: the list counters move in the same transaction as a record that is added
    // or changes state (issue G §5).
    let decide = || {
        grant(
            &["GetItem", "PutItem", "DeleteItem", "UpdateItem"],
            &[TABLE],
        )
    };
    let grants = match binary {
        "list-approvals" | "get-approval" => grant(&["GetItem", "Query"], &[TABLE, INDEXES]),
        "attach-decision" => grant(&["GetItem"], &[TABLE]),
        "create-approval" | "approve-approval" | "deny-approval" | "expire-approval" => decide(),
        // break-glass: an insert (never pending, so no guard), then the notification's read +
        // append; consume: approved → consumed never touches the open-decision guard (it lives
        // while pending); deliver: a read and the evidence append.
        "break-glass" | "consume-approval" => {
            grant(&["GetItem", "PutItem", "UpdateItem"], &[TABLE])
        }
        "deliver-approval" => grant(&["GetItem", "PutItem"], &[TABLE]),
        // overdue requests on gsi_expiry; pending ones on gsi_state for reminders and
        // escalation (issue G §2); no other index.
        "sweep-approvals" => {
            let mut g = decide();
            g.extend(grant(&["Query"], &[EXPIRY_INDEX, STATE_INDEX]));
            g
        }
        other => panic!("no expected grants for {other}"),
    };
    let mut grants: BTreeSet<(String, String)> = grants.into_iter().collect();
    // Every function that writes records seals them with the chain key (issue E §5) and
    // notifies or delivers with the provider credentials (issue G §2); readers hold neither.
    if !READERS.contains(&binary) {
        grants.insert(("secretsmanager:GetSecretValue".into(), CHAIN_KEY.into()));
        grants.insert(("secretsmanager:GetSecretValue".into(), SECRET.into()));
    }
    grants
}

fn grants(name: &str, function: &Value) -> BTreeSet<(String, String)> {
    let policies = function["Properties"]["Policies"]
        .as_sequence()
        .unwrap_or_else(|| panic!("{name} has no inline Policies"));
    let mut grants = BTreeSet::new();
    for policy in policies {
        let statements = policy["Statement"].as_sequence().unwrap_or_else(|| {
            panic!(
                "{name}: every policy is an inline document (no managed policy or SAM policy \
                 template, whose actions are broader): {policy:?}"
            )
        });
        for statement in statements {
            assert_eq!(render(&statement["Effect"]), "Allow", "{name}");
            assert!(statement.get("NotAction").is_none() && statement.get("NotResource").is_none());
            for action in strings(&statement["Action"]) {
                for resource in strings(&statement["Resource"]) {
                    grants.insert((action.clone(), resource));
                }
            }
        }
    }
    grants
}

const READ_ACTIONS: [&str; 2] = ["dynamodb:GetItem", "dynamodb:Query"];

#[test]
fn every_function_has_least_privilege_and_readers_cannot_write() {
    let template = template();
    let crates = function_crates();
    for (name, function) in functions(&template) {
        let code_uri = render(&function["Properties"]["CodeUri"]);
        let binary = code_uri
            .trim_start_matches("../target/lambda/")
            .trim_end_matches('/');
        let grants = grants(&name, &function);
        for (action, resource) in &grants {
            assert!(
                !action.contains('*') && !resource.ends_with(":*") && resource != "*",
                "{name}: wildcard grant {action} on {resource}"
            );
            assert_ne!(
                action, "dynamodb:Scan",
                "{name}: lists are Queries, never Scans"
            );
        }
        let route = crates.get(binary).copied().flatten();
        if matches!(
            route,
            Some(Route::List | Route::Get | Route::AttachDecision)
        ) {
            let writes: BTreeSet<&String> = grants
                .iter()
                .map(|(a, _)| a)
                .filter(|a| !READ_ACTIONS.contains(&a.as_str()))
                .collect();
            assert!(writes.is_empty(), "{name} is a reader but may {writes:?}");
        }
        if READERS.contains(&binary) {
            assert!(
                grants
                    .iter()
                    .all(|(a, _)| !a.starts_with("secretsmanager:")),
                "{name}: a reader reads no secret (neither chain key nor provider credentials)"
            );
        } else {
            assert!(
                grants.iter().all(|(a, r)| !a.starts_with("secretsmanager:")
                    || [CHAIN_KEY, SECRET].contains(&r.as_str())),
                "{name}: reads a secret other than the chain key and the provider secret"
            );
        }
        assert_eq!(
            grants,
            expected_grants(binary),
            "{name} ({binary}): grants differ from what its store calls need"
        );
    }
}

#[test]
fn the_environment_is_what_the_api_config_reads() {
    let template = template();
    let config_source = std::fs::read_to_string(root().join("shared/api/src/config.rs"))
        .expect("shared/api/src/config.rs");
    let mut names = Vec::new();
    let mut collect = |vars: &Value| {
        if let Some(map) = vars.as_mapping() {
            names.extend(map.keys().map(render));
        }
    };
    collect(&template["Globals"]["Function"]["Environment"]["Variables"]);
    for function in functions(&template).values() {
        collect(&function["Properties"]["Environment"]["Variables"]);
    }
    for name in &names {
        if name == "RUST_LOG" {
            continue; // read by tracing-subscriber in functions/runtime
        }
        assert!(
            config_source.contains(&format!("\"{name}\"")),
            "the template sets {name}, which cavra-api's config.rs does not read"
        );
    }
    let globals = &template["Globals"]["Function"]["Environment"]["Variables"];
    assert_eq!(
        render(&globals["CAVRA_APPROVAL_TABLE"]),
        "Ref ApprovalsTable"
    );
    for required in [
        "CAVRA_APPROVAL_TABLE",
        "CAVRA_APPROVAL_OIDC_CONFIG",
        "CAVRA_APPROVAL_RBAC_FILE",
        "CAVRA_APPROVAL_ROUTING_FILE",
        "CAVRA_APPROVAL_PROVIDER_CONFIG",
        "CAVRA_CORS_ORIGINS",
    ] {
        assert!(
            names.iter().any(|n| n == required),
            "the template never sets {required}"
        );
    }
}

const PROVIDER_CONFIG: &str = "CAVRA_APPROVAL_PROVIDER_CONFIG";

/// The binary a function runs, from its CodeUri `../target/lambda/<binary>/`.
fn binary_of(function: &Value) -> String {
    render(&function["Properties"]["CodeUri"])
        .trim_start_matches("../target/lambda/")
        .trim_end_matches('/')
        .to_owned()
}

#[test]
fn every_state_changing_function_gets_the_provider_config_of_the_deliver_function() {
    let template = template();
    let globals = &template["Globals"]["Function"];
    assert!(
        globals["Environment"]["Variables"]
            .get(PROVIDER_CONFIG)
            .is_none(),
        "{PROVIDER_CONFIG} is set per function, never in Globals (readers must not get it)"
    );
    // The provider config file reaches /opt/ through the config layer, which every function
    // gets from Globals and none replaces.
    assert_eq!(strings(&globals["Layers"]), ["Ref ConfigLayer"]);

    let functions = functions(&template);
    let deliver = functions
        .values()
        .find(|f| binary_of(f) == "deliver-approval")
        .expect("a deliver-approval function");
    let expected = deliver["Properties"]["Environment"]["Variables"]
        .get(PROVIDER_CONFIG)
        .unwrap_or_else(|| panic!("the deliver function sets {PROVIDER_CONFIG}"));
    assert_eq!(
        render(expected),
        "If HasProviderConfig,Sub /opt/${ProviderConfigFile},Ref AWS::NoValue",
        "the deliver function's {PROVIDER_CONFIG}"
    );

    let mut notifiers = BTreeSet::new();
    for (name, function) in &functions {
        let binary = binary_of(function);
        assert!(
            function["Properties"].get("Layers").is_none(),
            "{name} replaces the global Layers (the config layer with the provider config)"
        );
        let value = function["Properties"]["Environment"]["Variables"].get(PROVIDER_CONFIG);
        if READERS.contains(&binary.as_str()) {
            assert!(
                value.is_none(),
                "{name} ({binary}) changes nothing stored, so it must not get {PROVIDER_CONFIG}"
            );
        } else if NOTIFIERS.contains(&binary.as_str()) {
            assert_eq!(
                value,
                Some(expected),
                "{name} ({binary}) notifies after every stored change (issue G §2): its \
                 {PROVIDER_CONFIG} must be the deliver function's"
            );
            notifiers.insert(binary);
        } else {
            assert_eq!(
                binary, "deliver-approval",
                "{name}: neither reader nor notifier"
            );
        }
    }
    let expected: BTreeSet<String> = NOTIFIERS.iter().map(|n| (*n).to_owned()).collect();
    assert_eq!(notifiers, expected, "every notifier is deployed");
}

/// A table definition reduced to what must agree: attribute types, keys, indexes, billing.
fn table_shape(table: &serde_json::Value) -> serde_json::Value {
    let attributes: BTreeMap<String, String> = table["AttributeDefinitions"]
        .as_array()
        .expect("AttributeDefinitions")
        .iter()
        .map(|a| {
            (
                a["AttributeName"].as_str().expect("name").to_owned(),
                a["AttributeType"].as_str().expect("type").to_owned(),
            )
        })
        .collect();
    let mut indexes: Vec<serde_json::Value> = table["GlobalSecondaryIndexes"]
        .as_array()
        .expect("GlobalSecondaryIndexes")
        .iter()
        .map(|i| {
            serde_json::json!({
                "IndexName": i["IndexName"], "KeySchema": i["KeySchema"], "Projection": i["Projection"],
            })
        })
        .collect();
    indexes.sort_by_key(|i| i["IndexName"].as_str().unwrap_or_default().to_owned());
    serde_json::json!({
        "AttributeDefinitions": attributes,
        "KeySchema": table["KeySchema"],
        "GlobalSecondaryIndexes": indexes,
        "LocalSecondaryIndexes": table.get("LocalSecondaryIndexes"),
        "BillingMode": table["BillingMode"],
    })
}

#[test]
fn the_table_has_the_keys_and_indexes_of_localstack_table_json() {
    let template = template();
    let table = &resources(&template)["ApprovalsTable"];
    assert_eq!(table["Type"].as_str(), Some("AWS::DynamoDB::Table"));
    let props: serde_json::Value =
        serde_json::to_value(&table["Properties"]).expect("the table's properties are plain data");
    assert_eq!(
        props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"],
        true
    );
    assert_eq!(props["SSESpecification"]["SSEEnabled"], true);

    let local = root().join("localstack/table.json");
    let text = std::fs::read_to_string(&local)
        .unwrap_or_else(|e| panic!("reading {}: {e}", local.display()));
    let local: serde_json::Value = serde_json::from_str(&text).expect("localstack/table.json");
    assert_eq!(
        table_shape(&props),
        table_shape(&local),
        "infra/template.yaml ApprovalsTable vs localstack/table.json"
    );
}

#[test]
fn the_provider_secret_has_the_keys_of_localstack_secrets_json() {
    let template = template();
    let secret = &resources(&template)["ProviderSecret"];
    let text = render(&secret["Properties"]["SecretString"]);
    let deployed: serde_json::Value =
        serde_json::from_str(&text).expect("ProviderSecret's SecretString is a JSON object");
    let local: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("localstack/secrets.json"))
            .expect("localstack/secrets.json"),
    )
    .expect("localstack/secrets.json is JSON");
    let keys = |v: &serde_json::Value| -> Vec<String> {
        v.as_object().expect("an object").keys().cloned().collect()
    };
    assert_eq!(keys(&deployed), keys(&local));
    // the local values are placeholders, never real endpoints or keys
    for (key, value) in local.as_object().unwrap() {
        let value = value.as_str().expect("string values");
        assert!(
            value.contains("placeholder") || value.starts_with("whsec_cGxhY2Vob2xkZXI"),
            "{key} looks real: {value}"
        );
    }
}
