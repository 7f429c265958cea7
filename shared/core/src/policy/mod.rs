//! The policy engine behind `cavra evaluate` (original §1): an action kind and target go in,
//! a decision comes out. The baseline pack is built in; a pack file of the same YAML shape may
//! replace it.
//!
//! Targets are read before matching: file paths are normalised lexically and made relative to
//! the repository root ([`path`]), command lines are split into the commands they run and
//! each command reduced to its canonical argv ([`command`]). The strictest outcome over every
//! spelling and every command wins (block > require_approval > allow).
//!
//! The baseline also allows read-only commands (`ls`, `cat`, `git status`, …; the list and its
//! reasons are in [`readonly`]) with `commands.read_only.allow`, only where no block or allow
//! pattern matched, and only while the line writes no file through a redirection and every
//! file the command names passes the read policy. Build and test commands stay
//! `require_approval` (they run workspace code). Other packs opt in with
//! `commands: {allow_read_only: true}`.

// The scanner's index arithmetic is bounded by the input's length; the never-panic property
// tests in `bypass_tests` exercise it on generated input.
#[allow(clippy::arithmetic_side_effects)]
mod command;
#[allow(clippy::arithmetic_side_effects)]
mod path;
mod readonly;

use std::collections::BTreeMap;
use std::path::Path;
use std::str::FromStr;

use regex::Regex;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::decision::Decision;
use crate::time::Timestamp;

/// The built-in pack's name.
pub const BASELINE_PACK: &str = "cavra-ai-agent-baseline";
const BASELINE_YAML: &str = include_str!("../../policies/cavra-ai-agent-baseline.yaml");

/// A policy pack could not be used, or an action is unknown.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PolicyError {
    /// Original §1.4.
    #[error("Unknown action type: {0}")]
    UnknownActionType(String),
    /// Neither a built-in name nor a file.
    #[error("unknown policy pack: {0}")]
    UnknownPack(String),
    /// The file could not be read.
    #[error("could not read policy pack {path}: {detail}")]
    Unreadable {
        /// The file.
        path: String,
        /// Why.
        detail: String,
    },
    /// The YAML is malformed or of the wrong shape.
    #[error("policy pack {origin} is invalid: {detail}")]
    Invalid {
        /// File or name.
        origin: String,
        /// Parser message (names the key).
        detail: String,
    },
}

/// The action kinds `cavra evaluate` knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActionType {
    /// `read_file`
    ReadFile,
    /// `write_file`
    WriteFile,
    /// `execute_command`
    ExecuteCommand,
    /// `git_operation`
    GitOperation,
    /// `mcp_tool_call`
    McpToolCall,
}

impl ActionType {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ReadFile => "read_file",
            Self::WriteFile => "write_file",
            Self::ExecuteCommand => "execute_command",
            Self::GitOperation => "git_operation",
            Self::McpToolCall => "mcp_tool_call",
        }
    }
}

impl FromStr for ActionType {
    type Err = PolicyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "read_file" => Self::ReadFile,
            "write_file" => Self::WriteFile,
            "execute_command" => Self::ExecuteCommand,
            "git_operation" => Self::GitOperation,
            "mcp_tool_call" => Self::McpToolCall,
            other => return Err(PolicyError::UnknownActionType(other.to_owned())),
        })
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FilesystemSection {
    #[serde(default)]
    block_read: Vec<String>,
    #[serde(default)]
    block_write: Vec<String>,
    #[serde(default)]
    require_approval_write: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct CommandsSection {
    #[serde(default)]
    block: Vec<String>,
    #[serde(default)]
    allow: Vec<String>,
    /// Allow the built-in read-only commands (`commands.read_only.allow`); default: only in the
    /// built-in baseline.
    #[serde(default)]
    allow_read_only: Option<bool>,
}

fn default_true() -> bool {
    true
}

/// The pack's `mcp` section; field names are the YAML keys of original §1.3.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(clippy::struct_field_names)]
struct McpSection {
    #[serde(default)]
    blocked_servers: Vec<String>,
    #[serde(default)]
    allowed_servers: Vec<String>,
    /// Servers whose tool calls need a human (issue F: the approval binds the tool arguments).
    #[serde(default)]
    approval_servers: Vec<String>,
    #[serde(default = "default_true")]
    block_unknown_servers: bool,
}

impl Default for McpSection {
    fn default() -> Self {
        Self {
            blocked_servers: Vec::new(),
            allowed_servers: Vec::new(),
            approval_servers: Vec::new(),
            block_unknown_servers: true,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PackFile {
    name: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    filesystem: FilesystemSection,
    #[serde(default)]
    commands: CommandsSection,
    #[serde(default)]
    mcp: McpSection,
    /// Executable → the executable the command rules know it as (`tofu: terraform`).
    #[serde(default)]
    command_aliases: BTreeMap<String, String>,
}

/// A glob compiled once: `*`/`**` are any characters (with `/`), the whole target must match.
#[derive(Debug, Clone)]
struct Pattern {
    text: String,
    regex: Regex,
}

impl Pattern {
    fn new(text: &str) -> Result<Self, String> {
        let escaped = regex::escape(text)
            .replace(r"\*\*", ".*")
            .replace(r"\*", ".*");
        let regex = Regex::new(&format!("^(?si:{escaped})$"))
            .map_err(|e| format!("pattern {text:?}: {e}"))?;
        Ok(Self {
            text: text.to_owned(),
            regex,
        })
    }

    fn matches(&self, target: &str) -> bool {
        self.regex.is_match(target)
    }

    /// The same pattern over confusable skeletons ([`path::skeleton`]), keeping its text.
    fn skeleton(&self) -> Self {
        let skel = path::skeleton(&self.text);
        Self::new(&skel).map_or_else(
            |_| self.clone(),
            |p| Self {
                text: self.text.clone(),
                regex: p.regex,
            },
        )
    }
}

fn compile(list: &[String]) -> Result<Vec<Pattern>, String> {
    list.iter().map(|p| Pattern::new(p)).collect()
}

/// The lowercase segments of file patterns, for reading wildcard segments of a target.
fn path_vocabulary(fs: &FilesystemSection) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let all = fs
        .block_read
        .iter()
        .chain(&fs.block_write)
        .chain(&fs.require_approval_write);
    for p in all {
        for seg in p.to_lowercase().split('/') {
            if !seg.is_empty() && seg != "*" && seg != "**" && !out.iter().any(|o| o == seg) {
                out.push(seg.to_owned());
            }
        }
    }
    out
}

fn first_match<'a>(patterns: &'a [Pattern], target: &str) -> Option<&'a Pattern> {
    patterns.iter().find(|p| p.matches(target))
}

/// The lowercase first words of the command patterns and the alias names.
fn known_executables(
    commands: &CommandsSection,
    aliases: &BTreeMap<String, String>,
) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let words = commands
        .block
        .iter()
        .chain(&commands.allow)
        .filter_map(|p| p.split_whitespace().next())
        .chain(aliases.keys().map(String::as_str));
    for w in words {
        let w = w.to_lowercase();
        if !w.contains('*') && !out.contains(&w) {
            out.push(w);
        }
    }
    out
}

