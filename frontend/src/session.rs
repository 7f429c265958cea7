//! The console session: the pasted OIDC token (and, for servers without OIDC, a declared actor
//! name), kept in `sessionStorage` so it lasts as long as the tab and no longer.

use cavra_core::time::Timestamp;

use crate::token::{self, NotAToken, TokenView};

/// The `sessionStorage` key of the token (the original console's key).
pub const TOKEN_KEY: &str = "cavraConsoleToken";
/// The `sessionStorage` key of the declared actor name.
pub const ACTOR_KEY: &str = "cavraConsoleActor";

/// Who the console acts as.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Session {
    /// The bearer token sent with every call.
    pub token: Option<String>,
    /// A self-declared actor name, sent only by servers' local mode (recorded as unverified).
    pub declared_actor: Option<String>,
}

impl Session {
    /// The token's claims, for display.
    pub fn view(&self) -> Option<Result<TokenView, NotAToken>> {
        self.token.as_deref().map(token::decode)
    }

    /// The actor name to declare in request bodies: only when there is no token, since the
    /// server takes a token's identity over any declared name.
    pub fn actor_to_declare(&self) -> Option<&str> {
        match self.token {
            Some(_) => None,
            None => self.declared_actor.as_deref(),
        }
    }

    /// One line for the header: the token's actor, or what is missing.
    pub fn summary(&self, now: Timestamp) -> String {
        match (self.view(), &self.declared_actor) {
            (Some(Ok(view)), _) if view.is_expired(now) => {
                format!("{} (token expired)", view.actor)
            }
            (Some(Ok(view)), _) => view.actor,
            (Some(Err(_)), _) => "unreadable token".to_owned(),
            (None, Some(actor)) => format!("{actor} (unverified)"),
            (None, None) => "no token".to_owned(),
        }
    }
}

fn storage() -> Option<web_sys::Storage> {
    web_sys::window()?.session_storage().ok().flatten()
}

fn read(storage: &web_sys::Storage, key: &str) -> Option<String> {
    storage
        .get_item(key)
        .ok()
        .flatten()
        .filter(|v| !v.trim().is_empty())
}

/// The session kept in this tab.
pub fn load() -> Session {
    storage().map_or_else(Session::default, |s| Session {
        token: read(&s, TOKEN_KEY),
        declared_actor: read(&s, ACTOR_KEY),
    })
}

/// Keeps `session` in this tab (absent values are removed).
///
/// # Errors
/// The browser refuses storage (private mode limits, quota).
pub fn save(session: &Session) -> Result<(), String> {
    let storage = storage().ok_or("this browser offers no sessionStorage")?;
    for (key, value) in [
        (TOKEN_KEY, &session.token),
        (ACTOR_KEY, &session.declared_actor),
    ] {
        let result = match value {
            Some(v) => storage.set_item(key, v.trim()),
            None => storage.remove_item(key),
        };
        result.map_err(|_| format!("the browser refused to store {key}"))?;
    }
    Ok(())
}

/// The browser's clock as a timestamp.
pub fn now() -> Timestamp {
    let micros = (js_sys::Date::now() * 1000.0) as i64;
    Timestamp::from_unix_micros(micros).expect("the browser clock is within chrono's range")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_declared_actor_is_sent_only_without_a_token() {
        let mut session = Session {
            token: None,
            declared_actor: Some("platform-security".into()),
        };
        assert_eq!(session.actor_to_declare(), Some("platform-security"));
        let now = "2026-05-18T12:00:00+00:00".parse().unwrap();
        assert_eq!(session.summary(now), "platform-security (unverified)");
        session.token = Some("a.b.c".into());
        assert_eq!(session.actor_to_declare(), None);
        assert_eq!(session.summary(now), "unreadable token");
        assert_eq!(Session::default().summary(now), "no token");
    }
}
