//! Printing: JSON with sorted keys and 2-space indent, one document per command.

use cavra_core::approval::sort_value;
use serde::Serialize;

/// Prints `value` as indented JSON with sorted keys.
pub fn print_json<T: Serialize>(value: &T) -> anyhow::Result<()> {
    let sorted = sort_value(serde_json::to_value(value)?);
    println!("{}", serde_json::to_string_pretty(&sorted)?);
    Ok(())
}