/// A loaded policy pack.
#[derive(Debug, Clone)]
pub struct PolicyPack {
    name: String,
    block_read: Vec<Pattern>,
    block_write: Vec<Pattern>,
    require_approval_write: Vec<Pattern>,
    block_commands: Vec<Pattern>,
    allow_commands: Vec<Pattern>,
    blocked_servers: Vec<String>,
    allowed_servers: Vec<String>,
    approval_servers: Vec<String>,
    block_unknown_servers: bool,
    command_aliases: BTreeMap<String, String>,
    known_executables: Vec<String>,
    allow_read_only: bool,
    /// `block_read`, `block_write`, `require_approval_write` over confusable skeletons.
    skeletons: [Vec<Pattern>; 3],
    /// Segments of the file patterns ([`path_vocabulary`]).
    path_vocabulary: Vec<String>,
}

impl PolicyPack {
    /// The built-in baseline pack.
    #[allow(clippy::expect_used)] // embedded and tested: the baseline pack is valid
    pub fn baseline() -> Self {
        Self::parse(BASELINE_YAML, BASELINE_PACK, true)
            .expect("the embedded baseline pack is valid")
    }

    /// Parses a pack from YAML text; `origin` names it in errors.
    pub fn from_yaml_str(text: &str, origin: &str) -> Result<Self, PolicyError> {
        Self::parse(text, origin, false)
    }

    /// `read_only`: whether read-only commands are allowed when the pack does not say.
    fn parse(text: &str, origin: &str, read_only: bool) -> Result<Self, PolicyError> {
        let invalid = |detail: String| PolicyError::Invalid {
            origin: origin.to_owned(),
            detail,
        };
        let file: PackFile = serde_yaml::from_str(text).map_err(|e| invalid(e.to_string()))?;
        let _ = file.description;
        if file.name.trim().is_empty() {
            return Err(invalid("name must not be empty".to_owned()));
        }
        let block_read = compile(&file.filesystem.block_read).map_err(invalid)?;
        let block_write = compile(&file.filesystem.block_write).map_err(invalid)?;
        let require_approval_write =
            compile(&file.filesystem.require_approval_write).map_err(invalid)?;
        let skel = |list: &[Pattern]| list.iter().map(Pattern::skeleton).collect::<Vec<_>>();
        Ok(Self {
            name: file.name,
            skeletons: [
                skel(&block_read),
                skel(&block_write),
                skel(&require_approval_write),
            ],
            path_vocabulary: path_vocabulary(&file.filesystem),
            block_read,
            block_write,
            require_approval_write,
            block_commands: compile(&file.commands.block).map_err(invalid)?,
            allow_commands: compile(&file.commands.allow).map_err(invalid)?,
            blocked_servers: file.mcp.blocked_servers,
            allowed_servers: file.mcp.allowed_servers,
            approval_servers: file.mcp.approval_servers,
            block_unknown_servers: file.mcp.block_unknown_servers,
            known_executables: known_executables(&file.commands, &file.command_aliases),
            allow_read_only: file.commands.allow_read_only.unwrap_or(read_only),
            command_aliases: file
                .command_aliases
                .into_iter()
                .map(|(k, v)| (k.to_lowercase(), v.to_lowercase()))
                .collect(),
        })
    }

    /// Reads a pack file.
    pub fn load(path: &Path) -> Result<Self, PolicyError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| PolicyError::Unreadable {
            path: shown.clone(),
            detail: e.to_string(),
        })?;
        Self::from_yaml_str(&text, &shown)
    }

    /// A built-in pack by name, else an existing pack file.
    pub fn resolve(name_or_path: &str) -> Result<Self, PolicyError> {
        if name_or_path == BASELINE_PACK {
            return Ok(Self::baseline());
        }
        let path = Path::new(name_or_path);
        if path.is_file() {
            return Self::load(path);
        }
        Err(PolicyError::UnknownPack(name_or_path.to_owned()))
    }

    /// The pack's name (recorded as `policy_pack` and `policy_id`).
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// Who and where a decision is made for; ids and time come from the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvaluationContext {
    /// `dec_` + 12 hex.
    pub decision_id: String,
    /// `corr_` + 12 hex.
    pub correlation_id: String,
    /// When.
    pub timestamp: Timestamp,
    /// Default `local`.
    pub session_id: String,
    /// Default `unknown-agent`.
    pub agent_id: String,
    /// Default `ai-agent`.
    pub actor: String,
    /// The repository root file targets are relative to (an absolute path); `None`: absolute
    /// targets are outside the repository. The CLI resolves it (`--repo-root`, else the git top
    /// level, else the working directory); the engine never touches the filesystem.
    pub repo_root: Option<String>,
}

impl EvaluationContext {
    /// A context with the original's defaults.
    pub fn new(decision_id: String, correlation_id: String, timestamp: Timestamp) -> Self {
        Self {
            decision_id,
            correlation_id,
            timestamp,
            session_id: "local".to_owned(),
            agent_id: "unknown-agent".to_owned(),
            actor: "ai-agent".to_owned(),
            repo_root: None,
        }
    }
}

#[derive(Debug, Clone)]
struct Verdict {
    outcome: &'static str,
    rule_id: &'static str,
    severity: &'static str,
    reason: String,
    approver_group: Option<&'static str>,
}

