//! Paste (or load from a file) an OIDC token into the session.

use web_sys::HtmlInputElement;
use yew::prelude::*;

use crate::app::use_console;
use crate::components::fields;
use crate::session::Session;
use crate::token;

/// A labelled text area for a token, with Save; the token is checked for shape (not trust)
/// before it is kept.
#[component]
pub fn TokenForm() -> Html {
    let console = use_console();
    let text = use_state(String::new);
    let problem = use_state(|| None::<String>);
    let id = "token-input";

    let oninput = fields::edit::<_, InputEvent>(&text, |text, v| *text = v);
    let onchange_file = {
        let text = text.clone();
        let problem = problem.clone();
        Callback::from(move |e: Event| {
            let input: HtmlInputElement = e.target_unchecked_into();
            let Some(file) = input.files().and_then(|files| files.get(0)) else {
                return;
            };
            let text = text.clone();
            let problem = problem.clone();
            wasm_bindgen_futures::spawn_local(async move {
                match wasm_bindgen_futures::JsFuture::from(file.text()).await {
                    Ok(value) => text.set(value.as_string().unwrap_or_default().trim().to_owned()),
                    Err(_) => problem.set(Some("The file could not be read.".into())),
                }
            });
        })
    };
    let onsubmit = {
        let text = text.clone();
        let problem = problem.clone();
        let console = console.clone();
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            let pasted = text.trim().to_owned();
            if let Err(not_a_token) = token::decode(&pasted) {
                problem.set(Some(format!("This is not a token: {}.", not_a_token.0)));
                return;
            }
            let next = Session {
                token: Some(pasted),
                declared_actor: console.session.declared_actor.clone(),
            };
            match console.set_session(next) {
                Ok(()) => {
                    problem.set(None);
                    text.set(String::new());
                }
                Err(error) => problem.set(Some(error)),
            }
        })
    };
    html! {
        <form class="token-form" {onsubmit} aria-label="OIDC token">
            <label for={id}>{ "OIDC token (JWT)" }</label>
            <textarea id={id} name="token" rows="4" spellcheck="false" autocomplete="off"
                value={(*text).clone()} {oninput}
                aria-invalid={problem.is_some().then_some("true")}
                aria-describedby={problem.is_some().then_some("token-problem")} />
            <label for="token-file" class="secondary">{ "…or load it from a file" }</label>
            <input id="token-file" type="file" accept=".jwt,.txt,text/plain" onchange={onchange_file} />
            if let Some(message) = &*problem {
                <p id="token-problem" class="field-error">{ message.clone() }</p>
            }
            <button type="submit" id="token-save">{ "Use this token" }</button>
        </form>
    }
}
