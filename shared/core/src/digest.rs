//! Canonical JSON (RFC 8785: keys sorted by UTF-16 code units, no whitespace, ECMAScript
//! number text) and SHA-256 digests over it.
//!
//! One deliberate extension (issue E §6): decisions keep their numbers exactly
//! (serde_json `arbitrary_precision`), and a number a double cannot hold exactly — an integer
//! beyond 2^53, `1e400`, a decimal with more digits than a double keeps — is written as its
//! exact decimal value instead of the nearest double. Every number a double holds exactly is
//! written as RFC 8785 writes it, so digests of ordinary decisions are unchanged, and two
//! decisions that differ only in a large number no longer share a digest.

use std::fmt::Write as _;

use serde::Serialize;
use serde_json::{Number, Value};
use sha2::{Digest, Sha256};

/// The canonical JSON text of `value`.
///
/// # Errors
/// Fails only for values JSON cannot hold (non-finite floats, maps with non-string keys).
pub fn canonical_json<T: Serialize>(value: &T) -> Result<String, serde_json::Error> {
    let value = serde_json::to_value(value)?;
    let mut out = String::new();
    write_value(&mut out, &value)?;
    Ok(out)
}

fn write_value(out: &mut String, value: &Value) -> Result<(), serde_json::Error> {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(number) => out.push_str(&canonical_number(number)),
        Value::String(text) => out.push_str(&serde_json::to_string(text)?),
        Value::Array(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                write_value(out, item)?;
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.encode_utf16().cmp(b.0.encode_utf16()));
            out.push('{');
            for (index, (key, item)) in entries.into_iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                out.push_str(&serde_json::to_string(key)?);
                out.push(':');
                write_value(out, item)?;
            }
            out.push('}');
        }
    }
    Ok(())
}

/// A decimal number as sign, significant digits (no leading or trailing zeros; empty for
/// zero) and the power of ten of the last digit.
#[derive(Debug, PartialEq, Eq)]
struct Decimal {
    negative: bool,
    digits: String,
    exponent: i64,
}

impl Decimal {
    /// Reads JSON number text (`-?int(.frac)?([eE][+-]?exp)?`); `None` for anything else or an
    /// exponent beyond what an `i64` holds.
    fn parse(text: &str) -> Option<Self> {
        let (negative, rest) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let (mantissa, exponent) = match rest.split_once(['e', 'E']) {
            Some((mantissa, exponent)) => (mantissa, exponent.parse::<i64>().ok()?),
            None => (rest, 0),
        };
        let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        if int.is_empty() || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
            return None;
        }
        let frac_len = i64::try_from(frac.len()).ok()?;
        let mut exponent = exponent.checked_sub(frac_len)?;
        let all: String = int.chars().chain(frac.chars()).collect();
        let trimmed_end = all.trim_end_matches('0');
        let zeros = i64::try_from(all.len().saturating_sub(trimmed_end.len())).ok()?;
        exponent = exponent.checked_add(zeros)?;
        let digits = trimmed_end.trim_start_matches('0').to_owned();
        if digits.is_empty() {
            return Some(Self {
                negative: false,
                digits,
                exponent: 0,
            });
        }
        Some(Self {
            negative,
            digits,
            exponent,
        })
    }

    /// The exact value, written as ECMAScript writes numbers (plain up to 21 integer digits,
    /// else `d.ddde±n`), but with every digit kept.
    fn exact_text(&self) -> Option<String> {
        if self.digits.is_empty() {
            return Some("0".to_owned());
        }
        let mut out = String::new();
        if self.negative {
            out.push('-');
        }
        let len = i64::try_from(self.digits.len()).ok()?;
        // The position of the decimal point after the first digit, as ECMAScript's `n`.
        let point = len.checked_add(self.exponent)?;
        if (1..=21).contains(&point) && self.exponent >= 0 {
            out.push_str(&self.digits);
            for _ in 0..self.exponent {
                out.push('0');
            }
        } else if (1..=21).contains(&point) {
            let split = usize::try_from(point).ok()?;
            out.push_str(&self.digits[..split]);
            out.push('.');
            out.push_str(&self.digits[split..]);
        } else if (-5..=0).contains(&point) {
            out.push_str("0.");
            for _ in point..0 {
                out.push('0');
            }
            out.push_str(&self.digits);
        } else {
            out.push_str(&self.digits[..1]);
            if self.digits.len() > 1 {
                out.push('.');
                out.push_str(&self.digits[1..]);
            }
            let shown = point.checked_sub(1)?;
            write!(out, "e{}{shown}", if shown < 0 { "" } else { "+" }).ok()?;
        }
        Some(out)
    }
}

