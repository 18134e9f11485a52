// Writes the generated copies of the wire shapes (src/protocol/wire.ts) into the packages that cannot
// import the server's source: the client SDK, the publisher SDK, the bench (every target listed below).
// `node scripts/generate-wire.js --check` writes nothing and exits 1 when a copy is stale.
const { readFileSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');

const root = join(__dirname, '..');
const SOURCE = 'src/protocol/wire.ts';
const TARGETS = ['client/src/wire.ts', 'publisher/src/wire.ts', 'bench/support/wire.ts'];

/** The text every copy must have. */
function generated() {
  const header =
    `// GENERATED from ${SOURCE} by scripts/generate-wire.js: edit that file, then run \`npm run build\`.\n` +
    '// A unit test (src/protocol/wire.spec.ts) fails while this copy differs from it.\n';
  return header + readFileSync(join(root, SOURCE), 'utf8');
}

/** The targets whose content is not (or no longer) the generated text. */
function staleTargets() {
  const expected = generated();
  return TARGETS.filter((target) => {
    try {
      return readFileSync(join(root, target), 'utf8') !== expected;
    } catch {
      return true;
    }
  });
}

module.exports = { SOURCE, TARGETS, staleTargets };

if (require.main === module) {
  const stale = staleTargets();
  if (process.argv.includes('--check')) {
    if (stale.length > 0) {
      process.stderr.write(`stale copies of ${SOURCE}: ${stale.join(', ')} (run npm run build)\n`);
      process.exit(1);
    }
  } else {
    for (const target of stale) writeFileSync(join(root, target), generated());
  }
}