impl Verdict {
    /// block > require_approval > allow.
    fn rank(&self) -> u8 {
        match self.outcome {
            "block" => 2,
            "require_approval" => 1,
            _ => 0,
        }
    }

    fn approval(
        rule_id: &'static str,
        severity: &'static str,
        reason: String,
        group: &'static str,
    ) -> Self {
        let mut v = Self::new("require_approval", rule_id, severity, reason);
        v.approver_group = Some(group);
        v
    }

    fn new(
        outcome: &'static str,
        rule_id: &'static str,
        severity: &'static str,
        reason: String,
    ) -> Self {
        Self {
            outcome,
            rule_id,
            severity,
            reason,
            approver_group: None,
        }
    }
}

/// The original's reason for a read or write block (appendix A2 R1; the same for both).
const SENSITIVE_PATH: &str = "Matched sensitive path policy: ";

/// The original's reason for a read or write no pattern matched (appendix A2 R3).
const NO_SENSITIVE_PATH: &str = "No sensitive path policy matched.";

fn write_verdict(pack: &PolicyPack, target: &str) -> Verdict {
    write_verdict_in(&pack.block_write, &pack.require_approval_write, target)
}

fn write_verdict_in(
    block_write: &[Pattern],
    require_approval: &[Pattern],
    target: &str,
) -> Verdict {
    if let Some(p) = first_match(block_write, target) {
        return Verdict::new(
            "block",
            "filesystem.write.block",
            "high",
            format!("{SENSITIVE_PATH}{}", p.text),
        );
    }
    if let Some(p) = first_match(require_approval, target) {
        let mut v = Verdict::new(
            "require_approval",
            "filesystem.write.require_approval",
            "high",
            format!("Matched approval-required path policy: {}", p.text),
        );
        v.approver_group = Some("Platform Security");
        return v;
    }
    Verdict::new(
        "allow",
        "filesystem.write.allow",
        "low",
        NO_SENSITIVE_PATH.to_owned(),
    )
}

fn read_verdict(pack: &PolicyPack, target: &str) -> Verdict {
    read_verdict_in(&pack.block_read, target)
}

fn read_verdict_in(block_read: &[Pattern], target: &str) -> Verdict {
    match first_match(block_read, target) {
        Some(p) => Verdict::new(
            "block",
            "filesystem.read.block",
            "high",
            format!("{SENSITIVE_PATH}{}", p.text),
        ),
        None => Verdict::new(
            "allow",
            "filesystem.read.allow",
            "low",
            NO_SENSITIVE_PATH.to_owned(),
        ),
    }
}

fn command_verdict(pack: &PolicyPack, command: &str, part: &str) -> Verdict {
    if let Some(p) = first_match(&pack.block_commands, command) {
        let part = format!("{part} {command}").to_lowercase();
        let severity = if part.contains("apply") || part.contains("delete") {
            "critical"
        } else {
            "high"
        };
        return Verdict::new(
            "block",
            "commands.block",
            severity,
            format!("Matched blocked command policy: {}", p.text),
        );
    }
    if let Some(p) = first_match(&pack.allow_commands, command) {
        return Verdict::new(
            "allow",
            "commands.allow",
            "low",
            format!("Matched allowed command policy: {}", p.text),
        );
    }
    let mut v = Verdict::new(
        "require_approval",
        DEFAULT_COMMAND_RULE,
        "medium",
        "No allow rule matched; review required.".to_owned(),
    );
    v.approver_group = Some("Repository Owners");
    v
}

fn severity_rank(severity: &str) -> u8 {
    match severity {
        "critical" => 3,
        "high" => 2,
        "medium" => 1,
        _ => 0,
    }
}

/// Keeps the strictest verdict (outcome, then severity); the earlier one on a tie.
fn consider(best: &mut Option<Verdict>, candidate: Verdict) {
    let key = |v: &Verdict| (v.rank(), severity_rank(v.severity));
    if best.as_ref().is_none_or(|b| key(&candidate) > key(b)) {
        *best = Some(candidate);
    }
}

/// The canonical path and the strictest verdict over every spelling of it.
fn file_verdict(
    pack: &PolicyPack,
    raw: &str,
    repo_root: Option<&str>,
    write: bool,
) -> (String, Verdict) {
    let spellings = path::spellings(raw, repo_root);
    let canonical = spellings
        .first()
        .map_or_else(|| ".".to_owned(), |s| s.text.clone());
    let mut best = None;
    for spelling in &spellings {
        consider(
            &mut best,
            if write {
                write_verdict(pack, &spelling.text)
            } else {
                read_verdict(pack, &spelling.text)
            },
        );
        // Look-alike characters (`іam`, `iam∕x`), and segments that may name a pattern's
        // segment: Windows 8.3 short names (`GITHUB~1`) and globs (`workflow?`, `{a,b}`).
        let skeleton = path::normalise(&path::skeleton(&spelling.text), repo_root).text;
        let [block_read, block_write, require_approval] = &pack.skeletons;
        consider(
            &mut best,
            if write {
                write_verdict_in(block_write, require_approval, &skeleton)
            } else {
                read_verdict_in(block_read, &skeleton)
            },
        );
        for text in path::wildcard_readings(&spelling.text, &pack.path_vocabulary) {
            consider(
                &mut best,
                if write {
                    write_verdict(pack, &text)
                } else {
                    read_verdict(pack, &text)
                },
            );
        }
        if spelling.outside {
            consider(
                &mut best,
                Verdict::approval(
                    "filesystem.outside_repository.require_approval",
                    "high",
                    format!(
                        "Path {} is outside the repository root; it requires approval.",
                        spelling.text
                    ),
                    "Platform Security",
                ),
            );
        }
    }
    let verdict = best.unwrap_or_else(|| write_verdict(pack, &canonical));
    (canonical, verdict)
}

fn owners(rule_id: &'static str, reason: String) -> Verdict {
    Verdict::approval(rule_id, "medium", reason, "Repository Owners")
}

/// Devices a redirection may name without writing a file.
fn is_device(path: &str) -> bool {
    matches!(
        path,
        "/dev/null" | "/dev/stdout" | "/dev/stderr" | "/dev/tty" | "/dev/stdin"
    ) || path.starts_with("/dev/fd/")
}

/// The rule of a command no pattern matched.
const DEFAULT_COMMAND_RULE: &str = "commands.default.require_approval";

