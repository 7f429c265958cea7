//! The break-glass form: an incident commander records an emergency override of a blocked
//! action, with the evidence it demands. The form is checked before anything is sent, then a
//! confirmation step states that the override is broadcast; the server checks everything again.
//! Opened as `/break-glass?from=apr_…` (the blocked request's detail page links there), it
//! overrides that request: rule and target are the request's, read-only, and the server closes
//! the request and links the two.

use cavra_core::approval::Approval;
use serde_json::Value;
use yew::prelude::*;
use yew_router::prelude::*;

use crate::api::ApiError;
use crate::app::{Route, use_console};
use crate::components::fields;
use crate::components::focus_trap::{keep_focus_on_backdrop, use_focus_trap};
use crate::components::lead::RequestLead;
use crate::components::notice::ErrorNotice;
use crate::forms::{self, BreakGlassForm, FieldError};

/// The blocked request named by `?from=`, if any.
fn from_query(query: &str) -> Option<String> {
    form_urlencoded::parse(query.trim_start_matches('?').as_bytes())
        .find(|(key, _)| key == "from")
        .map(|(_, value)| value.trim().to_owned())
        .filter(|value| !value.is_empty())
}

/// Props of [`ConfirmOverride`].
#[derive(Properties, PartialEq)]
struct ConfirmProps {
    text: String,
    sending: bool,
    on_confirm: Callback<MouseEvent>,
    on_back: Callback<()>,
}

