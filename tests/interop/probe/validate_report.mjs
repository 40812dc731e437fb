// Validates `gate402 probe --json` reports against docs/probe-report.schema.json with Ajv
// (draft 2020-12, formats on, strict). Usage: node validate_report.mjs <schema> <report.json>...
// Prints one JSON line: {"checked": n, "errors": [{file, errors}]}; exits 1 on any invalid report.
import { readFileSync } from "node:fs";
import Ajv2020 from "ajv/dist/2020.js";
import addFormats from "ajv-formats";

const [schemaPath, ...reports] = process.argv.slice(2);
const ajv = new Ajv2020({ allErrors: true, strict: true });
addFormats(ajv);
const validate = ajv.compile(JSON.parse(readFileSync(schemaPath, "utf8")));
const errors = [];
for (const file of reports) {
  if (!validate(JSON.parse(readFileSync(file, "utf8")))) errors.push({ file, errors: validate.errors });
}
console.log(JSON.stringify({ checked: reports.length, errors }));
process.exit(errors.length ? 1 : 0);
