import type { EngineCommands } from '../../engine/engine-commands';

/**
 * How notifications travel from the publish script to this replica: classic pub/sub on one Redis
 * (single and Sentinel modes), sharded pub/sub on a cluster. Channel names here are Redis pub/sub
 * channels (`herald:{<channel>}`).
 */
export interface PubSubLink {
  /** The command the publish script publishes with: PUBLISH or SPUBLISH. */
  readonly publishCommand: 'PUBLISH' | 'SPUBLISH';
  /** Resolves once the link can carry messages (its probe channels are subscribed). */
  start(): Promise<void>;
  /**
   * Subscribes the channels; resolves, once each is in effect or has failed, with one entry per
   * channel: undefined when in effect, else why not.
   */
  subscribe(channels: readonly string[]): Promise<(Error | undefined)[]>;
  unsubscribe(channels: readonly string[]): void;
  /** True when a message published now through `commands` comes back through every part of the link. */
  isHealthy(commands: EngineCommands): Promise<boolean>;
  close(): Promise<void>;
  onMessage(listener: (channel: string, message: string) => void): void;
  /**
   * After subscriptions were lost and are back in effect, or moved to another node: messages on the
   * channels `affects` names (every channel when undefined) may have been missed.
   */
  onResync(listener: (affects: ((channel: string) => boolean) | undefined) => void): void;
}

/** Probe messages: a nonce published on a probe channel, resolved when it comes back. */
export class Probes {
  private readonly waiting = new Map<string, () => void>();

  /** Resolves true when `nonce` is received within `timeoutMs` after `send` ran, false otherwise. */
  async roundTrip(nonce: string, timeoutMs: number, send: () => Promise<unknown>): Promise<boolean> {
    const received = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => {
        this.waiting.delete(nonce);
        resolve(false);
      }, timeoutMs);
      this.waiting.set(nonce, () => {
        clearTimeout(timer);
        resolve(true);
      });
    });
    try {
      await send();
    } catch {
      this.received(nonce);
      return false;
    }
    return received;
  }

  received(nonce: string): void {
    this.waiting.get(nonce)?.();
    this.waiting.delete(nonce);
  }
}
