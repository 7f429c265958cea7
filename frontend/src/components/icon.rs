//! Inline SVG icons: drawn shapes, so they show with the default fonts of any system (a font
//! glyph such as "⌛" renders as an empty box where no installed font has it).

use yew::prelude::*;

use crate::states::Glyph;

/// The SVG elements of `glyph`, on a 16×16 grid, stroked in the text colour.
fn shapes(glyph: Glyph) -> Html {
    match glyph {
        Glyph::Clock => html! {
            <>
                <circle cx="8" cy="8" r="6.25" fill="none" stroke="currentColor" stroke-width="1.5" />
                <path d="M8 4.5V8l2.5 1.75" fill="none" stroke="currentColor" stroke-width="1.5" stroke-linecap="round" />
            </>
        },
        Glyph::Check => html! {
            <path d="M3 8.5l3.25 3.25L13 4.75" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round" />
        },
        Glyph::Cross => html! {
            <path d="M4 4l8 8M12 4l-8 8" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" />
        },
        Glyph::Hourglass => html! {
            <path d="M4 2h8M4 14h8M5 2c0 3.5 6 3.5 6 6s-6 2.5-6 6M11 2c0 3.5-6 3.5-6 6s6 2.5 6 6" fill="none" stroke="currentColor" stroke-width="1.5" stroke-linecap="round" />
        },
        Glyph::Warning => html! {
            <>
                <path d="M8 1.75L14.75 14H1.25z" fill="none" stroke="currentColor" stroke-width="1.5" stroke-linejoin="round" />
                <path d="M8 6v4" fill="none" stroke="currentColor" stroke-width="1.75" stroke-linecap="round" />
                <circle cx="8" cy="12" r="1" fill="currentColor" />
            </>
        },
        Glyph::Dot => html! { <circle cx="8" cy="8" r="4.5" fill="currentColor" /> },
    }
}

/// Props of [`Icon`].
#[derive(Properties, PartialEq)]
pub struct IconProps {
    /// The shape.
    pub glyph: Glyph,
    /// What it means, for screen readers (and as a tooltip).
    pub label: AttrValue,
}

/// A 1em inline SVG icon with an accessible name.
#[component]
pub fn Icon(props: &IconProps) -> Html {
    html! {
        <svg class="icon" viewBox="0 0 16 16" width="16" height="16" role="img"
            aria-label={props.label.clone()} focusable="false">
            <title>{ props.label.clone() }</title>
            { shapes(props.glyph) }
        </svg>
    }
}
