//! A request's state: symbol and words, coloured by class (the colour is never the only cue).

use cavra_core::approval::ApprovalState;
use yew::prelude::*;

use crate::states;

/// Props of [`StateBadge`].
#[derive(Properties, PartialEq)]
pub struct StateBadgeProps {
    /// The state shown.
    pub state: ApprovalState,
}

/// `✓ Approved`, `◷ Pending`, …
#[component]
pub fn StateBadge(props: &StateBadgeProps) -> Html {
    html! {
        <span class={states::css_class(props.state)} data-state={props.state.as_str()}>
            <span aria-hidden="true">{ states::symbol(props.state) }{ " " }</span>
            { states::label(props.state) }
        </span>
    }
}
