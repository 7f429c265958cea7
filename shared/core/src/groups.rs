//! Approver-group names (issue E §2): one spelling per group.
//!
//! Names are compared after Unicode NFKC and trimming, so the full-width `ＩＡＭ` is `IAM`.
//! A name a caller supplies (`approver_group` in a body, `--approver-group`) is checked before
//! it is stored: it must be one script (no Latin `I` with a Cyrillic `А`), must not be a
//! look-alike of a group the deployment knows (a Cyrillic `ІАМ` beside `IAM`), and, where the
//! caller's identity is verified, must be a group some routing rule, RBAC mapping or built-in
//! role names.

use unicode_normalization::UnicodeNormalization;
use unicode_security::{MixedScript, skeleton};

/// A caller-supplied approver group that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GroupNameError {
    /// Blank after trimming.
    #[error("approver group must not be empty")]
    Empty,
    /// Control or format characters (zero-width joiners, bidi overrides, newlines).
    #[error("approver group {0:?} contains control or invisible characters")]
    Invisible(String),
    /// Letters from more than one script.
    #[error("approver group {0:?} mixes scripts")]
    MixedScripts(String),
    /// Confusable with a known group but not equal to it.
    #[error("approver group {given:?} looks like {known:?} but is a different name")]
    LooksLike {
        /// As given.
        given: String,
        /// The known group it imitates.
        known: String,
    },
    /// Verified callers may only name groups the configuration knows.
    #[error("unknown approver group: {0}")]
    Unknown(String),
}

/// The canonical spelling of a group name: NFKC, trimmed.
pub fn canonical(name: &str) -> String {
    name.nfkc().collect::<String>().trim().to_owned()
}

/// Whether two group names are the same group.
pub fn same_group(a: &str, b: &str) -> bool {
    a == b || canonical(a) == canonical(b)
}

fn invisible(c: char) -> bool {
    c.is_control() || crate::text::is_invisible(c)
}

/// Checks a caller-supplied group against the groups the deployment knows and returns its
/// canonical spelling (the known group's own spelling when they are the same group).
/// `require_known` is set for verified callers (OIDC mode).
pub fn check_requested(
    name: &str,
    known: &[String],
    require_known: bool,
) -> Result<String, GroupNameError> {
    let given = canonical(name);
    if given.is_empty() {
        return Err(GroupNameError::Empty);
    }
    if given.chars().any(invisible) {
        return Err(GroupNameError::Invisible(name.to_owned()));
    }
    if !given.as_str().is_single_script() {
        return Err(GroupNameError::MixedScripts(name.to_owned()));
    }
    if let Some(same) = known.iter().find(|k| canonical(k) == given) {
        return Ok(same.clone());
    }
    let shapes = |text: &str| -> [String; 2] {
        [
            skeleton(text).collect(),
            skeleton(&text.to_lowercase()).collect(),
        ]
    };
    let looks = shapes(&given);
    if let Some(imitated) = known.iter().find(|k| {
        let theirs = shapes(&canonical(k));
        looks[0] == theirs[0] || looks[1] == theirs[1]
    }) {
        return Err(GroupNameError::LooksLike {
            given: name.to_owned(),
            known: imitated.clone(),
        });
    }
    if require_known {
        return Err(GroupNameError::Unknown(given));
    }
    Ok(given)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn known() -> Vec<String> {
        [
            "IAM",
            "Platform Security",
            "Repository Owners",
            "Cloud Security",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect()
    }

    #[test]
    fn spellings_of_a_known_group_resolve_to_its_own_spelling() {
        for spelling in [
            "IAM",
            " IAM ",
            "ＩＡＭ",
            "Platform Security",
            "Ｐｌａｔｆｏｒｍ Ｓｅｃｕｒｉｔｙ",
        ] {
            let got = check_requested(spelling, &known(), true).unwrap();
            assert!(known().contains(&got), "{spelling:?} → {got:?}");
        }
    }

    #[test]
    fn look_alikes_mixed_scripts_and_invisible_characters_are_refused() {
        let table: &[(&str, &str)] = &[
            ("ІАМ", "looks like"),    // Cyrillic І, А, М
            ("iam", "looks like"),    // another case of a known group
            ("ΙΑΜ", "looks like"),    // Greek
            ("IАM", "mixes scripts"), // Latin I, Cyrillic А
            ("Platform Sеcurity", "mixes scripts"),
            ("I\u{200B}AM", "invisible"),
            ("IAM\u{202E}", "invisible"),
            ("IA\nM", "invisible"),
            ("   ", "must not be empty"),
            ("", "must not be empty"),
            ("Developers", "unknown approver group"),
        ];
        for (name, message) in table {
            let err = check_requested(name, &known(), true)
                .unwrap_err()
                .to_string();
            assert!(err.contains(message), "{name:?}: {err}");
        }
    }

    #[test]
    fn unverified_callers_may_name_new_single_script_groups() {
        assert_eq!(
            check_requested("Developers", &known(), false).unwrap(),
            "Developers"
        );
        assert_eq!(
            check_requested("開発チーム", &known(), false).unwrap(),
            "開発チーム"
        );
        assert!(check_requested("ІАМ", &known(), false).is_err());
    }

    #[test]
    fn same_group_is_nfkc_equality() {
        assert!(same_group("IAM", "ＩＡＭ"));
        assert!(same_group("IAM", " IAM"));
        assert!(!same_group("IAM", "ІАМ"));
        assert!(!same_group("IAM", "iam"));
    }

    proptest! {
        #[test]
        fn arbitrary_names_never_panic(name in "\\PC{0,24}") {
            let _ = check_requested(&name, &known(), true);
            let _ = check_requested(&name, &known(), false);
        }

        #[test]
        fn an_accepted_name_is_canonical(name in "[A-Za-z][A-Za-z -]{0,20}") {
            if let Ok(got) = check_requested(&name, &known(), false) {
                prop_assert_eq!(canonical(&got), got.clone());
            }
        }
    }
}
