//! The OpenAPI 3.1 document of the REST API, built from the route table:
//! each route declares its [`Doc`] next to its path and access (parameters
//! and bodies are the handlers' own types, through `utoipa`), and the
//! document adds what the table already knows: the method, the path
//! parameters, the credentials an access asks for and the error answers.
//! Served at `GET /api/openapi.json`.

use std::collections::BTreeMap;

use utoipa::{
    IntoParams, PartialSchema, ToSchema,
    openapi::{
        Components, ContentBuilder, HttpMethod, InfoBuilder, OpenApi, OpenApiBuilder, Paths, Ref,
        RefOr, Required, ResponseBuilder, Schema,
        path::{OperationBuilder, Parameter, ParameterBuilder, ParameterIn},
        request_body::RequestBodyBuilder,
        schema::{ArrayBuilder, ObjectBuilder, OneOfBuilder, Type},
        security::{
            ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
        },
    },
};

use super::{
    error::ErrorBody,
    routes::{Access, RouteInfo},
};

/// What the document says of one route.
#[derive(Clone, Default)]
pub struct Doc {
    summary: &'static str,
    params: Vec<Parameter>,
    body: Option<(Vec<&'static str>, RefOr<Schema>)>,
    ok: Success,
    /// Error answers besides the ones every route of its access has.
    errors: Vec<(u16, &'static str)>,
    schemas: Vec<(String, RefOr<Schema>)>,
}

/// The success answer of a route.
#[derive(Clone, Default)]
struct Success {
    status: u16,
    /// The JSON body's schema; `None`: no JSON body.
    json: Option<RefOr<Schema>>,
    /// Text content types it may also come as.
    texts: Vec<&'static str>,
}

impl Success {
    fn json(status: u16, schema: RefOr<Schema>) -> Self {
        Self {
            status,
            json: Some(schema),
            texts: Vec::new(),
        }
    }
}

/// A schema by reference, its definition (and those it uses) kept for the
/// document's components.
fn reference<T: ToSchema>(schemas: &mut Vec<(String, RefOr<Schema>)>) -> RefOr<Schema> {
    schemas.push((T::name().into_owned(), T::schema()));
    T::schemas(schemas);
    Ref::from_schema_name(T::name()).into()
}

/// A JSON object the document does not spell out.
fn any_object() -> RefOr<Schema> {
    ObjectBuilder::new().schema_type(Type::Object).into()
}

impl Doc {
    pub fn new(summary: &'static str) -> Self {
        Self {
            summary,
            ok: Success::json(200, any_object()),
            ..Self::default()
        }
    }

    /// Query parameters, from the handler's parameter type.
    pub fn query<P: IntoParams>(mut self) -> Self {
        self.params
            .extend(P::into_params(|| Some(ParameterIn::Query)));
        self
    }

    /// A JSON request body of type `T`.
    pub fn json_body<T: ToSchema>(mut self) -> Self {
        let schema = reference::<T>(&mut self.schemas);
        self.body = Some((vec!["application/json"], schema));
        self
    }

    /// A request body of these content types, not described further.
    pub fn raw_body(mut self, content_types: &[&'static str]) -> Self {
        self.body = Some((content_types.to_vec(), Schema::default().into()));
        self
    }

    /// A body of events of type `T`: one JSON object, a JSON array of them,
    /// or NDJSON (one object per line).
    pub fn events<T: ToSchema>(mut self) -> Self {
        let event = reference::<T>(&mut self.schemas);
        let list = ArrayBuilder::new().items(event.clone()).build();
        let either = OneOfBuilder::new().item(event).item(list).build();
        self.body = Some((
            vec!["application/json", "application/x-ndjson"],
            RefOr::T(Schema::OneOf(either)),
        ));
        self
    }

    /// Answers 200 with a JSON `T`.
    pub fn json<T: ToSchema>(mut self) -> Self {
        let schema = reference::<T>(&mut self.schemas);
        self.ok.json = Some(schema);
        self
    }

    /// Answers 200 with a JSON list of `T`.
    pub fn json_list<T: ToSchema>(mut self) -> Self {
        let item = reference::<T>(&mut self.schemas);
        let list = ArrayBuilder::new().items(item).build();
        self.ok.json = Some(list.into());
        self
    }

    /// Answers with a JSON object not spelled out (with status `status`).
    pub fn json_object(mut self, status: u16) -> Self {
        self.ok = Success::json(status, any_object());
        self
    }

    /// Answers 200 with text of this content type.
    pub fn text(mut self, content_type: &'static str) -> Self {
        self.ok = Success {
            status: 200,
            json: None,
            texts: vec![content_type],
        };
        self
    }

    /// The success answer may also come as text of this content type.
    pub fn or_text(mut self, content_type: &'static str) -> Self {
        self.ok.texts.push(content_type);
        self
    }

    /// Answers with `status` and no body.
    pub fn empty(mut self, status: u16) -> Self {
        self.ok = Success {
            status,
            ..Success::default()
        };
        self
    }

    /// A further error answer (with Tally's error body).
    pub fn error(mut self, status: u16, description: &'static str) -> Self {
        self.errors.push((status, description));
        self
    }
}

/// The document of every route that has a [`Doc`].
pub fn document<'a>(routes: impl IntoIterator<Item = (&'a RouteInfo, &'a Doc)>) -> OpenApi {
    let mut paths = Paths::new();
    let mut components = BTreeMap::new();
    let mut schemas = Vec::new();
    let error = reference::<ErrorBody>(&mut schemas);
    for (route, doc) in routes {
        let mut operation = OperationBuilder::new()
            .summary(Some(doc.summary))
            .operation_id(Some(operation_id(route)))
            .parameters(Some(
                path_params(&route.path).chain(doc.params.iter().cloned()),
            ));
        if let Some((types, schema)) = &doc.body {
            let mut body = RequestBodyBuilder::new().required(Some(Required::True));
            for content_type in types {
                // NDJSON is lines of the JSON body's objects, not one document.
                let schema = (*content_type != "application/x-ndjson").then(|| schema.clone());
                body = body.content(*content_type, ContentBuilder::new().schema(schema).build());
            }
            operation = operation.request_body(Some(body.build()));
        }
        let Success {
            status,
            json,
            texts,
        } = &doc.ok;
        let mut ok = ResponseBuilder::new().description("success");
        if let Some(schema) = json {
            ok = ok.content(
                "application/json",
                ContentBuilder::new().schema(Some(schema.clone())).build(),
            );
        }
        for content_type in texts {
            ok = ok.content(
                *content_type,
                ContentBuilder::new().schema(Some(String::schema())).build(),
            );
        }
        operation = operation.response(status.to_string(), ok.build());
        for (status, description) in errors_of(route, doc) {
            let response = ResponseBuilder::new()
                .description(description)
                .content(
                    "application/json",
                    ContentBuilder::new().schema(Some(error.clone())).build(),
                )
                .build();
            operation = operation.response(status.to_string(), response);
        }
        for requirement in security_of(route.access) {
            operation = operation.security(requirement);
        }
        paths.add_path_operation(&route.path, vec![method_of(route)], operation.build());
        schemas.extend(doc.schemas.iter().cloned());
    }
    components.extend(schemas);
    let mut parts = Components::new();
    parts.schemas = components;
    parts.add_security_scheme(
        "master_key",
        SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
            "x-api-key",
            "The master key (MASTER_API_KEY).",
        ))),
    );
    parts.add_security_scheme(
        "ingest_key",
        SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
            "x-api-key",
            "The ingest key (INGEST_API_KEY); the master key is accepted too.",
        ))),
    );
    parts.add_security_scheme(
        "bearer",
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .description(Some("Either key as `Authorization: Bearer <key>`."))
                .build(),
        ),
    );
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("Tally")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(
                    "Usage metrics of an API platform: ingest, public and admin metrics, OTLP.",
                ))
                .build(),
        )
        .paths(paths)
        .components(Some(parts))
        .build()
}

