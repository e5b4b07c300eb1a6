/**
 * npm run bench — every benchmark, one after the other (they would disturb each other's timings
 * side by side), then the README's benchmark table rewritten from their results.
 */

import { rewriteReadmeTable } from './readme-table.ts';
import { runCommand } from './support.ts';

const BENCHES = ['generate', 'load', 'analytics', 'orchestration', 'dashboard', 'status'];
const only = process.argv.includes('--table-only');

for (const bench of only ? [] : BENCHES) {
  console.log(`\n== npm run bench:${bench}`);
  const output = await runCommand('npm', ['run', '--silent', `bench:${bench}`]);
  console.log(output.trimEnd());
}
rewriteReadmeTable();
console.log('\nREADME.md: benchmark table rewritten from bench/results/');
