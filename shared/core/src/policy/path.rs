//! Lexical normalisation of file targets (no filesystem access): the form the path rules see.
//!
//! `\` is a separator, empty and `.` segments are dropped, `..` is resolved lexically,
//! absolute paths (and relative ones, which are relative to the repository root) are made
//! relative to the repository root. A path that leaves the root, starts at a home directory
//! (`~`) or a variable (`$HOME`), or is absolute without a known root is *outside*.

use unicode_normalization::UnicodeNormalization as _;

/// One normalised spelling of a file target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NormalPath {
    /// Repository-relative (`iam/x.tf`, `.` for the root itself) when inside; otherwise the
    /// lexically cleaned absolute (`/etc/passwd`), home (`~/x`) or escaping (`../x`) form.
    pub text: String,
    /// Leaves the repository root.
    pub outside: bool,
}

/// The canonical form of `raw` (recorded as the decision's `target`) followed by the forms of
/// its equivalent respellings on other filesystems (Unicode NFKC, ignorable code points removed,
/// Windows' trailing dots and spaces and `::$DATA` stream suffix dropped, text after a NUL cut).
/// Rules are matched against every form; the strictest outcome wins.
pub(crate) fn spellings(raw: &str, repo_root: Option<&str>) -> Vec<NormalPath> {
    let mut raws = vec![raw.to_owned()];
    let nul_cut = raw.split('\0').next().unwrap_or_default().to_owned();
    let nfkc: String = raw.nfkc().collect();
    let bare: String = nfkc.chars().filter(|c| !is_ignorable(*c)).collect();
    for candidate in [nul_cut, nfkc, bare] {
        let windows = windows_trimmed(&candidate);
        raws.push(candidate);
        raws.push(windows);
    }
    let mut out: Vec<NormalPath> = Vec::new();
    for r in raws {
        let n = normalise(&r, repo_root);
        if !out.contains(&n) {
            out.push(n);
        }
    }
    out
}

/// Default-ignorable code points some filesystems (HFS+) drop from names.
fn is_ignorable(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{034F}' | '\u{180E}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{2064}' | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}')
}

/// Each segment with Windows' trailing dots/spaces and a `::$DATA` stream suffix removed,
/// and leading/trailing whitespace trimmed (a segment that would become empty is kept).
fn windows_trimmed(raw: &str) -> String {
    raw.replace('\\', "/")
        .split('/')
        .map(|seg| {
            let mut s = seg;
            let lower = s.to_ascii_lowercase();
            if let Some(cut) = lower.strip_suffix("::$data") {
                s = &s[..cut.len()];
            }
            let t = s.trim().trim_end_matches(['.', ' ']);
            if t.is_empty() || s == "." || s == ".." {
                seg
            } else {
                t
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// The root marker of an absolute path: `/` or a drive letter segment (`C:`).
fn split_root(path: &str) -> (Option<String>, &str) {
    if let Some(rest) = path.strip_prefix('/') {
        return (Some("/".to_owned()), rest);
    }
    let bytes = path.as_bytes();
    if bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':' {
        let drive = path[..2].to_ascii_uppercase();
        let rest = path[2..].trim_start_matches('/');
        return (Some(format!("{drive}/")), rest);
    }
    (None, path)
}

/// Resolves segments lexically on top of `base`; returns the stack and how many `..` climbed
/// above the start of `base`.
fn resolve<'a>(base: Vec<&'a str>, rest: &'a str) -> (Vec<&'a str>, usize) {
    let mut stack = base;
    let mut above = 0usize;
    for seg in rest.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                if stack.pop().is_none() {
                    above = above.saturating_add(1);
                }
            }
            s => stack.push(s),
        }
    }
    (stack, above)
}

/// Normalises one spelling (see the module doc).
pub(crate) fn normalise(raw: &str, repo_root: Option<&str>) -> NormalPath {
    let path = raw.replace('\\', "/");
    let root = repo_root.map(|r| r.replace('\\', "/"));
    let root_parts = root.as_deref().and_then(|r| {
        let (marker, rest) = split_root(r);
        marker.map(|m| (m, resolve(Vec::new(), rest).0))
    });
    let first = path.split('/').next().unwrap_or_default();
    if first.starts_with('~') || first.starts_with('$') {
        let (stack, _) = resolve(vec![first], path.get(first.len()..).unwrap_or_default());
        return NormalPath {
            text: stack.join("/"),
            outside: true,
        };
    }
    let (marker, rest) = split_root(&path);
    if let Some((root_marker, root_segs)) = &root_parts
        && marker.as_deref().is_none_or(|m| m == root_marker)
    {
        {
            // Absolute under the same root marker, or relative to the repository root.
            let base = if marker.is_some() {
                Vec::new()
            } else {
                root_segs.clone()
            };
            let (stack, _) = resolve(base, rest);
            if stack.len() >= root_segs.len() && stack[..root_segs.len()] == root_segs[..] {
                let inner = stack[root_segs.len()..].join("/");
                return NormalPath {
                    text: if inner.is_empty() {
                        ".".to_owned()
                    } else {
                        inner
                    },
                    outside: false,
                };
            }
            return NormalPath {
                text: format!("{root_marker}{}", stack.join("/")),
                outside: true,
            };
        }
    }
    if let Some(marker) = marker {
        let (stack, _) = resolve(Vec::new(), rest);
        return NormalPath {
            text: format!("{marker}{}", stack.join("/")),
            outside: true,
        };
    }
    let (stack, above) = resolve(Vec::new(), rest);
    let mut parts: Vec<&str> = std::iter::repeat_n("..", above).collect();
    parts.extend(stack);
    let text = parts.join("/");
    NormalPath {
        text: if text.is_empty() {
            ".".to_owned()
        } else {
            text
        },
        outside: above > 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalise_resolves_dots_separators_and_the_root() {
        let root = Some("/abs/repo");
        let cases: &[(&str, &str, bool)] = &[
            ("./iam/x.tf", "iam/x.tf", false),
            ("docs/../iam/x.tf", "iam/x.tf", false),
            ("/abs/repo/iam/x.tf", "iam/x.tf", false),
            ("/abs/repo", ".", false),
            ("iam\\x.tf", "iam/x.tf", false),
            ("../x", "/abs/x", true),
            ("../repo/iam/x.tf", "iam/x.tf", false),
            ("/etc/passwd", "/etc/passwd", true),
            ("~/x", "~/x", true),
            ("", ".", false),
        ];
        for (raw, text, outside) in cases {
            assert_eq!(
                normalise(raw, root),
                NormalPath {
                    text: (*text).to_owned(),
                    outside: *outside
                },
                "{raw}"
            );
        }
        assert_eq!(normalise("../x", None).text, "../x");
        assert!(normalise("/abs/repo/x", None).outside);
    }
}
