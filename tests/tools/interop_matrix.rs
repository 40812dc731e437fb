//! The generator behind `tests/interop/matrix.sh` (see [`gate402_tests::matrix`]):
//!
//! * `interop_matrix tests <binary>` — the matrix tests of a test binary (`integration`,
//!   `mcp`), one per line, for `cargo test -- --exact`;
//! * `interop_matrix write <records dir>` — rewrite the two generated tables of
//!   `docs/interop.md` from the records the tests left there (`GATE402_MATRIX_OUT`), dated
//!   today (UTC).

use std::process::ExitCode;

use gate402_tests::matrix::{self, CELLS, GRADES};
use serde_json::Value;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["tests", binary] => {
            let tests = CELLS
                .iter()
                .map(|c| c.test)
                .chain(GRADES.iter().map(|g| g.test));
            for t in tests {
                if let Some(name) = t.strip_prefix(&format!("{binary}:")) {
                    println!("{name}");
                }
            }
            ExitCode::SUCCESS
        }
        ["write", dir] => match write(dir) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("interop_matrix: {e}");
                ExitCode::FAILURE
            }
        },
        _ => {
            eprintln!("usage: interop_matrix tests <binary> | write <records dir>");
            ExitCode::from(2)
        }
    }
}

fn write(dir: &str) -> Result<(), String> {
    let mut records = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| format!("{dir}: {e}"))? {
        let path = entry.map_err(|e| e.to_string())?.path();
        let text = std::fs::read_to_string(&path).map_err(|e| e.to_string())?;
        records.push(
            serde_json::from_str::<Value>(&text).map_err(|e| format!("{}: {e}", path.display()))?,
        );
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let date = gate402_protocols::mpp::time::format_rfc3339(now)[..10].to_string();
    let doc = matrix::docs();
    let doc = matrix::splice(
        &doc,
        matrix::CELLS_BEGIN,
        matrix::CELLS_END,
        &matrix::render_cells(&records, &date)?,
    )?;
    let doc = matrix::splice(
        &doc,
        matrix::GRADES_BEGIN,
        matrix::GRADES_END,
        &matrix::render_grades(&records, &date)?,
    )?;
    std::fs::write(matrix::root().join("docs/interop.md"), doc).map_err(|e| e.to_string())?;
    println!(
        "docs/interop.md: {} cells, {} peer grades, checked {date}",
        CELLS.len(),
        GRADES.len()
    );
    Ok(())
}
