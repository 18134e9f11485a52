import { Injectable, NotFoundException } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

/** The repository root: two levels up from `dist/demo/` (the running app) and from `src/demo/` alike. */
const ROOT = join(__dirname, '..', '..');
const JAVASCRIPT = 'text/javascript; charset=utf-8';

/**
 * The files of the demo page, by the name they are served under (`page` is `/demo` itself). Plain files
 * from `demo/` at the repository root, the SDK's ES module build and its service-worker helper, made by
 * the root `npm run build`. That build is one runtime file: its only import (`./wire.js`) is type-only
 * and erased by tsc.
 */
const ASSETS = {
  page: { file: join(ROOT, 'demo', 'index.html'), contentType: 'text/html; charset=utf-8' },
  'demo.css': { file: join(ROOT, 'demo', 'demo.css'), contentType: 'text/css; charset=utf-8' },
  'demo.js': { file: join(ROOT, 'demo', 'demo.js'), contentType: JAVASCRIPT },
  'herald-client.js': { file: join(ROOT, 'client', 'dist', 'esm', 'index.js'), contentType: JAVASCRIPT },
  'herald-service-worker.js': {
    file: join(ROOT, 'client', 'dist', 'herald-service-worker.js'),
    contentType: JAVASCRIPT,
  },
} as const;

export type DemoAsset = keyof typeof ASSETS;

/**
 * Only this page's own scripts and styles, and WebSockets to this host: the feed shows publishers'
 * payloads, and they are written as text, but nothing else could run even if one slipped through.
 */
const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "connect-src 'self' ws: wss:",
  "img-src 'self' data:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** Reads the demo files on every request (development only), so an edit shows on the next reload. */
@Injectable()
export class DemoAssets {
  async send(name: DemoAsset, reply: FastifyReply): Promise<Buffer> {
    const { file, contentType } = ASSETS[name];
    let content: Buffer;
    try {
      content = await readFile(file);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      const hint = name.startsWith('herald-') ? ': run `npm run build` to build the client SDK' : '';
      throw new NotFoundException(`${file} is missing${hint}`);
    }
    void reply
      .type(contentType)
      .header('Cache-Control', 'no-cache')
      .header('X-Content-Type-Options', 'nosniff')
      .header('Content-Security-Policy', CONTENT_SECURITY_POLICY);
    return content;
  }
}
