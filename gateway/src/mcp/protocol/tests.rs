//! JSON-RPC classification and MCP response shapes.

use serde_json::json;

use super::*;

fn code(i: &Incoming) -> (Value, i64) {
    match i {
        Incoming::Invalid(v) => (v["id"].clone(), v["error"]["code"].as_i64().unwrap()),
        other => panic!("expected an error, got {other:?}"),
    }
}

#[test]
fn requests_and_notifications() {
    let r = parse_line(r#"{"jsonrpc":"2.0","id":7,"method":"ping"}"#);
    assert_eq!(
        r,
        Incoming::Request {
            id: json!(7),
            method: "ping".into(),
            params: Map::new()
        }
    );
    let r = parse_line(r#"{"jsonrpc":"2.0","id":"a","method":"tools/call","params":{"name":"x"}}"#);
    let Incoming::Request { id, params, .. } = r else {
        panic!()
    };
    assert_eq!((id, params["name"].clone()), (json!("a"), json!("x")));
    assert_eq!(
        parse_line(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#),
        Incoming::Notification {
            method: "notifications/initialized".into()
        }
    );
    assert_eq!(
        parse_line(r#"{"jsonrpc":"2.0","id":1,"result":{}}"#),
        Incoming::Response
    );
}

#[test]
fn malformed_input_gets_the_standard_codes() {
    assert_eq!(code(&parse_line("{not json")), (Value::Null, PARSE_ERROR));
    assert_eq!(code(&parse_line("[]")), (Value::Null, INVALID_REQUEST));
    assert!(matches!(parse_line("[1]"), Incoming::Batch(v) if v == [json!(1)]));
    assert_eq!(code(&parse_line("42")), (Value::Null, INVALID_REQUEST));
    assert_eq!(
        code(&parse_line(r#"{"id":3,"method":"ping"}"#)),
        (json!(3), INVALID_REQUEST),
        "jsonrpc missing"
    );
    assert_eq!(
        code(&parse_line(r#"{"jsonrpc":"1.0","id":3,"method":"ping"}"#)),
        (json!(3), INVALID_REQUEST)
    );
    assert_eq!(
        code(&parse_line(r#"{"jsonrpc":"2.0","id":4,"method":5}"#)),
        (json!(4), INVALID_REQUEST)
    );
    assert_eq!(
        code(&parse_line(
            r#"{"jsonrpc":"2.0","id":{"x":1},"method":"ping"}"#
        )),
        (Value::Null, INVALID_REQUEST)
    );
    assert_eq!(
        code(&parse_line(
            r#"{"jsonrpc":"2.0","id":null,"method":"ping"}"#
        )),
        (Value::Null, INVALID_REQUEST)
    );
    assert_eq!(
        code(&parse_line(
            r#"{"jsonrpc":"2.0","id":5,"method":"ping","params":[1]}"#
        )),
        (json!(5), INVALID_PARAMS)
    );
}

#[test]
fn version_negotiation() {
    for v in SUPPORTED_VERSIONS {
        assert_eq!(negotiate(v), v);
    }
    assert_eq!(negotiate("2023-01-01"), SUPPORTED_VERSIONS[0]);
    assert_eq!(negotiate("2099-12-31"), SUPPORTED_VERSIONS[0]);
    assert!(has_structured_output("2025-06-18") && has_structured_output("2025-11-25"));
    assert!(!has_structured_output("2025-03-26") && !has_structured_output("2024-11-05"));
}

#[test]
fn tool_results_carry_text_and_structured_content_by_version() {
    let v = json!({ "status": 200 });
    let new = tool_result("2025-06-18", v.clone(), false);
    assert_eq!(new["structuredContent"], v);
    assert_eq!(new["isError"], json!(false));
    assert_eq!(new["content"][0]["type"], json!("text"));
    let text: Value = serde_json::from_str(new["content"][0]["text"].as_str().unwrap()).unwrap();
    assert_eq!(text, v, "the text block is the same JSON");
    let old = tool_result("2024-11-05", v, true);
    assert!(old.get("structuredContent").is_none());
    assert_eq!(old["isError"], json!(true));
}
