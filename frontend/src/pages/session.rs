//! The session panel: paste or load an OIDC token, see who it says you are. The claims shown
//! are decoded for display only; the server verifies the token on every call.

use yew::prelude::*;

use crate::app::use_console;
use crate::components::fields;
use crate::components::token_form::TokenForm;
use crate::session::{self, Session};

/// The session page.
#[component]
pub fn SessionPage() -> Html {
    let console = use_console();
    let problem = use_state(|| None::<String>);
    let actor_draft = use_state(|| console.session.declared_actor.clone().unwrap_or_default());
    let now = session::now();

    let clear = {
        let (console, problem) = (console.clone(), problem.clone());
        Callback::from(move |_: MouseEvent| {
            let next = Session {
                token: None,
                declared_actor: console.session.declared_actor.clone(),
            };
            problem.set(console.set_session(next).err());
        })
    };
    let on_actor = fields::edit::<_, InputEvent>(&actor_draft, |draft, v| *draft = v);
    let save_actor = {
        let (console, problem, actor_draft) =
            (console.clone(), problem.clone(), actor_draft.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let actor = actor_draft.trim().to_owned();
            let next = Session {
                token: console.session.token.clone(),
                declared_actor: (!actor.is_empty()).then_some(actor),
            };
            problem.set(console.set_session(next).err());
        })
    };

    let current = match console.session.view() {
        None => {
            html! { <p id="session-none">{ "No token. Every call goes without one; a server with OIDC configured answers 401." }</p> }
        }
        Some(Err(not_a_token)) => html! {
            <p class="notice notice-error" role="alert">{ format!("The stored token cannot be read: {}.", not_a_token.0) }</p>
        },
        Some(Ok(view)) => html! {
            <dl class="facts" id="session-claims">
                <dt>{ "Actor" }</dt><dd id="session-actor">{ view.actor.clone() }</dd>
                <dt>{ "Issuer" }</dt><dd id="session-issuer">{ view.issuer.clone().unwrap_or_else(|| "—".into()) }</dd>
                <dt>{ "Groups (as the token states them)" }</dt>
                <dd id="session-groups">{ if view.groups.is_empty() { "none".to_owned() } else { view.groups.join(", ") } }</dd>
                <dt>{ "Expiry" }</dt>
                <dd id="session-expiry" class={view.is_expired(now).then_some("bad")}>{ view.expiry_text(now) }</dd>
            </dl>
        },
    };
    html! {
        <main class="page" id="main">
            <h1>{ "Session" }</h1>
            <section aria-labelledby="current-title">
                <h2 id="current-title">{ "Current token" }</h2>
                { current }
                <p class="secondary">{ "Decoded here for display only; the API verifies the token's signature, issuer, audience and expiry, maps the groups through RBAC and decides. The token is kept in this tab's sessionStorage." }</p>
                if console.session.token.is_some() {
                    <button type="button" id="token-clear" class="secondary" onclick={clear}>{ "Forget this token" }</button>
                }
            </section>
            <section aria-labelledby="paste-title">
                <h2 id="paste-title">{ "Use a token" }</h2>
                <TokenForm />
            </section>
            <section aria-labelledby="local-title">
                <h2 id="local-title">{ "Local mode without OIDC" }</h2>
                <form onsubmit={save_actor} aria-label="Declared actor">
                    <label for="declared-actor">{ "Actor name to declare when no token is set (recorded as unverified)" }</label>
                    <input id="declared-actor" type="text" value={(*actor_draft).clone()} oninput={on_actor} />
                    <button type="submit" class="secondary">{ "Save name" }</button>
                </form>
            </section>
            if let Some(message) = &*problem {
                <p class="notice notice-error" role="alert">{ message.clone() }</p>
            }
        </main>
    }
}
