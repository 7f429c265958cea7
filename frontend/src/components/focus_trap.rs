//! Focus for modal dialogs (WAI-ARIA dialog pattern): Tab and Shift+Tab stay inside the open
//! dialog, Escape closes it, and on close focus goes back to the element that opened it.

use wasm_bindgen::JsCast as _;
use wasm_bindgen::closure::Closure;
use web_sys::{Element, HtmlElement};
use yew::prelude::*;

/// What can take focus inside a dialog.
const FOCUSABLE: &str = "a[href], button:not([disabled]), textarea:not([disabled]), \
    input:not([disabled]), select:not([disabled]), [tabindex]:not([tabindex='-1'])";

fn focusables(root: &Element) -> Vec<HtmlElement> {
    let Ok(list) = root.query_selector_all(FOCUSABLE) else {
        return Vec::new();
    };
    (0..list.length())
        .filter_map(|i| list.get(i))
        .filter_map(|node| node.dyn_into::<HtmlElement>().ok())
        .collect()
}

fn active_element() -> Option<Element> {
    web_sys::window()?.document()?.active_element()
}

/// The element that has focus, unless that is nobody in particular (the page's body, as
/// after the focused button was disabled).
fn focused_control() -> Option<Element> {
    active_element().filter(|e| {
        let tag = e.tag_name();
        !tag.eq_ignore_ascii_case("body") && !tag.eq_ignore_ascii_case("html")
    })
}

/// Focuses `opener` if it is still on the page, else the first element matching `fallback`.
/// Deferred until the page has re-rendered (the dialog's removal may re-render its opener's
/// row).
fn return_focus(opener: Option<Element>, fallback: Option<String>) {
    let Some(window) = web_sys::window() else {
        return;
    };
    let restore = Closure::once_into_js(move || {
        let target = opener
            .filter(|o| o.is_connected() && !o.has_attribute("disabled"))
            .or_else(|| {
                let selector = fallback?;
                web_sys::window()?
                    .document()?
                    .query_selector(&selector)
                    .ok()
                    .flatten()
            })
            .and_then(|e| e.dyn_into::<HtmlElement>().ok());
        if let Some(target) = target {
            let _ = target.focus();
        }
    });
    let _ =
        window.set_timeout_with_callback_and_timeout_and_arguments_0(restore.unchecked_ref(), 0);
}

/// The `onkeydown` of a modal dialog whose root element is `container`: keeps Tab inside,
/// and Escape calls `on_escape`. While the dialog is mounted, the element focused when it
/// opened is remembered; when it closes focus returns there, or to `fallback` (a CSS
/// selector) when that element is gone. Focus moves into the dialog when it opens, unless the
/// dialog has already placed it.
#[hook]
pub fn use_focus_trap(
    container: NodeRef,
    fallback: Option<String>,
    on_escape: Callback<()>,
) -> Callback<KeyboardEvent> {
    // Read while the dialog first renders, before any effect moves focus into it.
    let opener = use_mut_ref(focused_control);
    {
        let container = container.clone();
        use_effect_with((), move |()| {
            let opener = opener.borrow().clone();
            if let Some(root) = container.cast::<Element>() {
                let inside = active_element()
                    .as_ref()
                    .is_some_and(|a| root.contains(Some(a.unchecked_ref())));
                if !inside && let Some(first) = focusables(&root).first() {
                    let _ = first.focus();
                }
            }
            move || return_focus(opener, fallback)
        });
    }
    Callback::from(move |e: KeyboardEvent| {
        if e.key() == "Escape" {
            e.prevent_default();
            on_escape.emit(());
            return;
        }
        if e.key() != "Tab" {
            return;
        }
        let Some(root) = container.cast::<Element>() else {
            return;
        };
        let items = focusables(&root);
        let (Some(first), Some(last)) = (items.first(), items.last()) else {
            e.prevent_default();
            return;
        };
        let active = active_element();
        let is = |el: &HtmlElement| {
            active
                .as_ref()
                .is_some_and(|a| a.is_same_node(Some(el.unchecked_ref())))
        };
        let inside = active
            .as_ref()
            .is_some_and(|a| root.contains(Some(a.unchecked_ref())));
        if e.shift_key() && (is(first) || !inside) {
            e.prevent_default();
            let _ = last.focus();
        } else if !e.shift_key() && (is(last) || !inside) {
            e.prevent_default();
            let _ = first.focus();
        }
    })
}

/// The overlay's `onmousedown`: a press on the backdrop does not take focus out of the dialog.
pub fn keep_focus_on_backdrop() -> Callback<MouseEvent> {
    Callback::from(|e: MouseEvent| {
        let on_backdrop = match (e.target(), e.current_target()) {
            (Some(target), Some(current)) => target == current,
            _ => false,
        };
        if on_backdrop {
            e.prevent_default();
        }
    })
}
