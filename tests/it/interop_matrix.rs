//! The generated tables of `docs/interop.md` list exactly the registered cells and peers
//! ([`gate402_tests::matrix`]), with the versions the lockfile pins, in the generator's exact
//! format (a hand edit fails here; the outcomes themselves are checked by each cell's test).

use gate402_tests::matrix::{
    self, CELLS, CELLS_BEGIN, CELLS_END, GRADES, GRADES_BEGIN, GRADES_END,
};
use serde_json::{json, Value};

fn between<'a>(doc: &'a str, begin: &str, end: &str) -> &'a str {
    let b = doc.find(begin).expect("begin marker") + begin.len();
    let e = doc[b..].find(end).expect("end marker") + b;
    doc[b..e].trim_start_matches('\n')
}

/// The table without its date column.
fn undated(table: &str) -> Vec<String> {
    table
        .lines()
        .map(|l| {
            l.rsplit_once(" | ")
                .map_or(l.to_string(), |(head, _)| head.to_string())
        })
        .collect()
}

#[test]
fn docs_tables_are_the_generators_output_for_every_registered_test() {
    let doc = matrix::docs();
    let cells = between(&doc, CELLS_BEGIN, CELLS_END);
    let grades = between(&doc, GRADES_BEGIN, GRADES_END);
    // Records as the committed rows state them, rendered again by the generator.
    let mut records: Vec<Value> = CELLS
        .iter()
        .map(|c| {
            let row = matrix::row(&doc, c.test).unwrap_or_else(|| panic!("no row for {}", c.test));
            assert!(
                row[3] == "✔" || row[3] == "✘",
                "{}: result {:?}",
                c.test,
                row[3]
            );
            json!({"test": c.test, "pass": row[3] == "✔"})
        })
        .collect();
    for g in GRADES {
        let row = matrix::row(&doc, g.test).unwrap_or_else(|| panic!("no row for {}", g.test));
        let flagged: Vec<&str> = row[5]
            .split(", ")
            .map(|f| f.trim_matches('`'))
            .filter(|f| *f != "—")
            .collect();
        records.push(json!({"test": g.test, "level": row[3].to_ascii_lowercase(),
            "exit": row[4].parse::<u8>().unwrap(), "flagged": flagged}));
    }
    let again = matrix::render_cells(&records, "DATE").unwrap();
    assert_eq!(
        undated(cells),
        undated(&again),
        "cells table differs from the generator's: run tests/interop/matrix.sh"
    );
    let again = matrix::render_grades(&records, "DATE").unwrap();
    assert_eq!(
        undated(grades),
        undated(&again),
        "grades table differs from the generator's: run tests/interop/matrix.sh"
    );
    assert_eq!(cells.lines().count(), CELLS.len() + 2);
    assert_eq!(grades.lines().count(), GRADES.len() + 2);
}
