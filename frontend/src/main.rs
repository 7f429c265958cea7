//! Starts the console in the page trunk built around it.

fn main() {
    yew::Renderer::<cavra_console::app::App>::new().render();
}