/// The confirmation: a modal alert dialog (focus trapped, Escape goes back, focus returns to
/// the Review button).
#[component]
fn ConfirmOverride(props: &ConfirmProps) -> Html {
    let dialog_ref = use_node_ref();
    let confirm_ref = use_node_ref();
    {
        // Focus moves to the confirmation when it opens.
        let confirm_ref = confirm_ref.clone();
        use_effect_with((), move |()| {
            if let Some(button) = confirm_ref.cast::<web_sys::HtmlElement>() {
                let _ = button.focus();
            }
        });
    }
    let on_back = props.on_back.clone();
    let sending = props.sending;
    let onkeydown = use_focus_trap(
        dialog_ref.clone(),
        Some("#bg-review".to_owned()),
        Callback::from(move |()| {
            if !sending {
                on_back.emit(());
            }
        }),
    );
    let back = {
        let on_back = props.on_back.clone();
        Callback::from(move |_: MouseEvent| on_back.emit(()))
    };
    html! {
        <div class="overlay" onmousedown={keep_focus_on_backdrop()}>
        <div class="dialog confirm" role="alertdialog" aria-modal="true" aria-labelledby="bg-confirm-title"
            aria-describedby="bg-confirm-text" {onkeydown} ref={dialog_ref}>
            <h2 id="bg-confirm-title">{ "Confirm the override" }</h2>
            <p id="bg-confirm-text">{ props.text.clone() }</p>
            <div class="buttons">
                <button type="button" id="bg-confirm" class="verdict-deny" ref={confirm_ref}
                    onclick={props.on_confirm.clone()} disabled={sending}>
                    { if sending { "Sending…" } else { "Declare break-glass" } }
                </button>
                <button type="button" class="secondary" onclick={back} disabled={sending}>{ "Back" }</button>
            </div>
        </div>
        </div>
    }
}

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
    let location = use_location();
    let from = from_query(location.as_ref().map_or("", |l| l.query_str()));
    let form = use_state(BreakGlassForm::default);
    let errors = use_state(Vec::<FieldError>::new);
    let step = use_state(|| Step::Editing);
    let source = use_state(|| None::<Result<Approval, ApiError>>);
    {
        // Started from a blocked request: its rule and target fill the form.
        let (form, source, client) = (form.clone(), source.clone(), console.client());
        use_effect_with((from.clone(), client.clone()), move |(from, _)| {
            let from = from.clone();
            source.set(None);
            if let Some(id) = from.clone() {
                wasm_bindgen_futures::spawn_local(async move {
                    let loaded = client.get(&id).await;
                    let mut next = BreakGlassForm::default();
                    if let Ok(record) = &loaded {
                        let field = |key: &str| {
                            record
                                .decision
                                .str_field(key)
                                .unwrap_or_default()
                                .to_owned()
                        };
                        next.target = field("target");
                        next.rule_id = field("rule_id");
                        next.blocked = Some(record.approval_id.clone());
                    }
                    form.set(next);
                    source.set(Some(loaded));
                });
            } else {
                form.set(BreakGlassForm::default());
            }
        });
    }

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
        Callback::from(move |()| step.set(Step::Editing))
    };

    let actor = match console.session.view() {
        Some(Ok(view)) => view.actor,
        Some(Err(_)) => "the session's token is unreadable".into(),
        None => console.session.declared_actor.clone().map_or_else(
            || "no token: the API will refuse the override".into(),
            |a| format!("{a} (unverified, declared)"),
        ),
    };
    let linked = form.blocked.is_some();
    let field = |id: &'static str,
                 label: &str,
                 value: String,
                 oninput: Callback<InputEvent>,
                 kind: &str| {
        // An override of a blocked request keeps the request's rule and target.
        let readonly = linked && matches!(id, "bg-target" | "bg-rule");
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
                    <input id={id} type={kind.to_owned()} {value} {oninput} {readonly}
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
            { match (&from, &*source) {
                (None, _) => html! {},
                (Some(id), None) => html! { <p role="status">{ format!("Loading blocked request {id}…") }</p> },
                (Some(id), Some(Err(error))) => html! {
                    <ErrorNotice error={error.clone()} action={format!("Loading blocked request {id}")} what="read this request" />
                },
                (Some(_), Some(Ok(record))) => html! {
                    <section aria-labelledby="bg-source-title" id="bg-source">
                        <h2 id="bg-source-title">
                            { "Overriding blocked request " }
                            <Link<Route> to={Route::Detail { id: record.approval_id.clone() }}><code>{ record.approval_id.clone() }</code></Link<Route>>
                        </h2>
                        <RequestLead record={record.clone()} />
                        if record.state == cavra_core::approval::ApprovalState::Pending {
                            <p class="secondary">{ "Rule and target are the request's own (the server checks them). Declaring the override closes this request and links the two." }</p>
                        } else {
                            <p class="notice notice-error" role="alert" id="bg-source-closed">
                                { format!("This request is {}: only a pending request can be overridden, and the server will refuse it.", crate::states::label(record.state).to_lowercase()) }
                            </p>
                        }
                    </section>
                },
            } }
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
                Step::Confirming(_) | Step::Sending => {
                    let closes = form
                        .blocked
                        .as_ref()
                        .map(|id| format!(" It closes blocked request {id}."))
                        .unwrap_or_default();
                    let text = format!("This records a break_glass approval for “{}” in {}, valid for {} hour(s), and broadcasts it to every configured notification provider. It stays flagged for post-incident review and cannot be undone.{closes}", form.target.trim(), form.approver_group.trim(), form.ttl_hours.trim());
                    html! {
                        <ConfirmOverride {text} sending={*step == Step::Sending} on_confirm={confirm} on_back={back} />
                    }
                }
                Step::Created(record) => html! {
                    <div class="notice notice-ok" role="status" id="bg-created">
                        { format!("Break-glass approval created: {} (state {}). ", record.approval_id, record.state) }
                        <Link<Route> to={Route::Detail { id: record.approval_id.clone() }}>{ "Open its audit view" }</Link<Route>>
                        if let Some(blocked) = &record.overrides {
                            { " It closed blocked request " }
                            <Link<Route> to={Route::Detail { id: blocked.clone() }}><code id="bg-closed">{ blocked.clone() }</code></Link<Route>>{ "." }
                        }
                    </div>
                },
                Step::Failed(error) => html! { <ErrorNotice error={error.clone()} action="Declaring break-glass" what="declare break-glass" /> },
            } }
        </main>
    }
}
