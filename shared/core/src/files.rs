//! Reading the JSON or YAML configuration files users hand us (routing, RBAC, OIDC, providers).
//! The format is chosen by suffix as in the original: `.yaml`/`.yml` is YAML, anything else JSON.

use std::path::Path;

use serde_json::Value;

/// Why a structured file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// No such file.
    #[error("not found")]
    NotFound,
    /// Could not be read.
    #[error("{0}")]
    Io(std::io::Error),
    /// Not valid JSON or YAML.
    #[error("{0}")]
    Syntax(String),
}

/// Whether `path` is read as YAML.
pub fn is_yaml(path: &Path) -> bool {
    matches!(
        path.extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref(),
        Some("yaml" | "yml")
    )
}

/// Parses `text` as YAML or JSON into a JSON value (an empty YAML document is `null`).
pub fn parse_structured(text: &str, yaml: bool) -> Result<Value, FileError> {
    if yaml {
        if text.trim().is_empty() {
            return Ok(Value::Null);
        }
        serde_yaml::from_str::<Value>(text)
            .map_err(|e| FileError::Syntax(format!("invalid YAML: {e}")))
    } else {
        serde_json::from_str::<Value>(text)
            .map_err(|e| FileError::Syntax(format!("invalid JSON: {e}")))
    }
}

/// Reads and parses `path`.
pub fn read_structured(path: &Path) -> Result<Value, FileError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            FileError::NotFound
        } else {
            FileError::Io(e)
        }
    })?;
    parse_structured(&text, is_yaml(path))
}

/// Renders a scalar the way the original stringifies rule values; `None` for null and empty.
pub fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(s) if s.is_empty() => None,
        Value::String(s) => Some(s.clone()),
        Value::Bool(_) | Value::Number(_) | Value::Array(_) | Value::Object(_) => {
            Some(value.to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suffix_decides_the_format() {
        assert!(is_yaml(Path::new("a/b.yaml")));
        assert!(is_yaml(Path::new("a/b.YML")));
        assert!(!is_yaml(Path::new("a/b.json")));
        assert!(!is_yaml(Path::new("a/b")));
    }

    #[test]
    fn empty_yaml_is_null_and_bad_text_is_a_syntax_error() {
        assert_eq!(parse_structured("", true).unwrap(), Value::Null);
        assert!(matches!(
            parse_structured("{", false),
            Err(FileError::Syntax(_))
        ));
        assert!(matches!(
            parse_structured("a: [", true),
            Err(FileError::Syntax(_))
        ));
    }
}