/// Files a redirection may write without leaving a trace.
const HARMLESS_WRITES: &[&str] = &["/dev/null", "/dev/stdout", "/dev/stderr"];

/// Where read-only commands may be allowed in one line, and every directory its `cd`s may
/// enter: relative operands are checked from each, whatever the order (`cat x; cd keys` in a
/// loop reads `keys/x`).
struct ReadOnlyScope {
    /// The pack allows them, the line writes no file through a redirection and every `cd`
    /// names a directory inside the repository.
    open: bool,
    /// Repository-relative directories (`""` the root); bounded.
    dirs: Vec<String>,
}

impl ReadOnlyScope {
    const MAX_DIRS: usize = 16;
    const MAX_STEPS: usize = 256;

    fn new(pack: &PolicyPack, line: &str, parsed: &command::Parsed, root: Option<&str>) -> Self {
        let writes = parsed
            .redirects
            .iter()
            .any(|r| r.write && !HARMLESS_WRITES.contains(&r.path.as_str()));
        let mut scope = Self {
            open: pack.allow_read_only && !writes,
            dirs: vec![String::new()],
        };
        let mut targets = Vec::new();
        for cmd in &parsed.commands {
            match readonly::directory_change(cmd) {
                readonly::DirChange::Stays => {}
                readonly::DirChange::Unknown => scope.open = false,
                readonly::DirChange::To(dir) => targets.push(dir),
            }
        }
        // A loop repeats its `cd`s any number of times: not followed.
        let loops = line
            .split(|c: char| c.is_whitespace() || ";&|()".contains(c))
            .any(|w| w == "do");
        if loops && !targets.is_empty() {
            scope.open = false;
        }
        // Each `cd` once, in every order (bounded).
        let mut chains: Vec<(String, Vec<usize>)> = vec![(String::new(), Vec::new())];
        let mut steps = 0usize;
        while let Some((dir, used)) = chains.pop() {
            for (k, target) in targets.iter().enumerate() {
                if !scope.open {
                    return scope;
                }
                if used.contains(&k) {
                    continue;
                }
                steps = steps.saturating_add(1);
                let spelled = readonly::under(std::slice::from_ref(&dir), target);
                let next = spelled
                    .first()
                    .and_then(|s| path::spellings(s, root).into_iter().next());
                match next {
                    Some(p) if !p.outside && steps <= Self::MAX_STEPS => {
                        if !scope.dirs.contains(&p.text) {
                            scope.dirs.push(p.text.clone());
                        }
                        let mut used = used.clone();
                        used.push(k);
                        chains.push((p.text, used));
                    }
                    _ => scope.open = false,
                }
                if scope.dirs.len() > Self::MAX_DIRS {
                    scope.open = false;
                }
            }
        }
        scope
    }

    /// `commands.read_only.allow` for `cmd`, or `None` when it is not read-only or names a file
    /// the read policy does not allow (from any directory it may run in).
    fn verdict(
        &self,
        pack: &PolicyPack,
        cmd: &command::Command,
        root: Option<&str>,
    ) -> Option<Verdict> {
        if !self.open {
            return None;
        }
        let files = readonly::classify(cmd)?;
        for file in &files {
            for spelled in readonly::under(&self.dirs, file) {
                if file_verdict(pack, &spelled, root, false).1.outcome != "allow" {
                    return None;
                }
            }
        }
        Some(Verdict::new(
            "allow",
            "commands.read_only.allow",
            "low",
            format!("Command is read-only: {}.", shell_words::join(&cmd.argv)),
        ))
    }
}

/// Options (without dashes, lowercase) whose value is a file the command writes:
/// `terraform plan -out=…`, `-state-out`, `-backup`, `-state`; `pytest --junitxml=…`,
/// `--basetemp` (emptied first), `--cov-report=xml:…`, `-o cache_dir=…`; `--output`.
const WRITE_OPTIONS: &[&str] = &[
    "out",
    "state-out",
    "backup",
    "state",
    "junitxml",
    "junit-xml",
    "resultlog",
    "result-log",
    "report-log",
    "html",
    "basetemp",
    "cov-report",
    "json-report-file",
    "output",
    "o",
];

/// Files `raw` (a command's words) names as the value of a [`WRITE_OPTIONS`] option.
fn option_writes(raw: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for (k, w) in raw.iter().enumerate().skip(1) {
        if !w.starts_with('-') || w == "--" {
            continue;
        }
        let (name, value) = match w.split_once('=') {
            Some((n, v)) => (n, Some(v.to_owned())),
            None => (w.as_str(), raw.get(k.saturating_add(1)).cloned()),
        };
        let name = name.trim_start_matches('-').to_lowercase();
        if !WRITE_OPTIONS.contains(&name.as_str()) {
            continue;
        }
        let Some(value) = value else { continue };
        // `xml:cov.xml`, `cache_dir=.cache`: the file is after the kind.
        let file = value
            .rsplit_once(['=', ':'])
            .filter(|(kind, _)| !kind.contains('/') && kind.len() > 1)
            .map_or(value.as_str(), |(_, f)| f);
        if !file.is_empty() {
            // A directory (`--basetemp=iam`) is written inside.
            out.push(file.to_owned());
            out.push(format!("{}/x", file.trim_end_matches(['/', '\\'])));
        }
    }
    out
}

/// Block verdicts for block patterns a candidate text with globs or braces may expand to: the
/// candidate read as a glob is matched against each pattern's text with `*` removed.
fn glob_blocks(pack: &PolicyPack, candidates: &[String]) -> Vec<Verdict> {
    let mut out = Vec::new();
    for c in candidates {
        if !c.contains(['*', '?', '[', '{']) {
            continue;
        }
        let Some(re) = command::glob_regex(c) else {
            continue;
        };
        for p in &pack.block_commands {
            let sample = p.text.replace('*', "");
            let sample = sample.trim();
            if re.is_match(sample) {
                out.push(command_verdict(pack, sample, sample));
            }
        }
    }
    out
}

