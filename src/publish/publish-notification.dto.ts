import type { PublishBody, PushOptions } from '../protocol/wire';
import { BodySchema, PUBLISH_BODY_SCHEMA } from './publish-body.schema';

export { MAX_TOPICS, MAX_USERS } from './publish-body.schema';

const PUBLISH_BODY = new BodySchema<PublishNotificationDto>(PUBLISH_BODY_SCHEMA);

/**
 * A publish body (`POST /v1/notifications`), checked by {@link validate} against its one schema
 * (publish-body.schema.ts), which also describes it in the OpenAPI document.
 */
export class PublishNotificationDto implements PublishBody {
  users?: string[];
  topics?: string[];
  broadcast?: boolean;
  type!: string;
  payload!: unknown;
  push?: PushOptions;
  collapseKey?: string;
  expiresAt?: string;

  /** The body as a publish request, or every problem found (one per field), for a 400. */
  static validate(body: Record<string, unknown>): PublishNotificationDto | string[] {
    return PUBLISH_BODY.check(body);
  }
}
