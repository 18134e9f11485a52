import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** The repository root: the nearest ancestor of this file holding both package.json and bench/. */
export const repoRoot: string = (() => {
  let dir = __dirname;
  for (let i = 0; i < 8; i++) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'bench'))) return dir;
    dir = dirname(dir);
  }
  throw new Error(`cannot find the repository root above ${__dirname}`);
})();

/** Compiled bench scripts (bench/tsconfig.json's outDir); child processes run these. */
export const benchDist = join(repoRoot, 'bench', 'dist');
export const logDir = join(benchDist, 'logs');
