//! Session lifecycle and dispatch with a fake tool set, and the stdio loop over a duplex pipe.

use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use super::*;

/// One tool, `echo`, returning its arguments; `fail: true` makes it a tool error.
struct Echo;

#[async_trait]
impl ToolSet for Echo {
    fn tools(&self) -> Vec<ToolSpec> {
        vec![ToolSpec {
            name: "echo",
            title: "Echo",
            description: "returns its arguments",
            input_schema: json!({ "type": "object" }),
            output_schema: json!({ "type": "object" }),
        }]
    }

    async fn call(&self, name: &str, arguments: Value) -> Result<ToolOutcome, CallError> {
        if name != "echo" {
            return Err(CallError::UnknownTool(name.into()));
        }
        if arguments.get("bad").is_some() {
            return Err(CallError::InvalidArguments("bad".into()));
        }
        Ok(ToolOutcome {
            is_error: arguments.get("fail").is_some(),
            value: arguments,
        })
    }
}

fn reply(a: Action) -> Value {
    match a {
        Action::Reply(v) => v,
        other => panic!("expected a reply, got {other:?}"),
    }
}

fn err_code(a: Action) -> i64 {
    reply(a)["error"]["code"].as_i64().unwrap()
}

const INIT: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#;

#[test]
fn lifecycle() {
    let mut s = Session::default();
    // ping works before initialize; tools do not.
    let pong = reply(s.handle(r#"{"jsonrpc":"2.0","id":0,"method":"ping"}"#, &Echo));
    assert_eq!(pong, json!({"jsonrpc":"2.0","id":0,"result":{}}));
    let early = s.handle(r#"{"jsonrpc":"2.0","id":2,"method":"tools/list"}"#, &Echo);
    assert_eq!(err_code(early), INVALID_REQUEST);

    let init = reply(s.handle(INIT, &Echo));
    assert_eq!(init["id"], json!(1));
    assert_eq!(init["result"]["protocolVersion"], json!("2025-06-18"));
    assert_eq!(
        init["result"]["capabilities"]["tools"]["listChanged"],
        json!(false)
    );
    assert_eq!(init["result"]["serverInfo"]["name"], json!("gate402"));
    assert_eq!(s.version(), Some("2025-06-18"));
    assert_eq!(err_code(s.handle(INIT, &Echo)), INVALID_REQUEST, "twice");

    assert!(!s.client_ready());
    let n = s.handle(
        r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
        &Echo,
    );
    assert_eq!(n, Action::Nothing);
    assert!(s.client_ready());
    let cancelled =
        r#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":9}}"#;
    assert_eq!(s.handle(cancelled, &Echo), Action::Nothing);
}

#[test]
fn initialize_needs_a_version_and_falls_back_to_the_newest() {
    let mut s = Session::default();
    let bad = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}"#;
    assert_eq!(err_code(s.handle(bad, &Echo)), INVALID_PARAMS);
    let old = INIT.replace("2025-06-18", "2024-11-05");
    let r = reply(s.handle(&old, &Echo));
    assert_eq!(r["result"]["protocolVersion"], json!("2024-11-05"));

    let mut s = Session::default();
    let unknown = INIT.replace("2025-06-18", "1999-01-01");
    let r = reply(s.handle(&unknown, &Echo));
    assert_eq!(
        r["result"]["protocolVersion"],
        json!(protocol::SUPPORTED_VERSIONS[0])
    );
}

#[test]
fn tools_list_and_call_dispatch() {
    let mut s = Session::default();
    s.handle(INIT, &Echo);
    let list = reply(s.handle(r#"{"jsonrpc":"2.0","id":2,"method":"tools/list"}"#, &Echo));
    let tool = &list["result"]["tools"][0];
    assert_eq!(tool["name"], json!("echo"));
    assert_eq!(tool["inputSchema"], json!({"type":"object"}));
    assert_eq!(tool["outputSchema"], json!({"type":"object"}));

    let call = s.handle(
        r#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"echo","arguments":{"a":1}}}"#,
        &Echo,
    );
    assert_eq!(
        call,
        Action::Call {
            id: json!(3),
            name: "echo".into(),
            arguments: json!({"a":1}),
            version: "2025-06-18"
        }
    );
    for bad in [
        r#"{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{}}"#,
        r#"{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"echo","arguments":[1]}}"#,
    ] {
        assert_eq!(err_code(s.handle(bad, &Echo)), INVALID_PARAMS, "{bad}");
    }
    let unknown = s.handle(
        r#"{"jsonrpc":"2.0","id":5,"method":"resources/list"}"#,
        &Echo,
    );
    assert_eq!(err_code(unknown), METHOD_NOT_FOUND);
    assert_eq!(err_code(s.handle("{oops", &Echo)), protocol::PARSE_ERROR);
}

#[test]
fn old_clients_get_no_structured_fields() {
    let mut s = Session::default();
    s.handle(&INIT.replace("2025-06-18", "2025-03-26"), &Echo);
    let list = reply(s.handle(r#"{"jsonrpc":"2.0","id":2,"method":"tools/list"}"#, &Echo));
    let tool = &list["result"]["tools"][0];
    assert!(tool.get("outputSchema").is_none() && tool.get("title").is_none());
}

#[tokio::test]
async fn batches_only_in_2025_03_26() {
    let batch = r#"[{"jsonrpc":"2.0","id":2,"method":"ping"},{"jsonrpc":"2.0","method":"notifications/initialized"},{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"echo","arguments":{"b":1}}},{"jsonrpc":"2.0","id":4,"method":"initialize","params":{"protocolVersion":"2025-03-26"}},7]"#;
    let mut s = Session::default();
    s.handle(INIT, &Echo); // 2025-06-18: no batches
    assert_eq!(err_code(s.handle(batch, &Echo)), INVALID_REQUEST);

    let mut s = Session::default();
    s.handle(&INIT.replace("2025-06-18", "2025-03-26"), &Echo);
    let Action::Batch(actions) = s.handle(batch, &Echo) else {
        panic!("expected a batch")
    };
    assert_eq!(actions.len(), 4, "the notification is not answered");
    let answers = run_batch(&Echo, actions).await;
    assert_eq!(answers[0]["result"], json!({}));
    assert_eq!(answers[1]["id"], json!(3));
    assert_eq!(answers[1]["result"]["isError"], json!(false));
    assert!(answers[1]["result"].get("structuredContent").is_none());
    assert_eq!(
        answers[2]["error"]["code"],
        json!(INVALID_REQUEST),
        "initialize"
    );
    assert_eq!(
        answers[3]["error"]["code"],
        json!(INVALID_REQUEST),
        "not an object"
    );
    assert_eq!(err_code(s.handle("[]", &Echo)), INVALID_REQUEST);
}

#[tokio::test]
async fn call_results_and_errors() {
    let ok = run_call(&Echo, json!(1), "echo", json!({"x":1}), "2025-06-18").await;
    assert_eq!(ok["result"]["structuredContent"], json!({"x":1}));
    assert_eq!(ok["result"]["isError"], json!(false));
    let failed = run_call(&Echo, json!(2), "echo", json!({"fail":1}), "2025-06-18").await;
    assert_eq!(failed["result"]["isError"], json!(true));
    let unknown = run_call(&Echo, json!(3), "nope", json!({}), "2025-06-18").await;
    assert_eq!(unknown["error"]["code"], json!(INVALID_PARAMS));
    let bad = run_call(&Echo, json!(4), "echo", json!({"bad":1}), "2025-06-18").await;
    assert_eq!(bad["error"]["code"], json!(INVALID_PARAMS));
}

#[tokio::test]
async fn serve_answers_each_request_once_and_returns_at_end_of_input() {
    let (client, server) = tokio::io::duplex(64 * 1024);
    let (server_read, server_write) = tokio::io::split(server);
    let task = tokio::spawn(serve(
        Arc::new(Echo),
        BufReader::new(server_read),
        server_write,
    ));
    let (client_read, mut client_write) = tokio::io::split(client);
    let input = [
        INIT,
        r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
        "",
        r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{"n":2}}}"#,
        r#"{"jsonrpc":"2.0","id":3,"method":"nope"}"#,
    ]
    .join("\n");
    client_write.write_all(input.as_bytes()).await.unwrap();
    client_write.write_all(b"\n").await.unwrap();
    client_write.shutdown().await.unwrap();
    drop(client_write);

    let mut lines = BufReader::new(client_read).lines();
    let mut by_id = std::collections::BTreeMap::new();
    while let Some(line) = lines.next_line().await.unwrap() {
        let v: Value = serde_json::from_str(&line).unwrap();
        assert!(
            by_id.insert(v["id"].to_string(), v).is_none(),
            "one answer per id"
        );
    }
    task.await.unwrap().unwrap();
    assert_eq!(by_id.len(), 3, "{by_id:?}");
    assert_eq!(by_id["2"]["result"]["structuredContent"], json!({"n":2}));
    assert_eq!(by_id["3"]["error"]["code"], json!(METHOD_NOT_FOUND));
}