/// Executables that read the files they name (besides the read-only ones): their operands are
/// checked against the read policy.
const READERS: &[&str] = &[
    "less",
    "more",
    "most",
    "bat",
    "batcat",
    "nl",
    "tac",
    "xxd",
    "od",
    "hexdump",
    "strings",
    "base64",
    "base32",
    "diff",
    "cmp",
    "comm",
    "paste",
    "join",
    "fold",
    "fmt",
    "column",
    "md5sum",
    "sha1sum",
    "sha256sum",
    "sha512sum",
    "cksum",
    "b2sum",
    "iconv",
    "zcat",
    "zless",
    "bzcat",
    "xzcat",
    "source",
    ".",
    "open",
    "xdg-open",
    "curl",
    "nc",
    "scp",
    "rsync",
    "cp",
    "mv",
    "ln",
    "install",
    "tar",
    "zip",
    "gzip",
    "openssl",
    "gpg",
    "ssh-keygen",
];

/// Executables that write (or delete, or change) every file they name.
const WRITERS: &[&str] = &[
    "tee", "touch", "truncate", "rm", "rmdir", "unlink", "shred", "mkdir", "chmod", "chown",
    "chgrp", "chattr", "setfacl",
];

/// Editors: they read and may write every file they name.
const EDITORS: &[&str] = &[
    "vi", "vim", "nvim", "view", "nano", "emacs", "ed", "ex", "code", "micro", "hx",
];

/// Searchers: the first operand is the pattern unless `-e`/`-f` gives it.
const SEARCHERS: &[&str] = &["grep", "egrep", "fgrep", "rg", "ag", "ack", "git-grep"];

/// Executables whose last operand is the file (or directory) they write; the others are read.
const COPIERS: &[&str] = &["cp", "mv", "install", "ln", "rsync", "scp"];

/// The files a command reads and writes, by its executable's basename: read-only commands'
/// files, [`READERS`]' operands, [`WRITERS`]' operands, [`COPIERS`]' destination, `dd if=/of=`,
/// `sed -i`/`perl -i` files.
fn command_files(cmd: &command::Command) -> (Vec<String>, Vec<String>) {
    let Some((exe, args)) = cmd.raw.split_first() else {
        return (Vec::new(), Vec::new());
    };
    let name = exe.rsplit(['/', '\\']).next().unwrap_or(exe).to_lowercase();
    let operands: Vec<String> = args
        .iter()
        .filter(|w| !w.starts_with('-') || w.as_str() == "-")
        .filter(|w| w.as_str() != "-")
        .cloned()
        .collect();
    let mut reads = Vec::new();
    let mut writes = Vec::new();
    if let Some(files) = readonly::files_of(&name, args) {
        reads = files;
    } else if WRITERS.contains(&name.as_str()) {
        // A directory (`rm -rf iam`) is written inside too.
        for op in &operands {
            writes.push(op.clone());
            writes.push(format!("{}/x", op.trim_end_matches('/')));
        }
    } else if EDITORS.contains(&name.as_str()) {
        reads.clone_from(&operands);
        writes.clone_from(&operands);
    } else if SEARCHERS.contains(&name.as_str()) {
        let given = args
            .iter()
            .any(|w| w.starts_with('-') && !w.starts_with("--") && w.contains(['e', 'f']));
        reads = operands.iter().skip(usize::from(!given)).cloned().collect();
    } else if matches!(name.as_str(), "tar" | "unzip" | "bsdtar") {
        for (k, w) in args.iter().enumerate() {
            let dir = if w == "-C" || w == "-d" || w == "--directory" {
                args.get(k.saturating_add(1)).cloned()
            } else {
                w.strip_prefix("--directory=").map(str::to_owned)
            };
            if let Some(dir) = dir {
                writes.push(format!("{}/x", dir.trim_end_matches('/')));
            }
        }
    } else if COPIERS.contains(&name.as_str()) {
        if let Some((last, sources)) = operands.split_last() {
            writes.push(last.clone());
            writes.push(format!("{}/x", last.trim_end_matches('/')));
            reads.extend(sources.iter().cloned());
        }
        for (k, w) in args.iter().enumerate() {
            let dir = if w == "-t" {
                args.get(k.saturating_add(1)).cloned()
            } else {
                w.strip_prefix("--target-directory=").map(str::to_owned)
            };
            if let Some(dir) = dir {
                writes.push(format!("{}/x", dir.trim_end_matches('/')));
            }
        }
    } else if name == "dd" {
        for w in args {
            if let Some(f) = w.strip_prefix("of=") {
                writes.push(f.to_owned());
            } else if let Some(f) = w.strip_prefix("if=") {
                reads.push(f.to_owned());
            }
        }
    } else if matches!(name.as_str(), "sed" | "gsed" | "perl")
        && args.iter().any(|w| {
            w.starts_with("--in-place")
                || (w.starts_with('-') && !w.starts_with("--") && w.contains('i'))
        })
    {
        // Every operand may be a file edited in place (the script too: checked, not written).
        writes.clone_from(&operands);
    } else if READERS.contains(&name.as_str()) {
        reads = operands;
    }
    (reads, writes)
}

/// Words at most this far apart are read as one hidden command.
const HIDDEN_WINDOW: usize = 12;
/// How many words of opaque text are looked at.
const HIDDEN_WORDS: usize = 512;

/// Block verdicts for blocked commands spelled among the words of `text`, which the line runs
/// in a way it does not show (inline code, expansion, unparseable text): each run of up to
/// [`HIDDEN_WINDOW`] words, its first reduced to an executable basename (aliases applied), is
/// matched against the block patterns.
fn hidden_blocks(pack: &PolicyPack, text: &str) -> Vec<Verdict> {
    let env = command::Env {
        aliases: &pack.command_aliases,
        known: &pack.known_executables,
    };
    let words: Vec<String> = text
        .split(|c: char| !(c.is_alphanumeric() || "_./+@-~=".contains(c)))
        .filter(|w| !w.is_empty())
        .take(HIDDEN_WORDS)
        .map(str::to_lowercase)
        .collect();
    let mut out = Vec::new();
    for start in 0..words.len() {
        let word = words[start].trim_start_matches('-');
        let base = word.rsplit(['/', '\\']).next().unwrap_or_default();
        let base = base.strip_suffix(".exe").unwrap_or(base);
        let exe = pack.command_aliases.get(base).map_or(base, String::as_str);
        if !pack.known_executables.iter().any(|k| k == exe) {
            continue;
        }
        // Each run of words after it, read as a command (global options skipped).
        let mut run = vec![exe.to_owned()];
        for w in words
            .iter()
            .skip(start.saturating_add(1))
            .take(HIDDEN_WINDOW)
        {
            run.push(w.clone());
            let parsed = command::parse(&shell_words::join(&run), &env);
            let blocked = parsed.commands.iter().find_map(|c| {
                let canonical = c.candidates.first().map_or("", String::as_str);
                c.candidates
                    .iter()
                    .map(|t| command_verdict(pack, t, canonical))
                    .find(|v| v.outcome == "block")
            });
            if let Some(v) = blocked {
                out.push(v);
                break;
            }
        }
    }
    out
}

