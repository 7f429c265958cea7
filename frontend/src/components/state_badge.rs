//! A request's state: icon and words, coloured by class (the colour is never the only cue).

use cavra_core::approval::ApprovalState;
use yew::prelude::*;

use crate::components::icon::Icon;
use crate::states;

/// Props of [`StateBadge`].
#[derive(Properties, PartialEq)]
pub struct StateBadgeProps {
    /// The state shown.
    pub state: ApprovalState,
}

/// A tick and "Approved", a clock and "Pending", … (the icon carries the name for screen
/// readers; the visible word is not read twice).
#[component]
pub fn StateBadge(props: &StateBadgeProps) -> Html {
    let label = states::label(props.state);
    html! {
        <span class={states::css_class(props.state)} data-state={props.state.as_str()}>
            <Icon glyph={states::glyph(props.state)} label={label} />
            <span aria-hidden="true">{ " " }{ label }</span>
        </span>
    }
}
