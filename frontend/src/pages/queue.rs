//! The queue: requests newest first, filtered by state and approver group, paged with the
//! API's cursor; pending rows offer Approve, Deny, Expire and Details.

use cavra_core::approval::{Approval, ApprovalState};
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
    let dialog = use_state(|| None::<(Approval, Verdict)>);
    let draft = use_state(|| filter.clone());

    {
        let (load, client) = (load.clone(), console.client());
        use_effect_with(
            (filter.clone(), cursor.clone(), client.clone(), *reloads),
            move |(filter, cursor, _, _)| {
                load.set(Load::Loading);
                let (filter, cursor) = (filter.clone(), cursor.clone());
                wasm_bindgen_futures::spawn_local(async move {
                    load.set(match client.list(&filter, cursor.as_deref()).await {
                        Ok(page) => Load::Loaded(page),
                        Err(error) => Load::Failed(error),
                    });
                });
            },
        );
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
                    <p id="queue-summary" role="status">{ shown }</p>
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
                                { for page.items.iter().map(|record| row(record, now, &dialog)) }
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
            { body }
            if let Some((record, verdict)) = &*dialog {
                <DecisionDialog record={record.clone()} verdict={*verdict} {on_changed} {on_close} />
            }
        </main>
    }
}

fn row(
    record: &Approval,
    now: cavra_core::time::Timestamp,
    dialog: &UseStateHandle<Option<(Approval, Verdict)>>,
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
        <tr data-approval-id={id.clone()} data-state={record.state.as_str()}>
            <td><Link<Route> to={Route::Detail { id: id.clone() }}><code>{ id.clone() }</code></Link<Route>></td>
            <td><StateBadge state={record.state} /></td>
            <td>{ record.approver_group.clone() }</td>
            <td>{ record.requested_by.clone() }</td>
            <td><code class="target">{ target }</code></td>
            <td>{ severity }</td>
            <td>{ format::age(record.requested_at, now) }</td>
            <td>{ format::time_left(record, now) }</td>
            <td class="actions">
                { actions }
                <Link<Route> to={Route::Detail { id: id.clone() }} classes="button small secondary">
                    <span aria-label={format!("Details of {id}")}>{ "Details" }</span>
                </Link<Route>>
            </td>
        </tr>
    }
}
