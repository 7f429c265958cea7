//! The request's lead, as the dialog and the detail page show it first: one sentence (who
//! wants to do what, where), the policy's verdict and severity as badges with its reason, the
//! agent's rationale, and what will run. Every value is untrusted text and is rendered as text.

use cavra_core::approval::Approval;
use yew::prelude::*;

use crate::components::icon::Icon;
use crate::lead::{self, PolicyVerdict};
use crate::states::Glyph;

/// Props of [`RequestLead`].
#[derive(Properties, PartialEq)]
pub struct RequestLeadProps {
    /// The request.
    pub record: Approval,
}

/// The lead block.
#[component]
pub fn RequestLead(props: &RequestLeadProps) -> Html {
    let lead = lead::lead(&props.record);
    let glyph = match lead.verdict {
        PolicyVerdict::Blocked => Glyph::Cross,
        PolicyVerdict::NeedsApproval => Glyph::Clock,
        PolicyVerdict::Other(_) => Glyph::Warning,
    };
    let verdict_label = lead.verdict.label();
    html! {
        <div class="lead" id="request-lead">
            <p class="lead-sentence" id="lead-sentence">
                <strong>{ lead.who.clone() }</strong>{ format!(" {} {} ", lead.intent(), lead.verb) }
                <code>{ lead.target.clone() }</code>
                { lead.place.as_ref().map(|p| format!(" {p}")).unwrap_or_default() }{ "." }
            </p>
            <p class="lead-policy">
                <span class={format!("verdict verdict-{}", lead.verdict.key())} id="lead-verdict"
                    data-verdict={lead.verdict.key()}>
                    <Icon {glyph} label={verdict_label.clone()} />
                    <span aria-hidden="true">{ " " }{ verdict_label }</span>
                </span>
                if let Some(severity) = &lead.severity {
                    { " " }
                    <span class={lead::severity_class(severity)} id="lead-severity">
                        { format!("{severity} severity") }
                    </span>
                }
                if let Some(rule) = &lead.rule {
                    { " " }<code class="rule">{ rule.clone() }</code>
                }
                if let Some(reason) = &lead.policy_reason {
                    { ": " }{ reason.clone() }
                }
            </p>
            if let Some(rationale) = &lead.rationale {
                <figure class="rationale">
                    <figcaption>{ "The agent's rationale (its own words, unverified)" }</figcaption>
                    <blockquote id="lead-rationale">{ rationale.clone() }</blockquote>
                </figure>
            }
            if let Some(will_run) = &lead.will_run {
                <p class="will-run">{ "Will run: " }<code id="lead-will-run">{ will_run.clone() }</code></p>
            }
        </div>
    }
}
