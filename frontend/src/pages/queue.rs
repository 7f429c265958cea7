//! The queue: requests newest first, filtered by state and approver group, paged with the
//! API's cursor; pending rows offer Approve, Deny, Expire and Details. It refreshes itself
//! every [`POLL_MS`] (paused while a dialog is open or the tab is hidden) and says what
//! changed: new rows are highlighted and a polite live region counts them.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::rc::Rc;

use cavra_core::approval::{Approval, ApprovalState};
use wasm_bindgen::JsCast as _;
use wasm_bindgen::closure::Closure;
use yew::prelude::*;
use yew_router::prelude::*;

use crate::api::{ApiError, Page};
use crate::app::{Route, use_console};
use crate::components::decision_dialog::DecisionDialog;
use crate::components::fields;
use crate::components::notice::ErrorNotice;
use crate::components::state_badge::StateBadge;
use crate::format;
use crate::queue_query::{PAGE_SIZES, QueueFilter};
use crate::session;
use crate::states::{self, Verdict};

#[derive(Debug, Clone, PartialEq)]
enum Load {
    Loading,
    Loaded(Page),
    Failed(ApiError),
}

/// How often the queue asks the API again, in milliseconds.
pub const POLL_MS: i32 = 5_000;

/// Counts the poll's ticks (a reducer, so the interval's callback never holds a stale count).
#[derive(Debug, Default, PartialEq)]
struct Ticks(u32);

impl Reducible for Ticks {
    type Action = ();
    fn reduce(self: Rc<Self>, (): ()) -> Rc<Self> {
        Rc::new(Self(self.0.wrapping_add(1)))
    }
}

/// The page last shown for a query: which query, and each row's state.
type Seen = Option<(
    (QueueFilter, Option<String>),
    HashMap<String, ApprovalState>,
)>;

/// What changed between two reads of the same page: rows new to it, rows whose state moved.
pub fn changes<S: std::hash::BuildHasher>(
    before: &HashMap<String, ApprovalState, S>,
    now: &[Approval],
) -> (Vec<String>, Vec<String>) {
    let added = now
        .iter()
        .filter(|r| !before.contains_key(&r.approval_id))
        .map(|r| r.approval_id.clone())
        .collect();
    let moved = now
        .iter()
        .filter(|r| before.get(&r.approval_id).is_some_and(|s| *s != r.state))
        .map(|r| r.approval_id.clone())
        .collect();
    (added, moved)
}

/// "2 new requests; 1 request changed state", or `None` when nothing changed.
pub fn change_note(added: usize, moved: usize) -> Option<String> {
    let plural = |n: usize, one: &str, many: &str| {
        if n == 1 {
            format!("1 {one}")
        } else {
            format!("{n} {many}")
        }
    };
    let mut parts = Vec::new();
    if added > 0 {
        parts.push(plural(added, "new request", "new requests"));
    }
    if moved > 0 {
        parts.push(format!(
            "{} changed state",
            plural(moved, "request", "requests")
        ));
    }
    (!parts.is_empty()).then(|| parts.join("; "))
}

fn tab_hidden() -> bool {
    web_sys::window()
        .and_then(|w| w.document())
        .is_some_and(|d| d.hidden())
}

