/**
 * Herald's publisher SDK for backend services (Node ≥ 20): publish with an Idempotency-Key that
 * survives retries, retried on 503 / 429 / lost connections within a deadline, chunked to Herald's
 * limits; history, presence and delivery status; client-token signing; webhook verification. No runtime dependencies.
 * The NestJS module is in `@herald/publisher/nest`.
 */
export {
  HeraldPublisher,
  type CallOptions,
  type HeraldPublisherOptions,
  type HistoryOptions,
  type NotifyManyItemResult,
  type NotifyManyResult,
  type NotifyResult,
  type Published,
  type PublishOptions,
  type RetryEvent,
} from './herald-publisher';
export { HeraldError, type HeraldErrorDetails, type HeraldErrorKind } from './errors';
export {
  signClientToken,
  type ClientTokenAlgorithm,
  type ClientTokenClaims,
  type ClientTokenKey,
} from './client-token';
export {
  verifyWebhook,
  DEFAULT_WEBHOOK_TOLERANCE_MS,
  WEBHOOK_SIGNATURE_HEADER,
  WebhookVerificationError,
  type VerifyWebhookOptions,
  type WebhookVerificationReason,
} from './webhooks';
export { RETRYABLE_STATUSES, type RetryOptions } from './retry';
export {
  DEFAULT_MAX_PAYLOAD_BYTES,
  MAX_BATCH_BODY_BYTES,
  MAX_BATCH_ITEMS,
  MAX_IDEMPOTENCY_KEY_LENGTH,
  MAX_USERS_PER_PUBLISH,
} from './limits';
export type {
  BatchItem,
  ChannelName,
  Delivery,
  DeliveryState,
  DeliveryStatusResponse,
  HistoryResponse,
  NotificationData,
  PresenceResponse,
  PublishBody,
  PublishResponse,
  WebhookEvent,
  WebhookEventData,
  WebhookEventType,
} from './wire';
