//! The MCP session over stdio: lifecycle (`initialize` → operation), method dispatch and the
//! read/write loop.
//!
//! Requests other than `tools/call` are answered inline, in order. Each `tools/call` runs as
//! its own task (a payment can take a while; `ping` and other calls are answered meanwhile);
//! responses go to stdout through one writer, one line each. At end of input the loop waits
//! for calls in flight (a paid response is never dropped) and returns. JSON-RPC batches are
//! accepted only when revision 2025-03-26 was negotiated (the one revision that has them).
//! `notifications/cancelled` does not abort a call: a payment is never cut off halfway.

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{json, Map, Value};
use tokio::{
    io::{AsyncBufRead, AsyncBufReadExt, AsyncWrite, AsyncWriteExt},
    sync::mpsc,
    task::JoinSet,
};

use super::protocol::{self, Incoming, INVALID_PARAMS, INVALID_REQUEST, METHOD_NOT_FOUND};

/// A tool as listed by `tools/list`.
#[derive(Debug, Clone)]
pub struct ToolSpec {
    /// Name (what `tools/call` names).
    pub name: &'static str,
    /// Human-readable title.
    pub title: &'static str,
    /// What it does, for the model.
    pub description: &'static str,
    /// JSON Schema of the arguments.
    pub input_schema: Value,
    /// JSON Schema of `structuredContent`.
    pub output_schema: Value,
}

/// What a tool returned: a JSON value and whether it is a failure (`isError`).
#[derive(Debug, Clone, PartialEq)]
pub struct ToolOutcome {
    /// The structured result.
    pub value: Value,
    /// A tool failure (refused, payment failed, HTTP error), reported to the model.
    pub is_error: bool,
}

/// A `tools/call` that cannot be run at all: a JSON-RPC `-32602` error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// No tool of that name.
    #[error("unknown tool: {0}")]
    UnknownTool(String),
    /// The arguments do not match the tool's `inputSchema`.
    #[error("invalid arguments: {0}")]
    InvalidArguments(String),
}

/// The tools a session serves.
#[async_trait]
pub trait ToolSet: Send + Sync + 'static {
    /// Every tool, in listing order.
    fn tools(&self) -> Vec<ToolSpec>;
    /// Run tool `name` with `arguments` (an object).
    async fn call(&self, name: &str, arguments: Value) -> Result<ToolOutcome, CallError>;
}

/// What to do with one input line.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Write this response.
    Reply(Value),
    /// Nothing to answer (a notification, or a response from the client).
    Nothing,
    /// Run a tool, then answer `id`.
    Call {
        /// Request id.
        id: Value,
        /// Tool name.
        name: String,
        /// Arguments object.
        arguments: Value,
        /// The negotiated protocol revision (shapes the result).
        version: &'static str,
    },
    /// A batch (revision 2025-03-26): answer with one array of the elements' answers.
    Batch(Vec<Action>),
}

/// Protocol state of one connection.
#[derive(Debug, Default)]
pub struct Session {
    version: Option<&'static str>,
    client_ready: bool,
}

impl Session {
    /// The negotiated revision, once `initialize` was answered.
    pub fn version(&self) -> Option<&'static str> {
        self.version
    }

    /// Whether `notifications/initialized` has arrived.
    pub fn client_ready(&self) -> bool {
        self.client_ready
    }

    /// Handle one input line.
    pub fn handle(&mut self, line: &str, tools: &dyn ToolSet) -> Action {
        self.incoming(protocol::parse_line(line), false, tools)
    }

    fn incoming(&mut self, msg: Incoming, in_batch: bool, tools: &dyn ToolSet) -> Action {
        match msg {
            Incoming::Batch(_) if in_batch => Action::Reply(protocol::error(
                Value::Null,
                INVALID_REQUEST,
                "nested batches are not allowed",
            )),
            Incoming::Batch(items) => {
                if self.version != Some(protocol::BATCH_VERSION) {
                    return Action::Reply(protocol::error(
                        Value::Null,
                        INVALID_REQUEST,
                        "JSON-RPC batches are only allowed in protocol revision 2025-03-26",
                    ));
                }
                let actions: Vec<Action> = items
                    .into_iter()
                    .map(|item| self.incoming(protocol::classify(item), true, tools))
                    .filter(|a| *a != Action::Nothing)
                    .collect();
                if actions.is_empty() {
                    Action::Nothing
                } else {
                    Action::Batch(actions)
                }
            }
            Incoming::Request { id, method, .. } if in_batch && method == "initialize" => {
                Action::Reply(protocol::error(
                    id,
                    INVALID_REQUEST,
                    "`initialize` must not be part of a batch",
                ))
            }
            Incoming::Invalid(reply) => Action::Reply(reply),
            Incoming::Response => Action::Nothing,
            Incoming::Notification { method } => {
                if method == "notifications/initialized" && self.version.is_some() {
                    self.client_ready = true;
                }
                // `notifications/cancelled` and others: nothing to do (a payment in flight
                // is not abandoned halfway).
                Action::Nothing
            }
            Incoming::Request { id, method, params } => self.request(id, &method, params, tools),
        }
    }

    fn request(
        &mut self,
        id: Value,
        method: &str,
        params: Map<String, Value>,
        tools: &dyn ToolSet,
    ) -> Action {
        let reply = |r: Result<Value, (i64, String)>| match r {
            Ok(v) => Action::Reply(protocol::result(id.clone(), v)),
            Err((code, msg)) => Action::Reply(protocol::error(id.clone(), code, &msg)),
        };
        match method {
            "ping" => reply(Ok(json!({}))),
            "initialize" => reply(self.initialize(&params)),
            _ if !is_known(method) => reply(Err((
                METHOD_NOT_FOUND,
                format!("method not found: {method}"),
            ))),
            _ => {
                let Some(version) = self.version else {
                    return reply(Err((
                        INVALID_REQUEST,
                        "server not initialized: send `initialize` first".into(),
                    )));
                };
                match method {
                    "tools/list" => reply(Ok(list(version, tools))),
                    _ => match call_params(params) {
                        Ok((name, arguments)) => Action::Call {
                            id,
                            name,
                            arguments,
                            version,
                        },
                        Err(msg) => reply(Err((INVALID_PARAMS, msg))),
                    },
                }
            }
        }
    }

    fn initialize(&mut self, params: &Map<String, Value>) -> Result<Value, (i64, String)> {
        if self.version.is_some() {
            return Err((INVALID_REQUEST, "already initialized".into()));
        }
        let requested = params
            .get("protocolVersion")
            .and_then(Value::as_str)
            .ok_or((INVALID_PARAMS, "`protocolVersion` must be a string".into()))?;
        let version = protocol::negotiate(requested);
        self.version = Some(version);
        Ok(json!({
            "protocolVersion": version,
            "capabilities": { "tools": { "listChanged": false } },
            "serverInfo": {
                "name": "gate402",
                "title": "gate402 paying HTTP client",
                "version": env!("CARGO_PKG_VERSION"),
            },
            "instructions": "Fetch HTTP resources that may answer 402 Payment Required. \
                quote_url shows the price without paying; fetch_paid_url pays within \
                max_cost_sats and the configured limits; budget_status shows today's spend.",
        }))
    }
}

