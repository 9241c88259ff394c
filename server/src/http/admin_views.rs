//! The admin views, `GET /api/v1/admin/metrics/{view}`: each takes the
//! view query ([`MetricsQuery`]) and answers JSON, CSV (`format=csv`) or
//! InfluxDB lines (`format=influx`). Master key or a dashboard session.

use axum::{
    Json,
    extract::{FromRequestParts, State},
    http::{HeaderValue, header, request::Parts},
    response::{IntoResponse, Response},
};
use serde::{Deserialize, Serialize};

use app::types::{
    ApiKeyUsage, Heatmap, LanguageStats, Languages, MetricsQuery, PoolStats, RequestStats, Summary,
    TimeSeries, TopLanguages,
};

use super::{
    error::ApiError,
    extract::ApiQuery,
    openapi::Doc,
    routes::{Access, Routes},
};
use crate::{
    export::{csv::CsvTable, influx::InfluxLines},
    query,
    state::AppState,
};

/// The views, one route each, all answered the same way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum View {
    Summary,
    Languages,
    TimeSeries,
    Heatmap,
    ApiKeys,
    TopLanguages,
    Requests,
    Pool,
    ByLanguage,
}

impl View {
    const ALL: [Self; 9] = [
        Self::Summary,
        Self::Languages,
        Self::TimeSeries,
        Self::Heatmap,
        Self::ApiKeys,
        Self::TopLanguages,
        Self::Requests,
        Self::Pool,
        Self::ByLanguage,
    ];

    /// The last segment of its path, and the name of its CSV file.
    fn name(self) -> &'static str {
        match self {
            Self::Summary => "summary",
            Self::Languages => "languages",
            Self::TimeSeries => "time-series",
            Self::Heatmap => "heatmap",
            Self::ApiKeys => "api-keys",
            Self::TopLanguages => "top-languages",
            Self::Requests => "requests",
            Self::Pool => "pool",
            Self::ByLanguage => "by-language",
        }
    }

    /// Its entry in the OpenAPI document.
    fn doc(self) -> Doc {
        let doc = |summary| {
            Doc::new(summary)
                .query::<MetricsQuery>()
                .query::<FormatParam>()
                .or_text("text/csv")
                .or_text("text/plain")
        };
        match self {
            Self::Summary => {
                doc("Executions: counts, rates, percentiles, resources").json::<Summary>()
            }
            Self::Languages => {
                doc("Executions per language, optionally per key").json::<Languages>()
            }
            Self::TimeSeries => doc("Executions, errors and times per bucket").json::<TimeSeries>(),
            Self::Heatmap => doc("Executions per weekday and hour").json::<Heatmap>(),
            Self::ApiKeys => doc("Usage per API key").json_list::<ApiKeyUsage>(),
            Self::TopLanguages => doc("The most used languages").json::<TopLanguages>(),
            Self::Requests => {
                doc("API requests: rates, latencies, endpoints").json::<RequestStats>()
            }
            Self::Pool => doc("Container pool: hit rate, cold starts, waits").json::<PoolStats>(),
            Self::ByLanguage => doc("Figures per language").json_list::<LanguageStats>(),
        }
    }

    /// Runs the view through the service and renders it in the asked format.
    async fn answer(self, state: AppState, params: ViewParams) -> Result<Response, ApiError> {
        let request = state.view_request(&params.query)?;
        let (format, name) = (params.format, self.name());
        Ok(match self {
            Self::Summary => render(format, &request.run(query::summary).await?, name),
            Self::Languages => render(format, &request.run(query::languages).await?, name),
            Self::TimeSeries => render(format, &request.run(query::time_series).await?, name),
            Self::Heatmap => render(format, &request.run(query::heatmap).await?, name),
            Self::ApiKeys => render(format, &request.run(query::api_keys).await?, name),
            Self::TopLanguages => render(format, &request.run(query::top_languages).await?, name),
            Self::Requests => render(format, &request.run(query::requests).await?, name),
            Self::Pool => render(format, &request.run(query::pool).await?, name),
            Self::ByLanguage => render(format, &request.run(query::language_stats).await?, name),
        })
    }
}

pub fn routes(mut routes: Routes) -> Routes {
    for view in View::ALL {
        routes = routes
            .get(
                &format!("/api/v1/admin/metrics/{}", view.name()),
                Access::Admin,
                move |State(state): State<AppState>, params: ViewParams| view.answer(state, params),
            )
            .doc(view.doc());
    }
    routes
}

/// `format` parameter of the admin views.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct FormatParam {
    #[serde(default)]
    pub format: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    Json,
    Csv,
    Influx,
}

impl Format {
    fn parse(param: &FormatParam) -> Result<Self, ApiError> {
        match param.format.as_deref().map(str::trim) {
            None | Some("" | "json") => Ok(Self::Json),
            Some("csv") => Ok(Self::Csv),
            Some("influx") => Ok(Self::Influx),
            Some(other) => Err(ApiError::BadRequest(format!(
                "format: unknown format `{other}`: use json, csv or influx"
            ))),
        }
    }
}

/// What every view request carries: the view's query and `format`.
struct ViewParams {
    query: MetricsQuery,
    format: Format,
}

impl<S: Send + Sync> FromRequestParts<S> for ViewParams {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let ApiQuery(query) = ApiQuery::<MetricsQuery>::from_request_parts(parts, state).await?;
        let ApiQuery(format) = ApiQuery::<FormatParam>::from_request_parts(parts, state).await?;
        Ok(Self {
            query,
            format: Format::parse(&format)?,
        })
    }
}

fn render<T: Serialize + CsvTable + InfluxLines>(format: Format, view: &T, name: &str) -> Response {
    match format {
        Format::Json => Json(view).into_response(),
        Format::Influx => {
            let now_ns = crate::clock::now_ms().saturating_mul(1_000_000);
            let mut response = view.lines(now_ns).into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            );
            response
        }
        Format::Csv => {
            let mut response = view.to_csv().into_response();
            let headers = response.headers_mut();
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/csv; charset=utf-8"),
            );
            if let Ok(value) =
                HeaderValue::from_str(&format!("attachment; filename=\"tally-{name}.csv\""))
            {
                headers.insert(header::CONTENT_DISPOSITION, value);
            }
            response
        }
    }
}
