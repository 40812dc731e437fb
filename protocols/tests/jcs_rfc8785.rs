//! RFC 8785 §3.2.3 member ordering (UTF-16 code units), the input on which the `jcs_diff`
//! fuzz target found `serde_jcs` 0.1 ordering by escaped UTF-8 bytes instead: ours must keep
//! the RFC's order (seed `protocols/fuzz/seeds/jcs_diff/rfc8785_sort`).

use gate402_protocols::mpp::jcs;
use serde_json::Value;

#[test]
fn rfc8785_sorting_example_orders_by_utf16_code_units() {
    let input = r#"{"\u20ac":"Euro Sign","\r":"Carriage Return","\ufb33":"Hebrew","1":"One","\ud83d\ude00":"Emoji","\u0080":"Control","\u00f6":"Latin"}"#;
    let value: Value = serde_json::from_str(input).unwrap();
    let expected = "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\u{80}\":\"Control\",\
                    \"\u{f6}\":\"Latin\",\"\u{20ac}\":\"Euro Sign\",\"\u{1f600}\":\"Emoji\",\
                    \"\u{fb33}\":\"Hebrew\"}";
    assert_eq!(jcs::canonicalize(&value), expected);
}

#[test]
fn rfc8785_number_and_string_examples() {
    let input = r#"{"numbers":[333333333.33333329,1E30,4.50,2e-3,0.000000000000000000000000001],"string":"\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/","literals":[null,true,false]}"#;
    let value: Value = serde_json::from_str(input).unwrap();
    let expected = r#"{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}"#;
    assert_eq!(jcs::canonicalize(&value), expected);
}
