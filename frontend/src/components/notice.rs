//! How a failed call is shown: the server's message, and on 401 a way to give a token.

use yew::prelude::*;
use yew_router::prelude::*;

use crate::api::ApiError;
use crate::app::Route;
use crate::components::token_form::TokenForm;

/// Props of [`ErrorNotice`].
#[derive(Properties, PartialEq)]
pub struct ErrorNoticeProps {
    /// What failed.
    pub error: ApiError,
    /// What was being done ("Loading the queue").
    pub action: AttrValue,
    /// On a 403 naming groups: what only their members can do ("decide this request").
    #[prop_or_default]
    pub what: Option<AttrValue>,
}

/// An alert with the server's message; a 401 also asks for a token.
#[component]
pub fn ErrorNotice(props: &ErrorNoticeProps) -> Html {
    let error = &props.error;
    html! {
        <div class="notice notice-error" role="alert" data-status={error.status.map(|s| s.to_string())}>
            <p><strong>{ format!("{} failed. ", props.action) }</strong>{ error.message_for(props.what.as_deref()) }</p>
            if error.needs_token() {
                <p>{ "The API needs a valid OIDC token for every call: paste a fresh one below, or open the " }
                    <Link<Route> to={Route::Session}>{ "session panel" }</Link<Route>>{ "." }</p>
                <TokenForm />
            }
        </div>
    }
}

/// Props of [`StatusNotice`].
#[derive(Properties, PartialEq)]
pub struct StatusNoticeProps {
    /// The message.
    pub children: Html,
}

/// A polite status line (success messages).
#[component]
pub fn StatusNotice(props: &StatusNoticeProps) -> Html {
    html! { <div class="notice notice-ok" role="status">{ props.children.clone() }</div> }
}
