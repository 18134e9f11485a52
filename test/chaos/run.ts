/**
 * The chaos run, by hand: `npm run chaos -- --seconds 120 --clients 200 --replicas 3 --drop-every-ms 500`;
 * with `--cluster`, on a Redis Cluster (3 masters with a replica each) with a failover, a slot
 * migration and a master kill instead of the Redis restart. Builds nothing itself: `npm run chaos`
 * builds first. Exits 1 unless every accepted notification reached every client once, in order (or
 * the client was told it could not: an epoch end or `recovered: false`), and none arrived without a 202.
 */
import { formatReport, runChaos } from './chaos';

function option(name: string, fallback: number): number {
  const index = process.argv.indexOf(`--${name}`);
  const value = index >= 0 ? Number(process.argv[index + 1]) : fallback;
  if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name} must be a positive number`);
  return value;
}

async function main(): Promise<void> {
  const options = {
    seconds: option('seconds', 60),
    clients: option('clients', 100),
    replicas: option('replicas', 3),
    dropEveryMs: option('drop-every-ms', 500),
    cluster: process.argv.includes('--cluster'),
    log: (line: string) => process.stdout.write(`[chaos] ${line}\n`),
  };
  process.stdout.write(`[chaos] ${JSON.stringify({ ...options, log: undefined })}\n`);
  const report = await runChaos(options);
  process.stdout.write(`${formatReport(report)}\n`);
  const clean =
    report.lost === 0 && report.duplicates === 0 && report.outOfOrder === 0 && report.unacknowledged === 0;
  process.exit(clean ? 0 : 1);
}

main().catch((error: Error) => {
  process.stderr.write(`${error.stack ?? error.message}\n`);
  process.exit(1);
});
