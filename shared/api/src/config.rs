//! Configuration, read once at cold start from the original's environment variables
//! (original §10) plus `CAVRA_APPROVAL_TABLE` for DynamoDB.

use cavra_core::workflow::Limits;
use std::path::PathBuf;

/// Where approvals live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreConfig {
    /// `CAVRA_APPROVAL_TABLE`: a DynamoDB table (endpoint from the standard AWS settings).
    DynamoDb {
        /// Table name.
        table: String,
    },
    /// `CAVRA_APPROVAL_DB`: a SQLite file.
    Sqlite {
        /// Database file.
        path: PathBuf,
    },
    /// `CAVRA_APPROVAL_STORE` (default `.cavra/api/approvals.json`): a JSON file.
    Json {
        /// Store file.
        path: PathBuf,
    },
}

impl StoreConfig {
    /// The name `/console/config` reports as `approval_mode`.
    pub fn mode(&self) -> &'static str {
        match self {
            Self::DynamoDb { .. } => "dynamodb",
            Self::Sqlite { .. } => "sqlite",
            Self::Json { .. } => "json",
        }
    }
}

/// Everything the handlers are configured with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The store.
    pub store: StoreConfig,
    /// `CAVRA_APPROVAL_ROUTING_FILE`.
    pub routing_file: Option<PathBuf>,
    /// `CAVRA_APPROVAL_PROVIDER_CONFIG`.
    pub provider_config: Option<PathBuf>,
    /// `CAVRA_APPROVAL_RBAC_FILE`.
    pub rbac_file: Option<PathBuf>,
    /// `CAVRA_APPROVAL_OIDC_CONFIG`.
    pub oidc_config: Option<PathBuf>,
    /// `CAVRA_CORS_ORIGINS`, comma separated.
    pub cors_origins: Vec<String>,
    /// `CAVRA_PUBLIC_API_BASE_URL`.
    pub public_api_base_url: Option<String>,
    /// `CAVRA_PUBLIC_CONSOLE_URL`.
    pub public_console_url: Option<String>,
    /// `CAVRA_APPROVAL_MAX_TTL_HOURS` (default 720), as given; checked at cold start.
    pub max_ttl_hours: Option<String>,
    /// `CAVRA_APPROVAL_MAX_BREAK_GLASS_TTL_HOURS` (default 24), as given.
    pub max_break_glass_ttl_hours: Option<String>,
    /// `CAVRA_APPROVAL_CHAIN_KEY`: the chain key ring's text (issue E §5). Without it a
    /// SQLite or JSON store uses the key file beside it, when there is one.
    pub chain_key: Option<String>,
    /// `CAVRA_APPROVAL_CHAIN_KEY_SECRET`: the Secrets Manager secret holding the ring (the
    /// Lambdas read it at cold start into [`Config::chain_key`]).
    pub chain_key_secret: Option<String>,
}

/// The lifetime limits from their two settings (issue E §6): whole numbers of hours from 1 to
/// 87,600 (ten years); absent settings keep the defaults (720 h and 24 h).
///
/// # Errors
/// A setting that is not such a number, named in the message.
pub fn parse_limits(
    max_ttl_hours: Option<&str>,
    max_break_glass_ttl_hours: Option<&str>,
) -> Result<Limits, String> {
    let hours = |name: &str, text: Option<&str>, default: i64| match text {
        None => Ok(default),
        Some(text) => text
            .trim()
            .parse::<i64>()
            .ok()
            .filter(|h| (1..=87_600).contains(h))
            .ok_or_else(|| format!("{name} must be a whole number of hours from 1 to 87600")),
    };
    let defaults = Limits::default();
    Ok(Limits {
        max_ttl_hours: hours(
            "CAVRA_APPROVAL_MAX_TTL_HOURS",
            max_ttl_hours,
            defaults.max_ttl_hours,
        )?,
        max_break_glass_ttl_hours: hours(
            "CAVRA_APPROVAL_MAX_BREAK_GLASS_TTL_HOURS",
            max_break_glass_ttl_hours,
            defaults.max_break_glass_ttl_hours,
        )?,
    })
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Self {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads variables through `lookup` (tests pass a map).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let var = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let path = |name: &str| var(name).map(PathBuf::from);
        let store = if let Some(table) = var("CAVRA_APPROVAL_TABLE") {
            StoreConfig::DynamoDb { table }
        } else if let Some(path) = path("CAVRA_APPROVAL_DB") {
            StoreConfig::Sqlite { path }
        } else {
            StoreConfig::Json {
                path: path("CAVRA_APPROVAL_STORE")
                    .unwrap_or_else(|| PathBuf::from(".cavra/api/approvals.json")),
            }
        };
        Self {
            store,
            routing_file: path("CAVRA_APPROVAL_ROUTING_FILE"),
            provider_config: path("CAVRA_APPROVAL_PROVIDER_CONFIG"),
            rbac_file: path("CAVRA_APPROVAL_RBAC_FILE"),
            oidc_config: path("CAVRA_APPROVAL_OIDC_CONFIG"),
            cors_origins: var("CAVRA_CORS_ORIGINS")
                .map(|list| {
                    list.split(',')
                        .map(str::trim)
                        .filter(|o| !o.is_empty())
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
            public_api_base_url: var("CAVRA_PUBLIC_API_BASE_URL"),
            public_console_url: var("CAVRA_PUBLIC_CONSOLE_URL"),
            max_ttl_hours: var("CAVRA_APPROVAL_MAX_TTL_HOURS"),
            max_break_glass_ttl_hours: var("CAVRA_APPROVAL_MAX_BREAK_GLASS_TTL_HOURS"),
            chain_key: var("CAVRA_APPROVAL_CHAIN_KEY"),
            chain_key_secret: var("CAVRA_APPROVAL_CHAIN_KEY_SECRET"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Config {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Config::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn the_table_wins_over_sqlite_which_wins_over_the_json_store() {
        assert_eq!(
            config(&[("CAVRA_APPROVAL_TABLE", "t"), ("CAVRA_APPROVAL_DB", "a.db")]).store,
            StoreConfig::DynamoDb { table: "t".into() }
        );
        assert_eq!(
            config(&[
                ("CAVRA_APPROVAL_DB", "a.db"),
                ("CAVRA_APPROVAL_STORE", "s.json")
            ])
            .store,
            StoreConfig::Sqlite {
                path: "a.db".into()
            }
        );
        assert_eq!(
            config(&[]).store,
            StoreConfig::Json {
                path: ".cavra/api/approvals.json".into()
            }
        );
    }

    #[test]
    fn cors_origins_are_a_trimmed_comma_list_and_blank_values_are_unset() {
        let c = config(&[
            ("CAVRA_CORS_ORIGINS", " http://a , http://b,,"),
            ("CAVRA_APPROVAL_OIDC_CONFIG", "  "),
        ]);
        assert_eq!(c.cors_origins, vec!["http://a", "http://b"]);
        assert_eq!(c.oidc_config, None);
    }
}
