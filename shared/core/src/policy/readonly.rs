//! Which commands only read: the baseline's `commands.read_only.allow` rule (issue F.8).
//!
//! A command is read-only when its executable is one of [`READ_ONLY`] (named bare, or from
//! `/bin/` or `/usr/bin/`, never `./ls` or `~/bin/ls`), it runs through no wrapper, shell,
//! `eval`, `find -exec` or substitution (`env ls`, `sh -c 'ls'`, `xargs cat` are not; `sudo ls`
//! is refused by its privileged cap instead), its words hold no unquoted glob or brace (the
//! shell could turn `*` into `-delete`), and none of its options writes a file, runs a program
//! or widens what it reads. Options are refused by name, abbreviations included (GNU getopt
//! and git accept `--out` for `--output`). Every operand and option value counts as a file the
//! command reads; [`super`] checks each against the pack's read policy (so `cat .env` and
//! `cat /etc/passwd` still need approval), relative to every directory a `cd` earlier in the
//! line may have entered. The line-level conditions (no substitution, no redirection to a file,
//! every part read-only) are [`super`]'s.
//!
//! Read-only, with the options refused:
//! * listing and reading: `ls`, `cat`, `head`, `tail` (`-f` too), `wc`, `stat`, `du`, `df`,
//!   `realpath`, `readlink`, `cut`, `tr`, `cd`/`pushd` with one directory, `file` (not `-C`
//!   compiles, `-z`/`-Z` decompress), `tree` (not `-o FILE`, `-R`), `sort` (not `-o`,
//!   `--compress-program`, `-T`), `uniq` with at most one file (a second one is written);
//! * printing: `echo`, `pwd`, `whoami`, `id`, `uname`, `which`, `basename`, `dirname`, `true`,
//!   `false`;
//! * searching: `grep`/`egrep`/`fgrep` (not `-r`/`-R`/`-d`: a recursive grep reads dotfiles
//!   such as `.env` that the pack blocks), `rg` (not `--pre`, `-z`, `--hostname-bin`, and
//!   nothing that reaches hidden, ignored or linked files: `--hidden`, `-.`, `-u`,
//!   `--no-ignore…`, `-L`, `--ignore-file`), `ag` (not `--pager`, `-z`, `--hidden`, `-u`,
//!   `-U`, `-f`, `-p`, `-a`, `-t`), `find` (not `-exec`, `-execdir`, `-ok`, `-okdir`,
//!   `-delete`, `-fprint`, `-fprint0`, `-fprintf`, `-fls`);
//! * git: `git status`, `git diff`, `git log`, `git show`, `git blame` (not `--output`,
//!   `--ext-diff`, `--textconv`, `--no-index`, `--show-signature`, nor a pathspec with glob
//!   characters or magic such as `'*.pem'`, `:(glob)…`), `git rev-parse`,
//!   `git branch` listing only (no name, `-d`, `-m`, …), `git --version`; the only global
//!   options kept are `--no-pager`, `-P`, `--no-optional-locks`, `--literal-pathspecs`,
//!   `--no-advice` (`-c`, `-C`, `--git-dir`, `--exec-path`, … make it not read-only). A
//!   `rev:path` operand is checked as `path`.
//!
//! Left out on purpose: `less`/`more` (start-up commands `+!cmd`, log files), `env`/`printenv`
//! (credentials live in the environment), `sed`, `awk`, `perl`, `python`, `jq`, `xargs`,
//! `tee`, `diff`.
//!
//! Build and test commands (`cargo build`, `cargo test`, `make`, `npm run`, `go test`, …) are
//! not read-only and stay `require_approval`: they execute code from the workspace (`build.rs`,
//! proc macros, npm lifecycle scripts, Makefiles, test files) that the agent itself may have
//! just written, so "writes only inside the workspace" cannot be known from the command line.
//! The original's own allow rules (`pytest*`, `npm test*`, `terraform plan*`, …) are kept as
//! they are.
//!
//! Limits, by design of a line-only check: the engine does not see the filesystem, so a
//! recursive `rg`/`ag`/`find` may reach non-hidden, non-ignored files under a directory it is
//! given that the read policy would block by name (e.g. `keys/server.pem`); and git runs what
//! the repository's own config names (`core.fsmonitor`, diff drivers), as `pytest` runs
//! `conftest.py`.

