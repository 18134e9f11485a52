import type { Cluster, Redis } from 'ioredis';

/**
 * The connection Redis-backed stores send their commands on: one Redis (single or Sentinel mode) or a
 * Redis Cluster. Stores must keep every call's keys in one hash slot (a `{…}` tag), so that the same
 * code runs on both.
 */
export type EngineCommands = Redis | Cluster;
