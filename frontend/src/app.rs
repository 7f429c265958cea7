//! The routes and the frame around them: the console reads `config.json`, then shows the
//! header and the page for the address.

use std::rc::Rc;

use yew::prelude::*;
use yew_router::prelude::*;

use crate::api::{self, Client, ConsoleConfig};
use crate::pages;
use crate::session::{self, Session};

/// The console's addresses.
#[derive(Debug, Clone, PartialEq, Eq, Routable)]
pub enum Route {
    /// The queue (filters in the query string).
    #[at("/")]
    Queue,
    /// `/approvals` opened in a browser: the queue too.
    #[at("/approvals")]
    Approvals,
    /// One request's audit detail (the address notifications link to).
    #[at("/approvals/:id")]
    Detail {
        /// The approval id.
        id: String,
    },
    /// The break-glass form.
    #[at("/break-glass")]
    BreakGlass,
    /// The session panel.
    #[at("/session")]
    Session,
    /// Anything else.
    #[not_found]
    #[at("/not-found")]
    NotFound,
}

/// What every page shares: the deployment's config and the session.
#[derive(Clone, PartialEq)]
pub struct Console {
    /// `config.json`.
    pub config: Rc<ConsoleConfig>,
    /// The session; setting it saves it to `sessionStorage` and re-renders every page.
    pub session: UseStateHandle<Session>,
}

impl Console {
    /// A client acting with the current session's token.
    pub fn client(&self) -> Client {
        Client::new(&self.config, self.session.token.clone())
    }

    /// Replaces the session (and keeps it in this tab).
    ///
    /// # Errors
    /// The browser refused `sessionStorage`.
    pub fn set_session(&self, next: Session) -> Result<(), String> {
        session::save(&next)?;
        self.session.set(next);
        Ok(())
    }
}

/// The console: config first, then the routed pages.
#[component]
pub fn App() -> Html {
    let config = use_state(|| None::<Result<Rc<ConsoleConfig>, String>>);
    let session = use_state(session::load);
    {
        let config = config.clone();
        use_effect_with((), move |()| {
            wasm_bindgen_futures::spawn_local(async move {
                config.set(Some(api::load_config().await.map(Rc::new)));
            });
        });
    }
    match &*config {
        None => {
            html! { <main class="page"><p role="status">{ "Loading the console's configuration…" }</p></main> }
        }
        Some(Err(error)) => html! {
            <main class="page">
                <h1>{ "CAVRA Approvals" }</h1>
                <p role="alert" class="notice notice-error">
                    { format!("The console cannot start: {error}. It reads config.json beside index.html to find the API.") }
                </p>
            </main>
        },
        Some(Ok(config)) => {
            let console = Console {
                config: config.clone(),
                session,
            };
            html! {
                <ContextProvider<Console> context={console}>
                    <BrowserRouter>
                        <Header />
                        <Switch<Route> render={switch} />
                    </BrowserRouter>
                </ContextProvider<Console>>
            }
        }
    }
}

fn switch(route: Route) -> Html {
    match route {
        Route::Queue | Route::Approvals => html! { <pages::queue::QueuePage /> },
        Route::Detail { id } => html! { <pages::detail::DetailPage {id} /> },
        Route::BreakGlass => html! { <pages::break_glass::BreakGlassPage /> },
        Route::Session => html! { <pages::session::SessionPage /> },
        Route::NotFound => html! {
            <main class="page" id="main">
                <h1>{ "Page not found" }</h1>
                <p><Link<Route> to={Route::Queue}>{ "Back to the queue" }</Link<Route>></p>
            </main>
        },
    }
}

/// The console's `Console` context (every page is inside the provider).
#[hook]
pub fn use_console() -> Console {
    use_context::<Console>().expect("pages render inside the Console provider")
}

#[component]
fn Header() -> Html {
    let console = use_console();
    let route = use_route::<Route>();
    let link = |to: Route, text: String| {
        let current = route.as_ref() == Some(&to)
            || matches!((&route, &to), (Some(Route::Detail { .. }), Route::Queue));
        html! {
            <li>
                <Link<Route> to={to} classes={classes!(current.then_some("current"))}>
                    <span aria-current={current.then_some("page")}>{ text }</span>
                </Link<Route>>
            </li>
        }
    };
    html! {
        <header class="top">
            <a class="skip" href="#main">{ "Skip to content" }</a>
            <span class="brand">{ "CAVRA Approvals" }</span>
            <nav aria-label="Console">
                <ul>
                    { link(Route::Queue, "Queue".into()) }
                    { link(Route::BreakGlass, "Break-glass".into()) }
                    { link(Route::Session, format!("Session: {}", console.session.summary(session::now()))) }
                </ul>
            </nav>
        </header>
    }
}