/// The queue page.
#[component]
pub fn QueuePage() -> Html {
    let console = use_console();
    let location = use_location();
    let navigator = use_navigator();
    let filter = QueueFilter::from_query(location.as_ref().map_or("", |l| l.query_str()));
    // Cursors of the pages before this one (the first page has none).
    let cursors = use_state(Vec::<Option<String>>::new);
    let cursor = cursors.last().cloned().flatten();
    let load = use_state(|| Load::Loading);
    let reloads = use_state(|| 0_u32);
    let ticks = use_reducer(Ticks::default);
    let seen: Rc<RefCell<Seen>> = use_mut_ref(|| None);
    let fresh = use_state(HashSet::<String>::new);
    let note = use_state(|| None::<String>);
    let dialog = use_state(|| None::<(Approval, Verdict)>);
    let draft = use_state(|| filter.clone());

    {
        let (load, client, seen, fresh, note) = (
            load.clone(),
            console.client(),
            seen.clone(),
            fresh.clone(),
            note.clone(),
        );
        use_effect_with(
            (
                filter.clone(),
                cursor.clone(),
                client.clone(),
                *reloads,
                ticks.0,
            ),
            move |(filter, cursor, _, _, _)| {
                let query = (filter.clone(), cursor.clone());
                // A refresh of the page on screen keeps it there until the answer comes.
                let same_query = seen.borrow().as_ref().is_some_and(|(q, _)| *q == query);
                if !(same_query && matches!(*load, Load::Loaded(_))) {
                    load.set(Load::Loading);
                }
                wasm_bindgen_futures::spawn_local(async move {
                    match client.list(&query.0, query.1.as_deref()).await {
                        Ok(page) => {
                            let states = page
                                .items
                                .iter()
                                .map(|r| (r.approval_id.clone(), r.state))
                                .collect();
                            let previous = seen.replace(Some((query.clone(), states)));
                            match previous {
                                Some((q, before)) if q == query => {
                                    let (added, moved) = changes(&before, &page.items);
                                    if let Some(text) = change_note(added.len(), moved.len()) {
                                        note.set(Some(text));
                                        fresh.set(added.into_iter().chain(moved).collect());
                                    }
                                }
                                _ => {
                                    note.set(None);
                                    fresh.set(HashSet::new());
                                }
                            }
                            load.set(Load::Loaded(page));
                        }
                        Err(error) => load.set(Load::Failed(error)),
                    }
                });
            },
        );
    }
    {
        // The poll: paused while a dialog is open (the effect re-runs when one opens or
        // closes) and while the tab is hidden.
        let tick = ticks.dispatcher();
        use_effect_with(dialog.is_some(), move |open| {
            let window = web_sys::window();
            let mut running = None;
            if !*open && let Some(window) = &window {
                let callback = Closure::<dyn FnMut()>::new(move || {
                    if !tab_hidden() {
                        tick.dispatch(());
                    }
                });
                let handle = window
                    .set_interval_with_callback_and_timeout_and_arguments_0(
                        callback.as_ref().unchecked_ref(),
                        POLL_MS,
                    )
                    .ok();
                running = Some((handle, callback));
            }
            move || {
                if let (Some(window), Some((Some(handle), _))) = (&window, &running) {
                    window.clear_interval_with_handle(*handle);
                }
                drop(running);
            }
        });
    }
    {
        // A new filter starts again at the first page.
        let (cursors, draft) = (cursors.clone(), draft.clone());
        use_effect_with(filter.clone(), move |filter| {
            cursors.set(Vec::new());
            draft.set(filter.clone());
        });
    }

    let apply = {
        let (draft, navigator) = (draft.clone(), navigator.clone());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            if let Some(navigator) = &navigator {
                let path = draft.console_path();
                let query: Vec<(String, String)> =
                    form_urlencoded::parse(path.split_once('?').map_or("", |(_, q)| q).as_bytes())
                        .into_owned()
                        .collect();
                let _ = navigator.push_with_query(&Route::Queue, &query);
            }
        })
    };
    let on_state = fields::edit(&draft, |f, v| f.state = v.parse().ok());
    let on_group = fields::edit(&draft, |f, v| v.trim().clone_into(&mut f.group));
    let on_limit = fields::edit(&draft, |f, v| f.limit = v.parse().unwrap_or(f.limit));
    let refresh = {
        let reloads = reloads.clone();
        Callback::from(move |_: MouseEvent| reloads.set(*reloads + 1))
    };

    let now = session::now();
    let body = match &*load {
        Load::Loading => html! { <p role="status" class="loading">{ "Loading the queue…" }</p> },
        Load::Failed(error) => {
            html! { <ErrorNotice error={error.clone()} action="Loading the queue" /> }
        }
        Load::Loaded(page) => {
            let first = cursors.len() * filter.limit as usize + 1;
            let last = first + page.items.len() - 1;
            let shown = if page.items.is_empty() {
                "No requests match these filters.".to_owned()
            } else {
                format!("Showing {first}–{last} of {}, newest first.", page.total)
            };
            let next = {
                let (cursors, next_cursor) = (cursors.clone(), page.next_cursor.clone());
                Callback::from(move |_: MouseEvent| {
                    let mut stack = (*cursors).clone();
                    stack.push(next_cursor.clone());
                    cursors.set(stack);
                })
            };
            let previous = {
                let cursors = cursors.clone();
                Callback::from(move |_: MouseEvent| {
                    let mut stack = (*cursors).clone();
                    stack.pop();
                    cursors.set(stack);
                })
            };
            html! {
                <>
                    <p id="queue-summary">{ shown }</p>
                    if !page.items.is_empty() {
                        <table class="queue" aria-describedby="queue-summary">
                            <thead><tr>
                                <th scope="col">{ "Request" }</th><th scope="col">{ "State" }</th>
                                <th scope="col">{ "Approver group" }</th><th scope="col">{ "Requested by" }</th>
                                <th scope="col">{ "Target" }</th><th scope="col">{ "Severity" }</th>
                                <th scope="col">{ "Age" }</th><th scope="col">{ "Time left" }</th>
                                <th scope="col">{ "Actions" }</th>
                            </tr></thead>
                            <tbody>
                                { for page.items.iter().map(|record| row(record, now, &dialog, fresh.contains(&record.approval_id))) }
                            </tbody>
                        </table>
                    }
                    <nav class="pager" aria-label="Queue pages">
                        <button type="button" id="page-previous" onclick={previous} disabled={cursors.is_empty()}>{ "← Newer" }</button>
                        <button type="button" id="page-next" onclick={next} disabled={page.next_cursor.is_none()}>{ "Older →" }</button>
                    </nav>
                </>
            }
        }
    };

    let on_changed = {
        let reloads = reloads.clone();
        Callback::from(move |_: Approval| reloads.set(*reloads + 1))
    };
    let on_close = {
        let dialog = dialog.clone();
        Callback::from(move |()| dialog.set(None))
    };
    let state_value = draft.state.map_or("", ApprovalState::as_str);
    html! {
        <main class="page" id="main">
            <h1>{ "Approval queue" }</h1>
            <form class="filters" onsubmit={apply} aria-label="Queue filters">
                <div>
                    <label for="filter-state">{ "State" }</label>
                    <select id="filter-state" onchange={on_state}>
                        <option value="" selected={state_value.is_empty()}>{ "All states" }</option>
                        { for ApprovalState::ALL.iter().map(|s| html! {
                            <option value={s.as_str()} selected={state_value == s.as_str()}>{ states::label(*s) }</option>
                        }) }
                    </select>
                </div>
                <div>
                    <label for="filter-group">{ "Approver group (exact)" }</label>
                    <input id="filter-group" type="text" value={draft.group.clone()} oninput={on_group}
                        placeholder="all groups" />
                </div>
                <div>
                    <label for="filter-limit">{ "Per page" }</label>
                    <select id="filter-limit" onchange={on_limit}>
                        { for PAGE_SIZES.iter().map(|n| html! {
                            <option value={n.to_string()} selected={draft.limit == *n}>{ n.to_string() }</option>
                        }) }
                    </select>
                </div>
                <div class="buttons">
                    <button type="submit" id="filter-apply">{ "Apply filters" }</button>
                    <button type="button" class="secondary" id="queue-refresh" onclick={refresh}>{ "Refresh" }</button>
                </div>
            </form>
            <p id="queue-changes" class="changes" role="status" aria-live="polite">
                { note.as_deref().map(|n| format!("Updated: {n}.")).unwrap_or_default() }
            </p>
            { body }
            if let Some((record, verdict)) = &*dialog {
                <DecisionDialog record={record.clone()} verdict={*verdict} {on_changed} {on_close}
                    return_focus={format!("tr[data-approval-id='{}'] a", record.approval_id)} />
            }
        </main>
    }
}