/// A number's canonical text: RFC 8785's when a double holds it exactly, else its exact
/// decimal value.
fn canonical_number(number: &Number) -> String {
    let text = number.to_string();
    let Some(exact) = Decimal::parse(&text) else {
        return text;
    };
    if let Ok(double) = text.parse::<f64>()
        && double.is_finite()
    {
        let mut buffer = ryu_js::Buffer::new();
        let shortest = buffer.format_finite(double);
        if Decimal::parse(shortest).as_ref() == Some(&exact) {
            return shortest.to_owned();
        }
    }
    exact.exact_text().unwrap_or(text)
}

/// Lowercase hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: impl AsRef<[u8]>) -> String {
    hex::encode(Sha256::digest(bytes.as_ref()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn canonical_json_sorts_keys_and_drops_whitespace() {
        let value = json!({"b": 1, "a": {"d": [1, 2], "c": "x"}});
        assert_eq!(
            canonical_json(&value).unwrap(),
            r#"{"a":{"c":"x","d":[1,2]},"b":1}"#
        );
    }

    #[test]
    fn key_order_does_not_change_the_digest() {
        let one: serde_json::Value =
            serde_json::from_str(r#"{"x": 1, "y": [true, null]}"#).unwrap();
        let two: serde_json::Value =
            serde_json::from_str(r#"{"y": [true, null], "x": 1}"#).unwrap();
        assert_eq!(
            sha256_hex(canonical_json(&one).unwrap()),
            sha256_hex(canonical_json(&two).unwrap())
        );
    }

    #[test]
    fn numbers_a_double_holds_are_written_as_rfc_8785_writes_them() {
        for (given, canonical) in [
            ("1", "1"),
            ("1.0", "1"),
            ("-0", "0"),
            ("0.1", "0.1"),
            ("1e3", "1000"),
            ("1E-7", "1e-7"),
            ("123456789012345680000", "123456789012345680000"),
            ("1e21", "1e+21"),
            ("9007199254740992", "9007199254740992"),
            ("-4.5e-3", "-0.0045"),
        ] {
            let value: Value = serde_json::from_str(given).unwrap();
            assert_eq!(canonical_json(&value).unwrap(), canonical, "{given}");
        }
    }

    #[test]
    fn numbers_a_double_cannot_hold_keep_every_digit_and_never_panic() {
        for (given, canonical) in [
            ("9007199254740993", "9007199254740993"),
            ("-9007199254740993", "-9007199254740993"),
            ("18446744073709551617", "18446744073709551617"),
            ("123456789012345678901", "123456789012345678901"),
            ("1e400", "1e+400"),
            ("-1e400", "-1e+400"),
            ("1.00000000000000000001", "1.00000000000000000001"),
            (
                "1234567890123456789012345",
                "1.234567890123456789012345e+24",
            ),
            ("1e-400", "1e-400"),
        ] {
            let value: Value = serde_json::from_str(given).unwrap();
            assert_eq!(canonical_json(&value).unwrap(), canonical, "{given}");
        }
    }

    #[test]
    fn decisions_differing_only_beyond_2_pow_53_have_different_digests() {
        let one: Value = serde_json::from_str(r#"{"n": 9007199254740992}"#).unwrap();
        let two: Value = serde_json::from_str(r#"{"n": 9007199254740993}"#).unwrap();
        assert_ne!(
            sha256_hex(canonical_json(&one).unwrap()),
            sha256_hex(canonical_json(&two).unwrap())
        );
    }

    #[test]
    fn keys_sort_by_utf16_code_units_and_strings_escape_as_json() {
        let value = json!({"\u{e000}": 1, "\u{1f600}": 2, "a\n\"": 3});
        assert_eq!(
            canonical_json(&value).unwrap(),
            "{\"a\\n\\\"\":3,\"\u{1f600}\":2,\"\u{e000}\":1}"
        );
    }

    proptest::proptest! {
        #[test]
        fn any_number_text_canonicalises_without_panicking_and_stably(
            int in "-?[0-9]{1,40}", frac in "(\\.[0-9]{1,30})?", exp in "([eE][+-]?[0-9]{1,4})?"
        ) {
            let text = format!("{int}{frac}{exp}");
            if let Ok(value) = serde_json::from_str::<Value>(&text) {
                let once = canonical_json(&value).unwrap();
                let again: Value = serde_json::from_str(&once).unwrap();
                proptest::prop_assert_eq!(canonical_json(&again).unwrap(), once);
            }
        }
    }

    #[test]
    fn sha256_of_empty_input_is_the_well_known_value() {
        assert_eq!(
            sha256_hex(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
