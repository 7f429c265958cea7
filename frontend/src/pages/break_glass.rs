//! The break-glass form: an incident commander records an emergency override of a blocked
//! action, with the evidence it demands. The form is checked before anything is sent, then a
//! confirmation step states that the override is broadcast; the server checks everything again.

use cavra_core::approval::Approval;
use serde_json::Value;
use yew::prelude::*;
use yew_router::prelude::*;

use crate::api::ApiError;
use crate::app::{Route, use_console};
use crate::components::fields;
use crate::components::notice::ErrorNotice;
use crate::forms::{self, BreakGlassForm, FieldError};

#[derive(Debug, Clone, PartialEq)]
enum Step {
    Editing,
    Confirming(Value),
    Sending,
    Created(Box<Approval>),
    Failed(ApiError),
}

/// The break-glass page.
#[component]
pub fn BreakGlassPage() -> Html {
    let console = use_console();
    let form = use_state(BreakGlassForm::default);
    let errors = use_state(Vec::<FieldError>::new);
    let step = use_state(|| Step::Editing);

    let set =
        |update: fn(&mut BreakGlassForm, String)| fields::edit::<_, InputEvent>(&form, update);
    let onsubmit = {
        let (form, errors, step, console) =
            (form.clone(), errors.clone(), step.clone(), console.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let now_ms = js_sys::Date::now() as i64;
            match form.body(now_ms, console.session.actor_to_declare()) {
                Ok(body) => {
                    errors.set(Vec::new());
                    step.set(Step::Confirming(body));
                }
                Err(found) => {
                    errors.set(found);
                    step.set(Step::Editing);
                }
            }
        })
    };
    let confirm = {
        let (step, console) = (step.clone(), console.clone());
        Callback::from(move |_: MouseEvent| {
            let Step::Confirming(body) = (*step).clone() else {
                return;
            };
            step.set(Step::Sending);
            let (step, client) = (step.clone(), console.client());
            wasm_bindgen_futures::spawn_local(async move {
                step.set(match client.break_glass(&body).await {
                    Ok(record) => Step::Created(Box::new(record)),
                    Err(error) => Step::Failed(error),
                });
            });
        })
    };
    let back = {
        let step = step.clone();
        Callback::from(move |_: MouseEvent| step.set(Step::Editing))
    };
    let escape = {
        let step = step.clone();
        Callback::from(move |e: KeyboardEvent| {
            if e.key() == "Escape" && *step != Step::Sending {
                step.set(Step::Editing);
            }
        })
    };
    let confirm_ref = use_node_ref();
    {
        // Focus moves to the confirmation when it opens.
        let confirm_ref = confirm_ref.clone();
        let confirming = matches!(*step, Step::Confirming(_));
        use_effect_with(confirming, move |open| {
            if *open && let Some(button) = confirm_ref.cast::<web_sys::HtmlElement>() {
                let _ = button.focus();
            }
        });
    }

    let actor = match console.session.view() {
        Some(Ok(view)) => view.actor,
        Some(Err(_)) => "the session's token is unreadable".into(),
        None => console.session.declared_actor.clone().map_or_else(
            || "no token: the API will refuse the override".into(),
            |a| format!("{a} (unverified, declared)"),
        ),
    };
    let field = |id: &'static str,
                 label: &str,
                 value: String,
                 oninput: Callback<InputEvent>,
                 kind: &str| {
        let error = forms::error_for(&errors, id).map(str::to_owned);
        let error_id = format!("{id}-error");
        html! {
            <div class="field">
                <label for={id}>{ label.to_owned() }</label>
                if kind == "textarea" {
                    <textarea id={id} rows="3" {value} {oninput}
                        aria-invalid={error.is_some().then_some("true")}
                        aria-describedby={error.is_some().then_some(error_id.clone())} />
                } else {
                    <input id={id} type={kind.to_owned()} {value} {oninput}
                        aria-invalid={error.is_some().then_some("true")}
                        aria-describedby={error.is_some().then_some(error_id.clone())} />
                }
                if let Some(message) = error {
                    <p id={error_id} class="field-error">{ message }</p>
                }
            </div>
        }
    };
    let editing = matches!(*step, Step::Editing | Step::Failed(_));
    html! {
        <main class="page" id="main">
            <h1>{ "Break-glass override" }</h1>
            <p>{ "Use only in an emergency: the blocked action is allowed at once, without an approval, and the override stays flagged until the Change Advisory Board reviews it." }</p>
            <form class="break-glass" onsubmit={onsubmit} novalidate=true aria-label="Break-glass override">
                <fieldset disabled={!editing}>
                    <legend>{ "What is overridden, and why" }</legend>
                    { field("bg-target", "Target (required): the blocked command or path", form.target.clone(), set(|f, v| f.target = v), "text") }
                    { field("bg-rule", "Rule (required)", form.rule_id.clone(), set(|f, v| f.rule_id = v), "text") }
                    <div class="field">
                        <span class="label">{ "Actor" }</span>
                        <p id="bg-actor" class="readonly">{ actor }</p>
                    </div>
                    { field("bg-group", "Approver group (required)", form.approver_group.clone(), set(|f, v| f.approver_group = v), "text") }
                    { field("bg-reason", "Reason (required): the evidence for the override", form.reason.clone(), set(|f, v| f.reason = v), "textarea") }
                    { field("bg-ref", "External reference (incident number, e.g. INC-777)", form.external_ref.clone(), set(|f, v| f.external_ref = v), "text") }
                    { field("bg-ttl", "TTL in hours (required, 1 to 168)", form.ttl_hours.clone(), set(|f, v| f.ttl_hours = v), "number") }
                    <div class="buttons"><button type="submit" id="bg-review">{ "Review override…" }</button></div>
                </fieldset>
            </form>
            { match &*step {
                Step::Editing => html! {
                    if !errors.is_empty() {
                        <p class="notice notice-error" role="alert" id="bg-invalid">
                            { format!("Nothing was sent: {} field(s) need attention.", errors.len()) }
                        </p>
                    }
                },
                Step::Confirming(_) | Step::Sending => html! {
                    <div class="overlay">
                    <div class="dialog confirm" role="alertdialog" aria-modal="true" aria-labelledby="bg-confirm-title" aria-describedby="bg-confirm-text" onkeydown={escape}>
                        <h2 id="bg-confirm-title">{ "Confirm the override" }</h2>
                        <p id="bg-confirm-text">
                            { format!("This records a break_glass approval for “{}” in {}, valid for {} hour(s), and broadcasts it to every configured notification provider. It stays flagged for post-incident review and cannot be undone.", form.target.trim(), form.approver_group.trim(), form.ttl_hours.trim()) }
                        </p>
                        <div class="buttons">
                            <button type="button" id="bg-confirm" class="verdict-deny" ref={confirm_ref} onclick={confirm} disabled={*step == Step::Sending}>
                                { if *step == Step::Sending { "Sending…" } else { "Declare break-glass" } }
                            </button>
                            <button type="button" class="secondary" onclick={back}>{ "Back" }</button>
                        </div>
                    </div>
                    </div>
                },
                Step::Created(record) => html! {
                    <div class="notice notice-ok" role="status" id="bg-created">
                        { format!("Break-glass approval created: {} (state {}). ", record.approval_id, record.state) }
                        <Link<Route> to={Route::Detail { id: record.approval_id.clone() }}>{ "Open its audit view" }</Link<Route>>
                    </div>
                },
                Step::Failed(error) => html! { <ErrorNotice error={error.clone()} action="Declaring break-glass" /> },
            } }
        </main>
    }
}
