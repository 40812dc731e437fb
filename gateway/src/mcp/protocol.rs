//! JSON-RPC 2.0 framing for MCP over stdio: one JSON message per line in, one per line out.
//!
//! Pure functions (no I/O): classify an incoming line ([`parse_line`]) and build responses.
//! Protocol errors are JSON-RPC errors with the standard codes; tool failures are not (they
//! are successful `tools/call` results with `isError: true`, see [`tool_result`]).

use serde_json::{json, Map, Value};

/// MCP revisions this server speaks, newest first. An `initialize` asking for another one is
/// answered with the newest (the client then decides whether it can speak it).
pub const SUPPORTED_VERSIONS: [&str; 4] = ["2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"];

/// The first revision with `structuredContent`, `outputSchema` and tool `title`s.
const STRUCTURED_SINCE: &str = "2025-06-18";

/// The only revision with JSON-RPC batches (added in it, removed in 2025-06-18).
pub const BATCH_VERSION: &str = "2025-03-26";

/// Invalid JSON was received.
pub const PARSE_ERROR: i64 = -32700;
/// The JSON sent is not a valid request object.
pub const INVALID_REQUEST: i64 = -32600;
/// The method does not exist.
pub const METHOD_NOT_FOUND: i64 = -32601;
/// Invalid method parameters (including an unknown tool name or arguments not matching the
/// tool's `inputSchema`).
pub const INVALID_PARAMS: i64 = -32602;
/// Internal error.
pub const INTERNAL_ERROR: i64 = -32603;

/// One incoming line, classified.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    /// A request: must be answered with the same `id`.
    Request {
        /// The id (string or number), echoed in the response.
        id: Value,
        /// Method name.
        method: String,
        /// `params` (an absent `params` is an empty object).
        params: Map<String, Value>,
    },
    /// A notification: never answered.
    Notification {
        /// Method name.
        method: String,
    },
    /// A response or error from the client (this server sends no requests): ignored.
    Response,
    /// Malformed: answer this error response.
    Invalid(Value),
    /// A JSON-RPC batch (only revision 2025-03-26 allows them): its elements, unclassified.
    Batch(Vec<Value>),
}

/// Classify one line of input.
pub fn parse_line(line: &str) -> Incoming {
    match serde_json::from_str(line) {
        Ok(Value::Array(items)) if items.is_empty() => {
            Incoming::Invalid(error(Value::Null, INVALID_REQUEST, "empty batch"))
        }
        Ok(Value::Array(items)) => Incoming::Batch(items),
        Ok(v) => classify(v),
        Err(e) => Incoming::Invalid(error(
            Value::Null,
            PARSE_ERROR,
            &format!("parse error: {e}"),
        )),
    }
}

/// Classify one message (an element of a batch, or a whole line).
pub fn classify(value: Value) -> Incoming {
    let Value::Object(mut obj) = value else {
        return Incoming::Invalid(error(
            Value::Null,
            INVALID_REQUEST,
            "a JSON-RPC message must be an object",
        ));
    };
    let id = obj.remove("id");
    let id_ok = matches!(id, None | Some(Value::String(_)) | Some(Value::Number(_)));
    let echo = if id_ok {
        id.clone().unwrap_or(Value::Null)
    } else {
        Value::Null
    };
    if obj.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Incoming::Invalid(error(echo, INVALID_REQUEST, "`jsonrpc` must be \"2.0\""));
    }
    let method = match obj.remove("method") {
        Some(Value::String(m)) => m,
        None if obj.contains_key("result") || obj.contains_key("error") => {
            return Incoming::Response
        }
        _ => return Incoming::Invalid(error(echo, INVALID_REQUEST, "`method` must be a string")),
    };
    if !id_ok {
        return Incoming::Invalid(error(
            Value::Null,
            INVALID_REQUEST,
            "`id` must be a string or a number",
        ));
    }
    let Some(id) = id else {
        return Incoming::Notification { method };
    };
    let params = match obj.remove("params") {
        None => Map::new(),
        Some(Value::Object(p)) => p,
        Some(_) => {
            return Incoming::Invalid(error(id, INVALID_PARAMS, "`params` must be an object"))
        }
    };
    Incoming::Request { id, method, params }
}

/// A success response.
pub fn result(id: Value, result: Value) -> Value {
    json!({ "jsonrpc": "2.0", "id": id, "result": result })
}

/// An error response.
pub fn error(id: Value, code: i64, message: &str) -> Value {
    json!({ "jsonrpc": "2.0", "id": id, "error": { "code": code, "message": message } })
}

/// The revision to answer an `initialize` asking for `requested`.
pub fn negotiate(requested: &str) -> &'static str {
    SUPPORTED_VERSIONS
        .iter()
        .find(|v| **v == requested)
        .copied()
        .unwrap_or(SUPPORTED_VERSIONS[0])
}

/// Whether `version` has structured tool output (`structuredContent`, `outputSchema`).
pub fn has_structured_output(version: &str) -> bool {
    version >= STRUCTURED_SINCE
}

/// A `tools/call` result: the structured value as JSON text in `content` (for clients that
/// read text only) and, from 2025-06-18 on, as `structuredContent`.
pub fn tool_result(version: &str, structured: Value, is_error: bool) -> Value {
    let text = serde_json::to_string_pretty(&structured).unwrap_or_default();
    let mut out = json!({
        "content": [{ "type": "text", "text": text }],
        "isError": is_error,
    });
    if has_structured_output(version) {
        out["structuredContent"] = structured;
    }
    out
}

#[cfg(test)]
mod tests;
