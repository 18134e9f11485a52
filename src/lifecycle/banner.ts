import { describeTopology } from '../config/redis-topology';
import jwt from 'jsonwebtoken';
import { AppConfig } from '../config/app-config';

/**
 * Development only: how to try the service at once. Prints secrets this process generated (never
 * configured ones) — in production nothing is generated and this is not called.
 */
export function printBanner(config: AppConfig, url: string): void {
  const base = url.replace('[::1]', 'localhost').replace('127.0.0.1', 'localhost');
  const apiKey = config.generated.apiKey?.secret ?? '<one of your API_KEYS>';
  const secret = config.generated.jwtSecret;
  const token = secret
    ? jwt.sign({ sub: 'alice', topics: ['*'] }, secret, { algorithm: 'HS256', expiresIn: '24h' })
    : '<a client token from your identity provider, or signed with your JWT_SECRET>';
  const engine = config.redis
    ? describeTopology(config.redis)
    : 'embedded memory (one replica; set REDIS_URL for Redis)';
  const lines = [
    '',
    `Herald is listening on ${base}  (engine: ${engine})`,
    '',
    config.demo
      ? `  Demo page:  ${base}/demo  (connect, subscribe and publish from the browser)`
      : '  Demo page:  off (credentials are configured)',
    '',
    config.generated.jwtSecret ? `  JWT_SECRET (generated): ${config.generated.jwtSecret}` : '',
    config.generated.apiKey ? `  API key (generated):    ${apiKey}` : '',
    '',
    '  Connect as alice (token valid 24 h):',
    `    ${base.replace(/^http/, 'ws')}/v1/ws?access_token=${token}`,
    '',
    '  Notify alice:',
    `    curl -sS -X POST ${base}/v1/notifications -H 'Authorization: Bearer ${apiKey}' \\`,
    `      -H 'Content-Type: application/json' -d '{"users":["alice"],"type":"hello","payload":{"text":"hi"}}'`,
    '',
  ];
  process.stdout.write(lines.filter((line, i, all) => line !== '' || all[i - 1] !== '').join('\n') + '\n');
}
