import type { Cluster, Redis } from 'ioredis';

/**
 * The connection Redis-backed stores send their commands on: one Redis (single or Sentinel mode) or a
 * Redis Cluster. Stores must keep every call's keys in one hash slot (a `{…}` tag), so that the same
 * code runs on both.
 */
export type EngineCommands = Redis | Cluster;

/** Whether the connection is a Redis Cluster client (whose calls each stay in one hash slot). */
export const isCluster = (commands: EngineCommands): commands is Cluster =>
  'slots' in commands && 'nodes' in commands;