use super::command::Command;

/// Wrappers whose [`super::command::Cap::Privileged`] already keeps the command from `allow`.
const PRIVILEGED: &[&str] = &["sudo", "doas", "runuser", "chroot", "su"];

/// Directories a read-only executable may be named from besides `PATH`.
const SYSTEM_DIRS: &[&str] = &["/bin/", "/usr/bin/"];

/// A checker: the files a read-only invocation reads, or `None` when it is not read-only.
type Check = fn(&[String]) -> Option<Vec<String>>;

/// The read-only executables and how their arguments are read.
pub(crate) const READ_ONLY: &[(&str, Check)] = &[
    ("ls", files),
    ("cat", files),
    ("head", files),
    ("tail", files),
    ("wc", files),
    ("stat", files),
    ("du", files),
    ("df", files),
    ("realpath", files),
    ("readlink", files),
    ("cut", files),
    ("tr", text),
    ("echo", text),
    ("pwd", text),
    ("whoami", text),
    ("id", text),
    ("uname", text),
    ("which", text),
    ("basename", text),
    ("dirname", text),
    ("true", text),
    ("false", text),
    ("cd", cd),
    ("pushd", cd),
    ("file", file),
    ("tree", tree),
    ("sort", sort),
    ("uniq", uniq),
    ("grep", grep),
    ("egrep", grep),
    ("fgrep", grep),
    ("rg", rg),
    ("ag", ag),
    ("find", find),
    ("git", git),
];

/// The files `cmd` reads if it is read-only (to check against the read policy), else `None`.
/// Its caps (assignments, privilege, expansion) are not looked at: they keep an `allow` from
/// being one anyway.
pub(crate) fn classify(cmd: &Command) -> Option<Vec<String>> {
    if cmd.globbed || cmd.via.iter().any(|v| !PRIVILEGED.contains(&v.as_str())) {
        return None;
    }
    let (exe, args) = cmd.raw.split_first()?;
    let name = SYSTEM_DIRS
        .iter()
        .find_map(|d| exe.strip_prefix(d))
        .unwrap_or(exe);
    let (_, check) = READ_ONLY.iter().find(|(n, _)| *n == name)?;
    check(args)
}

/// The files a read-only executable (by basename) reads with `args`, however it is run
/// (through wrappers too); `None` when it is not one or an option is refused.
pub(crate) fn files_of(name: &str, args: &[String]) -> Option<Vec<String>> {
    let (_, check) = READ_ONLY.iter().find(|(n, _)| *n == name)?;
    check(args)
}

/// How a command changes the shell's directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum DirChange {
    /// It does not.
    Stays,
    /// To this directory (as written).
    To(String),
    /// Somewhere this line does not say (`cd`, `cd -`, `popd`, `cd $X`).
    Unknown,
}

/// Whether `cmd` is a `cd` (or `pushd`, `popd`, `chdir`) and where it goes.
pub(crate) fn directory_change(cmd: &Command) -> DirChange {
    let Some((exe, args)) = cmd.raw.split_first() else {
        return DirChange::Stays;
    };
    let name = exe.rsplit('/').next().unwrap_or(exe);
    if !matches!(name, "cd" | "pushd" | "popd" | "chdir") {
        return DirChange::Stays;
    }
    if name == "popd" || !cmd.caps.is_empty() || cmd.globbed {
        return DirChange::Unknown;
    }
    match cd(args).as_deref() {
        Some([dir]) => DirChange::To(dir.clone()),
        _ => DirChange::Unknown,
    }
}

/// `path` as read from each directory in `dirs` (repository-relative, `""` the root); an
/// absolute, home or variable path is itself.
pub(crate) fn under(dirs: &[String], path: &str) -> Vec<String> {
    let anchored = path.starts_with(['/', '\\', '~', '$']) || path.as_bytes().get(1) == Some(&b':');
    if anchored {
        return vec![path.to_owned()];
    }
    dirs.iter()
        .map(|d| {
            if d.is_empty() || d == "." {
                path.to_owned()
            } else {
                format!("{d}/{path}")
            }
        })
        .collect()
}

/// Operands and option values of an argument list.
#[derive(Debug, Default)]
struct Split {
    /// Words that are not options (everything after `--` included), in order.
    operands: Vec<String>,
    /// `--name=VALUE` values and the letters after a short option's first (`-n5` → `5`).
    values: Vec<String>,
}

