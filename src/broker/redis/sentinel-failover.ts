import { Logger } from '@nestjs/common';
import type Redis from 'ioredis';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { RedisNodeAddress } from '../../config/redis-topology';

/** The leader Sentinel is about to promote a replica (it sends REPLICAOF NO ONE at its next tick). */
const PROMOTING = '+failover-state-send-slaveof-noone';
/** The Sentinel names the new master: `<master> <old ip> <old port> <new ip> <new port>`. */
const SWITCHED = '+switch-master';
/** A failover gave up (`-failover-abort-slave-timeout`, …): `master <master> <ip> <port>`. */
const ABORTED = '-failover-abort-*';
/**
 * Publishes are held at most this long per failover: Sentinel promotes a replica and names it within
 * a second or two; a replica that never hears of the new master (its Sentinel links down) or whose
 * connection landed on the old master again is not held for ever (its writes' loss is then announced,
 * as without the hold).
 */
const HOLD_MAX_MS = 10_000;

interface Hold {
  since: number;
  timer: NodeJS.Timeout;
  /** The new master, once a Sentinel named it. */
  to?: RedisNodeAddress;
}

/**
 * Holds publishes (503, retried by publishers under their Idempotency-Key) while a Sentinel failover
 * of the master is under way, from the moment the leader Sentinel chose the replica to promote until
 * the command connection is on the new master. In a planned failover (`SENTINEL FAILOVER`) the old
 * master keeps accepting writes after the promotion until Sentinel turns it into a replica (seconds
 * later) and discards them; without the hold, those answered 202 in between would be lost (announced
 * by a new epoch). The leader Sentinel announces the promotion one Sentinel tick (50–100 ms) before it
 * sends REPLICAOF NO ONE, so writes sent before the hold reach the replica while it still replicates.
 * Every configured Sentinel is watched: only the leader announces the failover's steps.
 */
export class SentinelFailoverHold {
  private readonly logger = new Logger('Redis');
  private hold: Hold | undefined;
  /** The last new master a hold ended on (`host:port`): the other Sentinels name it again later. */
  private reached: string | undefined;

  constructor(
    private readonly masterName: string,
    private readonly commands: Redis,
    private readonly sentinels: Redis[],
  ) {
    for (const sentinel of sentinels) {
      sentinel.on('message', (channel: string, message: string) => this.onEvent(channel, message));
      sentinel.on('pmessage', (_pattern: string, channel: string, message: string) =>
        this.onEvent(channel, message),
      );
    }
    commands.on('ready', () => void this.releaseIfServed());
  }

  /** Subscribes to every Sentinel's failover events (each connects and resubscribes by itself). */
  start(): void {
    for (const sentinel of this.sentinels) {
      sentinel.subscribe(PROMOTING, SWITCHED).catch(() => undefined);
      sentinel.psubscribe(ABORTED).catch(() => undefined);
    }
  }

  /** Why publishes must wait now, or undefined. */
  reason(): string | undefined {
    return this.hold && `a Sentinel failover of "${this.masterName}" is in progress`;
  }

  close(): void {
    if (this.hold) clearTimeout(this.hold.timer);
    this.hold = undefined;
    for (const sentinel of this.sentinels) sentinel.disconnect();
  }

  private onEvent(channel: string, message: string): void {
    const words = message.split(' ');
    if (channel === PROMOTING) {
      // `slave <name> <ip> <port> @ <master> <master ip> <master port>`
      if (words[words.indexOf('@') + 1] !== this.masterName) return;
      this.begin(`promoting ${words[1]}`);
    } else if (channel === SWITCHED) {
      const to = `${words[3]}:${words[4]}`;
      // Each Sentinel announces the switch once it learns of it, the followers up to seconds later.
      if (words[0] !== this.masterName || (!this.hold && to === this.reached)) return;
      // Also without the promotion's announcement (a Sentinel link that came back late): until the
      // connection moves, writes would still go to the old master.
      this.begin(`${to} is the new master`);
      if (this.hold) this.hold.to = { host: words[3], port: Number(words[4]) };
      void this.releaseIfServed();
    } else if (channel.startsWith('-failover-abort-') && words[1] === this.masterName) {
      this.release(`the failover was aborted (${channel})`);
    }
  }

  private begin(why: string): void {
    if (this.hold) return;
    const timer = setTimeout(
      () => this.release(`no connection to a new master within ${HOLD_MAX_MS} ms`, 'warn'),
      HOLD_MAX_MS,
    );
    timer.unref();
    this.hold = { since: Date.now(), timer };
    this.logger.warn(
      `Sentinel failover of "${this.masterName}" under way (${why}): publishes answer 503 until the new master serves them`,
    );
  }

  private release(why: string, level: 'log' | 'warn' = 'log'): void {
    const hold = this.hold;
    if (!hold) return;
    clearTimeout(hold.timer);
    this.hold = undefined;
    this.logger[level](`publishes resume after ${Date.now() - hold.since} ms: ${why}`);
  }

  /** Ends the hold once the command connection is ready on the master a Sentinel named. */
  private async releaseIfServed(): Promise<void> {
    const hold = this.hold;
    const to = hold?.to;
    if (!to || !(await connectedTo(this.commands, to)) || this.hold !== hold) return;
    this.reached = `${to.host}:${to.port}`;
    this.release(`connected to the new master ${this.reached}`);
  }
}

/** Whether the connection is ready and its socket's peer is `address` (a host name is resolved). */
async function connectedTo(connection: Redis, address: RedisNodeAddress): Promise<boolean> {
  const stream = connection.stream as { remoteAddress?: string; remotePort?: number } | undefined;
  if (connection.status !== 'ready' || stream?.remotePort !== address.port || !stream.remoteAddress)
    return false;
  const peer = stream.remoteAddress.replace(/^::ffff:/, '');
  if (peer === address.host) return true;
  if (isIP(address.host) !== 0) return false;
  const resolved = await lookup(address.host, { all: true }).catch(() => []);
  return resolved.some(({ address: ip }) => ip === peer);
}
