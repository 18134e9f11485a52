import { ArgumentsHost, BadRequestException, ForbiddenException, Logger } from '@nestjs/common';
import { EngineUnavailableError } from './errors';
import { ENGINE_RETRY_AFTER_SECONDS, HttpErrorFilter } from './http-errors';

/** A Fastify reply that records what the filter wrote. */
const aReply = () => {
  const written: { status?: number; headers: Record<string, string>; body?: unknown } = { headers: {} };
  const reply = {
    status: (code: number) => ((written.status = code), reply),
    header: (name: string, value: string) => ((written.headers[name] = value), reply),
    send: (body: unknown) => ((written.body = body), reply),
  };
  const host = { switchToHttp: () => ({ getResponse: () => reply }) } as unknown as ArgumentsHost;
  return { host, written };
};

describe(HttpErrorFilter.name, () => {
  const sut = new HttpErrorFilter();

  beforeAll(() => jest.spyOn(Logger.prototype, 'error').mockImplementation(() => undefined));
  afterAll(() => jest.restoreAllMocks());

  it.each([
    [new BadRequestException('users must be an array'), 400, 'Bad Request', 'users must be an array'],
    [new BadRequestException(['a is bad', 'b is bad']), 400, 'Bad Request', 'a is bad; b is bad'],
    [new ForbiddenException('no "read" scope'), 403, 'Forbidden', 'no "read" scope'],
  ])('answers %s in the error shape', (exception, statusCode, error, message) => {
    const { host, written } = aReply();
    sut.catch(exception, host);
    expect(written).toEqual({ status: statusCode, headers: {}, body: { statusCode, error, message } });
  });

  it('answers an engine outage with 503 and Retry-After', () => {
    const { host, written } = aReply();
    sut.catch(new EngineUnavailableError(new Error('ECONNREFUSED')), host);
    expect(written.status).toBe(503);
    expect(written.headers).toEqual({ 'Retry-After': String(ENGINE_RETRY_AFTER_SECONDS) });
    expect(written.body).toMatchObject({ statusCode: 503, error: 'Service Unavailable' });
  });

  it.each([new RangeError('Maximum call stack size exceeded'), 'a thrown string', undefined])(
    'answers what nobody foresaw (%p) with a 500 in the same shape, without its details',
    (thrown) => {
      const { host, written } = aReply();
      sut.catch(thrown, host);
      expect(written).toEqual({
        status: 500,
        headers: {},
        body: { statusCode: 500, error: 'Internal Server Error', message: 'internal error' },
      });
    },
  );
});