fn is_known(method: &str) -> bool {
    matches!(method, "tools/list" | "tools/call")
}

fn list(version: &str, tools: &dyn ToolSet) -> Value {
    let structured = protocol::has_structured_output(version);
    let tools: Vec<Value> = tools
        .tools()
        .into_iter()
        .map(|t| {
            let mut v = json!({
                "name": t.name,
                "description": t.description,
                "inputSchema": t.input_schema,
            });
            if structured {
                v["title"] = json!(t.title);
                v["outputSchema"] = t.output_schema;
            }
            v
        })
        .collect();
    json!({ "tools": tools })
}

fn call_params(mut params: Map<String, Value>) -> Result<(String, Value), String> {
    let name = match params.remove("name") {
        Some(Value::String(n)) => n,
        _ => return Err("`name` must be a string".into()),
    };
    let arguments = match params.remove("arguments") {
        None | Some(Value::Null) => json!({}),
        Some(a @ Value::Object(_)) => a,
        Some(_) => return Err("`arguments` must be an object".into()),
    };
    Ok((name, arguments))
}

/// Run a tool and build the JSON-RPC response for request `id`.
pub async fn run_call(
    tools: &dyn ToolSet,
    id: Value,
    name: &str,
    arguments: Value,
    version: &str,
) -> Value {
    match tools.call(name, arguments).await {
        Ok(out) => protocol::result(id, protocol::tool_result(version, out.value, out.is_error)),
        Err(e) => protocol::error(id, INVALID_PARAMS, &e.to_string()),
    }
}

/// Answer every element of a batch (calls run concurrently), in order.
async fn run_batch(tools: &dyn ToolSet, actions: Vec<Action>) -> Value {
    let answers = actions.into_iter().map(|a| async move {
        match a {
            Action::Reply(v) => v,
            Action::Call {
                id,
                name,
                arguments,
                version,
            } => run_call(tools, id, &name, arguments, version).await,
            Action::Nothing | Action::Batch(_) => Value::Null,
        }
    });
    Value::Array(futures_util::future::join_all(answers).await)
}

/// Serve one MCP connection: read lines from `input` until it ends, write responses to
/// `output`. Returns after the calls in flight have been answered.
pub async fn serve<R, W>(tools: Arc<dyn ToolSet>, input: R, mut output: W) -> std::io::Result<()>
where
    R: AsyncBufRead + Unpin,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let (tx, mut rx) = mpsc::unbounded_channel::<Value>();
    let writer = tokio::spawn(async move {
        while let Some(msg) = rx.recv().await {
            let mut line = serde_json::to_vec(&msg).map_err(std::io::Error::other)?;
            line.push(b'\n');
            output.write_all(&line).await?;
            output.flush().await?;
        }
        Ok::<(), std::io::Error>(())
    });
    let mut session = Session::default();
    let mut calls = JoinSet::new();
    let mut lines = input.lines();
    while let Some(line) = lines.next_line().await? {
        if line.trim().is_empty() {
            continue;
        }
        match session.handle(&line, tools.as_ref()) {
            Action::Reply(v) => {
                let _ = tx.send(v);
            }
            Action::Nothing => {}
            Action::Call {
                id,
                name,
                arguments,
                version,
            } => {
                let (tools, tx) = (tools.clone(), tx.clone());
                calls.spawn(async move {
                    let reply = run_call(tools.as_ref(), id, &name, arguments, version).await;
                    let _ = tx.send(reply);
                });
            }
            Action::Batch(actions) => {
                let (tools, tx) = (tools.clone(), tx.clone());
                calls.spawn(async move {
                    let _ = tx.send(run_batch(tools.as_ref(), actions).await);
                });
            }
        }
        while calls.try_join_next().is_some() {}
    }
    while calls.join_next().await.is_some() {}
    drop(tx);
    writer.await.map_err(std::io::Error::other)?
}

#[cfg(test)]
mod tests;
