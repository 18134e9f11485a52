import { formatReport, runChaos } from './chaos';

/** The short chaos run (the long one: `npm run chaos`, see README). */
describe('chaos', () => {
  it('delivers every accepted notification to every client once, in order, through drops, a replica kill and a Redis restart', async () => {
    const report = await runChaos({ seconds: 8, clients: 20, replicas: 3, dropEveryMs: 400 });
    process.stdout.write(`chaos (short run):\n${formatReport(report)}\n`);
    expect(report.accepted).toBeGreaterThan(100);
    expect(report.reconnects).toBeGreaterThan(10);
    expect(report).toMatchObject({ lost: 0, duplicates: 0, outOfOrder: 0, unrecovered: 0 });
    expect(report.delivered).toBe(report.expected);
  }, 90_000);
});
