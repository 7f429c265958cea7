//! Printing: JSON with sorted keys and 2-space indent, one document per command.
//!
//! Every line goes through [`print_line`]: when the reader of stdout has gone away
//! (`cavra approval create … | head -c1`), the rest of the output is dropped quietly and the
//! command ends with the exit status it would have had, instead of panicking on `EPIPE`.

use cavra_core::approval::sort_value;
use serde::Serialize;

/// Prints `value` as indented JSON with sorted keys.
pub fn print_json<T: Serialize>(value: &T) -> anyhow::Result<()> {
    let sorted = sort_value(serde_json::to_value(value)?);
    print_line(serde_json::to_string_pretty(&sorted)?)
}

/// Prints `text` and a newline to stdout. A closed pipe is not an error of the command: the
/// output is dropped quietly (see the module docs); other write failures are errors.
pub fn print_line(text: impl std::fmt::Display) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{text}").and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(anyhow::Error::new(e).context("writing to stdout"))
        }
        _ => Ok(()),
    }
}