impl Split {
    fn all(self) -> Vec<String> {
        let mut out = self.operands;
        out.extend(self.values);
        out
    }
}

/// A long option (`--name` or `--name=value`) is one of `refused`, an abbreviation of one
/// (`--out` for `--output`), or one of its family (`--no-ignore-vcs` for `--no-ignore`).
fn long_refused(word: &str, refused: &[&str]) -> bool {
    let name = word.split('=').next().unwrap_or(word);
    refused
        .iter()
        .any(|r| (name.len() > 2 && r.starts_with(name)) || name.starts_with(r))
}

/// Splits `args` into operands and option values; `None` when an option is refused: a long
/// one by [`long_refused`], a short one when any letter of its bundle is in `short`.
fn split(args: &[String], long: &[&str], short: &str) -> Option<Split> {
    let mut out = Split::default();
    let mut words = args.iter();
    while let Some(w) = words.next() {
        if w == "--" {
            out.operands.extend(words.cloned());
            break;
        }
        if w.starts_with("--") {
            if long_refused(w, long) {
                return None;
            }
            if let Some((_, value)) = w.split_once('=') {
                out.values.push(value.to_owned());
            }
        } else if w.len() > 1 && w.starts_with('-') {
            if w.chars().skip(1).any(|c| short.contains(c)) {
                return None;
            }
            let tail: String = w.chars().skip(2).collect();
            if !tail.is_empty() {
                out.values.push(tail);
            }
        } else if w != "-" {
            out.operands.push(w.clone());
        }
    }
    Some(out)
}

/// Reads the files it names; no option writes or runs anything.
fn files(args: &[String]) -> Option<Vec<String>> {
    split(args, &[], "").map(Split::all)
}

/// Prints its arguments or facts about the system; reads no file.
#[allow(clippy::unnecessary_wraps)] // a `Check`, like the others
fn text(_args: &[String]) -> Option<Vec<String>> {
    Some(Vec::new())
}

/// `cd [-L|-P] [--] DIR`: exactly one directory; not none (home), `-` (the previous one) or
/// `pushd +N`/`-N` (a stack rotation).
fn cd(args: &[String]) -> Option<Vec<String>> {
    let mut rest: Vec<&String> = args
        .iter()
        .skip_while(|w| matches!(w.as_str(), "-L" | "-P"))
        .collect();
    if rest.first().is_some_and(|w| w.as_str() == "--") {
        rest.remove(0);
    }
    match rest.as_slice() {
        [dir] if !dir.is_empty() && !dir.starts_with(['-', '+']) => Some(vec![(*dir).clone()]),
        _ => None,
    }
}

fn file(args: &[String]) -> Option<Vec<String>> {
    split(args, &["--compile", "--uncompress"], "CzZ").map(Split::all)
}

fn tree(args: &[String]) -> Option<Vec<String>> {
    split(args, &["--output"], "oR").map(Split::all)
}

fn sort(args: &[String]) -> Option<Vec<String>> {
    split(
        args,
        &["--output", "--compress-program", "--temporary-directory"],
        "oT",
    )
    .map(Split::all)
}

/// `uniq [IN [OUT]]`: a second operand is a file it writes.
fn uniq(args: &[String]) -> Option<Vec<String>> {
    let s = split(args, &[], "")?;
    (s.operands.len() <= 1).then(|| s.all())
}

/// The files of a search: every operand but the first when that is the pattern (no `-e`/`-f`
/// gives it). Counting a value word (`-A 3`) as the pattern only checks one word more.
fn search(args: &[String], s: Split, pattern_opts: &[&str]) -> Vec<String> {
    let before_dashes = args.iter().take_while(|w| w.as_str() != "--");
    let pattern_given = before_dashes.clone().any(|w| {
        if w.starts_with("--") {
            long_refused(w, pattern_opts)
        } else {
            w.starts_with('-') && w.chars().skip(1).any(|c| c == 'e' || c == 'f')
        }
    }) || before_dashes.clone().any(|w| w == "--files");
    let mut out = s.operands;
    if !pattern_given && !out.is_empty() {
        out.remove(0);
    }
    out.extend(s.values);
    out
}