fn method_of(route: &RouteInfo) -> HttpMethod {
    match route.method {
        "POST" => HttpMethod::Post,
        "PUT" => HttpMethod::Put,
        _ => HttpMethod::Get,
    }
}

/// `get_api_v1_admin_metrics_summary`: unique per method and path.
fn operation_id(route: &RouteInfo) -> String {
    let path: String = route
        .path
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let path = path
        .split('_')
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("_");
    format!("{}_{}", route.method.to_ascii_lowercase(), path)
}

/// The `{name}` segments of an axum path, as required string parameters.
fn path_params(path: &str) -> impl Iterator<Item = Parameter> + '_ {
    path.split('/')
        .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
        .map(|name| {
            let schema = match name {
                // A key's 16-hex prefix or its 64-hex hash.
                "key" => ObjectBuilder::new()
                    .schema_type(Type::String)
                    .pattern(Some("^([0-9a-f]{16}|[0-9a-f]{64})$"))
                    .into(),
                _ => String::schema(),
            };
            ParameterBuilder::new()
                .name(name)
                .parameter_in(ParameterIn::Path)
                .required(Required::True)
                .schema(Some(schema))
                .build()
        })
}

/// The error answers of a route: its own, a 400 when it reads input, a 401
/// when its access asks for credentials.
fn errors_of(route: &RouteInfo, doc: &Doc) -> Vec<(u16, &'static str)> {
    let mut errors = doc.errors.clone();
    if !doc.params.is_empty() || doc.body.is_some() || route.path.contains('{') {
        errors.push((
            400,
            "a parameter or the body is wrong; the message names it",
        ));
    }
    if route.access != Access::Public {
        errors.push((401, "missing or wrong credentials"));
    }
    errors.sort_unstable();
    errors.dedup_by_key(|(status, _)| *status);
    errors
}

/// Who may call: either key scheme or, for public aggregates (open unless
/// `PUBLIC_METRICS=false`), nobody in particular.
fn security_of(access: Access) -> Vec<SecurityRequirement> {
    let scheme = |name: &str| SecurityRequirement::new(name, Vec::<String>::new());
    match access {
        Access::Public | Access::ServerFunctions => Vec::new(),
        Access::Admin => vec![scheme("master_key"), scheme("bearer")],
        Access::Ingest => vec![scheme("ingest_key"), scheme("master_key"), scheme("bearer")],
        Access::PublicAggregate | Access::PublicPerKey => vec![
            SecurityRequirement::default(),
            scheme("master_key"),
            scheme("bearer"),
        ],
    }
}
