//! A chart on a canvas: sized to its container, drawn at the device pixel
//! ratio (crisp on high-DPI screens), redrawn when its data or the window
//! size changes, with a read-out of the value under the pointer.

use leptos::{html, prelude::*};

use crate::charts::ChartSpec;
#[cfg(target_arch = "wasm32")]
use crate::charts::Layout;

#[component]
pub fn Chart(
    /// What to draw; `None` while loading.
    #[prop(into)]
    spec: Signal<Option<ChartSpec>>,
    /// Accessible description of the chart.
    label: &'static str,
    /// Test hook: `data-chart` attribute.
    id: &'static str,
    #[prop(default = 220)] height: u32,
) -> impl IntoView {
    let canvas = NodeRef::<html::Canvas>::new();
    let readout = RwSignal::new(None::<(String, f64, f64)>);
    let size = RwSignal::new(0u32);
    let drawn = RwSignal::new(false);

    #[cfg(target_arch = "wasm32")]
    {
        let handle = window_event_listener(leptos::ev::resize, move |_| size.update(|n| *n += 1));
        on_cleanup(move || handle.remove());
    }

    Effect::new(move |_| {
        size.track();
        let spec = spec.get();
        let Some(element) = canvas.get() else { return };
        drawn.set(false);
        if let Some(spec) = spec {
            paint(&element, &spec, height);
            drawn.set(true);
        }
    });

    let on_move = move |event: leptos::ev::MouseEvent| {
        let (Some(element), Some(spec)) = (canvas.get_untracked(), spec.get_untracked()) else {
            return;
        };
        readout.set(read_at(&element, &spec, &event));
    };

    view! {
        <div class="chart" style=format!("height:{height}px")>
            <canvas
                node_ref=canvas
                role="img"
                aria-label=label
                data-chart=id
                data-drawn=move || drawn.get().to_string()
                on:mousemove=on_move
                on:mouseleave=move |_| readout.set(None)
            ></canvas>
            {move || {
                readout
                    .get()
                    .map(|(text, x, y)| {
                        view! {
                            <div
                                class="readout"
                                role="status"
                                style=format!("left:{x}px;top:{y}px")
                            >
                                {text}
                            </div>
                        }
                    })
            }}
        </div>
    }
}

#[cfg(target_arch = "wasm32")]
fn paint(element: &web_sys::HtmlCanvasElement, spec: &ChartSpec, height: u32) {
    use plotters::prelude::IntoDrawingArea;
    use plotters_canvas::CanvasBackend;

    let scale = crate::browser::pixel_ratio();
    let width = element
        .parent_element()
        .map(|p| p.client_width())
        .unwrap_or(600)
        .max(200);
    element.set_width((f64::from(width) * scale).round() as u32);
    element.set_height((f64::from(height) * scale).round() as u32);
    let style = format!("width:{width}px;height:{height}px");
    let _ = element.set_attribute("style", &style);
    let theme = if crate::browser::prefers_dark() {
        crate::charts::Theme::dark()
    } else {
        crate::charts::Theme::light()
    };
    if let Some(backend) = CanvasBackend::with_canvas_object(element.clone()) {
        let root = backend.into_drawing_area();
        if let Err(error) = crate::charts::draw(&root, spec, &theme, &Layout::for_spec(spec, scale))
        {
            leptos::logging::warn!("chart drawing failed: {error:?}");
        }
    }
}

#[cfg(not(target_arch = "wasm32"))]
fn paint(_element: &leptos::web_sys::HtmlCanvasElement, _spec: &ChartSpec, _height: u32) {}

/// The read-out for the pointer, and where to show it (CSS px in the chart).
#[cfg(target_arch = "wasm32")]
fn read_at(
    element: &web_sys::HtmlCanvasElement,
    spec: &ChartSpec,
    event: &leptos::ev::MouseEvent,
) -> Option<(String, f64, f64)> {
    let scale = crate::browser::pixel_ratio();
    let rect = element.get_bounding_client_rect();
    let x = f64::from(event.client_x()) - rect.left();
    let y = f64::from(event.client_y()) - rect.top();
    let text = crate::charts::hover(
        spec,
        &Layout::for_spec(spec, scale),
        element.width(),
        element.height(),
        x * scale,
        y * scale,
    )?;
    Some((
        text,
        (x + 12.0).min(rect.width() - 180.0).max(0.0),
        (y - 34.0).max(0.0),
    ))
}

#[cfg(not(target_arch = "wasm32"))]
fn read_at(
    _element: &leptos::web_sys::HtmlCanvasElement,
    _spec: &ChartSpec,
    _event: &leptos::ev::MouseEvent,
) -> Option<(String, f64, f64)> {
    None
}
