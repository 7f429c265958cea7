//! Characters that change how text reads without showing: one list for every place that
//! judges untrusted text (paths, commands, group names, an agent's rationale).

/// Default-ignorable and invisible code points: soft hyphen, combining grapheme joiner, Arabic
/// letter mark, Hangul fillers, Khmer inherent vowels, Mongolian variation selectors and vowel
/// separator, zero-width characters and directional marks, bidirectional embeddings,
/// overrides and isolates, invisible operators, variation selectors, the BOM, interlinear
/// annotation and specials, and tag characters. Control characters are the caller's matter.
pub fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}'
        | '\u{17B5}' | '\u{180B}'..='\u{180F}' | '\u{200B}'..='\u{200F}'
        | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{206F}' | '\u{3164}'
        | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}' | '\u{FFA0}' | '\u{FFF0}'..='\u{FFFB}'
        | '\u{E0000}'..='\u{E0FFF}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_characters_that_hide_or_reorder_text_are_invisible_and_text_is_not() {
        for c in [
            '\u{00AD}',
            '\u{200B}',
            '\u{200D}',
            '\u{202E}',
            '\u{2066}',
            '\u{2069}',
            '\u{3164}',
            '\u{FE0F}',
            '\u{FEFF}',
            '\u{E0041}',
        ] {
            assert!(is_invisible(c), "U+{:04X}", u32::from(c));
        }
        for c in ['a', ' ', '/', '-', 'é', 'і', '\u{2215}', '\n'] {
            assert!(!is_invisible(c), "U+{:04X}", u32::from(c));
        }
    }
}
