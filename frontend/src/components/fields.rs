//! One way to keep a form's fields in state: [`edit`] makes the `oninput` / `onchange`
//! callback that writes the element's current value into one field.

use wasm_bindgen::JsCast as _;
use web_sys::{Event, HtmlInputElement, HtmlSelectElement, HtmlTextAreaElement};
use yew::prelude::*;

/// The value of the input, text area or select an event came from (empty for anything else).
pub fn value_of(event: &Event) -> String {
    let Some(target) = event.target() else {
        return String::new();
    };
    if let Some(input) = target.dyn_ref::<HtmlInputElement>() {
        input.value()
    } else if let Some(area) = target.dyn_ref::<HtmlTextAreaElement>() {
        area.value()
    } else if let Some(select) = target.dyn_ref::<HtmlSelectElement>() {
        select.value()
    } else {
        String::new()
    }
}

/// A callback that copies the element's value into `state` with `update`.
pub fn edit<T, E>(state: &UseStateHandle<T>, update: fn(&mut T, String)) -> Callback<E>
where
    T: Clone + 'static,
    E: AsRef<Event> + 'static,
{
    let state = state.clone();
    Callback::from(move |event: E| {
        let mut next = (*state).clone();
        update(&mut next, value_of(event.as_ref()));
        state.set(next);
    })
}
