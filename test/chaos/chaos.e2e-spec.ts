import { formatReport, runChaos } from './chaos';

/** The short chaos runs (the long ones: `npm run chaos`, `npm run chaos -- --cluster`; see README). */
describe('chaos', () => {
  it('delivers every accepted notification to every client once, in order, through drops, a replica kill and a Redis restart', async () => {
    const report = await runChaos({ seconds: 8, clients: 20, replicas: 3, dropEveryMs: 400 });
    process.stdout.write(`chaos (short run):\n${formatReport(report)}\n`);
    expect(report.accepted).toBeGreaterThan(100);
    expect(report.reconnects).toBeGreaterThan(10);
    expect(report).toMatchObject({ lost: 0, excused: 0, duplicates: 0, outOfOrder: 0, unrecovered: 0 });
    expect(report.unacknowledged).toBe(0);
    expect(report.delivered).toBe(report.expected);
  }, 90_000);

  it('on a Redis Cluster, delivers every accepted notification once, in order, or tells the client, through drops, a replica kill, a failover, a slot migration held open and a master kill', async () => {
    const report = await runChaos({
      seconds: 10,
      clients: 20,
      replicas: 3,
      dropEveryMs: 400,
      cluster: true,
      log: (line) => process.stdout.write(`[chaos] ${line}\n`),
    });
    process.stdout.write(`chaos on a Redis Cluster (short run):\n${formatReport(report)}\n`);
    expect(report.faults).toEqual([
      expect.stringMatching(/ s: kill of replica/),
      expect.stringMatching(/ s: failover of slot/),
      expect.stringMatching(/ s: migration of slot/),
      expect.stringMatching(/ s: kill of master/),
    ]);
    expect(report.accepted).toBeGreaterThan(100);
    expect(report.reconnects).toBeGreaterThan(10);
    expect(report).toMatchObject({ lost: 0, duplicates: 0, outOfOrder: 0, unacknowledged: 0 });
    expect(report.delivered + report.excused).toBe(report.expected);
  }, 120_000);
});
