import { Injectable } from '@nestjs/common';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { BROADCAST, ChannelKind } from '../common/channel';

/**
 * Every Prometheus metric of the service, in one registry (served at /metrics). Names and labels are
 * documented in the README's operations section.
 */
@Injectable()
export class Metrics {
  readonly registry = new Registry();

  readonly connections = new Gauge({
    name: 'herald_connections',
    help: 'Open WebSocket connections on this replica',
    registers: [this.registry],
  });

  readonly subscriptions = new Gauge({
    name: 'herald_subscriptions',
    help: 'Channel memberships of connections on this replica, by channel kind',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });

  readonly published = new Counter({
    name: 'herald_notifications_published_total',
    help: 'Notifications stored by publishes on this replica, one per target channel, by channel kind',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });

  readonly delivered = new Counter({
    name: 'herald_notifications_delivered_total',
    help: 'Notification frames written to connections on this replica (live, replayed and caught up), by channel kind',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });

  /**
   * `published` and `delivered` per kind, labelled once: they move on every notification, and
   * labelling on each call hashes the labels each time.
   */
  readonly publishedOf = byKind(this.published);
  readonly deliveredOf = byKind(this.delivered);

  readonly publishDuration = new Histogram({
    name: 'herald_publish_duration_seconds',
    help: 'Time to store a publish request in every target channel (engine round trip)',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [this.registry],
  });

  readonly deliveryLag = new Histogram({
    name: 'herald_delivery_lag_seconds',
    help: 'From the publish being stored to its dispatch on this replica',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });

  readonly cutOffs = new Counter({
    name: 'herald_connection_cutoffs_total',
    help: 'Connections closed by the server, by reason (slow_consumer 4008, heartbeat 4009, token_expired 4001)',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  readonly redisReconnects = new Counter({
    name: 'herald_redis_reconnects_total',
    help: 'Redis connections re-established after a loss, by client role',
    labelNames: ['role'] as const,
    registers: [this.registry],
  });

  readonly redisShardSubscriptions = new Gauge({
    name: 'herald_redis_shard_subscriptions',
    help: 'Redis Cluster: channels this replica holds a sharded subscription for, by shard (its master, host:port)',
    labelNames: ['shard'] as const,
    registers: [this.registry],
  });

  readonly redisShardReconnects = new Counter({
    name: 'herald_redis_shard_reconnects_total',
    help: "Redis Cluster: this replica's sharded pub/sub connection re-established after a loss, by shard",
    labelNames: ['shard'] as const,
    registers: [this.registry],
  });

  readonly redisShardResyncs = new Counter({
    name: 'herald_redis_shard_resyncs_total',
    help: 'Redis Cluster: slots whose subscriptions moved or came back (their channels catch up from history), by shard',
    labelNames: ['shard'] as const,
    registers: [this.registry],
  });

  readonly replayed = new Counter({
    name: 'herald_notifications_replayed_total',
    help: 'Notifications sent from history: to a recovering client (recovery) or to fill a gap on this replica (catch_up)',
    labelNames: ['source'] as const,
    registers: [this.registry],
  });

  readonly historyLosses = new Counter({
    name: 'herald_history_losses_total',
    help: 'Channels whose epoch this replica ended because Redis lost acknowledged writes: it reused offsets this replica had delivered, or lacked notifications this replica had answered 202 for after a failover or reconnect',
    registers: [this.registry],
  });

  readonly httpRequests = new Counter({
    name: 'herald_http_requests_total',
    help: 'HTTP requests answered, by method, route and status (e.g. publish 429s and 503s)',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [this.registry],
  });

  readonly idempotentReplays = new Counter({
    name: 'herald_idempotent_replays_total',
    help: 'Publish requests answered with the stored response of an earlier request with the same Idempotency-Key',
    registers: [this.registry],
  });

  readonly webhookAttempts = new Counter({
    name: 'herald_webhook_attempts_total',
    help: 'Webhook POSTs made by this replica, by outcome (delivered: 2xx; failed_status: another status; timeout; network_error: refused, reset, TLS…)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  readonly webhooksDropped = new Counter({
    name: 'herald_webhook_events_dropped_total',
    help: 'Webhook events given up by this replica after their last attempt failed',
    registers: [this.registry],
  });

  readonly webhooksPending = new Gauge({
    name: 'herald_webhook_pending_events',
    help: 'Webhook events waiting in the engine (due, waiting for a retry, or being sent), cluster-wide, as of this replica’s last poll',
    registers: [this.registry],
  });

  readonly pushRequests = new Counter({
    name: 'herald_push_requests_total',
    help: 'Web Push requests sent by this replica, by outcome: accepted (2xx), gone (404/410, subscription deleted), rejected (413, other 4xx, message too large, private address), retry (429, 5xx, timeout, network error)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  readonly pushesSettled = new Counter({
    name: 'herald_pushes_settled_total',
    help: 'Pushes of one notification to one user settled by this replica, by final state (pushed, push_failed, expired, no_subscriptions)',
    labelNames: ['state'] as const,
    registers: [this.registry],
  });

  readonly pushSubscriptionsRemoved = new Counter({
    name: 'herald_push_subscriptions_removed_total',
    help: 'Push subscriptions deleted, by reason (gone: 404/410 from the push service; replaced: the 101st of a user; moved: registered by another user; unsubscribed: DELETE)',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  readonly pushLatency = new Histogram({
    name: 'herald_push_latency_seconds',
    help: 'From the notification being published to the first push service accepting its push (includes afterMs for online users)',
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600],
    registers: [this.registry],
  });

  readonly acknowledged = new Counter({
    name: 'herald_notifications_acknowledged_total',
    help: 'First acknowledgements of a notification published with push by one user (notification.delivered), on this replica',
    registers: [this.registry],
  });

  constructor() {
    // Event-loop lag sampled every 100 ms (prom-client's default, 10 ms, wakes an idle replica 100 times a second).
    collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: 100 });
  }
}

function byKind(counter: Counter<'kind'>): Record<ChannelKind, Counter.Internal> {
  return {
    user: counter.labels('user'),
    topic: counter.labels('topic'),
    broadcast: counter.labels('broadcast'),
  };
}

/** The label of a (valid) channel's kind: `user`, `topic` or `broadcast`, from its prefix alone. */
export function kindOf(channel: string): ChannelKind {
  if (channel.startsWith('user:')) return 'user';
  return channel === BROADCAST ? 'broadcast' : 'topic';
}
