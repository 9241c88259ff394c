//! A chart on a canvas: sized to its container, drawn at the device pixel
//! ratio (crisp on high-DPI screens), redrawn when its data or the window
//! size changes, with a read-out of the value under the pointer and a
//! legend naming each series in its colour; hovering (or focusing) a legend
//! entry emphasises its series. Its text alternative is a sentence saying
//! what it shows.

use leptos::{html, prelude::*};

#[cfg(target_arch = "wasm32")]
use crate::charts::Layout;
use crate::charts::{ChartSpec, LEGEND_MAX, Theme, legend, summary};

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
    // The legend entry under the pointer or keyboard focus.
    let focus = RwSignal::new(None::<usize>);

    #[cfg(target_arch = "wasm32")]
    {
        let handle = window_event_listener(leptos::ev::resize, move |_| size.update(|n| *n += 1));
        on_cleanup(move || handle.remove());
    }

    Effect::new(move |_| {
        size.track();
        let spec = spec.get();
        let focus = focus.get();
        let Some(element) = canvas.get() else { return };
        drawn.set(false);
        if let Some(spec) = spec {
            paint(&element, &spec, height, focus);
            drawn.set(true);
        }
    });

    let on_move = move |event: leptos::ev::MouseEvent| {
        let (Some(element), Some(spec)) = (canvas.get_untracked(), spec.get_untracked()) else {
            return;
        };
        readout.set(read_at(&element, &spec, &event));
    };

    let entries = move || spec.with(|s| s.as_ref().map(legend).unwrap_or_default());
    view! {
        {move || {
            let entries = entries();
            let hidden = entries.len().saturating_sub(LEGEND_MAX);
            (!entries.is_empty())
                .then(|| {
                    let palette = theme().palette;
                    view! {
                        <ul class="legend" data-testid="legend" data-chart=id>
                            {entries
                                .into_iter()
                                .take(LEGEND_MAX)
                                .enumerate()
                                .map(|(i, entry)| {
                                    let c = palette[entry.color % palette.len()];
                                    let alpha = if entry.faint { 0.45 } else { 1.0 };
                                    let name = entry.name.clone();
                                    view! {
                                        <li
                                            data-series=name
                                            tabindex="0"
                                            class:focused=move || focus.get() == Some(i)
                                            on:mouseenter=move |_| focus.set(Some(i))
                                            on:mouseleave=move |_| focus.set(None)
                                            on:focus=move |_| focus.set(Some(i))
                                            on:blur=move |_| focus.set(None)
                                        >
                                            <span
                                                class="swatch"
                                                aria-hidden="true"
                                                style=format!(
                                                    "background:rgba({},{},{},{alpha})",
                                                    c.0,
                                                    c.1,
                                                    c.2,
                                                )
                                            ></span>
                                            {entry.name}
                                        </li>
                                    }
                                })
                                .collect_view()}
                            {(hidden > 0)
                                .then(|| view! { <li class="muted">{format!("and {hidden} more")}</li> })}
                        </ul>
                    }
                })
        }}
        <div class="chart" style=format!("height:{height}px")>
            <canvas
                node_ref=canvas
                role="img"
                aria-label=label
                aria-describedby=format!("{id}-summary")
                data-chart=id
                data-drawn=move || drawn.get().to_string()
                on:mousemove=on_move
                on:mouseleave=move |_| readout.set(None)
            ></canvas>
            // The chart in words, for screen readers (the panel's CSV link has the numbers).
            <p class="sr-only" id=format!("{id}-summary") data-testid="chart-summary">
                {move || {
                    spec.with(|s| s.as_ref().map_or_else(|| "Loading.".to_owned(), summary))
                }}
            </p>
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
fn paint(
    element: &web_sys::HtmlCanvasElement,
    spec: &ChartSpec,
    height: u32,
    focus: Option<usize>,
) {
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
    let theme = theme();
    if let Some(backend) = CanvasBackend::with_canvas_object(element.clone()) {
        let root = backend.into_drawing_area();
        if let Err(error) =
            crate::charts::draw(&root, spec, &theme, &Layout::for_spec(spec, scale), focus)
        {
            leptos::logging::warn!("chart drawing failed: {error:?}");
        }
    }
}

/// The palette of the system's colour scheme (light outside the browser).
fn theme() -> Theme {
    #[cfg(target_arch = "wasm32")]
    if crate::browser::prefers_dark() {
        return Theme::dark();
    }
    Theme::light()
}

#[cfg(not(target_arch = "wasm32"))]
fn paint(
    _element: &leptos::web_sys::HtmlCanvasElement,
    _spec: &ChartSpec,
    _height: u32,
    _focus: Option<usize>,
) {
}

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
