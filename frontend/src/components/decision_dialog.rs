//! The approve / deny / expire dialog: it shows exactly what is being decided, requires a
//! reason, sends the decision and reports the server's answer. On 409 it reloads the request
//! and says that someone else decided first.

use cavra_core::approval::{Approval, ApprovalState};
use web_sys::HtmlTextAreaElement;
use yew::prelude::*;

use crate::api::ApiError;
use crate::app::use_console;
use crate::audit::{self, QuorumProgress};
use crate::components::fields;
use crate::components::focus_trap::{keep_focus_on_backdrop, use_focus_trap};
use crate::components::lead::RequestLead;
use crate::components::notice::ErrorNotice;
use crate::components::state_badge::StateBadge;
use crate::format;
use crate::forms::{self, DecisionForm, FieldError};
use crate::states::{self, Verdict};

/// Props of [`DecisionDialog`].
#[derive(Properties, PartialEq)]
pub struct DecisionDialogProps {
    /// The request as last read from the server.
    pub record: Approval,
    /// What the user chose.
    pub verdict: Verdict,
    /// The server changed the request (or reported it changed elsewhere): its record now.
    pub on_changed: Callback<Approval>,
    /// The dialog is dismissed.
    pub on_close: Callback<()>,
    /// Where focus goes on close when the button that opened the dialog is gone (a CSS
    /// selector; a decided request loses its buttons).
    #[prop_or_default]
    pub return_focus: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
enum Phase {
    Editing,
    Sending,
    Done(Approval),
    Failed(ApiError),
    /// 409: the server's message, and the request as reloaded (or why it could not be).
    Conflict(ApiError, Result<Approval, ApiError>),
}

fn outcome_text(verdict: Verdict, record: &Approval) -> String {
    if record.state == ApprovalState::Pending && verdict == Verdict::Approve {
        format!(
            "Your approval is recorded; the request stays pending until its quorum is met ({}).",
            QuorumProgress::of(record).text()
        )
    } else {
        format!(
            "Done: the server says {} is now {}.",
            record.approval_id,
            states::label(record.state).to_lowercase()
        )
    }
}

fn decided_text(record: &Approval) -> String {
    let who = record.decided_by.as_deref().unwrap_or("someone");
    let when = record
        .decided_at
        .map_or_else(String::new, |at| format!(" at {}", format::instant(at)));
    format!(
        "It is now {} (by {who}{when}).",
        states::label(record.state).to_lowercase()
    )
}

/// The dialog.
#[component]
pub fn DecisionDialog(props: &DecisionDialogProps) -> Html {
    let console = use_console();
    let form = use_state(DecisionForm::default);
    let errors = use_state(Vec::<FieldError>::new);
    let phase = use_state(|| Phase::Editing);
    let reason_ref = use_node_ref();
    {
        let reason_ref = reason_ref.clone();
        use_effect_with((), move |()| {
            if let Some(area) = reason_ref.cast::<HtmlTextAreaElement>() {
                let _ = area.focus();
            }
        });
    }
    let record = &props.record;
    let verdict = props.verdict;

    let on_reason = {
        let (edit, errors) = (
            fields::edit::<_, InputEvent>(&form, |f, v| f.reason = v),
            errors.clone(),
        );
        Callback::from(move |e: InputEvent| {
            if !errors.is_empty() {
                errors.set(Vec::new());
            }
            edit.emit(e);
        })
    };
    let on_reference = fields::edit(&form, |f, v| f.external_ref = v);
    let onsubmit = {
        let (form, errors, phase) = (form.clone(), errors.clone(), phase.clone());
        let on_changed = props.on_changed.clone();
        let id = record.approval_id.clone();
        let console = console.clone();
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            if *phase == Phase::Sending {
                return;
            }
            let body = match form.body(console.session.actor_to_declare()) {
                Ok(body) => body,
                Err(found) => {
                    errors.set(found);
                    return;
                }
            };
            errors.set(Vec::new());
            phase.set(Phase::Sending);
            let (phase, on_changed, id, client) = (
                phase.clone(),
                on_changed.clone(),
                id.clone(),
                console.client(),
            );
            wasm_bindgen_futures::spawn_local(async move {
                match client.decide(&id, verdict, &body).await {
                    Ok(updated) => {
                        on_changed.emit(updated.clone());
                        phase.set(Phase::Done(updated));
                    }
                    Err(error) if error.is_conflict() => {
                        let current = client.get(&id).await;
                        if let Ok(current) = &current {
                            on_changed.emit(current.clone());
                        }
                        phase.set(Phase::Conflict(error, current));
                    }
                    Err(error) => phase.set(Phase::Failed(error)),
                }
            });
        })
    };
    let close = {
        let on_close = props.on_close.clone();
        Callback::from(move |_: MouseEvent| on_close.emit(()))
    };
    let dialog_ref = use_node_ref();
    let close_ref = use_node_ref();
    let onkeydown = use_focus_trap(
        dialog_ref.clone(),
        props.return_focus.clone(),
        props.on_close.clone(),
    );

    let decision = &record.decision;
    let field = |key: &str| decision.str_field(key).unwrap_or("—").to_owned();
    let action = audit::action_text(decision);
    let reason_error = forms::error_for(&errors, "decision-reason").map(str::to_owned);
    let finished = matches!(*phase, Phase::Done(_) | Phase::Conflict(..));
    // The request as the server last said it is: after a decision, its new state.
    let current = match &*phase {
        Phase::Done(updated) | Phase::Conflict(_, Ok(updated)) => updated,
        _ => record,
    };
    {
        // The form (and its focused text area) goes once the server answered: focus moves to
        // Close, inside the dialog.
        let close_ref = close_ref.clone();
        use_effect_with(finished, move |finished| {
            if *finished && let Some(button) = close_ref.cast::<web_sys::HtmlElement>() {
                let _ = button.focus();
            }
        });
    }
    let title_id = "decision-title";
    html! {
        <div class="overlay" onmousedown={keep_focus_on_backdrop()}>
            <div class="dialog" role="dialog" aria-modal="true" aria-labelledby={title_id} {onkeydown} ref={dialog_ref}>
                <h2 id={title_id}>{ format!("{} {}", verdict.label(), record.approval_id) }</h2>
                <RequestLead record={current.clone()} />
                <dl class="facts">
                    <dt>{ "State" }</dt><dd id="dialog-state" data-state={current.state.as_str()}><StateBadge state={current.state} /></dd>
                    <dt>{ "Action" }</dt><dd>{ action }</dd>
                    <dt>{ "Target" }</dt><dd><code>{ field("target") }</code></dd>
                    <dt>{ "Requested by" }</dt><dd>{ record.requested_by.clone() }</dd>
                    <dt>{ "Approver group" }</dt><dd>{ record.approver_group.clone() }</dd>
                    <dt>{ "Decision digest" }</dt>
                    <dd><code class="digest">{ record.decision_digest.clone().unwrap_or_else(|| "none recorded".into()) }</code></dd>
                    <dt>{ "Quorum" }</dt><dd data-testid="quorum">{ QuorumProgress::of(current).text() }</dd>
                </dl>
                if !finished {
                    <form {onsubmit} novalidate=true>
                        <label for="decision-reason">{ "Reason (required)" }</label>
                        <textarea id="decision-reason" ref={reason_ref} rows="3" required=true
                            value={form.reason.clone()} oninput={on_reason}
                            aria-invalid={reason_error.is_some().then_some("true")}
                            aria-describedby={reason_error.is_some().then_some("decision-reason-error")} />
                        if let Some(message) = reason_error {
                            <p id="decision-reason-error" class="field-error">{ message }</p>
                        }
                        <label for="decision-ref">{ "External reference (optional, e.g. CHG-123)" }</label>
                        <input id="decision-ref" type="text" value={form.external_ref.clone()} oninput={on_reference} />
                        <div class="buttons">
                            <button type="submit" id="decision-submit" class={format!("verdict-{}", verdict.path())}
                                disabled={*phase == Phase::Sending}>
                                { if *phase == Phase::Sending { "Sending…".to_owned() } else { verdict.label().to_owned() } }
                            </button>
                            <button type="button" class="secondary" onclick={close.clone()}>{ "Cancel" }</button>
                        </div>
                    </form>
                }
                <div class="dialog-result" aria-live="polite">
                    { match &*phase {
                        Phase::Editing | Phase::Sending => html! {},
                        Phase::Done(updated) => html! {
                            <div class="notice notice-ok" role="status" id="decision-outcome">{ outcome_text(verdict, updated) }</div>
                        },
                        Phase::Failed(error) => html! {
                            <ErrorNotice error={error.clone()} action={format!("{} {}", verdict.label(), record.approval_id)}
                                what="decide this request" />
                        },
                        Phase::Conflict(error, current) => html! {
                            <div class="notice notice-error" role="alert" id="decision-conflict">
                                <p><strong>{ "Someone else decided first. " }</strong>{ error.message() }</p>
                                <p>{ match current {
                                    Ok(current) => decided_text(current),
                                    Err(reload) => format!("Reloading the request failed too: {}", reload.message()),
                                } }</p>
                            </div>
                        },
                    } }
                </div>
                if finished {
                    <div class="buttons"><button type="button" id="decision-close" ref={close_ref} onclick={close}>{ "Close" }</button></div>
                }
            </div>
        </div>
    }
}
