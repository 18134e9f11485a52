import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { SIGNATURE_HEADER, signWebhook } from './webhook-signature';

/** What one attempt came to. Any 2xx is `delivered`; redirects are not followed (a `failed_status`). */
export type AttemptOutcome =
  | { outcome: 'delivered'; status: number }
  | { outcome: 'failed_status'; status: number }
  | { outcome: 'timeout' }
  | { outcome: 'network_error'; message: string };

export const USER_AGENT = 'Herald-Webhooks/1';

export interface WebhookSenderOptions {
  url: string;
  secret: string;
  /** The whole exchange: connect, send, the answer's status line and headers. */
  timeoutMs: number;
  /** Connections kept open to the endpoint (the dispatcher's concurrency). */
  maxSockets: number;
}

/**
 * POSTs signed webhook bodies to WEBHOOK_URL over a keep-alive pool of its own. Never throws: every
 * failure (a status, a timeout, a refused or reset connection) is an outcome for the dispatcher.
 */
export class WebhookSender {
  private readonly agent: HttpAgent;
  private readonly request: typeof httpRequest;

  constructor(
    private readonly options: WebhookSenderOptions,
    private readonly now: () => number = Date.now,
  ) {
    const https = new URL(options.url).protocol === 'https:';
    const poolOptions = {
      keepAlive: true,
      maxSockets: options.maxSockets,
      maxFreeSockets: options.maxSockets,
    };
    this.agent = https ? new HttpsAgent(poolOptions) : new HttpAgent(poolOptions);
    this.request = https ? httpsRequest : httpRequest;
  }

  send(body: string, attempt: number): Promise<AttemptOutcome> {
    return new Promise((resolve) => {
      let settled = false;
      const finish = (outcome: AttemptOutcome): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(outcome);
      };
      const req = this.request(
        this.options.url,
        {
          method: 'POST',
          agent: this.agent,
          headers: {
            'Content-Type': 'application/json',
            'Content-Length': Buffer.byteLength(body),
            'User-Agent': USER_AGENT,
            [SIGNATURE_HEADER]: signWebhook(this.options.secret, body, this.now()),
            'Herald-Webhook-Attempt': String(attempt),
          },
        },
        (res) => {
          const status = res.statusCode ?? 0;
          finish(
            status >= 200 && status < 300
              ? { outcome: 'delivered', status }
              : { outcome: 'failed_status', status },
          );
          // The answer's body is not read, only drained so that the connection goes back to the pool.
          res.on('error', () => undefined);
          res.resume();
        },
      );
      const timer = setTimeout(() => {
        finish({ outcome: 'timeout' });
        req.destroy();
      }, this.options.timeoutMs);
      req.on('error', (error) => finish({ outcome: 'network_error', message: error.message }));
      req.end(body);
    });
  }

  /** Cuts every connection: in-flight attempts end as `network_error`. */
  close(): void {
    this.agent.destroy();
  }
}
