import { Controller, Get, Inject, Req, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiProduces, ApiQuery, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { STATUS_CODES } from 'node:http';
import type { ChannelPosition } from '../broker/broker';
import { BROADCAST, isTopicName, topicChannel, userChannel } from '../common/channel';
import { ApiErrorResponses } from '../common/api-errors';
import { HandshakeGate, Refusal, RequestReader } from '../session/handshake';
import { MAX_TOPICS_PER_SESSION, SessionService } from '../session/session.service';
import { channelTag, decodeEventId } from './sse-event-id';
import { SseTransport } from './sse.transport';

/** What an SSE request asks for, read once its token is known. */
interface SseRequest {
  topics: string[];
  recover: Map<string, ChannelPosition>;
}

const refused = (status: number, message: string): { refused: Refusal } => ({ refused: { status, message } });

/**
 * The `topics` query (≤ 100 names, each allowed by the token) and the position to recover from:
 * `Last-Event-ID` (EventSource's reconnect) or the `lastEventId` query (a new EventSource opened with a
 * renewed token), matched to the stream's channels by their tags.
 */
function readSseRequest(query: URLSearchParams, lastEventId: string | undefined): RequestReader<SseRequest> {
  return (identity) => {
    const raw = query.get('topics');
    const topics = raw === null || raw === '' ? [] : [...new Set(raw.split(','))];
    if (topics.length > MAX_TOPICS_PER_SESSION)
      return refused(400, `at most ${MAX_TOPICS_PER_SESSION} topics per stream`);
    const malformed = topics.find((topic) => !isTopicName(topic));
    if (malformed !== undefined)
      return refused(400, `topic ${JSON.stringify(malformed)} is not 1-200 characters of [A-Za-z0-9._:-]`);
    const forbidden = topics.find((topic) => SessionService.refusal(identity, topicChannel(topic)));
    if (forbidden !== undefined) return refused(403, `your token does not allow topic:${forbidden}`);
    const recover = new Map<string, ChannelPosition>();
    const id = lastEventId ?? query.get('lastEventId') ?? undefined;
    if (id !== undefined && id !== '') {
      const positions = decodeEventId(id);
      if (!positions) return refused(400, 'Last-Event-ID (or lastEventId) is not an event id of this stream');
      for (const channel of [userChannel(identity.userId), BROADCAST, ...topics.map(topicChannel)]) {
        const position = positions.get(channelTag(channel));
        if (position) recover.set(channel, position);
      }
    }
    return { value: { topics, recover } };
  };
}

/**
 * `GET /v1/sse`: the receive-only transport. The same handshake as the WebSocket (token, rate limit,
 * per-user cap shared across both transports), refused with the same statuses before any stream; an
 * admitted request becomes a session on its personal, the broadcast and the asked topics' channels.
 */
@ApiTags('sse')
@Controller('v1/sse')
export class SseController {
  constructor(
    @Inject(HandshakeGate) private readonly gate: HandshakeGate,
    @Inject(SessionService) private readonly sessions: SessionService,
  ) {}

  @Get()
  @ApiBearerAuth('clientToken')
  @ApiProduces('text/event-stream')
  @ApiQuery({ name: 'access_token', required: false, description: 'client JWT, for browsers (EventSource)' })
  @ApiQuery({ name: 'topics', required: false, description: 'comma-separated topic names to join (≤ 100)' })
  @ApiQuery({ name: 'lastEventId', required: false, description: 'recover from this event id' })
  @ApiOkResponse({
    description:
      '`text/event-stream`: `ready`, one `subscribed` per channel, `notification` events (with `id:`), ' +
      '`error` before the stream ends; see docs/PROTOCOL.md',
  })
  @ApiErrorResponses(400, 401, 403, 429, 503)
  async stream(@Req() request: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    const query = new URL(request.raw.url ?? '/', 'http://localhost').searchParams;
    const header = request.headers['last-event-id'];
    const lastEventId = typeof header === 'string' ? header : undefined;
    const result = await this.gate.admit(request.raw, query, readSseRequest(query, lastEventId));
    if ('refused' in result) {
      const { status, message, headers = {} } = result.refused;
      await reply
        .status(status)
        .headers(headers)
        .send({ statusCode: status, error: STATUS_CODES[status] ?? 'Error', message });
      return;
    }
    const { admitted } = result;
    const response = reply.raw;
    if (response.destroyed) {
      this.gate.forget(admitted);
      return;
    }
    reply.hijack();
    response.writeHead(200, {
      'X-Request-Id': request.id,
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache, no-transform',
      Connection: 'keep-alive',
      // nginx: do not buffer this response (deploy/nginx.conf also turns buffering off for /v1/sse).
      'X-Accel-Buffering': 'no',
    });
    const session = this.sessions.start({
      connectionId: admitted.connectionId,
      identity: admitted.identity,
      transport: new SseTransport(response),
      topics: admitted.request.topics,
      recover: admitted.request.recover,
      announceAll: true,
    });
    response.once('close', () => this.sessions.ended(session));
  }
}
