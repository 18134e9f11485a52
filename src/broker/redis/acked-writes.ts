import { SerialTask } from '../../common/serial-task';

/**
 * Notifications this replica answered 202 for, remembered per node that stored them, so that when that
 * node stops being the one that serves their keys (a failover, a slot migration, a reconnect to another
 * master) they can be looked up where their keys are served now. A write acknowledged by a master but
 * not yet replicated is lost when its replica takes over — with nobody seeing it when no subscriber got
 * its message (a stalled master that answered queued publishes after its replica was promoted; a master
 * killed between the reply and the fan-out). Its channel then must start a new epoch, or the loss is
 * silent: the new master hands its offset to the next notification, and no replica notices a gap.
 *
 * A master replicates in the order it executed, so among one node's writes now served by one other
 * node, a write found there means every older one is there too: the audit looks from the newest back
 * and stops at the first write it finds; the writes after it are lost.
 */

export interface AckedWrite {
  /** The write's route (its hash slot on a cluster, 0 on one Redis): see {@link WriteRoutes}. */
  route: number;
  channel: string;
  offset: number;
  epoch: string;
  id: string;
}

/** Where writes go, and when that may change. */
export interface WriteRoutes {
  /** The route of a key (its hash slot on a cluster). */
  route(key: string): number;
  /** The node that serves a route now (undefined while nobody does, e.g. during a failover). */
  owner(route: number): string | undefined;
  /** Calls `listener` whenever an owner may have changed (a cluster slot refresh, a reconnect). */
  onChange(listener: () => void): void;
}

/**
 * What the node serving a write's channel now holds at its offset: the write (`present`), another
 * write or none in the same epoch (`lost`), or nothing that tells (`unknown`: the channel's life has
 * ended — its next notification starts a new epoch anyway — or the entry was trimmed from history).
 */
export type Verdict = 'present' | 'lost' | 'unknown';

export interface AuditHandlers {
  verify(write: AckedWrite): Promise<Verdict>;
  /** The writes found lost (newest first); resolves once their channels' epochs are ended. */
  lost(writes: readonly AckedWrite[], beyondMemory: boolean): Promise<void>;
  /** The audit could not reach the engine; it is retried. */
  failed(error: unknown): void;
}

/** Writes remembered per node: enough to cover the replication lag of any failover worth surviving. */
export const WRITES_PER_NODE = 16_384;
/** Writes looked up at once (their calls in flight together). */
const VERIFY_BATCH = 64;
const RETRY_DELAY_MS = 1000;

interface NodeLog {
  writes: AckedWrite[];
  /** Writes older than those kept were forgotten: an audit that finds every kept one lost may miss more. */
  forgotten: boolean;
}

export class AckedWrites {
  private readonly logs = new Map<string, NodeLog>();
  private readonly audits = new SerialTask(() => this.run());
  private retryTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly routes: WriteRoutes,
    private readonly handlers: AuditHandlers,
    private readonly perNode = WRITES_PER_NODE,
  ) {
    routes.onChange(() => this.audit());
  }

  /** Remembers a write that `node` acknowledged (the node its route had when it was sent). */
  record(node: string, write: AckedWrite): void {
    let log = this.logs.get(node);
    if (!log) this.logs.set(node, (log = { writes: [], forgotten: false }));
    log.writes.push(write);
    // Trimmed in halves, so that remembering stays O(1) amortised.
    if (log.writes.length >= 2 * this.perNode) {
      log.writes.splice(0, log.writes.length - this.perNode);
      log.forgotten = true;
    }
    // The reply came after its route moved (e.g. a stalled master answering queued publishes).
    if (this.routes.owner(write.route) !== node) this.audit();
  }

  /** Looks up every remembered write whose route has a new owner (at most one audit runs at a time). */
  audit(): void {
    this.audits.request();
  }

  /** Resolves once no audit is running; later changes start none. */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retryTimer);
    await this.audits.close();
  }

  private async run(): Promise<void> {
    for (const [node, log] of this.logs) {
      const moved = new Map<string, AckedWrite[]>();
      const kept: AckedWrite[] = [];
      for (const write of log.writes) {
        const owner = this.routes.owner(write.route);
        if (owner === node || owner === undefined) kept.push(write);
        else {
          const group = moved.get(owner);
          if (group) group.push(write);
          else moved.set(owner, [write]);
        }
      }
      if (moved.size === 0) continue;
      log.writes = kept;
      for (const group of moved.values()) {
        try {
          await this.auditGroup(group, log.forgotten);
        } catch (error) {
          // Looked up again once the engine answers: back to the front, oldest first.
          log.writes = group.concat(log.writes);
          this.handlers.failed(error);
          this.retryLater();
        }
      }
      if (log.writes.length === 0) this.logs.delete(node);
    }
  }

  /** One node's writes now served by one other node, oldest first. */
  private async auditGroup(writes: AckedWrite[], forgotten: boolean): Promise<void> {
    const lost: AckedWrite[] = [];
    for (let end = writes.length; end > 0; end -= VERIFY_BATCH) {
      const batch = writes.slice(Math.max(0, end - VERIFY_BATCH), end).reverse();
      const verdicts = await Promise.all(batch.map((write) => this.handlers.verify(write)));
      const found = verdicts.indexOf('present');
      for (let i = 0; i < (found === -1 ? batch.length : found); i++)
        if (verdicts[i] === 'lost') lost.push(batch[i]);
      if (found !== -1) {
        if (lost.length > 0) await this.handlers.lost(lost, false);
        return;
      }
    }
    if (lost.length > 0 || forgotten) await this.handlers.lost(lost, forgotten);
  }

  private retryLater(): void {
    if (this.retryTimer || this.closed) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.audit();
    }, RETRY_DELAY_MS);
    this.retryTimer.unref();
  }
}
