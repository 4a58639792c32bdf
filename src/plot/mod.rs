//! PNG figures: a small raster drawing toolkit ([`canvas`], with TrueType text in an embedded
//! DejaVu Sans, [`font`]) on top of the `image` crate, and the project's [`figures`]:
//! learning curves from `metrics.jsonl` and the spike raster of one example.

pub mod canvas;
pub mod confusion_figure;
pub mod connectivity_figure;
pub mod figures;
pub mod font;
pub mod raster;
pub mod run_figures;

pub use canvas::{color, Align, Axes, Canvas, Corner, LegendEntry, Mark, Rect, Rgb};
pub use figures::{learning_curves, raster_figure, read_metrics, Metrics, RasterFigure};