fn row(
    record: &Approval,
    now: cavra_core::time::Timestamp,
    dialog: &UseStateHandle<Option<(Approval, Verdict)>>,
    fresh: bool,
) -> Html {
    let target = record
        .decision
        .str_field("target")
        .unwrap_or(&record.decision_id)
        .to_owned();
    let severity = record
        .decision
        .str_field("severity")
        .unwrap_or("—")
        .to_owned();
    let id = record.approval_id.clone();
    let actions = if record.state == ApprovalState::Pending {
        Verdict::ALL
            .iter()
            .map(|verdict| {
                let (dialog, record, verdict) = (dialog.clone(), record.clone(), *verdict);
                let onclick = Callback::from(move |_: MouseEvent| dialog.set(Some((record.clone(), verdict))));
                html! {
                    <button type="button" class={format!("small verdict-{}", verdict.path())} {onclick}
                        aria-label={format!("{} {}", verdict.label(), id)}>{ verdict.label() }</button>
                }
            })
            .collect::<Html>()
    } else {
        html! {}
    };
    html! {
        <tr key={id.clone()} data-approval-id={id.clone()} data-state={record.state.as_str()}
            class={classes!(fresh.then_some("row-new"))} data-new={fresh.then_some("true")}>
            <td data-label="Request"><Link<Route> to={Route::Detail { id: id.clone() }}><code>{ id.clone() }</code></Link<Route>></td>
            <td data-label="State"><StateBadge state={record.state} /></td>
            <td data-label="Group">{ record.approver_group.clone() }</td>
            <td data-label="Requested by" class="who">{ record.requested_by.clone() }</td>
            <td data-label="Target"><code class="target">{ target }</code></td>
            <td data-label="Severity"><span class={crate::lead::severity_class(&severity)}>{ severity.clone() }</span></td>
            <td data-label="Age">{ format::age(record.requested_at, now) }</td>
            <td data-label="Time left" class="time-left">{ format::time_left(record, now) }</td>
            <td class="actions">
                { actions }
                <Link<Route> to={Route::Detail { id: id.clone() }} classes="button small secondary">
                    <span aria-label={format!("Details of {id}")}>{ "Details" }</span>
                </Link<Route>>
            </td>
        </tr>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::record;

    #[test]
    fn given_a_second_read_then_new_rows_and_moved_states_are_counted() {
        let before: HashMap<String, ApprovalState> = [
            ("apr_000000000001".to_owned(), ApprovalState::Pending),
            ("apr_000000000002".to_owned(), ApprovalState::Pending),
        ]
        .into();
        let now = [
            record("apr_000000000003", ApprovalState::Pending),
            record("apr_000000000004", ApprovalState::Pending),
            record("apr_000000000002", ApprovalState::Approved),
            record("apr_000000000001", ApprovalState::Pending),
        ];
        let (added, moved) = changes(&before, &now);
        assert_eq!(added, ["apr_000000000003", "apr_000000000004"]);
        assert_eq!(moved, ["apr_000000000002"]);
        assert_eq!(
            change_note(added.len(), moved.len()).as_deref(),
            Some("2 new requests; 1 request changed state")
        );
        assert_eq!(change_note(1, 0).as_deref(), Some("1 new request"));
        assert_eq!(change_note(0, 0), None);
    }
}