/// The parsed line and the strictest verdict over its problems, commands and redirections.
fn line_verdict(
    pack: &PolicyPack,
    line: &str,
    repo_root: Option<&str>,
) -> (command::Parsed, Verdict) {
    let env = command::Env {
        aliases: &pack.command_aliases,
        known: &pack.known_executables,
    };
    let parsed = command::parse(line, &env);
    let read_only = ReadOnlyScope::new(pack, line, &parsed, repo_root);
    let mut best = None;
    if parsed
        .problems
        .iter()
        .any(|p| matches!(p, command::Problem::Unparseable(_)))
    {
        for v in hidden_blocks(pack, line) {
            consider(&mut best, v);
        }
    }
    for problem in &parsed.problems {
        consider(
            &mut best,
            match problem {
                command::Problem::Unparseable(why) => owners(
                    "commands.unparseable.require_approval",
                    format!("Command could not be parsed ({why}); it requires approval."),
                ),
                command::Problem::Substitution => owners(
                    "commands.substitution.require_approval",
                    "Command uses command or process substitution; it requires approval."
                        .to_owned(),
                ),
            },
        );
    }
    for cmd in parsed.commands.iter().chain(&parsed.alternatives) {
        let canonical = cmd.candidates.first().map_or("", String::as_str);
        let mut part = None;
        for text in &cmd.candidates {
            consider(&mut part, command_verdict(pack, text, canonical));
        }
        // Code the line does not show (`python -c …`, `"$(echo terraform) apply"`): a blocked
        // command spelled among its words blocks it.
        if cmd.opaque {
            let words = cmd.raw.iter().chain(&cmd.via).cloned().collect::<Vec<_>>();
            for v in hidden_blocks(pack, &words.join(" ")) {
                consider(&mut part, v);
            }
        }
        // Globs and braces among the words (`terraform {apply,plan}`, `git push origin ma?n`)
        // may expand to a blocked command.
        if cmd.globbed {
            for v in glob_blocks(pack, &cmd.candidates) {
                consider(&mut part, v);
            }
        }
        let Some(mut part) = part else { continue };
        if part.rule_id == DEFAULT_COMMAND_RULE
            && let Some(v) = read_only.verdict(pack, cmd, repo_root)
        {
            part = v;
        }
        if part.outcome == "allow" {
            let exe = cmd.argv.first().map_or("", String::as_str);
            if let Some(cap) = cmd.caps.first() {
                part = match cap {
                    command::Cap::Environment => owners(
                        "commands.environment.require_approval",
                        format!(
                            "Command sets environment variables for {exe}; it requires approval."
                        ),
                    ),
                    command::Cap::Privileged(wrapper) => owners(
                        "commands.privileged.require_approval",
                        format!("Command runs {exe} through {wrapper}; it requires approval."),
                    ),
                    command::Cap::Dynamic => owners(
                        "commands.dynamic.require_approval",
                        format!(
                            "Command uses shell expansion (variables, globs, braces or $'...') around {exe}; it requires approval."
                        ),
                    ),
                };
            }
        }
        // Files the command names: reading a blocked file is blocked however it is read.
        let (reads, writes) = command_files(cmd);
        for (files, write) in [(reads, false), (writes, true)] {
            // A bare glob operand (`ls *`) names whatever is there: not read as every name.
            let named = files
                .iter()
                .filter(|f| !f.chars().all(|c| matches!(c, '*' | '?')) || write)
                .filter(|f| !is_device(f.strip_suffix("/x").unwrap_or(f)));
            for file in named {
                for spelled in readonly::under(&read_only.dirs, file) {
                    let (path, mut v) = file_verdict(pack, &spelled, repo_root, write);
                    if v.outcome != "allow" {
                        let how = if write { "writes" } else { "reads" };
                        v.reason = format!("Command {how} {path}. {}", v.reason);
                        consider(&mut best, v);
                    }
                }
            }
        }
        let devices = |f: &&String| !is_device(f.strip_suffix("/x").unwrap_or(f));
        for file in option_writes(&cmd.raw).iter().filter(devices) {
            let (path, mut v) = file_verdict(pack, file, repo_root, true);
            if v.outcome != "allow" {
                v.reason = format!("Command writes {path} through an option. {}", v.reason);
                consider(&mut best, v);
            }
        }
        consider(&mut best, part);
    }
    for redirect in &parsed.redirects {
        if is_device(&redirect.path) {
            continue;
        }
        let (path, mut v) = file_verdict(pack, &redirect.path, repo_root, redirect.write);
        if v.outcome != "allow" {
            let how = if redirect.write { "writes" } else { "reads" };
            v.reason = format!("Command {how} {path} through a redirection. {}", v.reason);
            consider(&mut best, v);
        }
    }
    let verdict = best.unwrap_or_else(|| command_verdict(pack, line, line));
    (parsed, verdict)
}

fn git_verdict(target: &str, operation: &str) -> Verdict {
    // Stricter than the original: case, surrounding whitespace and trailing `/` do not matter.
    let branch = target.trim().trim_end_matches('/').to_lowercase();
    if operation == "push" && (branch.ends_with("main") || branch.ends_with("master")) {
        return Verdict::new(
            "block",
            "git.protected_branch.block_direct_push",
            "high",
            "Direct push to protected branch is prohibited.".to_owned(),
        );
    }
    Verdict::new(
        "allow",
        "git.allow",
        "low",
        "Git operation is allowed by policy.".to_owned(),
    )
}