fn grep(args: &[String]) -> Option<Vec<String>> {
    let s = split(
        args,
        &["--recursive", "--dereference-recursive", "--directories"],
        "rRd",
    )?;
    Some(search(args, s, &["--regexp", "--file"]))
}

fn rg(args: &[String]) -> Option<Vec<String>> {
    let s = split(
        args,
        &[
            "--pre",
            "--search-zip",
            "--hostname-bin",
            "--hidden",
            "--unrestricted",
            "--no-ignore",
            "--follow",
            "--ignore-file",
        ],
        "zuL.",
    )?;
    Some(search(args, s, &["--regexp", "--file"]))
}

fn ag(args: &[String]) -> Option<Vec<String>> {
    let s = split(
        args,
        &[
            "--pager",
            "--search-zip",
            "--hidden",
            "--unrestricted",
            "--skip-vcs-ignores",
            "--follow",
            "--path-to-ignore",
            "--all-types",
            "--all-text",
        ],
        "zuUfpat",
    )?;
    Some(search(args, s, &[]))
}

/// `find` without actions that run, delete or write; every word that is not an option
/// (starting points and expression values) is checked.
fn find(args: &[String]) -> Option<Vec<String>> {
    const ACTIONS: &[&str] = &[
        "-exec", "-execdir", "-ok", "-okdir", "-delete", "-fprint", "-fprint0", "-fprintf", "-fls",
    ];
    if args.iter().any(|w| ACTIONS.contains(&w.as_str())) {
        return None;
    }
    Some(
        args.iter()
            .filter(|w| !w.starts_with('-') && !matches!(w.as_str(), "(" | ")" | "!" | ","))
            .cloned()
            .collect(),
    )
}

/// Global options that neither change the repository, the config nor what runs.
const GIT_GLOBAL: &[&str] = &[
    "--no-pager",
    "-P",
    "--no-optional-locks",
    "--literal-pathspecs",
    "--no-advice",
];

/// Options of `diff`/`log`/`show`/`blame` that write a file, run a program or read outside
/// the repository.
const GIT_REFUSED: &[&str] = &[
    "--output",
    "--ext-diff",
    "--textconv",
    "--no-index",
    "--show-signature",
];

fn git(args: &[String]) -> Option<Vec<String>> {
    let at = args
        .iter()
        .position(|w| !w.starts_with('-'))
        .unwrap_or(args.len());
    let (globals, rest) = args.split_at(at);
    if rest.is_empty() && globals == ["--version"] {
        return Some(Vec::new());
    }
    if !globals.iter().all(|w| GIT_GLOBAL.contains(&w.as_str())) {
        return None;
    }
    let (sub, rest) = rest.split_first()?;
    match sub.as_str() {
        "status" => split(rest, &[], "").map(Split::all),
        "diff" | "log" | "show" | "blame" => {
            let s = split(rest, GIT_REFUSED, "")?;
            // Pathspecs are globs (`'*.pem'`, `':(glob)**/.env'`): they may name any file.
            let magic = |w: &String| {
                w.contains(['*', '?', '['])
                    || w.starts_with(":(")
                    || w.starts_with(":!")
                    || w.starts_with(":^")
            };
            if s.operands.iter().any(magic) {
                return None;
            }
            let words = s.all();
            let mut out = Vec::new();
            for w in words {
                if let Some((_, after)) = w.split_once(':') {
                    out.push(after.to_owned());
                }
                if let Some((_, after)) = w.rsplit_once(':') {
                    out.push(after.to_owned());
                }
                out.push(w);
            }
            Some(out)
        }
        "rev-parse" => split(rest, &[], "").map(|_| Vec::new()),
        "branch" => git_branch(rest),
        _ => None,
    }
}

/// `git branch` that lists: only listing options; names only as `--list` patterns.
fn git_branch(args: &[String]) -> Option<Vec<String>> {
    const LISTING: &[&str] = &[
        "--list",
        "-l",
        "-a",
        "--all",
        "-r",
        "--remotes",
        "-v",
        "-vv",
        "--verbose",
        "--show-current",
        "--no-color",
        "--no-column",
    ];
    let listing = args.iter().any(|w| w == "--list" || w == "-l");
    let ok = args.iter().all(|w| {
        if w.starts_with('-') {
            LISTING.contains(&w.as_str())
        } else {
            listing
        }
    });
    ok.then(Vec::new)
}
