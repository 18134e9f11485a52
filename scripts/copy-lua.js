// Copies the Redis scripts (src/**/*.lua) next to the compiled code in dist/, which tsc does not do.
const { cpSync, readdirSync } = require('node:fs');
const { join, relative } = require('node:path');

const root = join(__dirname, '..');
const walk = (dir) =>
  readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? walk(join(dir, entry.name))
      : entry.name.endsWith('.lua')
        ? [join(dir, entry.name)]
        : [],
  );
for (const file of walk(join(root, 'src'))) {
  cpSync(file, join(root, 'dist', relative(join(root, 'src'), file)));
}