fn mcp_verdict(pack: &PolicyPack, server: &str) -> Verdict {
    let blocked = pack.blocked_servers.iter().any(|s| s == server);
    let needs_human = pack.approval_servers.iter().any(|s| s == server);
    if needs_human && !blocked {
        return Verdict::approval(
            "mcp.server.trust.require_approval",
            "medium",
            format!("MCP server {server} needs approval for each tool call."),
            "AI Governance",
        );
    }
    let unknown = pack.block_unknown_servers && !pack.allowed_servers.iter().any(|s| s == server);
    if blocked || unknown {
        return Verdict::new(
            "block",
            "mcp.server.trust.block_unknown",
            "high",
            "Untrusted MCP server with filesystem/tool capability is not approved.".to_owned(),
        );
    }
    Verdict::new(
        "allow",
        "mcp.server.trust.allow",
        "low",
        "MCP server is trusted for this tool call.".to_owned(),
    )
}

/// Evaluates one action and returns the decision (original §1.1 keys).
pub fn evaluate(
    pack: &PolicyPack,
    action: ActionType,
    target: &str,
    ctx: &EvaluationContext,
) -> Decision {
    let as_given = target.to_owned();
    let root = ctx.repo_root.as_deref();
    let mut commands: Option<Value> = None;
    let (target, requested_operation, verdict) = match action {
        ActionType::WriteFile => {
            let (canonical, verdict) = file_verdict(pack, target, root, true);
            (canonical, "write".to_owned(), verdict)
        }
        ActionType::ReadFile => {
            let (canonical, verdict) = file_verdict(pack, target, root, false);
            (canonical, "read".to_owned(), verdict)
        }
        ActionType::ExecuteCommand => {
            let (parsed, verdict) = line_verdict(pack, target, root);
            let unparseable = parsed
                .problems
                .iter()
                .any(|p| matches!(p, command::Problem::Unparseable(_)));
            let command = if unparseable || parsed.commands.is_empty() {
                target.trim().to_owned()
            } else {
                parsed
                    .commands
                    .iter()
                    .map(|c| shell_words::join(&c.argv))
                    .collect::<Vec<_>>()
                    .join(" ; ")
            };
            commands = Some(json!(
                parsed
                    .commands
                    .iter()
                    .map(|c| c.argv.clone())
                    .collect::<Vec<_>>()
            ));
            (command.clone(), command, verdict)
        }
        ActionType::GitOperation => {
            let operation = "push";
            let target = if target.trim().is_empty() {
                operation.to_owned()
            } else {
                target.to_owned()
            };
            let verdict = git_verdict(&target, operation);
            (target, operation.to_owned(), verdict)
        }
        ActionType::McpToolCall => (
            format!("{target}:unknown"),
            "filesystem".to_owned(),
            mcp_verdict(pack, target),
        ),
    };
    let mut map = Map::new();
    let mut put = |k: &str, v: Value| {
        map.insert(k.to_owned(), v);
    };
    put("decision_id", json!(ctx.decision_id));
    put("session_id", json!(ctx.session_id));
    put("agent_id", json!(ctx.agent_id));
    put("actor", json!(ctx.actor));
    put("action_type", json!(action.as_str()));
    put("target", json!(target));
    put("target_as_given", json!(as_given));
    if let Some(commands) = commands {
        put("commands", commands);
    }
    put("requested_operation", json!(requested_operation));
    put("policy_pack", json!(pack.name));
    put("policy_id", json!(pack.name));
    put("rule_id", json!(verdict.rule_id));
    put("decision", json!(verdict.outcome));
    put("severity", json!(verdict.severity));
    put("reason", json!(verdict.reason));
    put(
        "evidence_refs",
        json!([format!("evidence://{}/{}", ctx.session_id, ctx.decision_id)]),
    );
    put("approver_group", json!(verdict.approver_group));
    put("timestamp", json!(ctx.timestamp.to_string()));
    put("correlation_id", json!(ctx.correlation_id));
    Decision::from_map(map)
}

/// The non-JSON output of `cavra evaluate`: `{decision}: {reason}`.
pub fn summary_line(decision: &Decision) -> String {
    format!(
        "{}: {}",
        decision.text_field("decision"),
        decision.text_field("reason")
    )
}

#[cfg(test)]
mod bypass_tests;

