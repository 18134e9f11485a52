import { request } from 'node:http';

export interface HttpResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

/**
 * One HTTP request on its own connection (no keep-alive pool, unlike global fetch, so that nothing
 * outlives the test), with a timeout.
 */
export function httpRequest(
  method: string,
  url: string,
  {
    body,
    headers = {},
    timeoutMs = 10_000,
  }: { body?: string | Buffer; headers?: Record<string, string>; timeoutMs?: number } = {},
): Promise<HttpResponse> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers, agent: false, timeout: timeoutMs }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${url} timed out after ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}

export async function getJson(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: HttpResponse['headers']; body: Record<string, unknown> }> {
  const response = await httpRequest('GET', url, { headers });
  return {
    status: response.status,
    headers: response.headers,
    body: response.text ? (JSON.parse(response.text) as Record<string, unknown>) : {},
  };
}