#[cfg(test)]
mod readonly_tests;

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn eval(action: &str, target: &str) -> Decision {
        let ctx = EvaluationContext::new(
            "dec_0123456789ab".into(),
            "corr_0123456789ab".into(),
            "2026-05-18T12:34:56.789012+00:00".parse().unwrap(),
        );
        evaluate(
            &PolicyPack::baseline(),
            action.parse().unwrap(),
            target,
            &ctx,
        )
    }

    fn row(d: &Decision) -> (String, String, String, Value) {
        (
            d.text_field("decision"),
            d.text_field("rule_id"),
            d.text_field("severity"),
            d.as_map()["approver_group"].clone(),
        )
    }

    #[test]
    fn the_iam_write_of_the_seed_needs_platform_security_approval() {
        let d = eval("write_file", "iam/admin-role.tf");
        assert_eq!(
            row(&d),
            (
                "require_approval".into(),
                "filesystem.write.require_approval".into(),
                "high".into(),
                json!("Platform Security")
            )
        );
        assert_eq!(
            d.text_field("reason"),
            "Matched approval-required path policy: iam/**"
        );
        assert_eq!(d.text_field("requested_operation"), "write");
        assert_eq!(d.evidence_refs(), vec!["evidence://local/dec_0123456789ab"]);
        // Issue E.1: the 17 keys of original §1.1 plus `target_as_given` (the input before
        // normalisation); command decisions also carry `commands`.
        assert_eq!(
            d.as_map().len(),
            18,
            "the 17 keys of original §1.1 + target_as_given"
        );
        assert_eq!(d.text_field("target_as_given"), "iam/admin-role.tf");
        assert_eq!(eval("execute_command", "make deploy").as_map().len(), 19);
        assert_eq!(d.text_field("policy_pack"), BASELINE_PACK);
        assert_eq!(d.text_field("policy_id"), BASELINE_PACK);
        assert_eq!(
            d.text_field("timestamp"),
            "2026-05-18T12:34:56.789012+00:00"
        );
    }

    /// Expected (outcome, rule id, severity, approver group).
    type Expected<'a> = (&'a str, &'a str, &'a str, Value);

    #[test]
    fn every_row_of_the_baseline_table() {
        let cases: &[(&str, &str, Expected)] = &[
            (
                "write_file",
                ".github/workflows/ci.yml",
                ("block", "filesystem.write.block", "high", Value::Null),
            ),
            (
                "write_file",
                "infra/main.tf",
                ("block", "filesystem.write.block", "high", Value::Null),
            ),
            (
                "write_file",
                "main.tf",
                ("allow", "filesystem.write.allow", "low", Value::Null),
            ),
            (
                "write_file",
                "security/policy.rego",
                (
                    "require_approval",
                    "filesystem.write.require_approval",
                    "high",
                    json!("Platform Security"),
                ),
            ),
            (
                "write_file",
                "src/lib.rs",
                ("allow", "filesystem.write.allow", "low", Value::Null),
            ),
            (
                "read_file",
                ".env",
                ("block", "filesystem.read.block", "high", Value::Null),
            ),
            (
                "read_file",
                "keys/server.pem",
                ("block", "filesystem.read.block", "high", Value::Null),
            ),
            (
                "read_file",
                "README.md",
                ("allow", "filesystem.read.allow", "low", Value::Null),
            ),
            (
                "execute_command",
                "  terraform apply -auto-approve ",
                ("block", "commands.block", "critical", Value::Null),
            ),
            (
                "execute_command",
                "kubectl delete ns prod",
                ("block", "commands.block", "critical", Value::Null),
            ),
            (
                "execute_command",
                "aws iam create-access-key --user-name x",
                ("block", "commands.block", "high", Value::Null),
            ),
            (
                "execute_command",
                "git push origin main",
                ("block", "commands.block", "high", Value::Null),
            ),
            (
                "execute_command",
                "terraform plan",
                ("allow", "commands.allow", "low", Value::Null),
            ),
            (
                "execute_command",
                "npm test -- --watch",
                ("allow", "commands.allow", "low", Value::Null),
            ),
            (
                "execute_command",
                "make deploy",
                (
                    "require_approval",
                    "commands.default.require_approval",
                    "medium",
                    json!("Repository Owners"),
                ),
            ),
            (
                "git_operation",
                "origin/main",
                (
                    "block",
                    "git.protected_branch.block_direct_push",
                    "high",
                    Value::Null,
                ),
            ),
            (
                "git_operation",
                "origin/feature",
                ("allow", "git.allow", "low", Value::Null),
            ),
            (
                "mcp_tool_call",
                "random-server",
                (
                    "block",
                    "mcp.server.trust.block_unknown",
                    "high",
                    Value::Null,
                ),
            ),
        ];
        for (action, target, (outcome, rule, severity, group)) in cases {
            let d = eval(action, target);
            assert_eq!(
                row(&d),
                (
                    (*outcome).into(),
                    (*rule).into(),
                    (*severity).into(),
                    group.clone()
                ),
                "{action} {target}"
            );
        }
    }

    #[test]
    fn commands_are_trimmed_and_mcp_targets_are_server_colon_unknown() {
        assert_eq!(
            eval("execute_command", "  make deploy  ").text_field("target"),
            "make deploy"
        );
        let d = eval("mcp_tool_call", "github");
        assert_eq!(d.text_field("target"), "github:unknown");
        assert_eq!(d.text_field("requested_operation"), "filesystem");
        assert_eq!(eval("git_operation", "").text_field("target"), "push");
    }

    #[test]
    fn a_custom_pack_file_replaces_the_baseline() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pack.yaml");
        std::fs::write(&path, "name: strict\nfilesystem:\n  require_approval_write: ['**']\nmcp:\n  allowed_servers: [github]\n").unwrap();
        let pack = PolicyPack::resolve(path.to_str().unwrap()).unwrap();
        assert_eq!(pack.name(), "strict");
        let ctx = EvaluationContext::new(
            "dec_1".into(),
            "corr_1".into(),
            "2026-05-18T12:00:00+00:00".parse().unwrap(),
        );
        let d = evaluate(&pack, ActionType::WriteFile, "README.md", &ctx);
        assert_eq!(d.text_field("decision"), "require_approval");
        assert_eq!(d.text_field("policy_pack"), "strict");
        assert_eq!(
            evaluate(&pack, ActionType::McpToolCall, "github", &ctx).text_field("decision"),
            "allow"
        );
    }

    #[test]
    fn unknown_names_actions_and_bad_packs_give_clear_errors() {
        assert_eq!(
            "delete_everything"
                .parse::<ActionType>()
                .unwrap_err()
                .to_string(),
            "Unknown action type: delete_everything"
        );
        assert_eq!(
            PolicyPack::resolve("no-such-pack").unwrap_err().to_string(),
            "unknown policy pack: no-such-pack"
        );
        let err = PolicyPack::from_yaml_str("name: x\ncommands:\n  block: 3\n", "pack.yaml")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("policy pack pack.yaml is invalid:"),
            "{err}"
        );
        let err = PolicyPack::from_yaml_str("name: x\nfilesystm: {}\n", "pack.yaml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("filesystm"), "{err}");
    }

    #[test]
    fn summary_line_is_outcome_colon_reason() {
        assert_eq!(
            summary_line(&eval("write_file", "iam/x.tf")),
            "require_approval: Matched approval-required path policy: iam/**"
        );
    }

    proptest! {
        #[test]
        fn arbitrary_pack_text_never_panics(text in ".{0,200}") {
            let _ = PolicyPack::from_yaml_str(&text, "fuzz");
        }

        #[test]
        fn arbitrary_targets_never_panic_and_always_decide(target in ".{0,80}", action in 0..5usize) {
            let actions = ["read_file", "write_file", "execute_command", "git_operation", "mcp_tool_call"];
            let d = eval(actions[action], &target);
            prop_assert!(["allow", "block", "require_approval"].contains(&d.text_field("decision").as_str()));
        }

        #[test]
        fn star_patterns_match_any_characters_including_slashes(prefix in "[a-z]{1,6}", rest in "[a-z/._-]{0,20}") {
            let pattern = Pattern::new(&format!("{prefix}/**")).unwrap();
            let target = format!("{prefix}/{rest}");
            prop_assert!(pattern.matches(&target));
        }
    }
}
